//! Sign-in: `login --json` lines and the window's sign-in panel and progress events.

use super::{maybe_time, ErrorBody};
use crate::session::SignInEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The lines of `login --json` (one JSON object a line), named by `event`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LoginEvent {
    /// The code to enter and where.
    DeviceCode {
        /// The tenant signing in.
        tenant: String,
        /// The code to enter on the sign-in page.
        user_code: String,
        /// The sign-in page.
        verification_uri: String,
        /// Seconds until the code expires.
        expires_in: u64,
        /// Microsoft's own instructions.
        message: Option<String>,
    },
    /// The browser sign-in started: the page to approve in the browser (instead of
    /// `device_code`).
    Browser {
        /// The tenant signing in.
        tenant: String,
        /// Microsoft's authorize page with this sign-in's parameters (no secret in it).
        authorize_url: String,
        /// Seconds the sign-in waits for the browser.
        expires_in: u64,
    },
    /// Signed in.
    SignedIn {
        /// The tenant signed in.
        tenant: String,
        /// When the access token expires.
        #[serde(serialize_with = "maybe_time")]
        expires_at: Option<DateTime<Utc>>,
    },
    /// The sign-in failed.
    Error {
        /// The tenant whose sign-in failed.
        tenant: String,
        /// What went wrong.
        #[serde(flatten)]
        error: ErrorBody,
    },
}

/// What the window's sign-in panel shows when a sign-in starts (the device code stays in Rust:
/// the user code is for people, the device code is a secret).
#[derive(Debug, Clone, Serialize)]
pub struct SignInStarted {
    /// Numbers the attempt, so the window ignores events of an older one.
    pub attempt: u64,
    /// The tenant signing in.
    pub tenant: String,
    /// `device_code`: enter `user_code` at `verification_uri`; `browser`: approve the page at
    /// `verification_uri` (Microsoft's authorize page; `user_code` is empty).
    pub method: crate::config::SignInMethod,
    /// The code to enter on the sign-in page.
    pub user_code: String,
    /// The sign-in page.
    pub verification_uri: String,
    /// Seconds until the code expires (browser: until the sign-in stops waiting).
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
    /// Microsoft's own instructions.
    pub message: Option<String>,
    /// The page's address passed the safety checks and "Open sign-in page" may open it.
    pub can_open: bool,
    /// Why the address is shown as text only.
    pub open_blocked_reason: Option<String>,
    /// The user code was copied to the clipboard.
    pub code_copied: bool,
    /// Browser: the authorize page was opened in the default browser.
    pub page_opened: bool,
}

/// How a sign-in in the window goes, named by `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignInProgress {
    /// Waiting for the user; the next poll is in `next_poll_in` seconds.
    Waiting {
        /// Seconds.
        next_poll_in: u64,
    },
    /// Microsoft asked to poll slower.
    SlowedDown {
        /// The new interval, seconds.
        interval: u64,
    },
    /// A poll failed for a passing reason; polling goes on.
    Retrying {
        /// Why (no secret).
        reason: String,
        /// Seconds.
        next_poll_in: u64,
    },
    /// Microsoft approved; the assertion is being exchanged with VBM365.
    Exchanging,
    /// Signed in.
    SignedIn {
        /// When the access token expires.
        #[serde(serialize_with = "maybe_time")]
        expires_at: Option<DateTime<Utc>>,
        /// The user VBM365 named.
        user: Option<String>,
    },
    /// The sign-in failed.
    Error {
        /// What went wrong.
        #[serde(flatten)]
        error: ErrorBody,
    },
    /// The sign-in was cancelled.
    Cancelled,
}

impl From<SignInEvent> for SignInProgress {
    fn from(ev: SignInEvent) -> Self {
        match ev {
            SignInEvent::Waiting { next_poll_in } => SignInProgress::Waiting {
                next_poll_in: next_poll_in.as_secs(),
            },
            SignInEvent::SlowedDown { interval } => SignInProgress::SlowedDown {
                interval: interval.as_secs(),
            },
            SignInEvent::Retrying {
                reason,
                next_poll_in,
            } => SignInProgress::Retrying {
                reason,
                next_poll_in: next_poll_in.as_secs(),
            },
            SignInEvent::Exchanging => SignInProgress::Exchanging,
        }
    }
}

/// The payload of the window's `sign-in-progress` event.
#[derive(Debug, Clone, Serialize)]
pub struct SignInProgressEvent {
    /// The attempt it belongs to.
    pub attempt: u64,
    /// The tenant signing in.
    pub tenant: String,
    /// How it goes.
    #[serde(flatten)]
    pub progress: SignInProgress,
}
