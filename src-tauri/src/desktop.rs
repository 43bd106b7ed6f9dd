//! Thin, guarded access to the desktop plugins (clipboard, notifications, autostart). Each helper
//! works when its plugin is missing (tests on the mock runtime) and reports that as an error
//! instead of panicking.

use crate::error::{UiError, UiResult};
use tauri::{AppHandle, Manager, Runtime};
use vbm365_auth_core::contract::app_code;

/// Copies text to the system clipboard. In the window process the tray process copies it, so
/// that it stays on the clipboard after the window is closed ([`crate::window::TrayLink`]).
pub fn copy_text<R: Runtime>(app: &AppHandle<R>, text: &str) -> UiResult<()> {
    if let Some(tray) = app.try_state::<crate::window::TrayLink>() {
        return tray.copy(text).map_err(|e| {
            UiError::new(
                app_code::CLIPBOARD,
                format!("cannot copy to the clipboard: the tray process is gone ({e})"),
            )
        });
    }
    let clip = app
        .try_state::<tauri_plugin_clipboard_manager::Clipboard<R>>()
        .ok_or_else(|| UiError::new(app_code::CLIPBOARD, "the clipboard is not available"))?;
    clip.write_text(text).map_err(|e| {
        UiError::new(
            app_code::CLIPBOARD,
            format!("cannot copy to the clipboard: {e}"),
        )
    })
}

/// Shows a desktop notification (best effort: failures are logged).
pub fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    let Some(n) = app.try_state::<tauri_plugin_notification::Notification<R>>() else {
        return;
    };
    if let Err(e) = n.builder().title(title).body(body).show() {
        tracing::warn!(error = %e, "cannot show a desktop notification");
    }
}

/// Runs `on_click` when the user clicks one of this app's notifications (the notification itself,
/// not a button), as far as the notification server reports clicks. Notifications shown before
/// this is called report nothing.
pub fn on_notification_click<R: Runtime>(
    app: &AppHandle<R>,
    on_click: impl Fn(&AppHandle<R>) + Send + Sync + 'static,
) {
    let Some(n) = app.try_state::<tauri_plugin_notification::Notification<R>>() else {
        return;
    };
    let handle = app.clone();
    let _ = n.on_action(move |action| {
        if action.action_id() == "tap" {
            on_click(&handle);
        }
    });
}

/// Turns start-at-login on or off.
pub fn set_autostart<R: Runtime>(app: &AppHandle<R>, on: bool) -> UiResult<()> {
    let Some(m) = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>() else {
        return Err(UiError::new(
            app_code::AUTOSTART,
            "start at login is not available",
        ));
    };
    let r = if on { m.enable() } else { m.disable() };
    r.map_err(|e| {
        UiError::new(
            app_code::AUTOSTART,
            format!("cannot change start at login: {e}"),
        )
    })
}
