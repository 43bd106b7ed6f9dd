//! The Microsoft identity platform emulator: the v2.0 device authorization and token endpoints.

use crate::aad::{ms_headers, AadError};
use crate::faults::{self, Endpoint};
use crate::serve::{App, ConnectionControl};
use crate::state::{DeviceCode, Inner, MsAccess, MsRefresh, RefreshStatus, Shared};
use crate::types::{DeviceCodeState, Fault, Server};
use crate::util::{self, Fields};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde::Serialize;
use std::time::{Duration, Instant};

/// The device code grant type.
pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Poll interval assumed when the device code response leaves `interval` out (RFC 8628).
const DEFAULT_INTERVAL: u64 = 5;
/// A poll this much early still counts as on time.
const POLL_TOLERANCE: Duration = Duration::from_millis(100);
/// `aud` of Microsoft Graph tokens.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

fn json_ok(body: String) -> Response {
    let trace = util::uuid_v4();
    let correlation = util::uuid_v4();
    util::response(
        StatusCode::OK,
        "application/json; charset=utf-8",
        body,
        &ms_headers(&trace, &correlation),
    )
}

fn tenant_or_error(tenant: Result<Path<String>, PathRejection>) -> Result<String, AadError> {
    match tenant {
        Ok(Path(t)) if !t.trim().is_empty() => Ok(t),
        _ => Err(AadError::new(
            "invalid_tenant",
            90002,
            "Tenant '' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
        )),
    }
}

/// Checks `client_id`: present and shaped like an application id.
pub(crate) fn client_id<'a>(fields: &'a Fields, tenant: &str) -> Result<&'a str, AadError> {
    let id = fields
        .get("client_id")
        .ok_or_else(|| AadError::missing("client_id"))?;
    if util::is_guid(id) {
        Ok(id)
    } else {
        Err(AadError::unknown_client(id, tenant))
    }
}

#[derive(Serialize)]
struct DeviceCodeBody<'a> {
    user_code: &'a str,
    device_code: &'a str,
    verification_uri: &'a str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// Runs `handle` unless an injected or random fault applies to this request: then the fault's
