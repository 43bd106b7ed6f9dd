//! Desktop app figures of issue 3, in the real window under an X display (`scripts/bench` runs
//! this under Xvfb):
//!
//! - **cold start to the tenant list painted**: `vbm365-auth-app` vs. `vbm365-bench-window` (an
//!   empty Tauri 2 window, built by `scripts/bench` in the same run). Both are launched the same way,
//!   through `tauri-driver` / WebKitWebDriver, and timed from the request that launches the process
//!   to the page's own clock two animation frames after the watched element has text (the app:
//!   the first tenant's name; the empty window: its heading). No hook in the app.
//! - **idle memory**: summed RSS of the process and every descendant (WebKitWebProcess,
//!   WebKitNetworkProcess, …) a few seconds after a plain launch (no WebDriver).
//! - **approval at the emulator to "Signed in" shown**: the page's clock when `#signin-status`
//!   says so, minus the wall clock just before `Emulators::approve`.

use crate::{median, Row};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vbm365_emulator::Emulators;
use vbm365_testkit::procs::{descendants, name as comm, rss_kib};

/// Ports of tauri-driver and WebKitWebDriver: not the default 4444, so that the benchmark can run
/// beside the end-to-end tests.
const DRIVER_PORT: u16 = 4454;
const NATIVE_PORT: u16 = 4455;
const START_RUNS: usize = 15;
const MEMORY_RUNS: usize = 3;
const SIGN_IN_RUNS: usize = 5;
/// Time from launch after which a window counts as idle for the memory figure.
const IDLE_AFTER: Duration = Duration::from_secs(6);

/// Resolves (with the page's `Date.now()`) two animation frames after `arguments[0]` matches an
/// element whose text contains `arguments[1]`; also says whether it matched at once, and when
/// (epoch ms) the page's navigation started and its DOMContentLoaded handlers ended.
const WAIT_PAINTED: &str = r#"
const [sel, want, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const atOnce = ok();
function ok() {
  const e = document.querySelector(sel);
  return !!e && e.textContent.trim() !== "" && e.textContent.includes(want);
}
function finish() {
  const nav = performance.getEntriesByType("navigation")[0] || {};
  const origin = performance.timeOrigin;
  requestAnimationFrame(() => requestAnimationFrame(() => done({
    at: Date.now(), atOnce, origin, dcl: origin + (nav.domContentLoadedEventEnd || 0),
  })));
}
if (atOnce) {
  finish();
} else {
  const o = new MutationObserver(() => { if (ok()) { o.disconnect(); finish(); } });
  o.observe(document.documentElement, { childList: true, subtree: true, characterData: true, attributes: true });
}
"#;

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
        rows.push(cold_start(&app, &floor, &env, "empty window"));
        // The app asks WebKit to paint on the CPU (see `prefer_cpu_rendering` in the app); the
        // same figure against an empty window painting on the CPU too, so that the two differ only
        // by what the app does.
        let mut cpu = env.clone();
        cpu.push(("WEBKIT_SKIA_ENABLE_CPU_RENDERING", Path::new("1")));
        rows.push(cold_start(&app, &floor, &cpu, "CPU-painted empty window"));
    }
    if crate::wanted("memory") {
        rows.push(idle_memory(&app, &floor, &env));
    }
    if crate::wanted("signin") {
        rows.push(sign_in(&app, emu));
    }
    rows
}

/// Cold start to the tenant list painted, against the empty window (`floor_name` in the table).
fn cold_start(app: &Path, floor: &Path, env: &[(&str, &Path)], floor_name: &str) -> Row {
    let driver = Driver::start(env);
    let app_painted = ("li.tenant .name", "bench0.onmicrosoft.com");
    let floor_painted = ("#painted", "Empty window");
    // One warm-up launch each (page cache), then alternate.
    let _ = time_to_painted(&driver, app, app_painted);
    let _ = time_to_painted(&driver, floor, floor_painted);
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..START_RUNS {
        ours.push(time_to_painted(&driver, app, app_painted));
        base.push(time_to_painted(&driver, floor, floor_painted));
    }
    drop(driver);
    let at_once = ours.iter().chain(&base).filter(|l| l.at_once).count();
    let mid = |v: &[Launch], f: fn(&Launch) -> Duration| {
        let mut d: Vec<Duration> = v.iter().map(f).collect();
        median(&mut d).as_millis()
    };
    eprintln!(
        "bench: cold start vs {floor_name} (ms) app {:?} floor {:?} (already painted when first checked: {at_once})",
        ms_list(&ours.iter().map(|l| l.painted).collect::<Vec<_>>()),
        ms_list(&base.iter().map(|l| l.painted).collect::<Vec<_>>()),
    );
    eprintln!(
        "bench: median navigation start / DOMContentLoaded / painted (ms): app {} / {} / {}, floor {} / {} / {}",
        mid(&ours, |l| l.navigation),
        mid(&ours, |l| l.dom_loaded),
        mid(&ours, |l| l.painted),
        mid(&base, |l| l.navigation),
        mid(&base, |l| l.dom_loaded),
        mid(&base, |l| l.painted),
    );
    let mut ours: Vec<Duration> = ours.iter().map(|l| l.painted).collect();
    let mut base: Vec<Duration> = base.iter().map(|l| l.painted).collect();
    let (m_ours, m_base) = (median(&mut ours), median(&mut base));
    let ratio = m_ours.as_secs_f64() / m_base.as_secs_f64();
    Row {
        what: format!("app cold start to tenant list painted (median of {START_RUNS})"),
        figure: format!(
            "{} vs {floor_name} {} = {ratio:.2}x",
            crate::ms(m_ours),
            crate::ms(m_base)
        ),
        target: "<= 1.3x floor".into(),
        verdict: if ratio <= 1.3 { "met" } else { "MISSED" },
    }
}

