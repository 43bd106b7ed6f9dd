//! The app's process tree: its window process, closing the window as a window manager does, and
//! stopping the whole tree.

use std::path::Path;
use std::process::Child;
use std::thread::sleep;
use std::time::{Duration, Instant};
use vbm365_testkit::procs::{descendants, parent};
use vbm365_testkit::x11::Display;

/// The app's window process under the app's first process `pid`: its child running the same
/// executable (started with `--window`, or forked off it when the app started).
fn window_process(pid: u32) -> Option<u32> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    descendants(pid).into_iter().find(|&p| {
        parent(p) == Some(pid)
            && std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe)
    })
}

/// Closes the window of the app `pid` as a window manager does (`WM_DELETE_WINDOW`), again every
/// second while it is there (without a window manager, one sent while the window starts up may
/// be lost), until its window process has ended.
pub(super) fn close_window(pid: u32) -> Result<(), String> {
    let display = Display::open()?;
    let window_pid = window_process(pid).ok_or("no window process to close")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while window_process(pid).is_some() {
        if Instant::now() > deadline {
            return Err(format!(
                "the window process {window_pid} still runs after 20 s"
            ));
        }
        for w in display.visible_windows_of(window_pid)? {
            display.close(w.id)?;
        }
        sleep(Duration::from_secs(1));
    }
    Ok(())
}

pub(super) fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: plain FFI call; the pid comes from a live child tree of ours.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// SIGTERM to a child and its descendants, SIGKILL to whatever is left after 3 s; reaps the child.
pub(super) fn stop_tree(child: &mut Child) {
    let pid = child.id();
    let tree = descendants(pid);
    signal(pid, libc::SIGTERM);
    for &p in &tree {
        signal(p, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_)))
            && tree
                .iter()
                .all(|p| !Path::new(&format!("/proc/{p}")).exists())
        {
            return;
        }
        sleep(Duration::from_millis(20));
    }
    for &p in &tree {
        signal(p, libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}
