//! Client of the VBM365 REST API token endpoints (`/vN/token`, `/vN/token/logout`) and of
//! `/vN/ServiceInstance` (connection test).

use crate::config::{ApiVersion, TenantProfile};
use crate::error::{Error, Result};
use crate::http::{describe_non_json, Http, Reply};
use crate::json;
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SERVICE: &str = "the VBM365 server";

/// A VBM365 token pair with its lifetime.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VbmTokens {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub token_type: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub user_name: Option<String>,
}

/// `GET /vN/ServiceInstance`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceInstance {
    pub version: Option<String>,
    pub installation_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct VbmClient {
    http: Http,
}

fn url(profile: &TenantProfile, leaf: &str) -> Result<Url> {
    profile
        .server
        .join(&format!("{}/{leaf}", profile.api_version.as_str()))
        .map_err(|e| Error::InvalidInput(format!("bad server URL: {e}")))
}

fn antiforgery(v: ApiVersion, fields: &mut Vec<(&'static str, &str)>) {
    if v.has_antiforgery() {
        // Without it v7+ ties the refresh token to a browser cookie we do not keep.
        fields.push(("disable_antiforgery_token", "true"));
    }
}

impl VbmClient {
    pub fn new(http: Http) -> Self {
        VbmClient { http }
    }

    /// Step 4: exchange the Microsoft token response (byte for byte) for VBM365 tokens.
    pub async fn exchange_assertion(
        &self,
        profile: &TenantProfile,
        assertion: &Secret,
    ) -> Result<VbmTokens> {
        let mut fields = vec![
            ("grant_type", JWT_BEARER_GRANT),
            ("client_id", profile.name.as_str()),
            ("assertion", assertion.expose()),
        ];
        antiforgery(profile.api_version, &mut fields);
        let reply = self
            .http
            .post_form(&url(profile, "token")?, &fields, None)
            .await?;
        token_reply(reply, true)
    }

    /// Step 5: `grant_type=refresh_token`; the reply is a new pair.
    pub async fn refresh(
        &self,
        profile: &TenantProfile,
        refresh_token: &Secret,
    ) -> Result<VbmTokens> {
        let mut fields = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        antiforgery(profile.api_version, &mut fields);
        let reply = self
            .http
            .post_form(&url(profile, "token")?, &fields, None)
            .await?;
        token_reply(reply, false)
    }

    /// `POST /vN/token/logout` (v7+). v6 has no logout: nothing is sent.
    pub async fn logout(&self, profile: &TenantProfile, access: &Secret) -> Result<()> {
        if !profile.api_version.has_logout() {
            return Ok(());
        }
        let reply = self
            .http
            .post_form(&url(profile, "token/logout")?, &[], Some(access))
            .await?;
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(server_error(&reply, false))
        }
    }

    /// `GET /vN/ServiceInstance` with the bearer token.
    pub async fn service_instance(
        &self,
        profile: &TenantProfile,
        access: &Secret,
    ) -> Result<ServiceInstance> {
        let reply = self
            .http
            .get(&url(profile, "ServiceInstance")?, Some(access))
            .await?;
        if reply.status != 200 {
            return Err(server_error(&reply, false));
        }
        let o = json::object(&reply.body).ok_or_else(|| bad(describe_non_json(&reply)))?;
        Ok(ServiceInstance {
            version: json::string(&o, "version"),
            installation_id: json::string(&o, "installationId"),
        })
    }
}

fn bad(detail: String) -> Error {
    Error::BadResponse {
        service: SERVICE,
        detail,
    }
}

fn token_reply(reply: Reply, sign_in: bool) -> Result<VbmTokens> {
    if reply.status != 200 {
        return Err(server_error(&reply, sign_in));
    }
    let received = Utc::now();
    let o = json::object(&reply.body).ok_or_else(|| bad(describe_non_json(&reply)))?;
    let need = |k: &str| {
        json::string(&o, k).ok_or_else(|| bad(format!("the token reply has no valid '{k}'")))
    };
    let access_token = Secret::new(need("access_token")?);
    let refresh_token = Secret::new(need("refresh_token")?);
    let issued_at = json::string(&o, ".issued")
        .and_then(|s| parse_date(&s))
        .unwrap_or(received);
    // The lifetime counts from our clock (immune to server clock skew); `.expires` is the fallback.
    let expires_at = match json::uint(&o, "expires_in") {
        Some(secs) => {
            received
                + chrono::Duration::seconds(i64::try_from(secs.min(10 * 365 * 86400)).unwrap_or(0))
        }
        None => json::string(&o, ".expires")
            .and_then(|s| parse_date(&s))
            .ok_or_else(|| bad("the token reply has neither 'expires_in' nor '.expires'".into()))?,
    };
    Ok(VbmTokens {
        access_token,
        refresh_token,
        token_type: json::string(&o, "token_type").unwrap_or_else(|| "bearer".into()),
        issued_at,
        expires_at,
        user_name: json::string(&o, "userName"),
    })
}