/// answer, or for [`Fault::LostReply`] the request is handled and its reply dropped.
async fn with_faults(
    shared: &Shared,
    endpoint: Endpoint,
    conn: Option<Extension<ConnectionControl>>,
    handle: impl FnOnce() -> Response,
) -> Response {
    let conn = conn.map(|Extension(c)| c);
    match shared.take_fault(Server::Ms) {
        None => handle(),
        Some(Fault::LostReply) => {
            drop(handle());
            faults::lose(conn).await
        }
        Some(fault) => faults::respond(fault, endpoint, conn, shared).await,
    }
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(crate) async fn devicecode(
    State(app): State<App>,
    tenant: Result<Path<String>, PathRejection>,
    conn: Option<Extension<ConnectionControl>>,
    body: Bytes,
) -> Response {
    let shared = &app.shared;
    shared.lock().count("ms_devicecode");
    with_faults(shared, Endpoint::MsDeviceCode, conn, || {
        devicecode_reply(shared, tenant, &body)
    })
    .await
}

fn devicecode_reply(
    shared: &Shared,
    tenant: Result<Path<String>, PathRejection>,
    body: &[u8],
) -> Response {
    let result = tenant_or_error(tenant).and_then(|tenant| {
        let fields = Fields(util::parse_form(body));
        let client_id = client_id(&fields, &tenant)?.to_string();
        let scope = fields
            .get("scope")
            .ok_or_else(|| AadError::missing("scope"))?
            .to_string();
        Ok(issue_device_code(shared, tenant, client_id, scope))
    });
    let mut inner = shared.lock();
    match result {
        Ok(dc) => {
            let opts = &shared.opts;
            let verification_uri = opts
                .verification_uri
                .clone()
                .unwrap_or_else(|| format!("{}/devicelogin", shared.ms_url));
            let message = opts.include_message.then(|| {
                format!(
                    "To sign in, use a web browser to open the page {verification_uri} and enter the code {} to authenticate.",
                    dc.user_code
                )
            });
            let body = util::to_json(&DeviceCodeBody {
                user_code: &dc.user_code,
                device_code: &dc.device_code,
                verification_uri: &verification_uri,
                expires_in: dc.expires_in,
                interval: opts.device_code_interval,
                message,
            });
            inner.device_codes.push(dc);
            drop(inner);
            json_ok(body)
        }
        Err(e) => {
            inner.count("ms_errors");
            drop(inner);
            e.into_response(&shared.ms_url)
        }
    }
}

fn issue_device_code(
    shared: &Shared,
    tenant: String,
    client_id: String,
    scope: String,
) -> DeviceCode {
    let now = Instant::now();
    let opts = &shared.opts;
    DeviceCode {
        user_code: util::user_code(),
        device_code: format!("DAQABIQEAAAD{}", util::random_b64url(160)),
        tenant,
        client_id,
        scope,
        issued_at: chrono::Utc::now(),
        expires_in: opts.device_code_expires_in,
        expires_at: now + Duration::from_secs(opts.device_code_expires_in),
        interval: opts.device_code_interval.unwrap_or(DEFAULT_INTERVAL),
        last_poll: None,
        auto_approve_at: opts
            .auto_approve_after_ms
            .map(|ms| now + Duration::from_millis(ms)),
        state: DeviceCodeState::Pending,
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    State(app): State<App>,
    tenant: Result<Path<String>, PathRejection>,
    conn: Option<Extension<ConnectionControl>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = &app.shared;
    let cross_origin = headers.contains_key(header::ORIGIN);
    let fields = Fields(util::parse_form(&body));
    let grant = fields.get("grant_type").map(str::to_string);
    match grant.as_deref() {
        Some(DEVICE_CODE_GRANT) => shared.lock().count("ms_device_code_polls"),
        Some("refresh_token") => shared.lock().count("ms_refresh"),
        Some("authorization_code") => shared.lock().count("ms_auth_code_redemptions"),
        _ => {}
    }
    with_faults(shared, Endpoint::MsToken, conn, || {
        token_reply(shared, tenant, &fields, grant.as_deref(), cross_origin)
    })
    .await
}

fn token_reply(
    shared: &Shared,
    tenant: Result<Path<String>, PathRejection>,
    fields: &Fields,
    grant: Option<&str>,
    cross_origin: bool,
) -> Response {
    let mut inner = shared.lock();
    let result = tenant_or_error(tenant).and_then(|tenant| match grant {
        None => Err(AadError::missing("grant_type")),
        Some(DEVICE_CODE_GRANT) => redeem_device_code(shared, &mut inner, &tenant, fields),
        Some("refresh_token") => redeem_refresh_token(shared, &mut inner, &tenant, fields),
        Some("authorization_code") => {
            crate::authorize::redeem(shared, &mut inner, &tenant, fields, cross_origin)
        }
        Some(other) => Err(AadError::unsupported_grant(other)),
    });
    match result {
        Ok(body) => {
            inner.count("ms_tokens_issued");
            inner.ms_responses.push(body.clone());
            drop(inner);
            json_ok(body)
        }
        Err(e) => {
            inner.count("ms_errors");
            drop(inner);
            e.into_response(&shared.ms_url)
        }
    }
}

fn redeem_device_code(
    shared: &Shared,
    inner: &mut Inner,
    tenant: &str,
    fields: &Fields,
) -> Result<String, AadError> {
    let client_id = client_id(fields, tenant)?.to_string();
    // The client is authenticated before the grant is looked at: an application that does not
    // allow public client flows wants a secret, whatever state the code is in.
    if inner
        .portal_app(&shared.restore_portal_app_id, &client_id)
        .is_some()
    {
        return Err(AadError::client_secret_required());
    }
    let device_code = fields
        .get("device_code")
        .ok_or_else(|| AadError::missing("device_code"))?;
    let now = Instant::now();
    let dc = inner
        .device_codes
        .iter_mut()
        .find(|d| d.device_code == device_code)
        .ok_or_else(AadError::bad_verification_code)?;
    dc.advance(now);
    if dc.client_id != client_id {
        return Err(AadError::invalid_grant(
            "Provided grant is invalid or malformed. The device code was issued to another application.",
        ));
    }
    if !dc.tenant.eq_ignore_ascii_case(tenant) {
        return Err(AadError::invalid_grant(
            "Provided grant is invalid or malformed. The device code was issued for another tenant.",
        ));
    }
    match dc.state {
        DeviceCodeState::Redeemed => return Err(AadError::already_redeemed()),
        DeviceCodeState::Expired => return Err(AadError::expired()),
        _ => {}
    }
    paced(dc, now)?;
    match dc.state {
        DeviceCodeState::Pending => Err(AadError::pending()),
        DeviceCodeState::Declined => Err(AadError::declined()),
        DeviceCodeState::Blocked { aadsts } => Err(AadError::blocked(aadsts)),
        DeviceCodeState::Expired => Err(AadError::expired()),
        DeviceCodeState::Redeemed => Err(AadError::already_redeemed()),
        DeviceCodeState::Approved => {
            dc.state = DeviceCodeState::Redeemed;
            let (tenant, scope) = (dc.tenant.clone(), dc.scope.clone());
            let upn = upn_for(&tenant);
            Ok(issue_tokens(
                shared, inner, &tenant, &client_id, &scope, &upn,
            ))
        }
    }
}

/// RFC 8628 §3.5: a poll too early since the previous one gets `slow_down`, and the interval is
/// 5 s longer from then on.
fn paced(dc: &mut DeviceCode, now: Instant) -> Result<(), AadError> {
    let previous = dc.last_poll.replace(now);
    if let Some(prev) = previous {
        if now.duration_since(prev) + POLL_TOLERANCE < Duration::from_secs(dc.interval) {
            dc.interval += 5;
            return Err(AadError::slow_down(dc.interval));
        }
    }
    Ok(())
}

fn redeem_refresh_token(
    shared: &Shared,
    inner: &mut Inner,
    tenant: &str,
    fields: &Fields,
) -> Result<String, AadError> {
    let client_id = client_id(fields, tenant)?.to_string();
    let token = fields
        .get("refresh_token")
        .ok_or_else(|| AadError::missing("refresh_token"))?;
    let rt = inner.ms_refresh.get_mut(token).ok_or_else(|| {
        AadError::new(
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid.",
        )
    })?;
    // Microsoft does not revoke a refresh token when it is used: only revocation ends it.
    if rt.status == RefreshStatus::Revoked {
        return Err(AadError::new(
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
        ));
    }
    if rt.client_id != client_id {
        return Err(AadError::new(
            "invalid_grant",
            700005,
            "Provided Authorization Code is intended to use against other tenant or application, thus rejected.",
        ));
    }
    if !rt.tenant.eq_ignore_ascii_case(tenant) {
        return Err(AadError::invalid_grant(
            "Provided grant is invalid or malformed. The refresh token was issued for another tenant.",
        ));
    }
    let scope = fields.get("scope").unwrap_or(&rt.scope).to_string();
    let (tenant, upn) = (rt.tenant.clone(), rt.upn.clone());
    Ok(issue_tokens(
        shared, inner, &tenant, &client_id, &scope, &upn,
    ))
}

/// The signed-in user of a tenant.
pub(crate) fn upn_for(tenant: &str) -> String {
    format!("admin@{}", tenant.to_ascii_lowercase())
}

/// Scopes as Microsoft grants them: resource-qualified, without the OpenID ones.
fn granted_scope(requested: &str) -> String {
    let granted: Vec<String> = requested
        .split_whitespace()
        .filter(|s| {
            !matches!(
                s.to_ascii_lowercase().as_str(),
                "offline_access" | "openid" | "profile" | "email"
            )
        })
        .map(|s| {
            if s.contains("://") {
                s.to_string()
            } else {
                format!("https://graph.microsoft.com/{s}")
            }
        })
        .collect();
    if granted.is_empty() {
        "https://graph.microsoft.com/User.Read".to_string()
    } else {
        granted.join(" ")
    }
}

#[derive(Serialize)]
struct TokenBody<'a> {
    token_type: &'a str,
    scope: &'a str,
    expires_in: u64,
    ext_expires_in: u64,
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

/// Issues an access token (and a refresh token when `offline_access` was asked for, an ID token
/// when `openid` was) and returns the exact response body.
pub(crate) fn issue_tokens(
    shared: &Shared,
    inner: &mut Inner,
    tenant: &str,
    client_id: &str,
    scope: &str,
    upn: &str,
) -> String {
    let lifetime = shared.opts.ms_token_lifetime;
    let granted = granted_scope(scope);
    let access_token = jwt(tenant, client_id, &granted, upn, lifetime);
    inner.ms_access.insert(
        access_token.clone(),
        MsAccess {
            tenant: tenant.to_string(),
            upn: upn.to_string(),
            audience: crate::oidc::audience(&granted),
            expires_at: Instant::now() + Duration::from_secs(lifetime),
        },
    );
    let offline = scope
        .split_whitespace()
        .any(|s| s.eq_ignore_ascii_case("offline_access"));
    let refresh_token = offline.then(|| {
        let rt = format!("1.AQ{}", util::random_b64url(540));
        inner.ms_refresh.insert(
            rt.clone(),
            MsRefresh {
                tenant: tenant.to_string(),
                client_id: client_id.to_string(),
                scope: scope.to_string(),
                upn: upn.to_string(),
                status: RefreshStatus::Active,
            },
        );
        rt
    });
    util::to_json(&TokenBody {
        token_type: "Bearer",
        scope: &granted,
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token: &access_token,
        refresh_token: refresh_token.as_deref(),
        id_token: crate::oidc::wants_id_token(scope)
            .then(|| crate::oidc::id_token(tenant, client_id, upn, lifetime)),
    })
}

/// A JWT-looking access token (`header.payload.signature`, base64url); the signature is random.
fn jwt(tenant: &str, client_id: &str, scope: &str, upn: &str, lifetime: u64) -> String {
    let now = chrono::Utc::now().timestamp();
    let tid = util::uuid_from(&format!("tenant:{}", tenant.to_ascii_lowercase()));
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": "emulator-key-1"});
    let scp: Vec<&str> = scope
        .split_whitespace()
        .map(|s| s.rsplit('/').next().unwrap_or(s))
        .collect();
    let aud = crate::oidc::audience(scope).unwrap_or_else(|| GRAPH_APP_ID.to_string());
    let payload = serde_json::json!({
        "aud": aud,
        "iss": format!("https://sts.windows.net/{tid}/"),
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX)),
        "appid": client_id,
        "name": "Emulated Administrator",
        "oid": crate::oidc::oid(upn),
        "scp": scp.join(" "),
        "tid": tid,
        "unique_name": upn,
        "upn": upn,
        "uti": util::random_b64url(16),
        "ver": "1.0",
    });
    format!(
        "{}.{}.{}",
        util::b64url(header.to_string().as_bytes()),
        util::b64url(payload.to_string().as_bytes()),
        util::random_b64url(256)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_granted_like_microsoft_does() {
        assert_eq!(
            granted_scope("Directory.AccessAsUser.All User.ReadWrite.All offline_access"),
            "https://graph.microsoft.com/Directory.AccessAsUser.All https://graph.microsoft.com/User.ReadWrite.All"
        );
        assert_eq!(
            granted_scope("offline_access"),
            "https://graph.microsoft.com/User.Read"
        );
    }

    #[test]
    fn access_tokens_look_like_jwts() {
        let t = jwt(
            "Contoso.onmicrosoft.com",
            "x",
            "https://graph.microsoft.com/User.Read",
            "admin@contoso.onmicrosoft.com",
            60,
        );
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let payload =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1])
                .expect("base64url payload");
        let v: serde_json::Value = serde_json::from_slice(&payload).expect("JSON payload");
        assert_eq!(v["upn"], "admin@contoso.onmicrosoft.com");
        assert_eq!(v["scp"], "User.Read");
        assert!(util::is_guid(v["tid"].as_str().unwrap_or_default()));
    }
}
