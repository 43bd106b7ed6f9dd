//! Client of the Microsoft identity platform v2.0 endpoints: device authorization (RFC 8628),
//! polling, and the refresh-token grant used for silent re-sign-in.

mod device;
mod oauth_error;

pub use device::{poll_device_flow, DeviceAuthorization, Poll, SignInEvent};
pub use oauth_error::OAuthError;

use crate::config::TenantProfile;
use crate::error::{Error, Result};
use crate::failure;
use crate::http::{describe_non_json, Http, Reply};
use crate::secret::{Assertion, DeviceCode, MsRefreshToken};
use crate::text;
use crate::wire;
use std::time::Duration;
use url::Url;

/// `grant_type` of a device-code poll (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.2: the interval when the server sends none.
pub const DEFAULT_INTERVAL: u64 = 5;
/// RFC 8628 §3.5: what `slow_down` adds to the interval.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Cap of the back-off after transport errors and 5xx replies.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Longest device-code lifetime accepted from a server (Microsoft's are 15 minutes); longer values
/// are clamped.
pub const MAX_DEVICE_CODE_LIFETIME: u64 = 24 * 3600;
/// Longest poll interval accepted from a server; longer values are clamped.
pub const MAX_INTERVAL: u64 = 300;

const SERVICE: &str = "the Microsoft identity platform";

/// The device authorization reply on the wire.
#[derive(serde::Deserialize)]
struct DeviceCodeReply {
    #[serde(default, deserialize_with = "wire::text")]
    device_code: Option<String>,
    #[serde(default, deserialize_with = "wire::text")]
    user_code: Option<String>,
    #[serde(default, deserialize_with = "wire::text")]
    verification_uri: Option<String>,
    /// Older endpoints spell it so.
    #[serde(default, deserialize_with = "wire::text")]
    verification_url: Option<String>,
    #[serde(default, deserialize_with = "wire::number")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "wire::number")]
    interval: Option<u64>,
    #[serde(default, deserialize_with = "wire::text")]
    message: Option<String>,
}

/// What the product reads of a successful token reply (the whole body is the assertion).
#[derive(serde::Deserialize)]
struct TokenReply {
    #[serde(default, deserialize_with = "wire::text")]
    access_token: Option<String>,
    #[serde(default, deserialize_with = "wire::text")]
    refresh_token: Option<String>,
}

/// An OAuth error reply as Microsoft sends it.
#[derive(serde::Deserialize)]
struct ErrorReply {
    #[serde(default, deserialize_with = "wire::text")]
    error: Option<String>,
    #[serde(default, deserialize_with = "wire::text")]
    error_description: Option<String>,
    #[serde(default, deserialize_with = "wire::first_code")]
    error_codes: Option<u32>,
}

/// A successful Microsoft token response. `raw` is the body exactly as received: it becomes the
/// VBM365 assertion byte for byte.
#[derive(Debug, Clone)]
pub struct MsTokenResponse {
    /// The whole reply body, unchanged.
    pub raw: Assertion,
    /// Microsoft's refresh token; `None` when the reply had none (no `offline_access` in the
    /// scope).
    pub refresh_token: Option<MsRefreshToken>,
}

/// Client of `{authority}/{tenant}/oauth2/v2.0/*`.
#[derive(Debug, Clone)]
pub struct IdentityClient {
    http: Http,
}

pub(crate) fn endpoint(profile: &TenantProfile, leaf: &str) -> Result<Url> {
    profile
        .authority
        .join(&format!("{}/oauth2/v2.0/{leaf}", profile.name))
        .map_err(|e| Error::InvalidInput(format!("bad authority URL: {e}")))
}

impl IdentityClient {
    /// A client sending its requests through `http`.
    pub fn new(http: Http) -> Self {
        IdentityClient { http }
    }

    /// Step 1: `POST /devicecode`.
    pub async fn device_code(&self, profile: &TenantProfile) -> Result<DeviceAuthorization> {
        let url = endpoint(profile, "devicecode")?;
        let reply = self
            .http
            .post_form(
                &url,
                &[("client_id", &profile.client_id), ("scope", &profile.scope)],
                None,
            )
            .await?;
        device_authorization(&reply)
    }

    /// Step 3: one `POST /token` with the device code.
    pub async fn poll(&self, profile: &TenantProfile, device_code: &DeviceCode) -> Poll {
        let url = match endpoint(profile, "token") {
            Ok(u) => u,
            Err(e) => return Poll::Fatal(e),
        };
        let reply = self
            .http
            .post_form(
                &url,
                &[
                    ("grant_type", DEVICE_CODE_GRANT),
                    ("client_id", &profile.client_id),
                    ("device_code", device_code.expose()),
                ],
                None,
            )
            .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) if e.is_transient() => return Poll::Transient(e),
            Err(e) => return Poll::Fatal(e),
        };
        if reply.status == 200 {
            return match token_response(reply) {
                Ok(t) => Poll::Done(t),
                Err(e) => Poll::Fatal(e),
            };
        }
        let err = identity_error(&reply);
        match &err {
            Error::Identity {
                error: OAuthError::AuthorizationPending,
                ..
            } => Poll::Pending,
            Error::Identity {
                error: OAuthError::SlowDown,
                ..
            } => Poll::SlowDown,
            _ if err.is_transient() => Poll::Transient(err),
            _ => Poll::Fatal(err),
        }
    }

    /// Silent re-sign-in: `grant_type=refresh_token` with the saved Microsoft refresh token.
    pub async fn refresh(
        &self,
        profile: &TenantProfile,
        refresh_token: &MsRefreshToken,
    ) -> Result<MsTokenResponse> {
        let url = endpoint(profile, "token")?;
        let reply = self
            .http
            .post_form(
                &url,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &profile.client_id),
                    ("refresh_token", refresh_token.expose()),
                    ("scope", &profile.scope),
                ],
                None,
            )
            .await?;
        if reply.status != 200 {
            return Err(identity_error(&reply));
        }
        token_response(reply)
    }
}