/// Idle memory of plain launches (no WebDriver), against the empty window.
fn idle_memory(app: &Path, floor: &Path, env: &[(&str, &Path)]) -> Row {
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    let mut detail = String::new();
    for _ in 0..MEMORY_RUNS {
        let (kib, procs) = idle_rss(app, env);
        ours.push(kib);
        detail = procs;
        base.push(idle_rss(floor, env).0);
    }
    eprintln!("bench: idle RSS (KiB) app {ours:?} floor {base:?}; app processes: {detail}");
    ours.sort();
    base.sort();
    let (m_ours, m_base) = (ours[ours.len() / 2], base[base.len() / 2]);
    let ratio = m_ours as f64 / m_base as f64;
    Row {
        what: format!("app idle RSS with WebKit processes (median of {MEMORY_RUNS})"),
        figure: format!(
            "{:.1} MB vs empty window {:.1} MB = {ratio:.2}x",
            m_ours as f64 / 1024.0,
            m_base as f64 / 1024.0
        ),
        target: "<= 1.25x floor".into(),
        verdict: if ratio <= 1.25 { "met" } else { "MISSED" },
    }
}

/// Approval at the emulator to "Signed in" shown in the window.
fn sign_in(app: &Path, emu: &Emulators) -> Row {
    let interval = emu.options().device_code_interval.unwrap_or(5);
    let fx = crate::signed_out_fixture(emu, SIGN_IN_RUNS);
    let env: Vec<(&str, &Path)> = vec![("VBM365_AUTH_CONFIG_DIR", fx.path())];
    let driver = Driver::start(&env);
    let mut lat = sign_in_latencies(&driver, app, emu);
    drop(driver);
    eprintln!("bench: approval to signed-in shown {:?}", ms_list(&lat));
    let worst = *lat.iter().max().expect("runs");
    let med = median(&mut lat);
    let limit = Duration::from_secs(interval + 1);
    Row {
        what: format!(
            "approval to \"Signed in\" shown, {interval} s poll ({} runs)",
            lat.len()
        ),
        figure: format!(
            "median {:.2} s, max {:.2} s",
            med.as_secs_f64(),
            worst.as_secs_f64()
        ),
        target: format!("<= {} s (max)", interval + 1),
        verdict: if worst <= limit { "met" } else { "MISSED" },
    }
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

/// One launch to painted, each time from the request that launches the process.
struct Launch {
    painted: Duration,
    navigation: Duration,
    dom_loaded: Duration,
    at_once: bool,
}

/// Launches `binary` through WebDriver and waits until it painted `(selector, text)`.
fn time_to_painted(driver: &Driver, binary: &Path, painted: (&str, &str)) -> Launch {
    let t0 = epoch_ms();
    let s = driver.session(binary);
    let v = s.execute_async(WAIT_PAINTED, json!([painted.0, painted.1]));
    drop(s);
    let since = |k: &str| {
        let at = v[k].as_f64().unwrap_or_else(|| panic!("no {k} in {v}"));
        Duration::from_secs_f64(((at - t0) / 1000.0).max(0.0))
    };
    let launch = Launch {
        painted: since("at"),
        navigation: since("origin"),
        dom_loaded: since("dcl"),
        at_once: v["atOnce"].as_bool().unwrap_or(false),
    };
    if verbose() {
        eprintln!(
            "bench: {}: navigation start {} ms, DOMContentLoaded {} ms, painted {} ms",
            binary.file_name().unwrap_or_default().to_string_lossy(),
            launch.navigation.as_millis(),
            launch.dom_loaded.as_millis(),
            launch.painted.as_millis()
        );
    }
    launch
}

/// `VBM365_BENCH_VERBOSE=1`: every launch's timeline, and the stderr of the apps.
fn verbose() -> bool {
    std::env::var_os("VBM365_BENCH_VERBOSE").is_some()
}

/// Signs in each tenant of the list in turn; returns approval → "Signed in" painted, per tenant.
fn sign_in_latencies(driver: &Driver, app: &Path, emu: &Emulators) -> Vec<Duration> {
    let s = driver.session(app);
    s.execute_async(WAIT_PAINTED, json!(["li.tenant .name", "signin"]));
    let mut out = Vec::new();
    for i in 0..SIGN_IN_RUNS {
        s.execute(
            "document.querySelector(`li.tenant[data-name=\"${arguments[0]}\"] [data-act=\"sign-in\"]`).click()",
            json!([format!("signin{i}.onmicrosoft.com")]),
        );
        s.execute_async(WAIT_PAINTED, json!(["#signin-status", "Waiting"]));
        let code = s.execute(
            "return document.querySelector('#signin-code').textContent.trim()",
            json!([]),
        );
        let code = code.as_str().expect("user code").to_string();
        let t0 = epoch_ms();
        assert!(emu.approve(&code), "the emulator knows {code}");
        let v = s.execute_async(WAIT_PAINTED, json!(["#signin-status", "Signed in"]));
        let at = v["at"].as_f64().expect("page clock");
        out.push(Duration::from_secs_f64(((at - t0) / 1000.0).max(0.0)));
        s.execute("document.querySelector('#signin-done').click()", json!([]));
        sleep(Duration::from_millis(500));
    }
    out
}

/// RSS (KiB) of a plainly launched `binary` and all its descendants once idle, and their names.
fn idle_rss(binary: &Path, env: &[(&str, &Path)]) -> (u64, String) {
    let mut cmd = Command::new(binary);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("launch");
    sleep(IDLE_AFTER);
    let pid = child.id();
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
    (total, names.join(", "))
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: plain FFI call; the pid comes from a live child tree of ours.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// SIGTERM to a child and its descendants, SIGKILL to whatever is left after 3 s; reaps the child.
fn stop_tree(child: &mut Child) {
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

fn tauri_driver() -> PathBuf {
    std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"))
        })
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("tauri-driver"))
}

