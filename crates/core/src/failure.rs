//! Failure classification: the one place that decides what a failed request says about the tokens
//! it carried, and when to try again.
//!
//! A stored refresh token is thrown away only when its issuer refused it **definitively**:
//!
//! | issuer | definitive refusal ([`Verdict::Refused`]) |
//! |---|---|
//! | VBM365 `/vN/token` | HTTP 400, 401 or 403 with a JSON error body from VBM365 itself (`RESTExceptionInfo` `{"message"}` or OAuth-style `{"error"}`) |
//! | Microsoft `/oauth2/v2.0/token` | OAuth `error` `invalid_grant`, `interaction_required` or `consent_required` (the AADSTS codes behind them, e.g. 50173 revoked, 700082 expired, 50076 MFA, 65001 consent, 53003 Conditional Access, all arrive as one of these) |
//!
//! Everything else keeps every stored token. Of that, these are [`Verdict::Transient`] and are
//! retried inside the command with capped exponential backoff and jitter, honouring `Retry-After`
//! ([`RetryPolicy`]): transport errors, timeouts, a reply cut off or garbled, HTTP 407, 408, 425,
//! 429 and 5xx, Microsoft's `temporarily_unavailable` and `server_error`, and any 4xx whose body is
//! not from the service (an HTML page or an empty body: a proxy, a WAF, a load balancer). The rest
//! ([`Verdict::Persistent`]: a certificate that does not match its pin, a refused client id, a
//! locked keyring, …) keeps the tokens too but is not retried, since waiting does not change it.
//!
//! The error *texts* servers send are never matched: only HTTP status, content type, the OAuth
//! `error` field and header values decide.

use crate::error::Error;
use crate::msid::OAuthError;
use rand::Rng;
use std::future::Future;
use std::time::Duration;

/// What a failure says about the tokens of the request that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The issuer refused the grant: the refresh token (or assertion) is dead.
    Refused,
    /// Says nothing about the tokens and may pass: try again, no sooner than `retry_after` when the
    /// server said so.
    Transient {
        /// The server's `Retry-After`, at most [`MAX_RETRY_AFTER`]; `None` when no reply carried a
        /// readable one.
        retry_after: Option<Duration>,
    },
    /// Says nothing about the tokens, but trying again now will not help.
    Persistent,
}

/// OAuth errors of Microsoft that mean the grant (refresh token, code) is dead.
pub fn is_refusing_oauth_error(error: &OAuthError) -> bool {
    matches!(
        error,
        OAuthError::InvalidGrant | OAuthError::InteractionRequired | OAuthError::ConsentRequired
    )
}

/// OAuth errors of Microsoft that mean "try again later".
pub fn is_transient_oauth_error(error: &OAuthError) -> bool {
    matches!(
        error,
        OAuthError::TemporarilyUnavailable | OAuthError::ServerError
    )
}

/// HTTP statuses that say nothing about the request's credentials and may pass.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 407 | 408 | 425 | 429) || status >= 500
}

/// Whether an error reply may pass if tried again: a transient status, a body that is not the
/// service's own error document (`own_error: false`: a proxy's page, an empty body), or an OAuth
/// error that says so (`temporarily_unavailable`, `server_error`). Both protocol clients classify
/// their replies with this.
pub fn is_transient_reply(status: u16, own_error: bool, oauth_error: Option<&OAuthError>) -> bool {
    !own_error || is_transient_status(status) || oauth_error.is_some_and(is_transient_oauth_error)
}

/// Longest `Retry-After` honoured; a server asking for more is treated as asking for this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3), clamped to
/// [`MAX_RETRY_AFTER`]. `None` for a missing or unreadable value.
pub fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: a huge number saturates instead of failing.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = (at.with_timezone(&chrono::Utc) - now)
        .to_std()
        .unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// How a command retries transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub attempts: u32,
    /// Backoff before the first retry; doubles each time, up to `cap`.
    pub base: Duration,
    /// Largest backoff between two attempts.
    pub cap: Duration,
    /// Most time spent waiting between attempts in all; a wait that would go past it (a long
    /// `Retry-After`) ends the retries at once.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(20),
            budget: Duration::from_secs(45),
        }
    }
}