/// `.issued` / `.expires`: RFC 1123 in the seed document, ISO 8601 date-time in the OpenAPI spec.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc2822(s)
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// An error reply of the VBM365 server: `RESTExceptionInfo` (`{"message", "errorCode"?}`),
/// OAuth style (`{"error", "error_description"}`) or anything else.
fn server_error(reply: &Reply, sign_in: bool) -> Error {
    let message = match json::object(&reply.body) {
        Some(o) => json::string(&o, "message")
            .or_else(|| json::string(&o, "error_description"))
            .or_else(|| json::string(&o, "error"))
            .or_else(|| json::string(&o, "errorCode"))
            .unwrap_or_else(|| "no error message".into()),
        None => describe_non_json(reply),
    };
    if reply.status >= 500 {
        return Error::ServerFailure {
            service: SERVICE,
            status: reply.status,
            message,
        };
    }
    if sign_in {
        // The server tells these cases apart only in its message text.
        let lower = message.to_ascii_lowercase();
        if lower.contains("tenant authentication") || lower.contains("tenant auth") {
            return Error::TenantAuthDisabled { message };
        }
        if lower.contains("organization")
            && (lower.contains("not found")
                || lower.contains("unknown")
                || lower.contains("does not exist"))
        {
            return Error::OrganizationUnknown { message };
        }
    }
    Error::ServerRejected {
        status: reply.status,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            content_type: None,
            body: body.as_bytes().to_vec(),
            headers: Default::default(),
        }
    }

    #[test]
    fn dates_in_both_formats() {
        let a = parse_date("Mon, 13 Dec 2021 13:18:43 GMT").unwrap();
        let b = parse_date("2021-12-13T13:18:43Z").unwrap();
        let c = parse_date("2021-12-13T13:18:43.000").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert!(parse_date("yesterday").is_none());
    }

    #[test]
    fn error_shapes() {
        let e = server_error(
            &reply(
                400,
                r#"{"message":"Invalid refresh token.","errorCode":"ParameterValidationFailure"}"#,
            ),
            false,
        );
        assert_eq!(e.code(), "server_rejected");
        assert!(e.to_string().contains("Invalid refresh token."));
        let e = server_error(
            &reply(
                400,
                r#"{"error":"invalid_grant","error_description":"Token expired"}"#,
            ),
            false,
        );
        assert!(e.to_string().contains("Token expired"), "{e}");
        let e = server_error(
            &reply(502, "<html><title>Bad Gateway</title></html>"),
            false,
        );
        assert_eq!(e.code(), "server_error");
        assert!(e.to_string().contains("Bad Gateway"));
        let e = server_error(&reply(400, ""), false);
        assert!(e.to_string().contains("empty reply"), "{e}");
        let e = server_error(
            &reply(400, r#"{"message":"Tenant authentication is disabled."}"#),
            true,
        );
        assert_eq!(e.code(), "tenant_auth_disabled");
        let e = server_error(
            &reply(400, r#"{"message":"Organization x was not found."}"#),
            true,
        );
        assert_eq!(e.code(), "organization_unknown");
    }

    #[test]
    fn token_reply_needs_tokens_and_lifetime() {
        let ok = token_reply(reply(200, r#"{"access_token":"a","refresh_token":"r","token_type":"bearer","expires_in":3600,".issued":"Mon, 13 Dec 2021 13:18:43 GMT"}"#), false).unwrap();
        let left = (ok.expires_at - Utc::now()).num_seconds();
        assert!((3590..=3600).contains(&left), "{left}");
        for body in [
            r#"{"access_token":"a","expires_in":3600}"#,
            r#"{"access_token":42,"refresh_token":"r","expires_in":3600}"#,
            r#"{"access_token":"a","refresh_token":"r"}"#,
            r#"{"access_token": 42"#,
            "[]",
        ] {
            let e = token_reply(reply(200, body), false).unwrap_err();
            assert_eq!(e.code(), "bad_response", "{body}");
        }
        let fallback = token_reply(
            reply(
                200,
                r#"{"access_token":"a","refresh_token":"r",".expires":"2099-01-01T00:00:00Z"}"#,
            ),
            false,
        )
        .unwrap();
        assert_eq!(
            fallback.expires_at,
            parse_date("2099-01-01T00:00:00Z").unwrap()
        );
    }
}
