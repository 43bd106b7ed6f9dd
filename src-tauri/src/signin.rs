//! The device-code sign-in as a background task that reports its progress to the window as
//! `sign-in-progress` events. At most one sign-in runs at a time ([`SignInSlot`], which the app
//! state holds); cancelling aborts the task (dropping the core's future stops the polling).

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::Notify;
use url::Url;
use vbm365_auth_core::{Engine, PendingSignIn, SignInEvent};

/// Name of the progress event.
pub const PROGRESS_EVENT: &str = "sign-in-progress";

/// The sign-in in progress, if any, and the numbering of sign-in attempts.
pub struct SignInSlot {
    current: Mutex<Option<Attempt>>,
    /// The number of the next attempt (the first is 1).
    next_attempt: AtomicU64,
}

/// One sign-in attempt, polling in the background.
struct Attempt {
    /// Numbers the attempt, so the UI ignores events of an older one.
    number: u64,
    tenant: String,
    user_code: String,
    /// The verification URI if it is safe to open, else why not.
    openable_uri: Result<Url, String>,
    task: tauri::async_runtime::JoinHandle<()>,
}

/// What the sign-in panel shows when a sign-in starts (no device code: it stays in Rust).
#[derive(Debug, Clone, Serialize)]
pub struct SignInInfo {
    pub attempt: u64,
    pub tenant: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: u64,
    pub interval: u64,
    pub message: Option<String>,
    /// The URI passed the checks of docs/protocol.md §1 and "Open sign-in page" may open it.
    pub can_open: bool,
    /// Why the URI is shown as text only.
    pub open_blocked_reason: Option<String>,
    /// The user code was copied to the clipboard.
    pub code_copied: bool,
}

/// Live status of a sign-in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Progress {
    Waiting {
        next_poll_in: u64,
    },
    SlowedDown {
        interval: u64,
    },
    Retrying {
        reason: String,
        next_poll_in: u64,
    },
    /// Microsoft approved; the app exchanges the assertion with VBM365.
    Exchanging,
    SignedIn {
        expires_at: Option<DateTime<Utc>>,
        user: Option<String>,
    },
    Error {
        code: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        remedy: Option<vbm365_auth_core::Remedy>,
    },
    Cancelled,
}

impl From<SignInEvent> for Progress {
    fn from(ev: SignInEvent) -> Self {
        match ev {
            SignInEvent::Waiting { next_poll_in } => Progress::Waiting {
                next_poll_in: next_poll_in.as_secs(),
            },
            SignInEvent::SlowedDown { interval } => Progress::SlowedDown {
                interval: interval.as_secs(),
            },
            SignInEvent::Retrying {
                reason,
                next_poll_in,
            } => Progress::Retrying {
                reason,
                next_poll_in: next_poll_in.as_secs(),
            },
            SignInEvent::Exchanging => Progress::Exchanging,
        }
    }
}

/// The payload of [`PROGRESS_EVENT`].
#[derive(Debug, Clone, Serialize)]
pub struct ProgressEvent {
    pub attempt: u64,
    pub tenant: String,
    #[serde(flatten)]
    pub progress: Progress,
}

fn emit<R: Runtime>(app: &AppHandle<R>, attempt: u64, tenant: &str, progress: Progress) {
    let ev = ProgressEvent {
        attempt,
        tenant: tenant.to_string(),
        progress,
    };
    if let Err(e) = app.emit(PROGRESS_EVENT, ev) {
        tracing::warn!(error = %e, "cannot emit the sign-in progress");
    }
}

impl Default for SignInSlot {
    fn default() -> Self {
        SignInSlot {
            current: Mutex::new(None),
            next_attempt: AtomicU64::new(1),
        }
    }
}

impl SignInSlot {
    /// No sign-in in progress; the first attempt will be number 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// Numbers a new attempt.
    fn next_number(&self) -> u64 {
        self.next_attempt.fetch_add(1, Ordering::Relaxed)
    }

