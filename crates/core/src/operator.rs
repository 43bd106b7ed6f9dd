//! Restore operators (docs/protocol.md §2b): the VBM365 server names the Restore Portal
//! application in its anonymous `GET /vN/RestorePortalSettings`; the operator signs in to that
//! application at Microsoft (device code or browser) with the scope
//! `api://<applicationId>/access_as_user openid profile offline_access`; the user and tenant ids
//! (`oid`, `tid`) come from the ID token of Microsoft's reply; and `POST /vN/token` takes
//! `grant_type=operator`, `client_id=<oid>.<tid>`, `assertion=<the Microsoft access token>` (and
//! `disable_antiforgery_token=true` on v7 and v8, as for the organization grant).
//!
//! The ID token is read, not verified: it comes straight from Microsoft's token endpoint over
//! TLS, which OpenID Connect Core §3.1.3.7 accepts in place of checking its signature. Its
//! audience must be the Restore Portal application.

use crate::config::TenantProfile;
use crate::error::{Error, Result};
use crate::http::{describe_non_json, Http};
use crate::msid::MsTokenResponse;
use crate::secret::Assertion;
use crate::vbm::{self, VbmTokens};
use crate::wire;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use url::Url;

/// `grant_type` of the restore operator exchange.
pub const OPERATOR_GRANT: &str = "operator";

/// What Microsoft answers when the Restore Portal's application does not let a desktop app sign
/// in: AADSTS7000218 (public client flows off: a client secret is wanted), AADSTS9002327
/// (`http://localhost` registered for a single-page application: codes redeemed by web pages
/// only), AADSTS50011 (no `http://localhost` redirect; Microsoft shows it on its page).
const NOT_A_PUBLIC_CLIENT: [u32; 3] = [7000218, 9002327, 50011];

/// Microsoft's refusal of a restore operator's sign-in to the Restore Portal's application
/// `application`, when it comes from that application's registration, as
/// [`Error::RestorePortalAppNotPublic`]; any other error as it is.
pub fn app_registration_refusal(application: &str, e: Error) -> Error {
    let ours = matches!(
        &e,
        Error::Identity { aadsts: Some(code), .. } if NOT_A_PUBLIC_CLIENT.contains(code)
    );
    if !ours {
        return e;
    }
    Error::RestorePortalAppNotPublic {
        application: application.to_string(),
        source: Box::new(e),
    }
}

/// `GET /vN/RestorePortalSettings` as the product uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePortalSettings {
    /// Whether the Restore Portal (and so operator sign-in) is enabled.
    pub enabled: bool,
    /// The Restore Portal's application (client) id at Microsoft; `None` when the server sent
    /// none (it does so when the portal is not set up).
    pub application_id: Option<String>,
    /// Where the Restore Portal signs its users in (`msalAuthorityUri`), if sent.
    pub authority: Option<String>,
}

#[derive(Deserialize)]
struct SettingsReply {
    #[serde(default, rename = "isEnabled", deserialize_with = "flag")]
    is_enabled: Option<bool>,
    #[serde(default, rename = "applicationId", deserialize_with = "wire::text")]
    application_id: Option<String>,
    #[serde(default, rename = "msalAuthorityUri", deserialize_with = "wire::text")]
    msal_authority_uri: Option<String>,
}

/// `true`/`false`, as a boolean or a string; anything else counts as absent.
fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<bool>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn bad(detail: impl Into<String>) -> Error {
    Error::BadResponse {
        service: "the VBM365 server",
        detail: detail.into(),
    }
}

/// Reads the server's Restore Portal settings (anonymous).
pub async fn settings(http: &Http, profile: &TenantProfile) -> Result<RestorePortalSettings> {
    let reply = http
        .get(&vbm::url(profile, "RestorePortalSettings")?, None)
        .await?;
    if reply.status != 200 {
        return Err(vbm::server_error(&reply, &[]));
    }
    let o: SettingsReply =
        wire::object(&reply.body).ok_or_else(|| bad(describe_non_json(&reply)))?;
    Ok(RestorePortalSettings {
        enabled: o.is_enabled.unwrap_or(false),
        application_id: o.application_id,
        authority: o.msal_authority_uri,
    })
}

