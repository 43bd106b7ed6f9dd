//! The `memory` group: idle resident memory of the app and all its processes, with its window
//! open against the empty window, and with no window against the goal.

use super::procs::{close_window, stop_tree};
use crate::Row;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::Duration;
use vbm365_testkit::procs::{descendants, name as comm, rss_kib};

const MEMORY_RUNS: usize = 3;
/// Time from launch after which a window counts as idle for the memory figure.
const IDLE_AFTER: Duration = Duration::from_secs(6);
/// Time after the window process ended after which the app counts as idle again.
const IDLE_AFTER_CLOSE: Duration = Duration::from_secs(4);
/// Goal for the app's resident memory with no window (issue 13).
const NO_WINDOW_GOAL_MB: f64 = 80.0;

/// The three idle-memory rows: window open against the empty window, and with no window (closed
/// after it was opened once; started `--hidden`) against the goal.
pub(super) fn idle_memory(app: &Path, floor: &Path, env: &[(&str, &Path)]) -> Vec<Row> {
    let mut s = sample(app, floor, env);
    let (open, closed, hidden, base) = (
        mid(&mut s.open),
        mid(&mut s.closed),
        mid(&mut s.hidden),
        mid(&mut s.base),
    );
    let mut rows = vec![window_open_row(open, base)];
    let beside = format!(
        "(window open {}, empty window {})",
        open.map_or("-".into(), |o| format!("{:.0} MB", mb(o))),
        base.map_or("-".into(), |b| format!("{:.0} MB", mb(b)))
    );
    rows.extend(no_window_rows(closed, hidden, &beside));
    rows
}

/// Idle RSS (KiB) of every run, by how the app was left, and of the empty window.
#[derive(Default)]
struct Samples {
    open: Vec<u64>,
    closed: Vec<u64>,
    hidden: Vec<u64>,
    base: Vec<u64>,
}

/// [`MEMORY_RUNS`] rounds of the app left each [`Idle`] way and of the empty window; logs them.
fn sample(app: &Path, floor: &Path, env: &[(&str, &Path)]) -> Samples {
    let mut s = Samples::default();
    let mut details = Vec::new();
    for _ in 0..MEMORY_RUNS {
        for (how, into) in [
            (Idle::WindowOpen, &mut s.open),
            (Idle::ClosedAfterOpen, &mut s.closed),
            (Idle::Hidden, &mut s.hidden),
        ] {
            match idle_rss(app, env, how) {
                Ok((kib, procs)) => {
                    into.push(kib);
                    details.push(format!("{how:?}: {procs}"));
                }
                Err(e) => eprintln!("bench: idle RSS {how:?}: {e}"),
            }
        }
        if let Ok((kib, _)) = idle_rss(floor, env, Idle::WindowOpen) {
            s.base.push(kib);
        }
    }
    let Samples {
        open,
        closed,
        hidden,
        base,
    } = &s;
    eprintln!(
        "bench: idle RSS (KiB) window open {open:?}, closed after open {closed:?}, --hidden \
         {hidden:?}, empty window {base:?}; last processes: {}",
        details.join("; ")
    );
    s
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The median, `None` for no runs.
fn mid(v: &mut [u64]) -> Option<u64> {
    v.sort();
    v.get(v.len() / 2).copied()
}

fn failed(what: String) -> Row {
    Row {
        what,
        figure: "not measured (see the log above)".into(),
        target: String::new(),
        verdict: "FAILED",
    }
}

/// Window open, against the empty window.
fn window_open_row(open: Option<u64>, base: Option<u64>) -> Row {
    let what =
        format!("app idle RSS, window open, with WebKit processes (median of {MEMORY_RUNS})");
    match (open, base) {
        (Some(o), Some(b)) => {
            let ratio = o as f64 / b as f64;
            Row {
                what,
                figure: format!(
                    "{:.1} MB vs empty window {:.1} MB = {ratio:.2}x",
                    mb(o),
                    mb(b)
                ),
                target: "<= 1.25x floor".into(),
                verdict: if ratio <= 1.25 { "met" } else { "MISSED" },
            }
        }
        _ => failed(what),
    }
}

/// No window (closed after it was opened once; started `--hidden`), against the goal; `beside`
/// gives the window-open figures.
fn no_window_rows(closed: Option<u64>, hidden: Option<u64>, beside: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (what, kib) in [
        (
            format!("app idle RSS, window closed after opened once (median of {MEMORY_RUNS})"),
            closed,
        ),
        (
            format!("app idle RSS after --hidden, no window yet (median of {MEMORY_RUNS})"),
            hidden,
        ),
    ] {
        rows.push(match kib {
            Some(k) => Row {
                what,
                figure: format!("{:.1} MB {beside}", mb(k)),
                target: format!("<= {NO_WINDOW_GOAL_MB:.0} MB"),
                verdict: if mb(k) <= NO_WINDOW_GOAL_MB {
                    "met"
                } else {
                    "MISSED"
                },
            },
            None => failed(what),
        });
    }
    rows
}

/// How the app is left before its idle memory is read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Idle {
    /// Launched plainly: its window open.
    WindowOpen,
    /// Launched plainly, then its window closed as a window manager closes it.
    ClosedAfterOpen,
    /// Launched with `--hidden`: tray only.
    Hidden,
}

/// RSS (KiB) of a plainly launched `binary` and all its descendants once idle (left as `how`
/// says), and their names.
fn idle_rss(binary: &Path, env: &[(&str, &Path)], how: Idle) -> Result<(u64, String), String> {
    let mut cmd = Command::new(binary);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    if how == Idle::Hidden {
        cmd.arg("--hidden");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| format!("launch: {e}"))?;
    sleep(IDLE_AFTER);
    let pid = child.id();
    if how == Idle::ClosedAfterOpen {
        if let Err(e) = close_window(pid) {
            stop_tree(&mut child);
            return Err(e);
        }
        sleep(IDLE_AFTER_CLOSE);
    }
    let mut tree = vec![pid];
    tree.extend(descendants(pid));
    let mut total = 0;
    let mut names = Vec::new();
    for p in &tree {
        if let Some(kib) = rss_kib(*p) {
            total += kib;
            names.push(format!("{} {} MB", comm(*p), kib / 1024));
        }
    }
    stop_tree(&mut child);
    Ok((total, names.join(", ")))
}
