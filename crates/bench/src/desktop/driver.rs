//! Driving the app through `tauri-driver` (in front of WebKitWebDriver): the driver process, its
//! sessions (find, type, run scripts), and the retry of a session that does not start.

use super::procs::{signal, stop_tree};
use super::verbose;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};
use vbm365_testkit::procs::{descendants, name as comm, parent};

/// Port of tauri-driver (WebKitWebDriver's is the next one): not the default 4444, so that the
/// benchmark can run beside the end-to-end tests. A second driver, for a second config dir, takes
/// the two after.
const DRIVER_PORT: u16 = 4454;
pub(super) const SECOND_DRIVER_PORT: u16 = 4456;
/// How often a WebDriver session (or a "Show window" run) is tried before its row gives up.
const SESSION_ATTEMPTS: usize = 3;

/// `attempt` until it succeeds, at most [`SESSION_ATTEMPTS`] times; the last error otherwise.
pub(super) fn retried<T>(
    what: &str,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let mut last = String::new();
    for n in 1..=SESSION_ATTEMPTS {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) => {
                eprintln!("bench: {what}: attempt {n} of {SESSION_ATTEMPTS} failed: {e}");
                last = e;
                sleep(Duration::from_secs(2));
            }
        }
    }
    Err(format!(
        "{what} failed {SESSION_ATTEMPTS} times; last: {last}"
    ))
}

fn tauri_driver() -> PathBuf {
    std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"))
        })
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("tauri-driver"))
}

/// `tauri-driver` (in front of WebKitWebDriver) on its port, with `env` passed to the apps.
pub(super) struct Driver(Child, u16);

impl Driver {
    /// tauri-driver on [`DRIVER_PORT`].
    pub(super) fn start(env: &[(&str, &Path)]) -> Result<Driver, String> {
        Driver::start_on(env, DRIVER_PORT)
    }

    /// tauri-driver on `port`, WebKitWebDriver on the next one.
    pub(super) fn start_on(env: &[(&str, &Path)], port: u16) -> Result<Driver, String> {
        let mut cmd = Command::new(tauri_driver());
        cmd.args(["--port", &port.to_string()])
            .args(["--native-port", &(port + 1).to_string()])
            .stdout(Stdio::null())
            .stderr(if verbose() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start tauri-driver (scripts/setup installs it): {e}"))?;
        let driver = Driver(child, port);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("tauri-driver did not listen on port {port}"));
            }
            sleep(Duration::from_millis(50));
        }
        Ok(driver)
    }

    /// A session with `binary`, tried up to [`SESSION_ATTEMPTS`] times.
    pub(super) fn session(&self, binary: &Path) -> Result<Session<'_>, String> {
        let what = format!("a WebDriver session with {}", binary.display());
        retried(&what, || self.session_once(binary, &[]))
    }

    /// One session request: the app launched with `args`. A failed one leaves no app behind.
    pub(super) fn session_once(&self, binary: &Path, args: &[&str]) -> Result<Session<'_>, String> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": binary, "args": args}
        }}});
        let reply = http(self.1, "POST", "/session", Some(&caps));
        match reply.as_ref().map(|v| v["value"]["sessionId"].as_str()) {
            Ok(Some(id)) => Ok(Session {
                driver: self,
                id: id.to_string(),
            }),
            _ => {
                // An app left running would take the next launch's place (single instance).
                self.stop_apps();
                Err(match reply {
                    Ok(v) => format!("no WebDriver session: {v}"),
                    Err(e) => format!("no WebDriver session: {e}"),
                })
            }
        }
    }

    /// The app `binary` launched under this driver (WebKitWebDriver's child, not a window
    /// process).
    pub(super) fn app_pid(&self, binary: &Path) -> Option<u32> {
        let is_app =
            |p: u32| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == binary);
        descendants(self.0.id())
            .into_iter()
            .find(|&p| is_app(p) && !parent(p).is_some_and(is_app))
    }

    /// Stops every app WebKitWebDriver started (the app may close to the tray instead of exiting)
    /// and waits up to 5 s for them to go.
    fn stop_apps(&self) {
        for p in descendants(self.0.id()) {
            if comm(p) != "WebKitWebDriver" {
                signal(p, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while descendants(self.0.id())
            .iter()
            .any(|&p| comm(p) != "WebKitWebDriver")
            && Instant::now() < deadline
        {
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        stop_tree(&mut self.0);
    }
}

/// A WebDriver session: its app is stopped (with its WebKit processes) on drop.
pub(super) struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    /// The WebDriver id of the first element matching `css`.
    pub(super) fn find(&self, css: &str) -> Result<String, String> {
        let body = json!({"using": "css selector", "value": css});
        let v = http(
            self.driver.1,
            "POST",
            &format!("/session/{}/element", self.id),
            Some(&body),
        )?;
        v["value"]
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("no element {css}: {v}"))
    }

    /// Types `text` into the element `id` (WebDriver key codes for special keys).
    pub(super) fn send_keys(&self, id: &str, text: &str) -> Result<(), String> {
        let body = json!({"text": text});
        let v = http(
            self.driver.1,
            "POST",
            &format!("/session/{}/element/{id}/value", self.id),
            Some(&body),
        )?;
        if v["value"]["error"].is_string() {
            return Err(format!("WebDriver send keys: {v}"));
        }
        Ok(())
    }

    pub(super) fn execute_async(&self, script: &str, args: Value) -> Result<Value, String> {
        self.cmd("execute/async", script, args)
    }

    pub(super) fn execute(&self, script: &str, args: Value) -> Result<Value, String> {
        self.cmd("execute/sync", script, args)
    }

    fn cmd(&self, what: &str, script: &str, args: Value) -> Result<Value, String> {
        let body = json!({"script": script, "args": args});
        let v = http(
            self.driver.1,
            "POST",
            &format!("/session/{}/{what}", self.id),
            Some(&body),
        )?;
        if v["value"]["error"].is_string() || v.is_null() {
            return Err(format!("WebDriver {what}: {v}"));
        }
        Ok(v["value"].clone())
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = http(
            self.driver.1,
            "DELETE",
            &format!("/session/{}", self.id),
            None,
        );
        self.driver.stop_apps();
    }
}

/// One HTTP/1.0 exchange with tauri-driver (HTTP/1.0: the body ends when the connection closes).
/// `Null` when the reply is not JSON (what tauri-driver answers when it could not reach
/// WebKitWebDriver, say).
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("connect to tauri-driver: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("send to tauri-driver: {e}"))?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)
        .map_err(|e| format!("read from tauri-driver: {e}"))?;
    let text = String::from_utf8_lossy(&resp);
    let json = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok(serde_json::from_str(json).unwrap_or(Value::Null))
}