/// `tauri-driver` on [`DRIVER_PORT`] (in front of WebKitWebDriver), with `env` passed to the apps.
struct Driver(Child);

impl Driver {
    fn start(env: &[(&str, &Path)]) -> Driver {
        let mut cmd = Command::new(tauri_driver());
        cmd.args(["--port", &DRIVER_PORT.to_string()])
            .args(["--native-port", &NATIVE_PORT.to_string()])
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
            .expect("start tauri-driver (scripts/setup installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", DRIVER_PORT)).is_err() {
            assert!(Instant::now() < deadline, "tauri-driver did not listen");
            sleep(Duration::from_millis(50));
        }
        Driver(child)
    }

    fn session(&self, binary: &Path) -> Session<'_> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": binary}
        }}});
        let v = http("POST", "/session", Some(&caps));
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        Session { driver: self, id }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        stop_tree(&mut self.0);
    }
}

/// A WebDriver session: its app is stopped (with its WebKit processes) on drop.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    fn execute_async(&self, script: &str, args: Value) -> Value {
        self.cmd("execute/async", script, args)
    }

    fn execute(&self, script: &str, args: Value) -> Value {
        self.cmd("execute/sync", script, args)
    }

    fn cmd(&self, what: &str, script: &str, args: Value) -> Value {
        let body = json!({"script": script, "args": args});
        let v = http("POST", &format!("/session/{}/{what}", self.id), Some(&body));
        if v["value"]["error"].is_string() {
            panic!("WebDriver {what}: {v}");
        }
        v["value"].clone()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // The app may close to the tray instead of exiting: stop every app WebKitWebDriver started.
        let webdriver = descendants(self.driver.0.id());
        let _ = http("DELETE", &format!("/session/{}", self.id), None);
        for p in webdriver {
            if comm(p) != "WebKitWebDriver" {
                signal(p, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while descendants(self.driver.0.id())
            .iter()
            .any(|&p| comm(p) != "WebKitWebDriver")
            && Instant::now() < deadline
        {
            sleep(Duration::from_millis(20));
        }
    }
}

/// One HTTP/1.0 exchange with tauri-driver (HTTP/1.0: the body ends when the connection closes).
fn http(method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = TcpStream::connect(("127.0.0.1", DRIVER_PORT)).expect("connect to tauri-driver");
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{DRIVER_PORT}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("receive");
    let text = String::from_utf8_lossy(&resp);
    let json = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(json).unwrap_or(Value::Null)
}
