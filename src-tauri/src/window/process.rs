//! The window process's side: its window, and its link to the tray process.

use super::{line, lock, Opening, ToTray, ToWindow, MAIN_WINDOW, TRAY_SIGN_IN_EVENT};
use crate::desktop::ClipboardRelay;
use std::io::{BufRead, Write};
use std::sync::Mutex;
use tauri::{
    AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder,
};

/// The tray process, as the window process reaches it.
struct TrayLink {
    output: Mutex<std::io::Stdout>,
}

impl TrayLink {
    /// Asks the tray process to put `text` on the clipboard.
    fn copy(&self, text: &str) -> std::io::Result<()> {
        let msg = line(&ToTray::Copy {
            text: text.to_string(),
        });
        let mut out = lock(&self.output);
        out.write_all(msg.as_bytes())?;
        out.flush()
    }
}

/// Creates the main window from its configuration; hidden unless `visible`.
pub fn create<R: Runtime>(
    app: &AppHandle<R>,
    opening: Opening,
    visible: bool,
) -> tauri::Result<WebviewWindow<R>> {
    let mut config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .cloned()
        .ok_or(tauri::Error::WindowNotFound)?;
    config.url = WebviewUrl::App(opening.page().into());
    config.visible = visible;
    WebviewWindowBuilder::from_config(app, &config)?
        .initialization_script(platform_script())
        .build()
}

/// Tells the pages which OS they run on before any of their scripts runs, as
/// `window.__VBM365_PLATFORM__` (`"windows"`, `"macos"`, `"linux"`: Rust's
/// `std::env::consts::OS`), so that `ui/format.js` names the keyring the user has.
pub fn platform_script() -> String {
    format!(
        "window.__VBM365_PLATFORM__ = {};",
        serde_json::Value::from(std::env::consts::OS)
    )
}

/// In the window process: sends what the window copies to the tray process (a
/// [`ClipboardRelay`]) and follows the tray process's messages until its input ends, then quits.
pub fn serve_tray<R: Runtime>(app: &AppHandle<R>) {
    let link = TrayLink {
        output: Mutex::new(std::io::stdout()),
    };
    app.manage(ClipboardRelay::new(move |text| link.copy(text)));
    let app = app.clone();
    let reader = std::thread::Builder::new()
        .name("tray-link".into())
        .spawn(move || {
            for text in std::io::stdin().lock().lines() {
                let Ok(text) = text else { break };
                match serde_json::from_str::<ToWindow>(&text) {
                    Ok(msg) => come_forward(&app, msg),
                    Err(e) => tracing::warn!(error = %e, "unknown message from the tray process"),
                }
            }
            tracing::info!("the tray process is gone: closing the window");
            app.exit(0);
        });
    if let Err(e) = reader {
        tracing::warn!(error = %e, "cannot listen to the tray process");
    }
}

/// Shows, unminimizes and focuses the window; starts a sign-in for [`ToWindow::SignIn`].
fn come_forward<R: Runtime>(app: &AppHandle<R>, msg: ToWindow) {
    let Some(w) = app.get_webview_window(MAIN_WINDOW) else {
        return;
    };
    let _ = w.show();
    let _ = w.unminimize();
    let _ = w.set_focus();
    if msg == ToWindow::SignIn {
        let _ = w.emit(TRAY_SIGN_IN_EVENT, ());
    }
}
