//! The desktop app during the soak: started with the soak's environment, restarted if it dies,
//! its process tree's memory sampled.

use super::signal;
use super::workers::Env;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};
use vbm365_testkit::procs::{descendants, rss_kib};

/// The desktop app, restarted if it dies; its process tree's peak RSS.
pub(super) struct App {
    cmd: Command,
    child: Child,
    pub(super) peak_kib: u64,
    pub(super) deaths: Vec<String>,
}

impl App {
    /// Starts `binary` with the soak's environment, logging at `info` (background refresh
    /// outcomes) to `app.log`.
    pub(super) fn start(binary: &Path, env: &Env, logs: &Path) -> App {
        let log = File::create(logs.join("app.log")).expect("app log");
        let mut cmd = Command::new(binary);
        cmd.envs(env.vars.iter().map(|(k, v)| (k, v)))
            .env("VBM365_AUTH_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log);
        let child = cmd.spawn().expect("start the app");
        App {
            cmd,
            child,
            peak_kib: 0,
            deaths: Vec::new(),
        }
    }

    pub(super) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Adds the tree's RSS to the peak; restarts the app if it died.
    pub(super) fn sample(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!("bench: the app died ({status}); restarting it");
            self.deaths.push(status.to_string());
            self.child = self.cmd.spawn().expect("restart the app");
            return;
        }
        let pid = self.child.id();
        let kib: u64 = std::iter::once(pid)
            .chain(descendants(pid))
            .filter_map(rss_kib)
            .sum();
        self.peak_kib = self.peak_kib.max(kib);
    }

    /// SIGTERM to the app and its descendants, SIGKILL to whatever is left after 5 s.
    pub(super) fn stop(&mut self) {
        let pid = self.child.id();
        let tree: Vec<u32> = std::iter::once(pid).chain(descendants(pid)).collect();
        signal(&tree, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            sleep(Duration::from_millis(50));
        }
        signal(&tree, libc::SIGKILL);
        let _ = self.child.wait();
    }
}
