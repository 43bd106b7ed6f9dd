//! Client of the VBM365 REST API token endpoints (`/vN/token`, `/vN/token/logout`) and of
//! `/vN/ServiceInstance` (connection test).

use crate::config::{ApiVersion, TenantProfile};
use crate::error::{Error, Result};
use crate::failure;
use crate::http::{describe_non_json, Http, Reply};
use crate::secret::{Assertion, VbmAccessToken, VbmRefreshToken};
use crate::text;
use crate::wire;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

/// `grant_type` of the exchange of a Microsoft token reply for VBM365 tokens (docs/protocol.md §2).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SERVICE: &str = "the VBM365 server";

/// A VBM365 token pair with its lifetime. Not serializable: the vault writes it in its own form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VbmTokens {
    /// Bearer token for the REST API.
    pub access_token: VbmAccessToken,
    /// Single use: the server rotates it with every refresh, so the pair is always stored together.
    pub refresh_token: VbmRefreshToken,
    /// As the server named it; `bearer` when it named none.
    pub token_type: String,
    /// The reply's `.issued` (server clock), else when the reply arrived.
    pub issued_at: DateTime<Utc>,
    /// When the reply arrived plus `expires_in` (this machine's clock, so server clock skew does
    /// not matter; at most 10 years on); the server's `.expires` only when `expires_in` is missing.
    pub expires_at: DateTime<Utc>,
    /// The reply's `userName`, made safe to show (at most 200 characters); `None` when absent.
    pub user_name: Option<String>,
}

/// A token reply on the wire (`.issued`/`.expires` in either date format).
#[derive(Deserialize)]
struct TokenReply {
    #[serde(default, deserialize_with = "wire::text")]
    access_token: Option<String>,
    #[serde(default, deserialize_with = "wire::text")]
    refresh_token: Option<String>,
    #[serde(default, deserialize_with = "wire::text")]
    token_type: Option<String>,
    #[serde(default, deserialize_with = "wire::number")]
    expires_in: Option<u64>,
    #[serde(default, rename = ".issued", deserialize_with = "wire::text")]
    issued: Option<String>,
    #[serde(default, rename = ".expires", deserialize_with = "wire::text")]
    expires: Option<String>,
    #[serde(default, rename = "userName", deserialize_with = "wire::text")]
    user_name: Option<String>,
}

/// An error reply: `RESTExceptionInfo` (`{"message", "errorCode"?}`) or OAuth style.
#[derive(Deserialize)]
struct ErrorReply {
    #[serde(default, deserialize_with = "wire::text")]
    message: Option<String>,
    #[serde(default, deserialize_with = "wire::text")]
    error_description: Option<String>,
    #[serde(default, deserialize_with = "wire::text")]
    error: Option<String>,
    #[serde(default, rename = "errorCode", deserialize_with = "wire::text")]
    error_code: Option<String>,
}

/// `GET /vN/ServiceInstance` on the wire.
#[derive(Deserialize)]
struct ServiceInstanceReply {
    #[serde(default, deserialize_with = "wire::text")]
    version: Option<String>,
    #[serde(default, rename = "installationId", deserialize_with = "wire::text")]
    installation_id: Option<String>,
}

/// `GET /vN/ServiceInstance`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceInstance {
    /// The server's product version, as it sent it; `None` when absent.
    pub version: Option<String>,
    /// The server's `installationId`; `None` when absent.
    pub installation_id: Option<String>,
}

/// Client of the VBM365 REST API: each call takes the [`TenantProfile`] whose server and API
/// version it uses.
#[derive(Debug, Clone)]
pub struct VbmClient {
    http: Http,
}

pub(crate) fn url(profile: &TenantProfile, leaf: &str) -> Result<Url> {
    profile
        .server
        .join(&format!("{}/{leaf}", profile.api_version.as_str()))
        .map_err(|e| Error::InvalidInput(format!("bad server URL: {e}")))
}

