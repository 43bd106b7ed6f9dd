//! The window runs in a process of its own, which exists only while the window is open.
//!
//! The app's first process (the *tray process*: tray icon, background refresh, notifications,
//! single instance) never creates a web view. [`open`] starts `vbm365-auth-app --window` (the
//! *window process*) when no window is open, or asks the running one to come forward; closing the
//! window ends that process and, with it, every WebKit process and all the memory a web view
//! leaves behind in the process that created it (WebKit's own libraries, its heap and, on Linux,
//! its network process, which WebKitGTK keeps for as long as the creating process lives).
//!
//! Both processes open the same engine on the same config dir, as the CLI does, so the window
//! shows the same state however often it is opened again: the tenant list, settings and tokens
//! live in the config dir and the vault, and each process's monitor sees the other's changes.
//!
//! They talk over the window process's standard input and output, one JSON object per line:
//! the tray process sends [`ToWindow`] (come forward; start a sign-in), the window process sends
//! [`ToTray`] (put this on the clipboard: a copied token must outlive the window, and on X11 the
//! clipboard's content belongs to the process that copied it). The window process quits when its
//! input ends, i.e. when the tray process is gone.

use crate::{MAIN_WINDOW, TRAY_SIGN_IN_EVENT};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tauri::{
    AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder,
};

/// Command-line flag of the window process.
pub const WINDOW_ARG: &str = "--window";
/// With [`WINDOW_ARG`]: the window starts a sign-in of the active tenant.
pub const SIGN_IN_ARG: &str = "--sign-in";

/// What the window does once it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// Shows the tenant list.
    Plain,
    /// Starts a sign-in of the active tenant (tray "Sign in…").
    SignIn,
}

impl Opening {
    /// The page of a window opened for this: `index.html`, with `#sign-in` when the page is to
    /// start a sign-in of the active tenant as soon as it has the tenant list.
    pub fn page(self) -> &'static str {
        match self {
            Opening::Plain => "index.html",
            Opening::SignIn => "index.html#sign-in",
        }
    }

    /// The window process's command line for this.
    pub fn args(self) -> Vec<&'static str> {
        match self {
            Opening::Plain => vec![WINDOW_ARG],
            Opening::SignIn => vec![WINDOW_ARG, SIGN_IN_ARG],
        }
    }

    /// `Some` when a command line (without the program name) starts the window process.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Option<Opening> {
        let has = |flag: &str| args.iter().any(|a| a.as_ref() == flag);
        has(WINDOW_ARG).then(|| {
            if has(SIGN_IN_ARG) {
                Opening::SignIn
            } else {
                Opening::Plain
            }
        })
    }
}

/// A message from the tray process to the window process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum ToWindow {
    /// Show, unminimize and focus the window.
    Show,
    /// Come forward and start a sign-in of the active tenant.
    SignIn,
}

impl From<Opening> for ToWindow {
    fn from(o: Opening) -> Self {
        match o {
            Opening::Plain => ToWindow::Show,
            Opening::SignIn => ToWindow::SignIn,
        }
    }
}

/// A message from the window process to the tray process.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum ToTray {
    /// Put this text on the clipboard (a token or a user code: never logged).
    Copy { text: String },
}

impl std::fmt::Debug for ToTray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToTray::Copy { .. } => f.write_str("Copy { .. }"),
        }
    }
}