/// Largest retry budget accepted from the environment.
pub const MAX_RETRY_BUDGET: Duration = Duration::from_secs(3600);

impl RetryPolicy {
    /// No retries at all.
    pub const NONE: RetryPolicy = RetryPolicy {
        attempts: 1,
        base: Duration::ZERO,
        cap: Duration::ZERO,
        budget: Duration::ZERO,
    };

    /// The default, or `VBM365_AUTH_RETRY_BUDGET` seconds of total waiting (0 turns retries off).
    pub fn from_env() -> crate::Result<Self> {
        match std::env::var("VBM365_AUTH_RETRY_BUDGET") {
            Err(_) => Ok(RetryPolicy::default()),
            Ok(v) => RetryPolicy::with_budget_secs(&v),
        }
    }

    /// The default with a total wait of `secs` (a decimal number of seconds, 0 to 3600).
    pub fn with_budget_secs(secs: &str) -> crate::Result<Self> {
        let budget = parse_seconds(secs, MAX_RETRY_BUDGET).ok_or_else(|| {
            Error::InvalidInput(format!(
                "VBM365_AUTH_RETRY_BUDGET={}: give a number of seconds from 0 to {}",
                secs.trim(),
                MAX_RETRY_BUDGET.as_secs()
            ))
        })?;
        if budget.is_zero() {
            return Ok(RetryPolicy::NONE);
        }
        let d = RetryPolicy::default();
        Ok(RetryPolicy {
            budget,
            base: d.base.min(budget),
            cap: d.cap.min(budget),
            ..d
        })
    }

    /// The wait before retry number `retry` (0-based): `base · 2^retry` capped, with "equal
    /// jitter" (half fixed, half random) so that many clients do not retry in step; never shorter
    /// than the server's `Retry-After`.
    pub fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.min(30)))
            .min(self.cap);
        let half = exp / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            rand::thread_rng().gen_range(Duration::ZERO..=half)
        };
        (half + jitter).max(retry_after.unwrap_or(Duration::ZERO))
    }
}

