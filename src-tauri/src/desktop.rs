//! Thin, guarded access to the desktop plugins (clipboard, notifications, autostart; on Windows
//! and Linux start at login is the core's [`vbm365_auth_core::autostart`] instead). Each helper works when
//! its plugin is missing (tests on the mock runtime) and reports that as an error instead of
//! panicking.

use crate::error::{UiError, UiResult};
use tauri::{AppHandle, Manager, Runtime};
use vbm365_auth_core::contract::{app_code, Snapshot};

/// Where [`copy_text`] sends text instead of the clipboard, when a process has one (managed
/// state): the window process hands it to the tray process, so that it stays on the clipboard
/// after the window is closed (`window::serve_tray` sets it up).
pub struct ClipboardRelay(Box<RelaySend>);

type RelaySend = dyn Fn(&str) -> std::io::Result<()> + Send + Sync;

impl ClipboardRelay {
    /// A relay that sends the text with `send`.
    pub fn new(send: impl Fn(&str) -> std::io::Result<()> + Send + Sync + 'static) -> Self {
        ClipboardRelay(Box::new(send))
    }
}

/// Copies text to the system clipboard, or through the process's [`ClipboardRelay`].
pub fn copy_text<R: Runtime>(app: &AppHandle<R>, text: &str) -> UiResult<()> {
    if let Some(relay) = app.try_state::<ClipboardRelay>() {
        return (relay.0)(text).map_err(|e| {
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

/// The window's error when start at login cannot be changed (every platform's way of doing it).
fn autostart_failed(e: impl std::fmt::Display) -> UiError {
    UiError::new(
        app_code::AUTOSTART,
        format!("cannot change start at login: {e}"),
    )
}

/// Turns start-at-login on or off. On Windows the app writes its own Run entry
/// ([`vbm365_auth_core::autostart`]: the program's path quoted, the installer's value name), on
/// Linux its own XDG autostart entry ([`vbm365_auth_core::autostart::xdg`]: the path quoted by
/// the Desktop Entry rules, the file name the plugin used); on macOS the autostart plugin does it.
#[cfg(target_os = "macos")]
pub fn set_autostart<R: Runtime>(app: &AppHandle<R>, on: bool) -> UiResult<()> {
    let Some(m) = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>() else {
        return Err(UiError::new(
            app_code::AUTOSTART,
            "start at login is not available",
        ));
    };
    let r = if on { m.enable() } else { m.disable() };
    r.map_err(autostart_failed)
}

/// Turns start-at-login on or off. On Windows the app writes its own Run entry
/// ([`vbm365_auth_core::autostart`]: the program's path quoted, the installer's value name), on
/// Linux its own XDG autostart entry ([`vbm365_auth_core::autostart::xdg`]: the path quoted by
/// the Desktop Entry rules, the file name the plugin used); on macOS the autostart plugin does it.
#[cfg(windows)]
pub fn set_autostart<R: Runtime>(_app: &AppHandle<R>, on: bool) -> UiResult<()> {
    use vbm365_auth_core::autostart::{command_line, RunEntry};
    let entry = RunEntry::app();
    let r = if on {
        std::env::current_exe().and_then(|exe| {
            let exe = exe.to_str().ok_or_else(|| {
                std::io::Error::other(format!("the program's path {exe:?} is not Unicode"))
            })?;
            command_line(exe, &[crate::launch::HIDDEN_ARG]).and_then(|line| entry.enable(&line))
        })
    } else {
        entry.disable()
    };
    r.map_err(autostart_failed)
}

#[cfg(target_os = "linux")]
pub fn set_autostart<R: Runtime>(app: &AppHandle<R>, on: bool) -> UiResult<()> {
    use vbm365_auth_core::autostart::XdgEntry;
    let r = XdgEntry::app().and_then(|entry| {
        if on {
            // An AppImage runs from a mount that is gone after sign-out: the entry starts the
            // AppImage file itself, as the autostart plugin did.
            let exe = match app.env().appimage {
                Some(appimage) => std::path::PathBuf::from(appimage),
                None => std::env::current_exe()?,
            };
            entry.enable(&exe, &[crate::launch::HIDDEN_ARG])
        } else {
            entry.disable()
        }
    });
    r.map_err(autostart_failed)
}

/// Whether start at login is on as the system has it, where the app keeps the entry itself
/// (Windows: its Run entry, and not switched off in Task Manager; Linux: its autostart file, and
/// not switched off in the session's settings); `None` on macOS, where the saved setting is what
/// the window shows.
pub fn system_autostart() -> Option<bool> {
    #[cfg(windows)]
    let on = vbm365_auth_core::autostart::RunEntry::app().is_enabled();
    #[cfg(target_os = "linux")]
    let on = vbm365_auth_core::autostart::XdgEntry::app().and_then(|e| e.is_enabled());
    #[cfg(any(windows, target_os = "linux"))]
    match on {
        Ok(on) => return Some(on),
        Err(e) => tracing::warn!(error = %e, "cannot read the start-at-login entry"),
    }
    None
}

/// Makes a snapshot's start-at-login setting say what the system does ([`system_autostart`]): the
/// installer may have written the entry, and Task Manager or the session's settings may have
/// switched it off.
pub fn with_system_autostart(mut snap: Snapshot) -> Snapshot {
    if let Some(on) = system_autostart() {
        snap.settings.start_at_login = on;
    }
    snap
}