pub(crate) fn antiforgery(v: ApiVersion, fields: &mut Vec<(&'static str, &str)>) {
    if v.has_antiforgery() {
        // Without it v7+ ties the refresh token to a browser cookie we do not keep.
        fields.push(("disable_antiforgery_token", "true"));
    }
}

impl VbmClient {
    /// A client sending its requests through `http`.
    pub fn new(http: Http) -> Self {
        VbmClient { http }
    }

    /// Step 4: exchange the Microsoft token response (byte for byte) for VBM365 tokens.
    pub async fn exchange_assertion(
        &self,
        profile: &TenantProfile,
        assertion: &Assertion,
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
        token_reply(reply, &[assertion.expose()]).map_err(|e| match e {
            Error::ServerRejected { status, message } => Error::ExchangeRefused {
                organization: profile.name.clone(),
                status,
                message,
            },
            other => other,
        })
    }

    /// Step 5: `grant_type=refresh_token`; the reply is a new pair.
    pub async fn refresh(
        &self,
        profile: &TenantProfile,
        refresh_token: &VbmRefreshToken,
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
        token_reply(reply, &[refresh_token.expose()])
    }

    /// `POST /vN/token/logout` (v7+). v6 has no logout: nothing is sent.
    pub async fn logout(&self, profile: &TenantProfile, access: &VbmAccessToken) -> Result<()> {
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
            Err(server_error(&reply, &[access.expose()]))
        }
    }

    /// `GET /vN/ServiceInstance` with the bearer token.
    pub async fn service_instance(
        &self,
        profile: &TenantProfile,
        access: &VbmAccessToken,
    ) -> Result<ServiceInstance> {
        let reply = self
            .http
            .get(&url(profile, "ServiceInstance")?, Some(access))
            .await?;
        if reply.status != 200 {
            return Err(server_error(&reply, &[access.expose()]));
        }
        let o: ServiceInstanceReply =
            wire::object(&reply.body).ok_or_else(|| bad(describe_non_json(&reply)))?;
        Ok(ServiceInstance {
            version: o.version,
            installation_id: o.installation_id,
        })
    }
}

fn bad(detail: String) -> Error {
    Error::BadResponse {
        service: SERVICE,
        detail,
    }
}

/// A token reply; `sent` are the secrets the request carried, redacted from an error message
/// should the server echo them.
pub(crate) fn token_reply(reply: Reply, sent: &[&str]) -> Result<VbmTokens> {
    if reply.status != 200 {
        return Err(server_error(&reply, sent));
    }
    let received = Utc::now();
    let o: TokenReply = wire::object(&reply.body).ok_or_else(|| bad(describe_non_json(&reply)))?;
    let access_token = VbmAccessToken::new(bearer_token("access_token", o.access_token)?);
    let refresh_token = VbmRefreshToken::new(bearer_token("refresh_token", o.refresh_token)?);
    let issued_at = o.issued.as_deref().and_then(parse_date).unwrap_or(received);
    // The lifetime counts from our clock (immune to server clock skew); `.expires` is the fallback.
    let expires_at = match o.expires_in {
        Some(secs) => {
            received
                + chrono::Duration::seconds(i64::try_from(secs.min(10 * 365 * 86400)).unwrap_or(0))
        }
        None => {
            o.expires.as_deref().and_then(parse_date).ok_or_else(|| {
                bad("the token reply has neither 'expires_in' nor '.expires'".into())
            })?
        }
    };
    Ok(VbmTokens {
        access_token,
        refresh_token,
        token_type: o.token_type.unwrap_or_else(|| "bearer".into()),
        issued_at,
        expires_at,
        user_name: o.user_name.map(|u| text::shown(&u, 200)),
    })
}

/// A token of a token reply: present, and an RFC 6750 `b64token`. A server that sends anything
/// else (quotes, CR/LF, spaces: what could break out of a shell line of `env` or the header of
/// `token --format header`) sent a bad reply, which keeps the stored tokens like any other.
fn bearer_token(name: &str, value: Option<String>) -> Result<String> {
    let value = value.ok_or_else(|| bad(format!("the token reply has no valid '{name}'")))?;
    if !crate::validate::is_b64token(&value) {
        return Err(bad(format!(
            "the token reply's '{name}' has characters a bearer token cannot have (RFC 6750 b64token: letters, digits, -._~+/ and trailing =)"
        )));
    }
    Ok(value)
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

/// An error reply of the VBM365 server, classified (see [`crate::failure`]): a 400, 401 or 403
/// with the server's own JSON error (`RESTExceptionInfo` `{"message", "errorCode"?}`, or
/// OAuth-style `{"error", "error_description"}`) is a refusal; anything else (5xx, 429, a proxy's
/// HTML page, an empty body) is a [`Error::ServerFailure`] that says nothing about the tokens.
pub(crate) fn server_error(reply: &Reply, sent: &[&str]) -> Error {
    let own_message = wire::object::<ErrorReply>(&reply.body).and_then(|o| {
        o.message
            .or(o.error_description)
            .or(o.error)
            .or(o.error_code)
            .map(|m| text::shown(&text::redact(&m, sent), text::MAX_SHOWN))
    });
    match own_message {
        Some(message) if matches!(reply.status, 400 | 401 | 403) => Error::ServerRejected {
            status: reply.status,
            message,
        },
        own => Error::ServerFailure {
            service: SERVICE,
            status: reply.status,
            transient: failure::is_transient_reply(reply.status, own.is_some(), None),
            message: own.unwrap_or_else(|| describe_non_json(reply)),
            retry_after: reply.retry_after(),
        },
    }
}

#[cfg(test)]
mod tests;