/// A decimal number of seconds in `0..=max`; `None` for anything else (negative, NaN, infinite,
/// too large, not a number).
pub fn parse_seconds(raw: &str, max: Duration) -> Option<Duration> {
    let secs: f64 = raw.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 || secs > max.as_secs_f64() {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// The outcome of [`retry`]: the last result and how many attempts it took.
#[derive(Debug)]
pub struct Attempted<T> {
    /// The result of the last attempt.
    pub result: crate::Result<T>,
    /// Attempts made, the first included (at least 1).
    pub attempts: u32,
}

/// Runs `op` until it succeeds, fails with anything but a [`Verdict::Transient`] error, or the
/// policy's attempts or budget run out. Time is tokio's (tests run it in virtual time).
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, mut op: F) -> Attempted<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = crate::Result<T>>,
{
    let mut waited = Duration::ZERO;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = op().await;
        let retry_after = match &result {
            Err(e) => match e.verdict() {
                Verdict::Transient { retry_after } => retry_after,
                _ => return Attempted { result, attempts },
            },
            Ok(_) => return Attempted { result, attempts },
        };
        if attempts >= policy.attempts {
            return Attempted { result, attempts };
        }
        let wait = policy.backoff(attempts - 1, retry_after);
        if waited + wait > policy.budget {
            return Attempted { result, attempts };
        }
        if let Err(e) = &result {
            tracing::info!(attempt = attempts, wait_ms = wait.as_millis() as u64, error = %e, "transient failure, retrying");
        }
        tokio::time::sleep(wait).await;
        waited += wait;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::time::Instant;

    fn busy(retry_after: Option<u64>) -> Error {
        Error::ServerFailure {
            service: "the VBM365 server",
            status: 429,
            message: "busy".into(),
            retry_after: retry_after.map(Duration::from_secs),
            transient: true,
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_bounded() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // A date in the past: retry now.
        assert_eq!(
            retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after("86400", now), Some(MAX_RETRY_AFTER));
        for bad in ["", "-1", "1.5", "soon", "7 s"] {
            assert_eq!(retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let p = RetryPolicy {
            attempts: 10,
            base: Duration::from_secs(2),
            cap: Duration::from_secs(16),
            budget: Duration::from_secs(100),
        };
        for _ in 0..50 {
            let b0 = p.backoff(0, None);
            assert!(
                (Duration::from_secs(1)..=Duration::from_secs(2)).contains(&b0),
                "{b0:?}"
            );
            let b2 = p.backoff(2, None);
            assert!(
                (Duration::from_secs(4)..=Duration::from_secs(8)).contains(&b2),
                "{b2:?}"
            );
            let b9 = p.backoff(9, None);
            assert!(
                (Duration::from_secs(8)..=Duration::from_secs(16)).contains(&b9),
                "{b9:?}"
            );
            assert_eq!(
                p.backoff(0, Some(Duration::from_secs(30))),
                Duration::from_secs(30)
            );
        }
    }

    #[test]
    fn budget_from_the_environment_is_range_checked() {
        assert_eq!(
            RetryPolicy::with_budget_secs("0").unwrap(),
            RetryPolicy::NONE
        );
        assert_eq!(
            RetryPolicy::with_budget_secs("2.5").unwrap().budget,
            Duration::from_millis(2500)
        );
        for bad in ["inf", "NaN", "-1", "1e30", "x", "3601"] {
            let e = RetryPolicy::with_budget_secs(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let out = retry(&RetryPolicy::default(), || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(busy(None)),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(out.result.unwrap(), 7);
        assert_eq!(out.attempts, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_and_persistent_failures_are_not_retried() {
        for e in [
            Error::ServerRejected {
                status: 400,
                message: "Invalid refresh token.".into(),
            },
            Error::PinMismatch {
                host: "h".into(),
                expected: "a".into(),
                actual: "b".into(),
            },
        ] {
            let calls = AtomicU32::new(0);
            let code = e.code();
            let mut once = Some(e);
            let out: Attempted<()> = retry(&RetryPolicy::default(), || {
                calls.fetch_add(1, Ordering::SeqCst);
                let e = once.take().expect("called once only");
                async move { Err(e) }
            })
            .await;
            assert_eq!(out.attempts, 1, "{code}");
            assert_eq!(out.result.unwrap_err().code(), code);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_and_a_long_one_ends_the_retries() {
        let start = Instant::now();
        let calls = AtomicU32::new(0);
        let out = retry(&RetryPolicy::default(), || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(busy(Some(9))),
                _ => Ok(()),
            }
        })
        .await;
        assert!(out.result.is_ok());
        assert!(
            start.elapsed() >= Duration::from_secs(9),
            "{:?}",
            start.elapsed()
        );

        // Asked to wait longer than the whole budget: give up at once, without waiting.
        let start = Instant::now();
        let out: Attempted<()> =
            retry(&RetryPolicy::default(), || async { Err(busy(Some(120))) }).await;
        assert_eq!(out.attempts, 1);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_and_budget_bound_the_retries() {
        let start = Instant::now();
        let calls = AtomicU32::new(0);
        let p = RetryPolicy::default();
        let out: Attempted<()> = retry(&p, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(busy(None))
        })
        .await;
        assert_eq!(out.attempts, p.attempts);
        assert_eq!(calls.load(Ordering::SeqCst), p.attempts);
        assert!(start.elapsed() <= p.budget);
        // Waits grow: 0.5–1 s, 1–2 s, 2–4 s.
        assert!(
            start.elapsed() >= Duration::from_millis(3500),
            "{:?}",
            start.elapsed()
        );
    }
}
