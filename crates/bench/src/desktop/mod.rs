//! Desktop app figures of issue 3, in the real window under an X display (`scripts/bench` runs
//! this under Xvfb):
//!
//! - **cold start to the tenant list painted**: `vbm365-auth-app` vs. `vbm365-bench-window` (an
//!   empty Tauri 2 window, built by `scripts/bench` in the same run). Both are launched the same way,
//!   through `tauri-driver` / WebKitWebDriver, and timed from the request that launches the process
//!   to a performance mark each page sets two animation frames after it painted what is watched
//!   (the app: `tenant-list-painted`, after its first tenant list; the empty window: `painted`,
//!   after its heading). The session attaches to the app's window process only once that process
//!   is up, which WebKitWebDriver polls for, so the page's own record of the paint is read rather
//!   than watching for it.
//! - **"Show window" to the tenant list painted** (issue 13): the app started `--hidden` (tray
//!   only) under WebDriver, "Show window" clicked in its tray over D-Bus, timed from the click to
//!   the page's own `tenant-list-painted` mark (two animation frames after its first tenant list),
//!   against the empty window's cold start, alternated in the same run. The session attaches to
//!   the window only once it exists and WebKitWebDriver polls for it, so the page's mark is read
//!   afterwards instead of watching for the paint.
//! - **idle memory**: summed RSS of the process and every descendant (the window process,
//!   WebKitWebProcess, WebKitNetworkProcess, …) a few seconds after a plain launch (no WebDriver):
//!   with the window open, after the window was closed (as a window manager closes it), and after
//!   a `--hidden` start.
//! - **approval at the emulator to "Signed in" shown**: the page's clock when `#signin-status`
//!   says so, minus the wall clock just before `Emulators::approve`.
//!
//! A WebDriver session that does not start is tried again ([`SESSION_ATTEMPTS`]); if it still
//! does not, the row says why instead of the run stopping.

mod driver;
mod many;
mod memory;
mod paint;
mod procs;
mod signin;
mod start;
mod window;

use crate::Row;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vbm365_emulator::Emulators;

pub fn rows(emu: &Emulators, rt: &tokio::runtime::Runtime) -> Vec<Row> {
    let dir = crate::exe_dir();
    let app = dir.join("vbm365-auth-app");
    let floor = dir.join("vbm365-bench-window");
    if std::env::var_os("DISPLAY").is_none() || !app.exists() || !floor.exists() {
        eprintln!(
            "bench: desktop figures skipped (need DISPLAY, {} and {}; run scripts/bench)",
            app.display(),
            floor.display()
        );
        return vec![];
    }
    let mut rows = Vec::new();

    // Three signed-in tenants, secrets in the session's Secret Service.
    let fx = rt.block_on(crate::fixture(emu, 3));
    let env: Vec<(&str, &Path)> = vec![("VBM365_AUTH_CONFIG_DIR", fx.dir.path())];
    if crate::wanted("start") {
        rows.extend(start::rows(&app, &floor, &env));
    }
    if crate::wanted("many") {
        rows.extend(many::rows(emu, rt, &app, &env));
    }
    if crate::wanted("memory") {
        rows.extend(memory::idle_memory(&app, &floor, &env));
    }
    if crate::wanted("signin") {
        rows.push(signin::row(&app, emu));
    }
    rows
}

/// The row `measure` makes, or one saying why it could not be measured.
fn or_failed(what: String, measure: impl FnOnce() -> Result<Row, String>) -> Row {
    measure().unwrap_or_else(|why| {
        eprintln!("bench: {what}: not measured: {why}");
        Row {
            what,
            figure: format!(
                "not measured: {}",
                why.chars().take(120).collect::<String>()
            ),
            target: String::new(),
            verdict: "FAILED",
        }
    })
}

fn ms_list(v: &[Duration]) -> Vec<u64> {
    v.iter().map(|d| d.as_millis() as u64).collect()
}

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        * 1000.0
}

/// `VBM365_BENCH_VERBOSE=1`: every launch's timeline, and the stderr of the apps.
fn verbose() -> bool {
    std::env::var_os("VBM365_BENCH_VERBOSE").is_some()
}
