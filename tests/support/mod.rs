//! Harness shared by the tests of the real desktop app (`tray.rs`, `background.rs`, `faults.rs`,
//! `vault_key.rs`, `e2e.rs`, `trust_window.rs`): emulators and signed-in tenants prepared through
//! the core engine ([`Setup`]), the app started as a child process in the test's own X display and
//! D-Bus session, the `vbm365-auth` CLI on the same config dir, the tray over D-Bus
//! ([`tray_of`], the client is in `vbm365_testkit::tray`), and the app in its window through
//! `tauri-driver` ([`webdriver`]).
//!
//! Secrets go where the app keeps them by default: the vault file sealed with a key in the OS
//! keyring, here the throwaway Secret Service of `scripts/with-keyring`. The engine, the app and
//! the CLI all find the key there; each test's fresh config dir has its own random vault id, so the
//! tests never share a keyring entry.
//!
//! Every wait here is bounded; a timeout panics with what was last seen.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use vbm365_auth_core::{Engine, EngineOptions, StorageChoice, TenantProfile, TenantStatus};
use vbm365_emulator::{EmulatorOptions, Emulators, RecordedRequest, Server};

pub mod webdriver;

pub use vbm365_testkit::procs;

/// The desktop app built with these tests.
pub fn app_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vbm365-auth-app"))
}

/// The `vbm365-auth` CLI of the same target dir (`cargo build -p vbm365-auth-cli`).
pub fn cli_binary() -> PathBuf {
    // Tests run from target/<profile>/deps: the binaries are one level up.
    let exe = std::env::current_exe().expect("test exe");
    let cli = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("vbm365-auth"))
        .expect("target dir");
    assert!(
        cli.exists(),
        "{} is missing: build it first with `cargo build -p vbm365-auth-cli`",
        cli.display()
    );
    cli
}

/// Points `cmd` (the app, or `tauri-driver`, whose apps inherit its environment) at `config_dir`
/// with the app's default storage (the OS keyring) and its default retry and timeout settings,
/// whatever the test's own environment says.
pub fn app_environment<'c>(cmd: &'c mut Command, config_dir: &Path) -> &'c mut Command {
    cmd.env("VBM365_AUTH_CONFIG_DIR", config_dir)
        .env_remove("VBM365_AUTH_STORAGE")
        .env_remove("VBM365_AUTH_RETRY_BUDGET")
        .env_remove("VBM365_AUTH_HTTP_TIMEOUT")
}

/// Panics with a clear message when the test is not run inside an X display and a session bus.
pub fn require_desktop_session() {
    for var in ["DISPLAY", "DBUS_SESSION_BUS_ADDRESS"] {
        assert!(
            std::env::var_os(var).is_some_and(|v| !v.is_empty()),
            "{var} is not set: run under `xvfb-run -a scripts/with-keyring cargo test ... -- --ignored`"
        );
    }
}

/// Polls `probe` every 100 ms until it gives `Some`, for at most `within`.
pub fn wait_for<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops these processes: SIGTERM, and SIGKILL for those still running after 5 s. Processes that
/// are gone already are skipped.
pub fn terminate(pids: &[u32]) {
    // Running, i.e. present in /proc and not a zombie waiting for its parent.
    let alive = |p: &u32| {
        std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z")
        })
    };
    let signal = |sig: &str, pids: Vec<u32>| {
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg(sig)
                .args(pids.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status();
        }
    };
    signal("-TERM", pids.iter().copied().filter(alive).collect());
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(alive) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    signal("-KILL", pids.iter().copied().filter(alive).collect());
}

// ----- emulators and tenants -----------------------------------------------------------------

/// Emulators polled every second, whose VBM365 tokens live `vbm_token_lifetime` seconds.
pub async fn emulators(vbm_token_lifetime: u64) -> Emulators {
    Emulators::start(EmulatorOptions {
        device_code_interval: Some(1),
        vbm_token_lifetime,
        ..EmulatorOptions::default()
    })
    .await
    .expect("emulators")
}

/// An engine on `dir` with secrets where the app and the CLI keep them by default: the vault file
/// sealed with a key in the OS keyring (the Secret Service of `scripts/with-keyring`). Each config
/// dir has its own random vault id, so every test has its own keyring entry.
pub fn engine(dir: &Path) -> Engine {
    engine_with(dir, StorageChoice::Keyring)
}