/// The device authorization reply (step 1), read leniently: numbers may come as strings, a
/// missing `interval` means 5 s, and out-of-range numbers are clamped (a hostile lifetime never
/// overflows a clock).
pub(crate) fn device_authorization(reply: &Reply) -> Result<DeviceAuthorization> {
    if reply.status != 200 {
        return Err(identity_error(reply));
    }
    let o: DeviceCodeReply =
        wire::object(&reply.body).ok_or_else(|| bad(describe_non_json(reply)))?;
    let missing = |k: &str| bad(format!("the device code reply has no '{k}'"));
    let expires_in = o.expires_in.ok_or_else(|| missing("expires_in"))?;
    let interval = o.interval.filter(|i| *i > 0).unwrap_or(DEFAULT_INTERVAL);
    if expires_in > MAX_DEVICE_CODE_LIFETIME || interval > MAX_INTERVAL {
        tracing::warn!(
            expires_in,
            interval,
            "the device code reply has an out-of-range lifetime or interval; clamped"
        );
    }
    Ok(DeviceAuthorization {
        device_code: DeviceCode::new(o.device_code.ok_or_else(|| missing("device_code"))?),
        user_code: text::shown(&o.user_code.ok_or_else(|| missing("user_code"))?, 64),
        verification_uri: o
            .verification_uri
            .or(o.verification_url)
            .ok_or_else(|| missing("verification_uri"))?,
        expires_in: expires_in.min(MAX_DEVICE_CODE_LIFETIME),
        interval: interval.min(MAX_INTERVAL),
        message: o.message.map(|m| text::shown(&m, text::MAX_SHOWN)),
    })
}

fn bad(detail: String) -> Error {
    Error::BadResponse {
        service: SERVICE,
        detail,
    }
}

pub(crate) fn token_response(reply: Reply) -> Result<MsTokenResponse> {
    let o: TokenReply = wire::object(&reply.body).ok_or_else(|| bad(describe_non_json(&reply)))?;
    if o.access_token.is_none() {
        return Err(bad("the token reply has no 'access_token'".into()));
    }
    let refresh_token = o.refresh_token.map(MsRefreshToken::new);
    let raw =
        String::from_utf8(reply.body).map_err(|_| bad("the token reply is not UTF-8".into()))?;
    Ok(MsTokenResponse {
        raw: Assertion::new(raw),
        refresh_token,
    })
}

/// An error reply of the identity platform as a product error, classified (see
/// [`crate::failure`]): Microsoft's OAuth errors become [`Error::Identity`], except
/// `temporarily_unavailable`, `server_error` and any reply with a transient status (429, 5xx, …),
/// which become [`Error::ServerFailure`] with the `Retry-After` Microsoft sent; a reply that is not
/// Microsoft's JSON (a proxy's page) is a [`Error::ServerFailure`] too.
pub(crate) fn identity_error(reply: &Reply) -> Error {
    let parsed = wire::object::<ErrorReply>(&reply.body)
        .and_then(|o| o.error.clone().map(|error| (OAuthError::parse(&error), o)));
    let Some((error, o)) = parsed else {
        return Error::ServerFailure {
            service: SERVICE,
            status: reply.status,
            message: describe_non_json(reply),
            retry_after: reply.retry_after(),
            transient: true,
        };
    };
    // Only the first line: Microsoft appends trace and correlation ids on the next ones.
    let description = o
        .error_description
        .as_deref()
        .and_then(|d| d.lines().next().map(|l| text::shown(l, text::MAX_SHOWN)))
        .filter(|d| !d.is_empty());
    if failure::is_transient_reply(reply.status, true, Some(&error)) {
        let first = description
            .as_deref()
            .and_then(|d| d.lines().next())
            .unwrap_or_default()
            .trim();
        return Error::ServerFailure {
            service: SERVICE,
            status: reply.status,
            message: if first.is_empty() {
                error.to_string()
            } else {
                format!("{error}: {first}")
            },
            retry_after: reply.retry_after(),
            transient: true,
        };
    }
    let aadsts = o
        .error_codes
        .or_else(|| description.as_deref().and_then(aadsts_in));
    Error::Identity {
        error,
        aadsts,
        description,
    }
}

/// The number after "AADSTS" in a description.
pub(crate) fn aadsts_in(text: &str) -> Option<u32> {
    let at = text.find("AADSTS")? + 6;
    let digits: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests;