/// The profile a restore operator signs in to Microsoft with: `profile`'s authority and tenant,
/// the Restore Portal application as client id, its `access_as_user` scope plus the OpenID
/// scopes (the ID token names the user) and `offline_access` (the refresh token).
pub fn microsoft_profile(
    profile: &TenantProfile,
    settings: &RestorePortalSettings,
) -> Result<TenantProfile> {
    if !settings.enabled {
        return Err(Error::OperatorAuthDisabled {
            server: profile.server.as_str().trim_end_matches('/').to_string(),
        });
    }
    let app = settings
        .application_id
        .as_deref()
        .map(str::trim)
        .filter(|a| is_guid(a))
        .ok_or_else(|| bad("its RestorePortalSettings name no Restore Portal application id"))?;
    if let Some(theirs) = settings
        .authority
        .as_deref()
        .and_then(|a| Url::parse(a).ok())
    {
        let ours = &profile.authority;
        let same = theirs.scheme() == ours.scheme()
            && theirs.host_str().map(str::to_ascii_lowercase)
                == ours.host_str().map(str::to_ascii_lowercase)
            && theirs.port_or_known_default() == ours.port_or_known_default();
        if !same {
            return Err(Error::InvalidInput(format!(
                "the server's Restore Portal signs in at {}, but this tenant's Microsoft authority is {}; set the tenant's authority to the Restore Portal's",
                crate::http::origin(&theirs),
                crate::http::origin(ours)
            )));
        }
    }
    Ok(TenantProfile {
        client_id: app.to_ascii_lowercase(),
        scope: format!(
            "api://{}/access_as_user openid profile offline_access",
            app.to_ascii_lowercase()
        ),
        ..profile.clone()
    })
}

#[derive(Deserialize)]
struct ReplyTokens {
    #[serde(default, deserialize_with = "wire::text")]
    access_token: Option<String>,
    #[serde(default, deserialize_with = "wire::text")]
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct IdClaims {
    #[serde(default, deserialize_with = "wire::text")]
    oid: Option<String>,
    #[serde(default, deserialize_with = "wire::text")]
    tid: Option<String>,
    #[serde(default, deserialize_with = "wire::text")]
    aud: Option<String>,
}

/// The operator's account (`<oid>.<tid>`, the `client_id` of the operator grant) and the
/// Microsoft access token (the assertion), from Microsoft's token reply for `app`.
pub fn operator_assertion(ms: &MsTokenResponse, app: &str) -> Result<(String, Assertion)> {
    let ms_bad = |detail: &str| Error::BadResponse {
        service: "the Microsoft identity platform",
        detail: detail.to_string(),
    };
    let reply: ReplyTokens = wire::object(ms.raw.expose().as_bytes())
        .ok_or_else(|| ms_bad("the token reply is not a JSON object"))?;
    let access = reply
        .access_token
        .ok_or_else(|| ms_bad("the token reply has no 'access_token'"))?;
    let id_token = reply
        .id_token
        .ok_or_else(|| ms_bad("the token reply has no 'id_token' (the scope needs 'openid')"))?;
    let payload = id_token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok())
        .ok_or_else(|| ms_bad("its ID token is not a JWT"))?;
    let claims: IdClaims =
        wire::object(&payload).ok_or_else(|| ms_bad("its ID token's claims are not JSON"))?;
    if claims
        .aud
        .as_deref()
        .is_some_and(|aud| !aud.eq_ignore_ascii_case(app))
    {
        return Err(ms_bad("its ID token was issued to another application"));
    }
    let (Some(oid), Some(tid)) = (claims.oid, claims.tid) else {
        return Err(ms_bad(
            "its ID token names no user ('oid') or tenant ('tid')",
        ));
    };
    if !is_guid(&oid) || !is_guid(&tid) {
        return Err(ms_bad("its ID token's 'oid' or 'tid' is not a GUID"));
    }
    Ok((format!("{oid}.{tid}"), Assertion::new(access)))
}