    fn current(&self) -> MutexGuard<'_, Option<Attempt>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts polling for a started sign-in, replacing (and cancelling) any earlier one. When it
    /// ends, `changed` is notified.
    pub fn start<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        engine: Arc<Engine>,
        changed: Arc<Notify>,
        pending: PendingSignIn,
        code_copied: bool,
    ) -> SignInInfo {
        let attempt = self.next_number();
        let auth = &pending.authorization;
        let info = SignInInfo {
            attempt,
            tenant: pending.profile.name.clone(),
            user_code: auth.user_code.clone(),
            verification_uri: auth.verification_uri.clone(),
            expires_in: auth.expires_in,
            interval: auth.interval,
            message: auth.message.clone(),
            can_open: pending.openable_uri.is_ok(),
            open_blocked_reason: pending.openable_uri.as_ref().err().cloned(),
            code_copied,
        };
        let task_app = app.clone();
        let tenant = info.tenant.clone();
        let openable_uri = pending.openable_uri.clone();
        let task = tauri::async_runtime::spawn(async move {
            let app = task_app;
            let result = engine
                .complete_sign_in(&pending, |ev| {
                    emit(&app, attempt, &pending.profile.name, ev.into())
                })
                .await;
            let done = match result {
                Ok(st) => Progress::SignedIn {
                    expires_at: st.expires_at,
                    user: st.user_name,
                },
                Err(e) => Progress::Error {
                    code: e.code().to_string(),
                    message: e.to_string(),
                    remedy: e.remedy(),
                },
            };
            emit(&app, attempt, &pending.profile.name, done);
            changed.notify_one();
        });
        let new = Attempt {
            number: attempt,
            tenant,
            user_code: info.user_code.clone(),
            openable_uri,
            task,
        };
        let mut current = self.current();
        if let Some(old) = current.replace(new) {
            old.task.abort();
        }
        info
    }

    /// Cancels the sign-in in progress; true if there was one.
    pub fn cancel<R: Runtime>(&self, app: &AppHandle<R>) -> bool {
        let old = self.current().take();
        match old {
            Some(old) => {
                old.task.abort();
                emit(app, old.number, &old.tenant, Progress::Cancelled);
                true
            }
            None => false,
        }
    }

    /// The user code of the sign-in in progress.
    pub fn user_code(&self) -> Option<String> {
        self.current().as_ref().map(|a| a.user_code.clone())
    }

    /// The verification URI of the sign-in in progress if it is safe to open, else why not.
    pub fn openable_uri(&self) -> Option<Result<Url, String>> {
        self.current().as_ref().map(|a| a.openable_uri.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn progress_serializes_with_a_status_tag() {
        let ev = ProgressEvent {
            attempt: 3,
            tenant: "contoso.example".into(),
            progress: SignInEvent::Waiting {
                next_poll_in: Duration::from_secs(5),
            }
            .into(),
        };
        let v = serde_json::to_value(ev).unwrap();
        assert_eq!(v["status"], "waiting");
        assert_eq!(v["next_poll_in"], 5);
        assert_eq!(v["attempt"], 3);
        let v = serde_json::to_value(Progress::Error {
            code: "sign_in_declined".into(),
            message: "the sign-in was declined".into(),
            remedy: Some(vbm365_auth_core::Remedy::SignIn),
        })
        .unwrap();
        assert_eq!(v["status"], "error");
        assert_eq!(v["code"], "sign_in_declined");
        assert_eq!(v["remedy"], "sign_in", "the window words the remedy");
    }

    #[test]
    fn each_slot_numbers_its_own_attempts_from_one() {
        let (a, b) = (SignInSlot::new(), SignInSlot::new());
        assert_eq!((a.next_number(), a.next_number()), (1, 2));
        assert_eq!(b.next_number(), 1);
        assert!(a.user_code().is_none() && a.openable_uri().is_none());
    }
}