/// An engine on `dir` with the given storage (`PlainFile`: as the app and CLI see it with
/// `VBM365_AUTH_STORAGE=file`).
pub fn engine_with(dir: &Path, storage: StorageChoice) -> Engine {
    let mut opts = EngineOptions::from_env(Some(dir.to_path_buf())).expect("options");
    opts.storage = storage;
    Engine::open(opts).expect("engine")
}

/// A test's emulators and a fresh config dir (`config`, inside the temporary `dir` that also holds
/// the app's log), with an engine on it.
pub struct Setup {
    pub emu: Emulators,
    pub dir: TempDir,
    pub config: PathBuf,
    pub engine: Engine,
}

impl Setup {
    /// [`emulators`] whose VBM365 tokens live `vbm_token_lifetime` seconds, and an empty config dir
    /// with its secrets where the app keeps them by default (see [`engine`]).
    pub async fn new(vbm_token_lifetime: u64) -> Setup {
        Setup::with_storage(vbm_token_lifetime, StorageChoice::Keyring).await
    }

    /// [`Setup::new`] with the given storage (see [`engine_with`]).
    pub async fn with_storage(vbm_token_lifetime: u64, storage: StorageChoice) -> Setup {
        let emu = emulators(vbm_token_lifetime).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("config");
        let engine = engine_with(&config, storage);
        Setup {
            emu,
            dir,
            config,
            engine,
        }
    }

    /// [`Setup::new`] with `tenant` saved (active, trusting the emulator's certificate) and signed
    /// in.
    pub async fn signed_in(vbm_token_lifetime: u64, tenant: &str) -> Setup {
        let s = Setup::new(vbm_token_lifetime).await;
        s.add_tenant(tenant, true);
        s.sign_in(tenant).await;
        s
    }

    /// Saves a tenant on the emulators, trusting the emulator's certificate ([`add_tenant`]).
    pub fn add_tenant(&self, name: &str, activate: bool) {
        add_tenant(&self.engine, &self.emu, name, activate);
    }

    /// Signs a saved tenant in, approving the code at the emulator ([`sign_in`]).
    pub async fn sign_in(&self, name: &str) -> TenantStatus {
        sign_in(&self.engine, &self.emu, name).await
    }

    /// The stored access token of a tenant ([`stored_access_token`]).
    pub async fn token(&self, name: &str) -> String {
        stored_access_token(&self.engine, name).await
    }

    /// Where [`Setup::start_app`] has the app write its stderr.
    pub fn app_log(&self) -> PathBuf {
        self.dir.path().join("app.log")
    }

    /// The app on this config dir ([`App::start`]).
    pub fn start_app(&self) -> App {
        self.start_app_with_env(&[])
    }

    /// The app on this config dir with more environment variables ([`App::start_with_env`]).
    pub fn start_app_with_env(&self, env: &[(&str, &str)]) -> App {
        App::start_with_env(&self.config, &self.app_log(), env)
    }

    /// The app on this config dir with these command-line arguments ([`App::start_with_args`]).
    pub fn start_app_with_args(&self, args: &[&str]) -> App {
        App::start_with_args(&self.config, &self.app_log(), args, &[])
    }