/// `POST /vN/token` with `grant_type=operator`.
pub async fn exchange(
    http: &Http,
    profile: &TenantProfile,
    account: &str,
    access_token: &Assertion,
) -> Result<VbmTokens> {
    let mut fields = vec![
        ("grant_type", OPERATOR_GRANT),
        ("client_id", account),
        ("assertion", access_token.expose()),
    ];
    vbm::antiforgery(profile.api_version, &mut fields);
    let reply = http
        .post_form(&vbm::url(profile, "token")?, &fields, None)
        .await?;
    vbm::token_reply(reply, &[access_token.expose()]).map_err(|e| match e {
        Error::ServerRejected { status, message } => Error::OperatorRefused {
            account: account.to_string(),
            status,
            message,
        },
        other => other,
    })
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "5e1b6f6a-8c6e-4d8e-9a3f-2f1c0b9d7e11";
    const OID: &str = "0b6a5d0e-1111-4c2b-8f00-3a9d2c7e5f10";
    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn reply_with(claims: serde_json::Value) -> MsTokenResponse {
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let body = serde_json::json!({
            "token_type": "Bearer", "access_token": "at-1", "refresh_token": "rt",
            "id_token": format!("eyJhbGciOiJub25lIn0.{payload}.sig"),
        });
        MsTokenResponse {
            raw: Assertion::new(body.to_string()),
            refresh_token: None,
        }
    }

    #[test]
    fn the_account_comes_from_the_id_token() {
        let ms = reply_with(serde_json::json!({"oid": OID, "tid": TID, "aud": APP}));
        let (account, assertion) = operator_assertion(&ms, APP).unwrap();
        assert_eq!(account, format!("{OID}.{TID}"));
        assert_eq!(assertion.expose(), "at-1");
        for (claims, words) in [
            (serde_json::json!({"tid": TID, "aud": APP}), "'oid'"),
            (
                serde_json::json!({"oid": OID, "tid": TID, "aud": "other"}),
                "another application",
            ),
            (serde_json::json!({"oid": "x.y", "tid": TID}), "GUID"),
        ] {
            let e = operator_assertion(&reply_with(claims), APP).unwrap_err();
            assert_eq!(e.code(), "bad_response");
            assert!(e.to_string().contains(words), "{e}");
        }
        let no_id = MsTokenResponse {
            raw: Assertion::new(r#"{"access_token":"a"}"#),
            refresh_token: None,
        };
        assert!(operator_assertion(&no_id, APP)
            .unwrap_err()
            .to_string()
            .contains("openid"));
    }

    #[test]
    fn the_microsoft_profile_is_the_restore_portals() {
        let profile = TenantProfile::new("contoso.onmicrosoft.com", "https://vbm:4443").unwrap();
        let on = RestorePortalSettings {
            enabled: true,
            application_id: Some(APP.to_uppercase()),
            authority: Some("https://login.microsoftonline.com/organizations".into()),
        };
        let p = microsoft_profile(&profile, &on).unwrap();
        assert_eq!(p.client_id, APP);
        assert_eq!(
            p.scope,
            format!("api://{APP}/access_as_user openid profile offline_access")
        );
        assert_eq!(
            (p.name.as_str(), &p.authority),
            (profile.name.as_str(), &profile.authority)
        );
        let off = RestorePortalSettings {
            enabled: false,
            ..on.clone()
        };
        let e = microsoft_profile(&profile, &off).unwrap_err();
        assert_eq!(e.code(), "operator_auth_disabled");
        assert!(e.to_string().contains("https://vbm:4443"), "{e}");
        let elsewhere = RestorePortalSettings {
            authority: Some("https://login.microsoftonline.us/organizations".into()),
            ..on
        };
        let e = microsoft_profile(&profile, &elsewhere)
            .unwrap_err()
            .to_string();
        assert!(e.contains("login.microsoftonline.us"), "{e}");
    }

    /// Bug caught: a refusal caused by the Restore Portal's app registration read as Microsoft
    /// refusing the client id, with nothing about what the registration needs.
    #[test]
    fn refusals_of_the_portals_app_registration_say_so_and_others_stay_as_they_are() {
        let identity = |error: &str, aadsts: u32| Error::Identity {
            error: crate::msid::OAuthError::parse(error),
            aadsts: Some(aadsts),
            description: Some(format!("AADSTS{aadsts}: what Microsoft said.")),
        };
        for (error, aadsts) in [("invalid_client", 7000218), ("invalid_request", 9002327)] {
            let e = app_registration_refusal(APP, identity(error, aadsts));
            assert_eq!(e.code(), "restore_portal_app_not_public");
            assert_eq!(e.remedy(), Some(crate::error::Remedy::FixRestorePortalApp));
            assert_eq!(e.verdict(), crate::failure::Verdict::Persistent);
            let m = e.to_string();
            assert!(
                m.contains(APP) && m.contains(&format!("AADSTS{aadsts}")),
                "{m}"
            );
        }
        for other in [
            identity("invalid_grant", 53003),
            identity("invalid_client", 700016),
            Error::NoActiveTenant,
        ] {
            let code = other.code();
            assert_eq!(app_registration_refusal(APP, other).code(), code);
        }
    }
}
