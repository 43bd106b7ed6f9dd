//! A keyring daemon that stops answering for a few seconds (a busy or swapping desktop, a jump
//! host under load) delays a command; it does not fail it. The Secret Service client the keyring
//! crate uses gives up on each D-Bus call after 2 s (`NoReply`); the CLI asks again until its own
//! keyring timeout (`VBM365_AUTH_KEYRING_TIMEOUT_MS`, default 10 s) is spent.
//!
//! The test stops the session's gnome-keyring-daemon (SIGSTOP) for longer than 2 s while `token`
//! reads the vault key. It is a test binary of its own: the daemon is shared by every test of a
//! binary, and cargo runs test binaries one after another.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

/// The process id of the Secret Service on this test's D-Bus session.
fn secret_service_pid() -> u32 {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            "string:org.freedesktop.secrets",
        ])
        .output()
        .expect("dbus-send (package dbus-bin)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "no Secret Service on the session bus: {text}"
    );
    text.split_whitespace()
        .skip_while(|w| *w != "uint32")
        .nth(1)
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no process id in {text:?}"))
}

/// Sends a signal (`STOP`, `CONT`) to a process.
fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{sig} {pid}");
}

/// A stopped process, continued when this is dropped (also when the test fails, so that the
/// test binaries after this one find the keyring answering).
struct Stopped(u32);

impl Stopped {
    fn new(pid: u32) -> Stopped {
        signal(pid, "STOP");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keyring_that_stalls_for_seconds_delays_a_command_without_failing_it() {
    let mut env = Env::with_signed_in_tenant().await;
    env.extra_env
        .push(("VBM365_AUTH_LOG".into(), "vbm365_auth_core=debug".into()));
    let stored = env.run(&["token"]).ok().stdout;
    let daemon = secret_service_pid();

    let stopped = Stopped::new(daemon);
    let run = tokio::spawn({
        let cmd = env.cmd(&["token"]);
        async move {
            tokio::task::spawn_blocking(move || {
                let mut cmd = cmd;
                Run::from(cmd.output().expect("run vbm365-auth"))
            })
            .await
            .unwrap()
        }
    });
    // Longer than the client's 2 s per call, well within the CLI's 10 s.
    tokio::time::sleep(Duration::from_secs(5)).await;
    drop(stopped);
    let r = run.await.unwrap();

    let r = r.ok();
    assert_eq!(
        r.stdout, stored,
        "the same token, read once the keyring answered"
    );
    assert!(
        r.stderr.contains("did not answer in time: asking again"),
        "the keyring was asked again after the client gave up: {}",
        r.stderr
    );
}