    /// Checks that no secret is in plain text anywhere in the temporary dir
    /// ([`assert_no_plaintext_secrets`]).
    pub fn assert_no_plaintext_secrets(&self, known: &[&str]) {
        assert_no_plaintext_secrets(self.dir.path(), known);
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Checks that the secrets under `dir` (a config dir, or a test's temp dir holding one) are
/// sealed: no plain-file vault (`secrets.json`) anywhere, and none of `known` (tokens the test
/// saw) in any file.
pub fn assert_no_plaintext_secrets(dir: &Path, known: &[&str]) {
    for file in files_under(dir) {
        assert!(
            file.file_name().and_then(|n| n.to_str()) != Some("secrets.json"),
            "secrets in plain text: {}",
            file.display()
        );
        let bytes = std::fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for secret in known.iter().filter(|s| !s.is_empty()) {
            assert!(
                !text.contains(secret),
                "a token in plain text in {}",
                file.display()
            );
        }
    }
}

/// Saves a tenant on the emulators with `pin` as its certificate pin.
pub fn add_tenant_pinned(engine: &Engine, emu: &Emulators, name: &str, activate: bool, pin: &str) {
    let mut profile = TenantProfile::new(name, &emu.vbm_url()).expect("profile");
    profile.authority = emu.ms_url().parse().expect("authority");
    engine
        .add_tenant(profile, Some(pin), activate)
        .expect("add tenant");
}

/// Saves a tenant on the emulators, trusting the emulator's certificate.
pub fn add_tenant(engine: &Engine, emu: &Emulators, name: &str, activate: bool) {
    add_tenant_pinned(engine, emu, name, activate, &emu.cert_sha256());
}

/// Signs a saved tenant in through the device code flow, approving the code at the emulator.
pub async fn sign_in(engine: &Engine, emu: &Emulators, name: &str) -> TenantStatus {
    let pending = engine.begin_sign_in(Some(name)).await.expect("device code");
    assert!(emu.approve(&pending.authorization.user_code));
    engine
        .complete_sign_in(&pending, |_| {})
        .await
        .expect("sign-in")
}

/// The stored access token of a tenant (no refresh).
pub async fn stored_access_token(engine: &Engine, name: &str) -> String {
    engine
        .token(Some(name), Duration::ZERO)
        .await
        .expect("token")
        .access_token
        .expose()
        .to_string()
}

/// A field of a recorded request's form body.
pub fn form_field(r: &RecordedRequest, name: &str) -> Option<String> {
    r.form()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The `grant_type` of a recorded token request.
pub fn grant(r: &RecordedRequest) -> Option<String> {
    form_field(r, "grant_type")
}

/// A counter of [`Emulators::stats`] (absent counters are 0).
pub fn stat(emu: &Emulators, name: &str) -> u64 {
    emu.stats().get(name).copied().unwrap_or(0)
}

/// Every token request (both servers) the emulators received.
pub fn token_requests(emu: &Emulators) -> Vec<RecordedRequest> {
    emu.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/token"))
        .collect()
}

/// VBM365 `refresh_token` grants the emulator received.
pub fn vbm_refreshes(emu: &Emulators) -> Vec<RecordedRequest> {
    token_requests(emu)
        .into_iter()
        .filter(|r| r.server == Server::Vbm && grant(r).as_deref() == Some("refresh_token"))
        .collect()
}

/// Any `refresh_token` grant (VBM365 or Microsoft).
pub fn all_refreshes(emu: &Emulators) -> Vec<RecordedRequest> {
    token_requests(emu)
        .into_iter()
        .filter(|r| grant(r).as_deref() == Some("refresh_token"))
        .collect()
}

// ----- the CLI -------------------------------------------------------------------------------

/// Runs the CLI on `dir`.
pub fn cli(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(cli_binary())
        .args(args)
        .env("VBM365_AUTH_CONFIG_DIR", dir)
        .env_remove("VBM365_AUTH_STORAGE")
        .stdin(Stdio::null())
        .output()
        .expect("run vbm365-auth");
    assert!(
        out.status.success(),
        "vbm365-auth {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `vbm365-auth status --json`: one object per tenant.
pub fn status_json(dir: &Path) -> Vec<Value> {
    let out = cli(dir, &["status", "--json"]);
    match serde_json::from_slice(&out.stdout) {
        Ok(Value::Array(rows)) => rows,
        other => panic!("status --json: {other:?}"),
    }
}

/// The `status --json` row of one tenant.
pub fn status_of(dir: &Path, tenant: &str) -> Value {
    status_json(dir)
        .into_iter()
        .find(|r| r["tenant"] == tenant)
        .unwrap_or_else(|| panic!("{tenant} is not in status --json"))
}

/// The `expires_at` of a `status --json` row.
pub fn expires_at(row: &Value) -> Option<DateTime<Utc>> {
    row["expires_at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// The active tenant according to the CLI.
pub fn active_tenant(dir: &Path) -> Option<String> {
    status_json(dir)
        .into_iter()
        .find(|r| r["active"] == true)
        .and_then(|r| r["tenant"].as_str().map(str::to_string))
}

// ----- the app -------------------------------------------------------------------------------

/// The real app as a child process on the test's display and session bus. Stopped on drop.
pub struct App {
    child: Child,
    log: PathBuf,
}

impl App {
    /// Starts the app on `config_dir` with its default storage (the OS keyring) and retry and
    /// timeout settings; its stderr goes to `log`.
    pub fn start(config_dir: &Path, log: &Path) -> App {
        App::start_with_env(config_dir, log, &[])
    }

    /// [`App::start`] with more environment variables (they win over the defaults set here).
    pub fn start_with_env(config_dir: &Path, log: &Path, env: &[(&str, &str)]) -> App {
        App::start_with_args(config_dir, log, &[], env)
    }

    /// [`App::start_with_env`] with command-line arguments (e.g. `--hidden`).
    pub fn start_with_args(
        config_dir: &Path,
        log: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> App {
        require_desktop_session();
        let stderr = std::fs::File::create(log).expect("log file");
        let child = app_environment(&mut Command::new(app_binary()), config_dir)
            .args(args)
            .env("VBM365_AUTH_LOG", "vbm365_auth_app=info,warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start vbm365-auth-app");
        App {
            child,
            log: log.to_path_buf(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the app wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics (with the app's log) if the app has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the app exited ({status}):\n{}", self.log());
        }
    }

    /// The app's exit status, if it has exited.
    pub fn try_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the app to exit by itself, for at most `within`; its exit status.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the app still runs after {within:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----- the window process and WebKit, from /proc and the X display ----------------------------

/// The WebKit processes (`WebKitWebProcess`, `WebKitNetworkProcess`, …) under `pid`, as
/// (pid, `/proc/PID/comm`).
pub fn webkit_processes(pid: u32) -> Vec<(u32, String)> {
    procs::descendants(pid)
        .into_iter()
        .map(|p| (p, procs::name(p)))
        .filter(|(_, n)| n.starts_with("WebKit"))
        .collect()
}

/// The app's window process under the app's first process `pid`, if one runs: its child running
/// the app's executable (started with `--window`, or forked off it when the app started).
pub fn window_process(pid: u32) -> Option<u32> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    procs::descendants(pid).into_iter().find(|&p| {
        procs::parent(p) == Some(pid)
            && std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe)
    })
}

/// The visible top-level windows of the processes under `pid` (and of `pid` itself).
pub fn visible_windows(pid: u32) -> Vec<vbm365_testkit::x11::TopLevel> {
    let display = vbm365_testkit::x11::Display::open().expect("X display");
    std::iter::once(pid)
        .chain(procs::descendants(pid))
        .flat_map(|p| display.visible_windows_of(p).unwrap_or_default())
        .collect()
}

/// Waits until the app shows its window ("VBM365 Auth", on screen) in a window process of its own;
/// returns that process's pid.
pub fn wait_window_shown(app: &mut App, within: Duration) -> u32 {
    let pid = app.pid();
    wait_for("the app's window on screen", within, || {
        app.assert_running();
        let shown = visible_windows(pid)
            .iter()
            .any(|w| w.title == "VBM365 Auth");
        shown.then(|| window_process(pid)).flatten()
    })
}

/// Closes the app's window as a user does with the title bar's close button (`WM_DELETE_WINDOW`)
/// and waits until its window process has ended ([`close_window_of`]).
pub fn close_window(app: &mut App, within: Duration) {
    let pid = app.pid();
    close_window_of(pid, within, || app.assert_running());
}

/// Closes the window of the app whose first process is `app_pid` and waits until its window
/// process has ended; `check` runs on every look. The request is sent again every second while
/// the window is still there: without a window manager (Xvfb), a close request that arrives in
/// the first seconds of a window is sometimes lost before it reaches the app.
pub fn close_window_of(app_pid: u32, within: Duration, mut check: impl FnMut()) {
    let display = vbm365_testkit::x11::Display::open().expect("X display");
    let window_pid = window_process(app_pid).expect("a window process to close");
    let deadline = Instant::now() + within;
    let mut next = Instant::now();
    loop {
        check();
        let open: Vec<_> = display
            .visible_windows_of(window_pid)
            .unwrap_or_default()
            .into_iter()
            .filter(|w| w.title == "VBM365 Auth")
            .collect();
        if open.is_empty() && window_process(app_pid).is_none() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the window (process {window_pid}) still open after {within:?}"
        );
        if Instant::now() >= next {
            for w in &open {
                display.close(w.id).expect("close request");
            }
            next = Instant::now() + Duration::from_secs(1);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ----- the tray over D-Bus -------------------------------------------------------------------

#[allow(unused_imports)] // not every test uses both
pub use vbm365_testkit::tray::{MenuNode, TrayMenu};

/// The tray of `app` ([`TrayMenu::find`]), panicking with the app's log if it does not show up
/// within `within` or the app exits.
pub fn tray_of(app: &mut App, within: Duration) -> TrayMenu {
    let pid = app.pid();
    let found = TrayMenu::find(pid, within, || app.assert_running());
    found.unwrap_or_else(|e| panic!("{e}\n{}", app.log()))
}
