//! Watches the shared state (config + vault, which the CLI may change at any time) by polling the
//! engine's cheap `status()` every few seconds or at once when poked. When the state differs from
//! what was last shown it emits `state-changed` to the window, updates the tray and wakes the
//! refresh scheduler; a tenant that turns "sign-in required" raises a desktop notification.

use crate::state::AppState;
use crate::tray::Tray;
use chrono::Utc;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::Notify;
use vbm365_auth_core::contract::Snapshot;
use vbm365_auth_core::{Engine, TenantState, TenantStatus};

/// Name of the event carrying a [`Snapshot`].
pub const STATE_EVENT: &str = "state-changed";
/// How often the state is re-read when nothing pokes the monitor.
pub const POLL: Duration = Duration::from_secs(2);

/// Tenants that need sign-in now but did not before (`before == None`: first look, none).
pub fn newly_requiring_sign_in(
    before: Option<&HashSet<String>>,
    now: &[TenantStatus],
) -> Vec<String> {
    let Some(before) = before else {
        return Vec::new();
    };
    now.iter()
        .filter(|t| t.state == TenantState::SignInRequired && !before.contains(&t.profile.name))
        .map(|t| t.profile.name.clone())
        .collect()
}

fn requiring(now: &[TenantStatus]) -> HashSet<String> {
    now.iter()
        .filter(|t| t.state == TenantState::SignInRequired)
        .map(|t| t.profile.name.clone())
        .collect()
}

async fn read(engine: Arc<Engine>) -> Result<(Vec<TenantStatus>, Snapshot), String> {
    let job = tokio::task::spawn_blocking(move || {
        let status = engine.status().map_err(|e| e.to_string())?;
        let snap = Snapshot::of(&engine, &status).map_err(|e| e.to_string())?;
        let snap = crate::desktop::with_system_autostart(snap);
        Ok((status, snap))
    });
    job.await.map_err(|e| e.to_string())?
}

/// Runs forever; `scheduler` is woken on every change. Only with `notify` does a tenant that
/// turns "sign-in required" raise a notification (the tray process's monitor, not the window
/// process's).
pub async fn run<R: Runtime>(app: AppHandle<R>, scheduler: Arc<Notify>, notify: bool) {
    let (engine, poked) = {
        let st = app.state::<AppState>();
        (st.engine.clone(), st.changed.clone())
    };
    let mut last: Option<Snapshot> = None;
    let mut needing: Option<HashSet<String>> = None;
    loop {
        match read(engine.clone()).await {
            Ok((status, snap)) => {
                let newly = newly_requiring_sign_in(needing.as_ref(), &status);
                for name in newly.into_iter().filter(|_| notify) {
                    crate::desktop::notify(
                        &app,
                        "VBM365 Auth: sign-in required",
                        &format!(
                            "{name} needs a new sign-in. Open VBM365 Auth and choose Sign in."
                        ),
                    );
                }
                needing = Some(requiring(&status));
                if let Some(t) = app.try_state::<Tray<R>>() {
                    if let Err(e) = t.update(&status, Utc::now()) {
                        tracing::warn!(error = %e, "cannot update the tray");
                    }
                }
                if last.as_ref() != Some(&snap) {
                    if let Err(e) = app.emit(STATE_EVENT, &snap) {
                        tracing::warn!(error = %e, "cannot emit the state");
                    }
                    last = Some(snap);
                    scheduler.notify_one();
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the state"),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = poked.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vbm365_auth_core::TenantProfile;

    fn row(name: &str, state: TenantState) -> TenantStatus {
        TenantStatus {
            profile: TenantProfile::new(name, "https://vbm.example").unwrap(),
            active: false,
            state,
            expires_at: None,
            user_name: None,
            detail: None,
        }
    }

    #[test]
    fn notifies_only_on_transitions() {
        let now = vec![
            row("a.example", TenantState::SignInRequired),
            row("b.example", TenantState::SignInRequired),
            row("c.example", TenantState::SignedIn),
        ];
        assert!(newly_requiring_sign_in(None, &now).is_empty());
        let before: HashSet<String> = ["a.example".to_string()].into();
        assert_eq!(
            newly_requiring_sign_in(Some(&before), &now),
            vec!["b.example"]
        );
    }
}
