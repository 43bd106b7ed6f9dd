//! The device authorization grant (RFC 8628): the authorization Microsoft hands out and the
//! polling state machine, in tokio time.

use super::{MsTokenResponse, MAX_BACKOFF, SLOW_DOWN_STEP};
use crate::error::{Error, Result};
use crate::failure::Verdict;
use crate::secret::DeviceCode;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

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
    /// Seconds the device code lives, at most [`MAX_DEVICE_CODE_LIFETIME`](super::MAX_DEVICE_CODE_LIFETIME).
    pub expires_in: u64,
    /// Seconds between polls: [`DEFAULT_INTERVAL`](super::DEFAULT_INTERVAL) when the server sent none (or 0), at most
    /// [`MAX_INTERVAL`](super::MAX_INTERVAL).
    pub interval: u64,
    /// Microsoft's instruction for the user, made safe to show; `None` when the reply had none.
    pub message: Option<String>,
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