/// One message as a line.
fn line<T: Serialize>(msg: &T) -> String {
    let mut s = serde_json::to_string(msg).unwrap_or_default();
    s.push('\n');
    s
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ----- the tray process's side ----------------------------------------------------------------

/// The window process, if one runs (state of the tray process).
#[derive(Default)]
pub struct WindowHost {
    current: Mutex<Option<Running>>,
    started: AtomicU64,
}

/// A running window process: its number (the n-th started) and its input.
struct Running {
    number: u64,
    pid: u32,
    input: ChildStdin,
}

impl WindowHost {
    /// The pid of the window process, if one runs.
    pub fn pid(&self) -> Option<u32> {
        lock(&self.current).as_ref().map(|r| r.pid)
    }
}

/// Shows the window: asks the running window process to come forward (and to start a sign-in
/// for [`Opening::SignIn`]), or starts one. `on_exit` runs in the tray process when that window
/// process ends, with whether it ended normally (the window was closed).
pub fn open<R: Runtime>(app: &AppHandle<R>, opening: Opening, on_exit: fn(&AppHandle<R>, bool)) {
    let Some(host) = app.try_state::<WindowHost>() else {
        return;
    };
    let mut current = lock(&host.current);
    if let Some(running) = current.as_mut() {
        let msg = line(&ToWindow::from(opening));
        if running.input.write_all(msg.as_bytes()).is_ok() && running.input.flush().is_ok() {
            return;
        }
        // Its input is closed: it is on its way out. Start a new one.
        *current = None;
    }
    match spawn(opening) {
        Ok((child, input, output)) => {
            let number = host.started.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::info!(pid = child.id(), ?opening, "window process started");
            *current = Some(Running {
                number,
                pid: child.id(),
                input,
            });
            let app = app.clone();
            let watcher = std::thread::Builder::new()
                .name("window-process".into())
                .spawn(move || watch(app, number, child, output, on_exit));
            if let Err(e) = watcher {
                tracing::warn!(error = %e, "cannot watch the window process");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot start the window process"),
    }
}

/// Asks the window process, if one runs, to end (its input closes).
pub fn close_all<R: Runtime>(app: &AppHandle<R>) {
    if let Some(host) = app.try_state::<WindowHost>() {
        lock(&host.current).take();
    }
}

/// The program to start as the window process: this very executable; on Linux, once a package
/// upgrade replaced the file, through `/proc/self/exe`, which still reaches the running one.
fn own_executable() -> std::io::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    if cfg!(target_os = "linux") && !exe.exists() {
        return Ok("/proc/self/exe".into());
    }
    Ok(exe)
}

fn spawn(opening: Opening) -> std::io::Result<(Child, ChildStdin, ChildStdout)> {
    let mut cmd = Command::new(own_executable()?);
    cmd.args(opening.args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if crate::GL_OFF_IN_TRAY.load(Ordering::Relaxed) {
        // Only the tray process goes without GL; the window paints as the user chose.
        cmd.env_remove(crate::GDK_GL_ENV);
    }
    let mut child = cmd.spawn()?;
    let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        return Err(std::io::Error::other("no pipe to the window process"));
    };
    Ok((child, input, output))
}

/// Serves what the window process asks for until it closes its output, then reaps it.
fn watch<R: Runtime>(
    app: AppHandle<R>,
    number: u64,
    mut child: Child,
    output: ChildStdout,
    on_exit: fn(&AppHandle<R>, bool),
) {
    for text in BufReader::new(output).lines() {
        let Ok(text) = text else { break };
        match serde_json::from_str::<ToTray>(&text) {
            Ok(ToTray::Copy { text }) => {
                if let Err(e) = crate::desktop::copy_text(&app, &text) {
                    tracing::warn!(error = %e.message, "cannot copy for the window");
                    crate::desktop::notify(&app, "VBM365 Auth: copy failed", &e.message);
                }
            }
            // Not a message (something a library printed): ignored.
            Err(_) => {}
        }
    }
    let status = child.wait();
    let normal = status.as_ref().is_ok_and(|s| s.success());
    tracing::info!(pid = child.id(), ?status, "window process ended");
    if let Some(host) = app.try_state::<WindowHost>() {
        let mut current = lock(&host.current);
        if current.as_ref().is_some_and(|r| r.number == number) {
            *current = None;
        }
    }
    on_exit(&app, normal);
}

// ----- the window process's side --------------------------------------------------------------

/// The tray process, as the window process reaches it (its state).
pub struct TrayLink {
    output: Mutex<std::io::Stdout>,
}

impl TrayLink {
    /// Asks the tray process to put `text` on the clipboard.
    pub fn copy(&self, text: &str) -> std::io::Result<()> {
        let msg = line(&ToTray::Copy {
            text: text.to_string(),
        });
        let mut out = lock(&self.output);
        out.write_all(msg.as_bytes())?;
        out.flush()
    }
}

/// Creates the main window from its configuration.
pub fn create<R: Runtime>(app: &AppHandle<R>, opening: Opening) -> tauri::Result<WebviewWindow<R>> {
    let mut config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .cloned()
        .ok_or(tauri::Error::WindowNotFound)?;
    config.url = WebviewUrl::App(opening.page().into());
    WebviewWindowBuilder::from_config(app, &config)?.build()
}

/// In the window process: manages the [`TrayLink`] and follows the tray process's messages
/// until its input ends, then quits.
pub fn serve_tray<R: Runtime>(app: &AppHandle<R>) {
    app.manage(TrayLink {
        output: Mutex::new(std::io::stdout()),
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_round_trip() {
        for o in [Opening::Plain, Opening::SignIn] {
            assert_eq!(Opening::from_args(&o.args()), Some(o));
        }
        assert_eq!(Opening::from_args(&["--hidden"]), None);
        assert_eq!(Opening::from_args::<&str>(&[]), None);
        assert_eq!(Opening::SignIn.page(), "index.html#sign-in");
    }

    #[test]
    fn messages_are_one_json_line_and_copies_never_show_their_text() {
        assert_eq!(line(&ToWindow::SignIn), "{\"do\":\"sign_in\"}\n");
        let copy = ToTray::Copy {
            text: "secret-token".into(),
        };
        let l = line(&copy);
        assert_eq!(l.matches('\n').count(), 1);
        assert_eq!(serde_json::from_str::<ToTray>(l.trim()).unwrap(), copy);
        assert!(!format!("{copy:?}").contains("secret"));
    }
}
