//! The browser sign-in's protocol (docs/protocol.md §1b): authorization code with PKCE S256
//! (RFC 7636) and a loopback redirect (RFC 8252).
//!
//! 1. A fresh code verifier (32 random bytes, base64url: 43 characters) and its S256 challenge,
//!    and a fresh `state` (16 random bytes).
//! 2. `GET {A}/{T}/oauth2/v2.0/authorize?client_id&response_type=code&redirect_uri&response_mode=query&scope&state&code_challenge&code_challenge_method=S256&prompt=select_account`,
//!    opened in the browser under the rules of the verification URI.
//! 3. The redirect to `http://localhost:<port>` ([`crate::loopback`]) brings `code` and `state`.
//! 4. `POST {A}/{T}/oauth2/v2.0/token` with `grant_type=authorization_code`, `client_id`, `code`,
//!    `redirect_uri` (the same string), `code_verifier` and `scope`. The reply body is the same
//!    token document the device code flow gives: kept byte for byte as the assertion.

use crate::config::TenantProfile;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::loopback::AuthorizationResponse;
use crate::msid::{self, MsTokenResponse, OAuthError};
use crate::secret::{AuthCode, CodeVerifier};
use crate::text;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use url::Url;

/// `grant_type` of the code redemption.
pub const AUTHORIZATION_CODE_GRANT: &str = "authorization_code";

/// A PKCE pair: the verifier stays in the process until the code is redeemed; the challenge goes
/// out in the authorize URL.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// 43 characters of base64url (RFC 7636 §4.1: 32 octets of randomness).
    pub verifier: CodeVerifier,
    /// `BASE64URL(SHA256(verifier))` (RFC 7636 §4.2, method S256).
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair from the operating system's random source.
    pub fn new() -> Pkce {
        Pkce::from_verifier(URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()))
    }

    /// The pair of a given verifier.
    pub fn from_verifier(verifier: String) -> Pkce {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier: CodeVerifier::new(verifier),
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// A fresh `state`: 16 random bytes, base64url.
pub fn new_state() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// The authorize URL of step 2 for `profile`'s authority, tenant, client id and scope.
pub fn authorize_url(
    profile: &TenantProfile,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> Result<Url> {
    let mut url = msid::endpoint(profile, "authorize")?;
    url.query_pairs_mut()
        .append_pair("client_id", &profile.client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_mode", "query")
        .append_pair("scope", &profile.scope)
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "select_account");
    Ok(url)
}

/// The code of an authorization response, or Microsoft's refusal as an [`Error::Identity`]
/// (`access_denied` when the user declined: code `sign_in_declined`).
pub fn code_of(answer: AuthorizationResponse) -> Result<AuthCode> {
    match answer {
        AuthorizationResponse::Code(code) => Ok(code),
        AuthorizationResponse::Error { error, description } => {
            // Only the first line: Microsoft appends trace and correlation ids.
            let description = description
                .as_deref()
                .and_then(|d| d.lines().next())
                .map(|d| text::shown(d, text::MAX_SHOWN))
                .filter(|d| !d.trim().is_empty());
            let aadsts = description.as_deref().and_then(msid::aadsts_in);
            Err(Error::Identity {
                error: OAuthError::parse(&error),
                aadsts,
                description,
            })
        }
    }
}

/// Step 4: redeems the code. The reply body is the assertion, byte for byte.
pub async fn redeem(
    http: &Http,
    profile: &TenantProfile,
    code: &AuthCode,
    redirect_uri: &str,
    verifier: &CodeVerifier,
) -> Result<MsTokenResponse> {
    let url = msid::endpoint(profile, "token")?;
    let reply = http
        .post_form(
            &url,
            &[
                ("grant_type", AUTHORIZATION_CODE_GRANT),
                ("client_id", &profile.client_id),
                ("code", code.expose()),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier.expose()),
                ("scope", &profile.scope),
            ],
            None,
        )
        .await?;
    if reply.status != 200 {
        return Err(msid::identity_error(&reply));
    }
    msid::token_response(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_challenge_matches_rfc_7636_appendix_b() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn fresh_verifiers_and_states_are_long_random_and_url_safe() {
        let (a, b) = (Pkce::new(), Pkce::new());
        assert_ne!(a.verifier.expose(), b.verifier.expose());
        assert_eq!(a.verifier.len(), 43, "RFC 7636: 43 to 128 characters");
        let unreserved = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        };
        assert!(unreserved(a.verifier.expose()) && unreserved(&a.challenge));
        let (s1, s2) = (new_state(), new_state());
        assert_ne!(s1, s2);
        assert_eq!(s1.len(), 22);
    }

    #[test]
    fn the_authorize_url_carries_the_challenge_not_the_verifier() {
        let mut profile =
            TenantProfile::new("Contoso.onmicrosoft.com", "https://vbm.example:4443").unwrap();
        profile.scope = "api://x/access_as_user openid offline_access".into();
        let p = Pkce::new();
        let url = authorize_url(&profile, "http://localhost:4711", "st", &p.challenge).unwrap();
        assert_eq!(
            url.as_str().split('?').next().unwrap(),
            "https://login.microsoftonline.com/Contoso.onmicrosoft.com/oauth2/v2.0/authorize"
        );
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["redirect_uri"], "http://localhost:4711");
        assert_eq!(q["code_challenge"], p.challenge);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], "st");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["scope"], "api://x/access_as_user openid offline_access");
        assert!(!url.as_str().contains(p.verifier.expose()));
        assert!(crate::validate::verification_uri(url.as_str()).is_ok());
    }

    #[test]
    fn a_refusal_in_the_redirect_is_microsofts_error() {
        let e = code_of(AuthorizationResponse::Error {
            error: "access_denied".into(),
            description: Some("AADSTS65004: User declined to consent.\r\nTrace ID: x".into()),
        })
        .unwrap_err();
        assert_eq!(e.code(), "sign_in_declined");
        let m = e.to_string();
        assert!(m.contains("AADSTS65004") && !m.contains("Trace ID"), "{m}");
    }
}
