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
//! A plain launch starts its window process at once, forked off the launched process before
//! that has a thread or has done anything else ([`start_early`]), so that the window starts as
//! fast as a single-process app's would; that window shows once the tray process has passed its
//! single-instance check. Later windows are started from the executable with `--window`.
//!
//! They talk over the window process's standard input and output, one JSON object per line:
//! the tray process sends [`ToWindow`] (come forward; start a sign-in), the window process sends
//! [`ToTray`] (put this on the clipboard: a copied token must outlive the window, and on X11 the
//! clipboard's content belongs to the process that copied it). The window process quits when its
//! input ends, i.e. when the tray process is gone.

use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tauri::{AppHandle, Manager, Runtime};

/// Label of the main window (tauri.conf.json).
pub const MAIN_WINDOW: &str = "main";
/// Event asking the window to start a sign-in of the active tenant (tray "Sign in…").
pub const TRAY_SIGN_IN_EVENT: &str = "tray-sign-in";

/// Command-line flag of the window process.
pub const WINDOW_ARG: &str = "--window";
/// With [`WINDOW_ARG`]: the window starts a sign-in of the active tenant.
pub const SIGN_IN_ARG: &str = "--sign-in";
/// With [`WINDOW_ARG`]: the window stays hidden until the tray process says [`ToWindow::Show`].
pub const UNTIL_SHOWN_ARG: &str = "--until-shown";

/// Whether a window process's command line asks it to wait for [`ToWindow::Show`].
pub fn until_shown<S: AsRef<str>>(args: &[S]) -> bool {
    args.iter().any(|a| a.as_ref() == UNTIL_SHOWN_ARG)
}

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
    /// A window process started before the app was built ([`start_early`]), until
    /// [`watch_early`] watches it.
    early: Mutex<Option<Started>>,
}

/// A running window process: its number (the n-th started) and its input.
struct Running {
    number: u64,
    pid: u32,
    input: Box<dyn Write + Send>,
}

/// A window process just started: its number, the process and its output.
struct Started {
    number: u64,
    process: WindowProcess,
    output: Box<dyn Read + Send>,
}

/// How a window process was started.
enum WindowProcess {
    /// Started from this executable (`--window`).
    Spawned(Child),
    /// Forked off the tray process at its start ([`start_early`]).
    #[cfg(target_os = "linux")]
    Forked(u32),
}

impl WindowProcess {
    fn id(&self) -> u32 {
        match self {
            WindowProcess::Spawned(c) => c.id(),
            #[cfg(target_os = "linux")]
            WindowProcess::Forked(pid) => *pid,
        }
    }

    /// Waits for it to end (and reaps it).
    fn wait(self) -> std::io::Result<ExitStatus> {
        match self {
            WindowProcess::Spawned(mut c) => c.wait(),
            #[cfg(target_os = "linux")]
            WindowProcess::Forked(pid) => early::wait(pid),
        }
    }
}

impl WindowHost {
    /// The pid of the window process, if one runs.
    pub fn pid(&self) -> Option<u32> {
        lock(&self.current).as_ref().map(|r| r.pid)
    }

    /// Makes a started window process the current one.
    fn adopt(
        &self,
        process: WindowProcess,
        input: Box<dyn Write + Send>,
        output: Box<dyn Read + Send>,
    ) -> Started {
        let number = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        *lock(&self.current) = Some(Running {
            number,
            pid: process.id(),
            input,
        });
        Started {
            number,
            process,
            output,
        }
    }

    /// Starts a window process from this executable and makes it the current one.
    fn start(&self, opening: Opening, until_shown: bool) -> std::io::Result<Started> {
        let (child, input, output) = spawn(opening, until_shown)?;
        tracing::info!(pid = child.id(), ?opening, "window process started");
        Ok(self.adopt(
            WindowProcess::Spawned(child),
            Box::new(input),
            Box::new(output),
        ))
    }
}

/// What [`start_early`] made of this process.
pub enum Early {
    /// This process is the window process now (forked off the tray process): it goes on as one,
    /// its window hidden until the tray process says [`ToWindow::Show`].
    Window,
    /// This process is the tray process, with the window process it started.
    Tray(WindowHost),
}

/// Starts the window process when the app starts, before the tray process sets itself up, so
/// that the window does not wait for the tray. Its window stays hidden until [`watch_early`] says
/// to show it: a launch that only hands over to a running instance never shows one.
///
/// On Linux it is forked off this process, which must still have a single thread: the forked
/// process has the executable and its libraries loaded already, which saves it a second start of
/// the executable (about 20 ms of the dynamic loader's work, and much more on a busy machine).
/// Elsewhere, or if the fork fails, it is started like any later window process.
pub fn start_early() -> Early {
    let host = WindowHost::default();
    #[cfg(target_os = "linux")]
    match early::fork() {
        Ok(early::Forked::Child) => return Early::Window,
        Ok(early::Forked::Parent { pid, input, output }) => {
            let started = host.adopt(
                WindowProcess::Forked(pid),
                Box::new(input),
                Box::new(output),
            );
            *lock(&host.early) = Some(started);
            return Early::Tray(host);
        }
        Err(e) => eprintln!("vbm365-auth-app: cannot fork the window process ({e}); starting it"),
    }
    match host.start(Opening::Plain, true) {
        Ok(started) => *lock(&host.early) = Some(started),
        Err(e) => eprintln!("vbm365-auth-app: cannot start the window process: {e}"),
    }
    Early::Tray(host)
}

