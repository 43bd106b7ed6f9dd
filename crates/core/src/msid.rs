//! Client of the Microsoft identity platform v2.0 endpoints: device authorization (RFC 8628),
//! polling, and the refresh-token grant used for silent re-sign-in.

use crate::config::TenantProfile;
use crate::error::{Error, Result};
use crate::failure::{self, Verdict};
use crate::http::{describe_non_json, Http, Reply};
use crate::secret::{Assertion, DeviceCode, MsRefreshToken};
use crate::text;
use crate::wire;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
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

/// An OAuth `error` of the Microsoft identity platform (RFC 6749 §5.2, RFC 8628 §3.5, and the
/// extensions Microsoft documents); any other value is kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// `authorization_pending`: the user has not approved yet; poll again after the interval.
    AuthorizationPending,
    /// `slow_down`: polls come too fast; the interval grows by [`SLOW_DOWN_STEP`] for the rest of
    /// the flow.
    SlowDown,
    /// `authorization_declined`: the user declined the sign-in (code `sign_in_declined`).
    AuthorizationDeclined,
    /// `access_denied`: the user or the tenant denied the request (code `sign_in_declined`).
    AccessDenied,
    /// `expired_token`: the device code expired before the user approved (code
    /// `device_code_expired`).
    ExpiredToken,
    /// `bad_verification_code`: Microsoft does not know the device code that was sent.
    BadVerificationCode,
    /// `invalid_grant`: the device code or refresh token is invalid, expired or revoked, or a
    /// policy blocked the grant (AADSTS53003: Conditional Access). A refusal: the Microsoft refresh
    /// token is dead.
    InvalidGrant,
    /// `interaction_required`: the user must sign in interactively (MFA, a changed password, …). A
    /// refusal.
    InteractionRequired,
    /// `consent_required`: the scope needs a consent that was not given. A refusal.
    ConsentRequired,
    /// `temporarily_unavailable`: Microsoft cannot answer for now. Transient: the client reports it
    /// as [`Error::ServerFailure`].
    TemporarilyUnavailable,
    /// `server_error`: a failure inside Microsoft. Transient, like `temporarily_unavailable`.
    ServerError,
    /// `invalid_request`: the request was malformed (a parameter missing, repeated or wrong).
    InvalidRequest,
    /// `invalid_client`: the client id is unknown or not allowed (code `identity_error`).
    InvalidClient,
    /// `unauthorized_client`: the client may not use this grant (public client flows off for the
    /// application).
    UnauthorizedClient,
    /// `invalid_scope`: a requested scope is unknown or not allowed.
    InvalidScope,
    /// `unsupported_grant_type`: the endpoint does not accept this `grant_type`.
    UnsupportedGrantType,
    /// Any other value as it came, made safe to show (at most 80 characters). Not a refusal.
    Other(String),
}

