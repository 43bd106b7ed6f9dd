//! The authorization endpoint of the identity emulator and the code grant behind it (RFC 6749
//! §4.1 with PKCE, RFC 7636), as a public client such as the Azure CLI meets them:
//!
//! - `GET /{tenant}/oauth2/v2.0/authorize?client_id&response_type=code&redirect_uri&scope&state&code_challenge&code_challenge_method`
//!   shows a sign-in page with **Approve** and **Decline**. A redirect URI Microsoft would not
//!   accept for a public client (anything but `http://localhost[:port]` or
//!   `http://127.0.0.1[:port]` with no path) gets Microsoft's error page (AADSTS50011) and no
//!   redirect; so do an unknown client id (AADSTS700016), a missing parameter (AADSTS900144)
//!   and an unknown challenge method (AADSTS50149).
//! - `POST /{tenant}/oauth2/v2.0/authorize` (the page's form: `flow`, `action`) answers 302 to the
//!   redirect URI with `code` and `state`, or `error=access_denied&error_subcode=cancel`.
//! - `grant_type=authorization_code` at `/token` redeems a code once, within 10 minutes, for the
//!   same client, tenant and redirect URI, with the verifier of its challenge. Microsoft's
//!   errors: AADSTS54005 (already redeemed), AADSTS70008 (expired), AADSTS700005 (another client
//!   or tenant), AADSTS500112 (another redirect URI), AADSTS501481 (the verifier does not match),
//!   AADSTS9002313 (unknown code).
//! - The Restore Portal's application follows its registration
//!   ([`crate::PortalAppRegistration`]): a public client takes the loopback redirect as above; a
//!   single-page application registers the portal's own address (AADSTS50011 for a loopback
//!   redirect), or also `http://localhost` as a single-page application redirect, whose codes
//!   Microsoft redeems only cross-origin (AADSTS9002327 without an `Origin` header).

use crate::aad::AadError;
use crate::devicelogin::page_with;
use crate::ms::{self, issue_tokens, upn_for};
use crate::options::PortalAppRegistration;
use crate::serve::App;
use crate::state::{Inner, Shared};
use crate::util::{self, html_escape, Fields};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// How long an authorization code can be redeemed.
const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// The page may redirect only to the app's loopback address.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// Where a request of the authorization endpoint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthStatus {
    /// The page is shown; nobody chose yet.
    Pending,
    /// Approved: the code was sent to the redirect URI.
    Approved,
    Declined,
    /// The code was redeemed (single use).
    Redeemed,
}

/// One request of the authorization endpoint and the code issued for it.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    /// Names the request in the page's form.
    pub flow: String,
    pub tenant: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub challenge: Option<(String, String)>,
    /// Sent to a single-page application's redirect: redeemable only cross-origin.
    pub spa: bool,
    pub status: AuthStatus,
    pub code: Option<String>,
    pub approved_at: Option<Instant>,
}

