//! OpenID Connect parts of the identity emulator: the ID token Microsoft adds to a token reply
//! when the scope asks for `openid`, with the claims of the v2.0 endpoint (`aud` the client,
//! `oid` the user's object id, `tid` the tenant id, `preferred_username`, `name`, `sub`).

use crate::util;

/// Whether a scope asks for OpenID Connect.
pub(crate) fn wants_id_token(scope: &str) -> bool {
    scope
        .split_whitespace()
        .any(|s| s.eq_ignore_ascii_case("openid"))
}

/// The user's object id in a tenant (stable: the same user gets the same id every time).
pub(crate) fn oid(upn: &str) -> String {
    util::uuid_from(&format!("user:{upn}"))
}

/// The tenant id of a tenant name (stable).
pub(crate) fn tid(tenant: &str) -> String {
    util::uuid_from(&format!("tenant:{}", tenant.to_ascii_lowercase()))
}

/// A v2.0 ID token for `upn` signed in to `client_id` (unsigned look-alike: `alg` RS256, random
/// signature, as the access tokens of this emulator).
pub(crate) fn id_token(tenant: &str, client_id: &str, upn: &str, lifetime: u64) -> String {
    let now = chrono::Utc::now().timestamp();
    let tid = tid(tenant);
    let oid = oid(upn);
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": "emulator-key-1"});
    let payload = serde_json::json!({
        "aud": client_id,
        "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX)),
        "name": "Emulated Administrator",
        "oid": oid,
        "preferred_username": upn,
        "sub": util::uuid_from(&format!("sub:{client_id}:{oid}")),
        "tid": tid,
        "ver": "2.0",
    });
    format!(
        "{}.{}.{}",
        util::b64url(header.to_string().as_bytes()),
        util::b64url(payload.to_string().as_bytes()),
        util::random_b64url(256)
    )
}

/// The `aud` of an access token for these scopes: the application of an `api://<app>/…` scope,
/// else Microsoft Graph.
pub(crate) fn audience(scope: &str) -> Option<String> {
    scope.split_whitespace().find_map(|s| {
        let rest = s.strip_prefix("api://")?;
        rest.split('/').next().map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_tokens_name_the_user_tenant_and_client() {
        let t = id_token(
            "Contoso.onmicrosoft.com",
            "app-1",
            "admin@contoso.onmicrosoft.com",
            60,
        );
        let payload = t.split('.').nth(1).unwrap();
        let bytes =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["aud"], "app-1");
        assert_eq!(v["tid"], tid("contoso.onmicrosoft.com"));
        assert_eq!(v["oid"], oid("admin@contoso.onmicrosoft.com"));
        assert!(wants_id_token("api://x/y OPENID profile"));
        assert!(!wants_id_token("offline_access"));
        assert_eq!(
            audience("api://5e1b/access_as_user openid").as_deref(),
            Some("5e1b")
        );
        assert_eq!(audience("User.Read"), None);
    }
}