impl OAuthError {
    const NAMED: [(&'static str, OAuthError); 16] = [
        ("authorization_pending", OAuthError::AuthorizationPending),
        ("slow_down", OAuthError::SlowDown),
        ("authorization_declined", OAuthError::AuthorizationDeclined),
        ("access_denied", OAuthError::AccessDenied),
        ("expired_token", OAuthError::ExpiredToken),
        ("bad_verification_code", OAuthError::BadVerificationCode),
        ("invalid_grant", OAuthError::InvalidGrant),
        ("interaction_required", OAuthError::InteractionRequired),
        ("consent_required", OAuthError::ConsentRequired),
        (
            "temporarily_unavailable",
            OAuthError::TemporarilyUnavailable,
        ),
        ("server_error", OAuthError::ServerError),
        ("invalid_request", OAuthError::InvalidRequest),
        ("invalid_client", OAuthError::InvalidClient),
        ("unauthorized_client", OAuthError::UnauthorizedClient),
        ("invalid_scope", OAuthError::InvalidScope),
        ("unsupported_grant_type", OAuthError::UnsupportedGrantType),
    ];

    /// The error as the server wrote it (an unknown one made safe to show).
    pub fn parse(raw: &str) -> OAuthError {
        Self::NAMED
            .iter()
            .find(|(name, _)| *name == raw)
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| OAuthError::Other(text::shown(raw, 80)))
    }

    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            OAuthError::Other(s) => s,
            known => Self::NAMED
                .iter()
                .find(|(_, e)| e == known)
                .map(|(name, _)| *name)
                .unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// The device authorization response (step 1).
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    /// The code every poll sends; secret.
    pub device_code: DeviceCode,
    /// The code the user types at the verification URI, made safe to show (at most 64 characters).
    pub user_code: String,
    /// Where the user enters the code, as sent (`verification_url` on older endpoints). Not
    /// checked: open it only after [`crate::validate::verification_uri`].
    pub verification_uri: String,
    /// Seconds the device code lives, at most [`MAX_DEVICE_CODE_LIFETIME`].
    pub expires_in: u64,
    /// Seconds between polls: [`DEFAULT_INTERVAL`] when the server sent none (or 0), at most
    /// [`MAX_INTERVAL`].
    pub interval: u64,
    /// Microsoft's instruction for the user, made safe to show; `None` when the reply had none.
    pub message: Option<String>,
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

/// One poll's outcome.
#[derive(Debug)]
pub enum Poll {
    /// `authorization_pending`: not approved yet.
    Pending,
    /// `slow_down`: poll less often.
    SlowDown,
    /// The user approved: Microsoft's token reply.
    Done(MsTokenResponse),
    /// Stop: the user declined, the code expired, a policy blocked the sign-in, …
    Fatal(Error),
    /// Try again later: network faults, timeouts, 5xx.
    Transient(Error),
}

/// Live status of a sign-in, for the UI: the polling states of [`poll_device_flow`], then
/// `Exchanging` (sent by the session manager once Microsoft approved).
#[derive(Debug, Clone, PartialEq)]
pub enum SignInEvent {
    /// Polling has started (sent once, before the first poll).
    Waiting {
        /// Time until the first poll: the interval.
        next_poll_in: Duration,
    },
    /// Microsoft asked for fewer polls.
    SlowedDown {
        /// The new time between polls.
        interval: Duration,
    },
    /// A poll failed transiently; polling goes on.
    Retrying {
        /// The failure, for people (no secrets).
        reason: String,
        /// Time until the next poll: the interval doubled per failure in a row, up to
        /// [`MAX_BACKOFF`], never less than the server's `Retry-After`.
        next_poll_in: Duration,
    },
    /// Microsoft approved; the assertion is being exchanged with VBM365.
    Exchanging,
}

/// Polls until the user approves, an error stops the flow, or `expires_in` runs out. Never polls
/// sooner than the current interval after the previous poll (RFC 8628 §3.5); `slow_down` adds 5 s
/// to this and every later interval; transient errors back off exponentially up to
/// [`MAX_BACKOFF`]. Time is tokio's, so tests run it in virtual time. Cancel by dropping the future.
pub async fn poll_device_flow<F, Fut>(
    interval: u64,
    expires_in: u64,
    mut poll: F,
    mut on_event: impl FnMut(SignInEvent),
) -> Result<MsTokenResponse>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Poll>,
{
    let deadline = Instant::now() + Duration::from_secs(expires_in);
    let mut interval = Duration::from_secs(interval.max(1));
    let mut wait = interval;
    let mut failures: u32 = 0;
    on_event(SignInEvent::Waiting { next_poll_in: wait });
    loop {
        if Instant::now() + wait > deadline {
            return Err(Error::DeviceCodeExpired);
        }
        tokio::time::sleep(wait).await;
        match poll().await {
            Poll::Pending => {
                failures = 0;
                wait = interval;
            }
            Poll::SlowDown => {
                failures = 0;
                interval += SLOW_DOWN_STEP;
                wait = interval;
                on_event(SignInEvent::SlowedDown { interval });
            }
            Poll::Done(token) => return Ok(token),
            Poll::Fatal(e) => return Err(e),
            Poll::Transient(e) => {
                failures = failures.saturating_add(1);
                let factor = 2u32.saturating_pow(failures.min(16));
                let asked = match e.verdict() {
                    Verdict::Transient { retry_after } => retry_after.unwrap_or_default(),
                    _ => Duration::ZERO,
                };
                wait = interval
                    .saturating_mul(factor)
                    .clamp(interval, MAX_BACKOFF.max(interval))
                    .max(asked);
                on_event(SignInEvent::Retrying {
                    reason: e.to_string(),
                    next_poll_in: wait,
                });
            }
        }
    }
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
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn ok() -> Poll {
        Poll::Done(MsTokenResponse {
            raw: Assertion::new("{}"),
            refresh_token: None,
        })
    }

    /// Runs the flow against a scripted sequence of outcomes in virtual time and returns the
    /// instants (seconds since start) at which each poll happened.
    async fn run(
        interval: u64,
        expires: u64,
        script: Vec<Poll>,
    ) -> (Result<MsTokenResponse>, Vec<u64>) {
        let start = Instant::now();
        let times = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let t2 = times.clone();
        let res = poll_device_flow(
            interval,
            expires,
            move || {
                let times = t2.clone();
                let script = script.clone();
                async move {
                    times.lock().unwrap().push(start.elapsed().as_secs());
                    script.lock().unwrap().next().unwrap_or(Poll::Pending)
                }
            },
            |_| {},
        )
        .await;
        let t = times.lock().unwrap().clone();
        (res, t)
    }

    #[tokio::test(start_paused = true)]
    async fn polls_at_the_interval_and_stops_on_success() {
        let (res, times) = run(5, 900, vec![Poll::Pending, Poll::Pending, ok()]).await;
        assert!(res.is_ok());
        assert_eq!(times, vec![5, 10, 15]);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_down_adds_five_seconds_for_all_later_polls() {
        let (res, times) = run(
            2,
            900,
            vec![
                Poll::Pending,
                Poll::SlowDown,
                Poll::Pending,
                Poll::SlowDown,
                ok(),
            ],
        )
        .await;
        assert!(res.is_ok());
        // 2, +2, then +7, +7, then +12
        assert_eq!(times, vec![2, 4, 11, 18, 30]);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_back_off_with_a_cap_and_reset_after_success() {
        let t = || {
            Poll::Transient(Error::Network {
                url: "x".into(),
                detail: "refused".into(),
            })
        };
        let (res, times) = run(5, 3600, vec![t(), t(), t(), t(), t(), Poll::Pending, ok()]).await;
        assert!(res.is_ok());
        // 5, then waits of 10, 20, 40, 60 (cap), 60 (cap), back to 5 after the pending reply.
        assert_eq!(times, vec![5, 15, 35, 75, 135, 195, 200]);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_waits_at_least_retry_after_and_keeps_polling() {
        let throttled = |secs| {
            Poll::Transient(Error::ServerFailure {
                service: SERVICE,
                status: 429,
                message: "temporarily_unavailable".into(),
                retry_after: Some(Duration::from_secs(secs)),
                transient: true,
            })
        };
        let (res, times) = run(
            5,
            900,
            vec![throttled(30), throttled(3), Poll::Pending, ok()],
        )
        .await;
        assert!(res.is_ok());
        // 5; Retry-After 30 beats the 10 s backoff; then 20 s backoff beats 3; then the interval.
        assert_eq!(times, vec![5, 35, 55, 60]);
    }

    #[test]
    fn error_replies_are_classified_by_status_and_error_not_by_text() {
        let reply = |status: u16, body: &str, retry_after: Option<&str>| {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Some(v) = retry_after {
                headers.insert(reqwest::header::RETRY_AFTER, v.parse().unwrap());
            }
            Reply {
                status,
                content_type: Some("application/json".into()),
                body: body.as_bytes().to_vec(),
                headers,
            }
        };
        let e = identity_error(&reply(
            503,
            r#"{"error":"temporarily_unavailable","error_description":"AADSTS90033: A transient error has occurred.\r\nTrace ID: x"}"#,
            Some("4"),
        ));
        assert_eq!(
            e.verdict(),
            Verdict::Transient {
                retry_after: Some(Duration::from_secs(4))
            }
        );
        assert!(!e.to_string().contains("Trace ID"), "{e}");
        // `temporarily_unavailable` with a 400 is still transient; so is a 429 with any error.
        assert!(
            identity_error(&reply(400, r#"{"error":"temporarily_unavailable"}"#, None))
                .is_transient()
        );
        assert!(identity_error(&reply(429, r#"{"error":"invalid_request"}"#, None)).is_transient());
        assert!(identity_error(&reply(500, r#"{"error":"server_error"}"#, None)).is_transient());
        // A proxy's page is not Microsoft's answer.
        assert!(
            identity_error(&reply(403, "<html><title>Blocked</title></html>", None)).is_transient()
        );
        assert!(identity_error(&reply(400, "", None)).is_transient());
        let e = identity_error(&reply(
            400,
            r#"{"error":"invalid_grant","error_codes":[50173]}"#,
            None,
        ));
        assert_eq!(e.verdict(), Verdict::Refused);
        let e = identity_error(&reply(400, r#"{"error":"interaction_required"}"#, None));
        assert_eq!(e.verdict(), Verdict::Refused);
        let e = identity_error(&reply(400, r#"{"error":"invalid_client"}"#, None));
        assert_eq!(e.verdict(), Verdict::Persistent);
    }

    #[test]
    fn hostile_numbers_in_a_device_code_reply_are_clamped() {
        let reply = |body: &str| Reply {
            status: 200,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
            headers: Default::default(),
        };
        let a = device_authorization(&reply(
            r#"{"device_code":"d","user_code":"U\u001b[31mX","verification_uri":"https://x","expires_in":1e30,"interval":"99999999999999999999"}"#,
        ))
        .unwrap();
        assert_eq!(a.expires_in, MAX_DEVICE_CODE_LIFETIME);
        assert_eq!(
            a.interval, DEFAULT_INTERVAL,
            "an unreadable interval means the default"
        );
        assert_eq!(a.user_code, "U[31mX");
        let a = device_authorization(&reply(
            r#"{"device_code":"d","user_code":"U","verification_uri":"https://x","expires_in":"900","interval":1e18}"#,
        ))
        .unwrap();
        assert_eq!((a.expires_in, a.interval), (900, MAX_INTERVAL));
        // The clamped values run through the polling clock without overflow.
        let _ = tokio::time::Instant::now() + Duration::from_secs(MAX_DEVICE_CODE_LIFETIME);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_expires_in_runs_out() {
        let (res, times) = run(5, 12, vec![]).await;
        assert_eq!(res.unwrap_err().code(), "device_code_expired");
        assert_eq!(times, vec![5, 10]);
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_errors_stop_at_once() {
        let declined = Error::Identity {
            error: OAuthError::AuthorizationDeclined,
            aadsts: Some(70000),
            description: None,
        };
        let (res, times) = run(1, 900, vec![Poll::Pending, Poll::Fatal(declined)]).await;
        assert_eq!(res.unwrap_err().code(), "sign_in_declined");
        assert_eq!(times, vec![1, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_future_cancels_polling() {
        let count = Arc::new(Mutex::new(0));
        let c2 = count.clone();
        let task = tokio::spawn(poll_device_flow(
            1,
            900,
            move || {
                let c = c2.clone();
                async move {
                    *c.lock().unwrap() += 1;
                    Poll::Pending
                }
            },
            |_| {},
        ));
        tokio::time::sleep(Duration::from_millis(3500)).await;
        task.abort();
        let _ = task.await;
        let seen = *count.lock().unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(seen, 3);
        assert_eq!(*count.lock().unwrap(), 3, "no poll after cancel");
    }

    #[test]
    fn aadsts_code_is_read_from_the_description() {
        assert_eq!(
            aadsts_in("AADSTS53003: Access has been blocked"),
            Some(53003)
        );
        assert_eq!(aadsts_in("nothing"), None);
    }
}