/// Whether Microsoft would send a public client's code to this redirect URI: the loopback
/// address on any port, with no path, query or fragment (how `http://localhost` is registered).
fn loopback_redirect(uri: &str) -> bool {
    let Some(rest) = uri
        .strip_prefix("http://localhost")
        .or_else(|| uri.strip_prefix("http://127.0.0.1"))
    else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    match rest.strip_prefix(':') {
        None => rest.is_empty(),
        Some(port) => {
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

/// Whether Microsoft sends the code to `uri` for an application registered so (`None`: a public
/// client, the loopback address; else the Restore Portal's registration, whose single-page
/// application redirects are the portal's address `portal_uri` and perhaps `http://localhost`):
/// `Some(spa)` when it does, `spa` telling whether it went to a single-page application redirect.
fn redirect_kind(
    uri: &str,
    registration: Option<PortalAppRegistration>,
    portal_uri: &str,
) -> Option<bool> {
    match registration {
        None | Some(PortalAppRegistration::PublicClient) => loopback_redirect(uri).then_some(false),
        Some(PortalAppRegistration::Spa) => (uri == portal_uri).then_some(true),
        Some(PortalAppRegistration::SpaLocalhost) => {
            (uri == portal_uri || loopback_redirect(uri)).then_some(true)
        }
    }
}

fn error_page(e: &AadError) -> Response {
    page_with(
        "Sign in to your account",
        &format!(
            "<h1>Sorry, but we're having trouble signing you in.</h1><p class=\"error\" id=\"error\">AADSTS{}: {}</p>",
            e.code,
            html_escape(&e.text)
        ),
        CSP,
    )
}

/// Checks the query of `GET /authorize`; the request to store, or the error page's error.
fn read_request(
    shared: &Shared,
    inner: &Inner,
    tenant: &str,
    fields: &Fields,
) -> Result<AuthRequest, AadError> {
    let client_id = ms::client_id(fields, tenant)?.to_string();
    let need = |k: &str| {
        fields
            .get(k)
            .map(str::to_string)
            .ok_or_else(|| AadError::missing(k))
    };
    let redirect_uri = need("redirect_uri")?;
    let registration = inner.portal_app(&shared.restore_portal_app_id, &client_id);
    let portal_uri = format!("{}/", shared.vbm_url);
    let spa = redirect_kind(&redirect_uri, registration, &portal_uri)
        .ok_or_else(|| AadError::redirect_mismatch(&redirect_uri, &client_id))?;
    if need("response_type")? != "code" {
        return Err(AadError::new(
            "unsupported_response_type",
            700054,
            "response_type 'code' is the only one enabled for the application.",
        ));
    }
    let scope = need("scope")?;
    let challenge = match fields.get("code_challenge") {
        None => None,
        Some(c) => {
            let method = fields.get("code_challenge_method").unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return Err(AadError::new(
                    "invalid_request",
                    50149,
                    "Invalid Code_Challenge_method parameter.",
                ));
            }
            Some((c.to_string(), method.to_string()))
        }
    };
    Ok(AuthRequest {
        flow: util::random_b64url(24),
        tenant: tenant.to_string(),
        client_id,
        redirect_uri,
        scope,
        state: fields.get("state").map(str::to_string),
        challenge,
        spa,
        status: AuthStatus::Pending,
        code: None,
        approved_at: None,
    })
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: the sign-in page, or Microsoft's error page.
pub(crate) async fn show(
    State(app): State<App>,
    tenant: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let fields = Fields(util::parse_form(query.unwrap_or_default().as_bytes()));
    let tenant = match tenant {
        Ok(Path(t)) if !t.trim().is_empty() => t,
        _ => return error_page(&AadError::missing("tenant")),
    };
    let mut inner = app.shared.lock();
    inner.count("ms_authorize_pages");
    let req = match read_request(&app.shared, &inner, &tenant, &fields) {
        Ok(r) => r,
        Err(e) => {
            inner.count("ms_authorize_errors");
            return error_page(&e);
        }
    };
    let (flow, upn) = (req.flow.clone(), upn_for(&tenant));
    let scopes = html_escape(&req.scope);
    inner.auth_requests.push(req);
    drop(inner);
    page_with(
        "Sign in to your account",
        &format!(
            "<h1>Approve sign-in</h1><p>Sign in to <b>{}</b> as <b>{}</b>.</p>\
<p>The app asks for: <code id=\"scopes\">{scopes}</code></p>\
<form method=\"post\"><input type=\"hidden\" name=\"flow\" value=\"{flow}\">\
<div class=\"buttons\">\
<button type=\"submit\" name=\"action\" value=\"decline\" id=\"decline\">Decline</button>\
<button type=\"submit\" name=\"action\" value=\"approve\" id=\"approve\">Approve</button>\
</div></form>",
            html_escape(&tenant),
            html_escape(&upn)
        ),
        CSP,
    )
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: the choice on the page; 302 to the app.
pub(crate) async fn submit(State(app): State<App>, body: Bytes) -> Response {
    let fields = Fields(util::parse_form(&body));
    let flow = fields.get("flow").unwrap_or_default();
    let approve = fields.get("action") == Some("approve");
    let mut inner = app.shared.lock();
    inner.count("ms_authorize_submits");
    let Some(req) = inner
        .auth_requests
        .iter_mut()
        .find(|r| !flow.is_empty() && r.flow == flow)
    else {
        return error_page(&AadError::new(
            "invalid_request",
            90014,
            "The sign-in request is no longer valid. Start the sign-in again from your app.",
        ));
    };
    if req.status != AuthStatus::Pending {
        return error_page(&AadError::new(
            "invalid_request",
            90014,
            "This sign-in request was already answered. Start the sign-in again from your app.",
        ));
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    if approve {
        let code = format!("1.AQ{}", util::random_b64url(600));
        req.status = AuthStatus::Approved;
        req.approved_at = Some(Instant::now());
        req.code = Some(code.clone());
        query.append_pair("code", &code);
    } else {
        req.status = AuthStatus::Declined;
        query
            .append_pair("error", "access_denied")
            .append_pair("error_subcode", "cancel")
            .append_pair(
                "error_description",
                "AADSTS65004: User declined to consent to access the app.",
            );
    }
    if let Some(state) = &req.state {
        query.append_pair("state", state);
    }
    let location = format!("{}?{}", req.redirect_uri, query.finish());
    drop(inner);
    util::response(
        StatusCode::FOUND,
        "text/html; charset=utf-8",
        "<html><body>Redirecting…</body></html>",
        &[("location", location), ("cache-control", "no-store".into())],
    )
}

/// Whether `verifier` answers the challenge (RFC 7636 §4.6).
fn verifies(challenge: &str, method: &str, verifier: &str) -> bool {
    match method {
        "S256" => util::b64url(&Sha256::digest(verifier.as_bytes())) == challenge,
        _ => verifier == challenge,
    }
}

/// `grant_type=authorization_code` at `/token`: the token reply body, or Microsoft's error.
/// `cross_origin`: the request came from a web page (it has an `Origin` header).
pub(crate) fn redeem(
    shared: &Shared,
    inner: &mut Inner,
    tenant: &str,
    fields: &Fields,
    cross_origin: bool,
) -> Result<String, AadError> {
    let client_id = ms::client_id(fields, tenant)?.to_string();
    let code = fields
        .get("code")
        .ok_or_else(|| AadError::missing("code"))?;
    let redirect_uri = fields
        .get("redirect_uri")
        .ok_or_else(|| AadError::missing("redirect_uri"))?;
    let req = inner
        .auth_requests
        .iter_mut()
        .find(|r| r.code.as_deref() == Some(code))
        .ok_or_else(|| {
            AadError::new(
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid.",
            )
        })?;
    redeemable(
        req,
        &client_id,
        tenant,
        redirect_uri,
        fields.get("code_verifier"),
    )?;
    if req.spa && !cross_origin {
        return Err(AadError::spa_code_not_cross_origin());
    }
    req.status = AuthStatus::Redeemed;
    let scope = fields.get("scope").unwrap_or(&req.scope).to_string();
    let tenant = req.tenant.clone();
    let upn = upn_for(&tenant);
    Ok(issue_tokens(
        shared, inner, &tenant, &client_id, &scope, &upn,
    ))
}

/// Whether this redemption of `req`'s code may succeed, in the order Microsoft checks.
fn redeemable(
    req: &AuthRequest,
    client_id: &str,
    tenant: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Result<(), AadError> {
    if req.status == AuthStatus::Redeemed {
        return Err(AadError::already_redeemed());
    }
    if req.approved_at.is_some_and(|t| t.elapsed() > CODE_LIFETIME) {
        return Err(AadError::new(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if req.client_id != client_id || !req.tenant.eq_ignore_ascii_case(tenant) {
        return Err(AadError::new(
            "invalid_grant",
            700005,
            "Provided Authorization Code is intended to use against other tenant or application, thus rejected.",
        ));
    }
    if req.redirect_uri != redirect_uri {
        return Err(AadError::new(
            "invalid_grant",
            500112,
            format!(
                "The reply address '{redirect_uri}' does not match the reply address '{}' provided when requesting Authorization code.",
                req.redirect_uri
            ),
        ));
    }
    match &req.challenge {
        Some((challenge, method)) if !verifies(challenge, method, verifier.unwrap_or_default()) => {
            Err(AadError::new(
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_redirects_without_a_path_are_accepted() {
        for ok in [
            "http://localhost",
            "http://localhost:4711",
            "http://localhost:4711/",
            "http://127.0.0.1:1",
        ] {
            assert!(loopback_redirect(ok), "{ok}");
        }
        for bad in [
            "https://localhost:4711",
            "http://localhost:4711/callback",
            "http://localhost.evil.example:4711",
            "http://localhost:",
            "http://localhost:4711?x=1",
            "http://10.0.0.1:4711",
        ] {
            assert!(!loopback_redirect(bad), "{bad}");
        }
    }

    #[test]
    fn s256_and_plain_challenges() {
        let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifies(
            c,
            "S256",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!verifies(
            c,
            "S256",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"
        ));
        assert!(verifies("abc", "plain", "abc"));
    }
}
