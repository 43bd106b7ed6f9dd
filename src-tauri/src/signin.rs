//! The sign-in (device code or browser) as a background task that reports its progress to the
//! window as `sign-in-progress` events. At most one sign-in runs at a time ([`SignInSlot`], which the app
//! state holds); cancelling aborts the task (dropping the core's future stops the polling).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::Notify;
use url::Url;
pub use vbm365_auth_core::contract::{
    ErrorBody, SignInProgress as Progress, SignInProgressEvent as ProgressEvent,
    SignInStarted as SignInInfo,
};
use vbm365_auth_core::session::BrowserSignIn;
use vbm365_auth_core::{Engine, PendingSignIn, SignInMethod, TenantStatus};

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

/// Reports how a sign-in ended and wakes the monitor.
fn finish<R: Runtime>(
    app: &AppHandle<R>,
    attempt: u64,
    tenant: &str,
    result: vbm365_auth_core::Result<TenantStatus>,
    changed: &Notify,
) {
    let done = match result {
        Ok(st) => Progress::SignedIn {
            expires_at: st.expires_at,
            user: st.user_name,
        },
        Err(e) => Progress::Error {
            error: ErrorBody::from(&e),
        },
    };
    emit(app, attempt, tenant, done);
    changed.notify_one();
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

    /// Starts polling for a started device-code sign-in, replacing (and cancelling) any earlier
    /// one. When it ends, `changed` is notified.
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
            method: SignInMethod::DeviceCode,
            user_code: auth.user_code.clone(),
            verification_uri: auth.verification_uri.clone(),
            expires_in: auth.expires_in,
            interval: auth.interval,
            message: auth.message.clone(),
            can_open: pending.openable_uri.is_ok(),
            open_blocked_reason: pending.openable_uri.as_ref().err().cloned(),
            code_copied,
            page_opened: false,
        };
        let openable_uri = pending.openable_uri.clone();
        let task_app = app.clone();
        let task = tauri::async_runtime::spawn(async move {
            let name = pending.profile.name.clone();
            let result = engine
                .complete_sign_in(&pending, |ev| emit(&task_app, attempt, &name, ev.into()))
                .await;
            finish(&task_app, attempt, &name, result, &changed);
        });
        self.replace(&info, openable_uri, task);
        info
    }

    /// Starts waiting for a started browser sign-in (its page already opened when `page_opened`),
    /// replacing (and cancelling) any earlier one. When it ends, `changed` is notified.
    pub fn start_browser<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        engine: Arc<Engine>,
        changed: Arc<Notify>,
        pending: BrowserSignIn,
        page_opened: bool,
    ) -> SignInInfo {
        let attempt = self.next_number();
        let info = SignInInfo {
            attempt,
            tenant: pending.profile.name.clone(),
            method: SignInMethod::Browser,
            user_code: String::new(),
            verification_uri: pending.authorize_url.to_string(),
            expires_in: pending.timeout.as_secs(),
            interval: 0,
            message: None,
            can_open: pending.openable_uri.is_ok(),
            open_blocked_reason: pending.openable_uri.as_ref().err().cloned(),
            code_copied: false,
            page_opened,
        };
        let openable_uri = pending.openable_uri.clone();
        let task_app = app.clone();
        let name = info.tenant.clone();
        let task = tauri::async_runtime::spawn(async move {
            let result = engine
                .complete_browser_sign_in(pending, |ev| emit(&task_app, attempt, &name, ev.into()))
                .await;
            finish(&task_app, attempt, &name, result, &changed);
        });
        self.replace(&info, openable_uri, task);
        info
    }

    /// Makes `task` the sign-in in progress, aborting the one before.
    fn replace(
        &self,
        info: &SignInInfo,
        openable_uri: Result<Url, String>,
        task: tauri::async_runtime::JoinHandle<()>,
    ) {
        let new = Attempt {
            number: info.attempt,
            tenant: info.tenant.clone(),
            user_code: info.user_code.clone(),
            openable_uri,
            task,
        };
        if let Some(old) = self.current().replace(new) {
            old.task.abort();
        }
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
    use vbm365_auth_core::SignInEvent;

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
            error: ErrorBody::from(&vbm365_auth_core::Error::Identity {
                error: vbm365_auth_core::msid::OAuthError::AuthorizationDeclined,
                description: Some("the sign-in was declined".into()),
                aadsts: None,
            }),
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
