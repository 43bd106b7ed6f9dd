//! What the token endpoint hands out: the granted scope, the access token (a JWT look-alike), the
//! refresh token it remembers, and the exact response body.

use crate::state::{Inner, MsAccess, MsRefresh, RefreshStatus, Shared};
use crate::util;
use serde::Serialize;
use std::time::{Duration, Instant};

/// `aud` of Microsoft Graph tokens.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

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