/// Watches the window process [`start_early`] started, if any, and lets it show its window;
/// whether there was one.
pub fn watch_early<R: Runtime>(app: &AppHandle<R>, on_exit: fn(&AppHandle<R>, bool)) -> bool {
    let Some(host) = app.try_state::<WindowHost>() else {
        return false;
    };
    let early = lock(&host.early).take();
    let Some(started) = early else {
        return false;
    };
    tracing::info!(
        pid = started.process.id(),
        "window process started with the app"
    );
    watch_in_thread(app, started, on_exit);
    open(app, Opening::Plain, on_exit);
    true
}

fn watch_in_thread<R: Runtime>(
    app: &AppHandle<R>,
    started: Started,
    on_exit: fn(&AppHandle<R>, bool),
) {
    let app = app.clone();
    let watcher = std::thread::Builder::new()
        .name("window-process".into())
        .spawn(move || watch(app, started, on_exit));
    if let Err(e) = watcher {
        tracing::warn!(error = %e, "cannot watch the window process");
    }
}

/// Shows the window: asks the running window process to come forward (and to start a sign-in
/// for [`Opening::SignIn`]), or starts one. `on_exit` runs in the tray process when that window
/// process ends, with whether it ended normally (the window was closed).
pub fn open<R: Runtime>(app: &AppHandle<R>, opening: Opening, on_exit: fn(&AppHandle<R>, bool)) {
    let Some(host) = app.try_state::<WindowHost>() else {
        return;
    };
    {
        let mut current = lock(&host.current);
        if let Some(running) = current.as_mut() {
            let msg = line(&ToWindow::from(opening));
            if running.input.write_all(msg.as_bytes()).is_ok() && running.input.flush().is_ok() {
                return;
            }
            // Its input is closed: it is on its way out. Start a new one.
            *current = None;
        }
    }
    match host.start(opening, false) {
        Ok(started) => watch_in_thread(app, started, on_exit),
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

fn spawn(
    opening: Opening,
    until_shown: bool,
) -> std::io::Result<(Child, std::process::ChildStdin, std::process::ChildStdout)> {
    let mut cmd = Command::new(own_executable()?);
    cmd.args(opening.args())
        .args(until_shown.then_some(UNTIL_SHOWN_ARG))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if crate::launch::gl_off_in_tray() {
        // Only the tray process goes without GL; the window paints as the user chose.
        cmd.env_remove(crate::launch::GDK_GL_ENV);
    }
    let mut child = cmd.spawn()?;
    let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        return Err(std::io::Error::other("no pipe to the window process"));
    };
    Ok((child, input, output))
}

/// Serves what the window process asks for until it closes its output, then reaps it.
fn watch<R: Runtime>(app: AppHandle<R>, started: Started, on_exit: fn(&AppHandle<R>, bool)) {
    let Started {
        number,
        process,
        output,
    } = started;
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
    let pid = process.id();
    let status = process.wait();
    let normal = status.as_ref().is_ok_and(|s| s.success());
    tracing::info!(pid, ?status, "window process ended");
    if let Some(host) = app.try_state::<WindowHost>() {
        let mut current = lock(&host.current);
        if current.as_ref().is_some_and(|r| r.number == number) {
            *current = None;
        }
    }
    on_exit(&app, normal);
}

#[cfg(target_os = "linux")]
mod early;
mod process;

pub use process::{create, platform_script, serve_tray};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_are_told_the_platform_the_keyring_words_are_for() {
        let script = platform_script();
        if cfg!(target_os = "linux") {
            assert_eq!(script, r#"window.__VBM365_PLATFORM__ = "linux";"#);
        }
        assert_eq!(
            script,
            format!(
                r#"window.__VBM365_PLATFORM__ = "{}";"#,
                std::env::consts::OS
            )
        );
    }

    #[test]
    fn command_lines_round_trip() {
        for o in [Opening::Plain, Opening::SignIn] {
            assert_eq!(Opening::from_args(&o.args()), Some(o));
        }
        assert_eq!(Opening::from_args(&["--hidden"]), None);
        assert_eq!(Opening::from_args::<&str>(&[]), None);
        assert_eq!(Opening::SignIn.page(), "index.html#sign-in");
        assert!(until_shown(&["--window", UNTIL_SHOWN_ARG]));
        assert!(!until_shown(&Opening::Plain.args()));
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
