//! Test harness: a config dir, the emulators, and the real `vbm365-auth` binary run as a child
//! process against them (inside the Secret Service session that `make test` provides).

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use vbm365_emulator::{EmulatorOptions, Emulators, RecordedRequest, Server};

pub const TENANT: &str = "contoso.onmicrosoft.com";

pub struct Env {
    pub dir: tempfile::TempDir,
    pub bin_dir: tempfile::TempDir,
    pub emu: Emulators,
    pub extra_env: Vec<(String, String)>,
}

/// Fast defaults for tests: 1 s poll interval.
pub fn options() -> EmulatorOptions {
    EmulatorOptions {
        device_code_interval: Some(1),
        ..EmulatorOptions::default()
    }
}

impl Env {
    pub async fn new() -> Env {
        Env::with(options()).await
    }

    /// Emulators whose VBM365 certificate is issued by a private CA of their own.
    pub async fn ca_issued() -> Env {
        Env::with(EmulatorOptions {
            ca_issued: true,
            ..options()
        })
        .await
    }

    /// Emulators whose VBM365 server has tenant authentication turned off.
    pub async fn tenant_auth_disabled() -> Env {
        Env::with(EmulatorOptions {
            tenant_auth_enabled: false,
            ..options()
        })
        .await
    }

    /// [`Env::tenant_auth_disabled`] with [`TENANT`] added and a `login` of it that failed (exit
    /// code 1) because the server refused the exchange: the env and the error event.
    pub async fn exchange_refused() -> (Env, Value) {
        let env = Env::tenant_auth_disabled().await;
        env.add_tenant(TENANT, "v8");
        let r = env.login(TENANT).await;
        assert_eq!(r.code, 1);
        let ev = r.last_event();
        assert_eq!(ev["code"], "exchange_refused", "{ev}");
        (env, ev)
    }

    /// [`Env::new`] with [`TENANT`] added (v8, pinned) and signed in.
    pub async fn with_signed_in_tenant() -> Env {
        let env = Env::new().await;
        env.signed_in(TENANT, "v8").await;
        env
    }

    pub async fn with(opts: EmulatorOptions) -> Env {
        let emu = Emulators::start(opts).await.expect("emulators start");
        let bin_dir = tempfile::tempdir().unwrap();
        // A fake browser launcher that records what it was asked to open.
        let log = bin_dir.path().join("opened.log");
        let script = format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", log.display());
        for name in [
            "xdg-open",
            "gio",
            "gnome-open",
            "kde-open",
            "wslview",
            "x-www-browser",
            "firefox",
            "chromium",
        ] {
            let p = bin_dir.path().join(name);
            std::fs::write(&p, &script).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        Env {
            dir: tempfile::tempdir().unwrap(),
            bin_dir,
            emu,
            extra_env: Vec::new(),
        }
    }

    pub fn config_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(self.bin_dir.path().join("opened.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vbm365-auth"));
        let path = std::env::join_paths(std::iter::once(self.bin_dir.path().to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        c.args(args)
            .env("VBM365_AUTH_CONFIG_DIR", self.dir.path())
            .env("PATH", path)
            .env("BROWSER", self.bin_dir.path().join("xdg-open"))
            .env("VBM365_AUTH_HTTP_TIMEOUT", "5")
            .env_remove("VBM365_AUTH_STORAGE")
            .env_remove("VBM365_AUTH_LOG")
            .stdin(Stdio::null());
        // On Unix the system launchers (xdg-open, …) are the fakes on PATH. Windows looks for
        // its launchers in system32 before PATH (and Wine's winebrowser hands the page to the
        // host), so there the fake browser is named through VBM365_AUTH_BROWSER.
        #[cfg(unix)]
        c.env_remove("VBM365_AUTH_BROWSER");
        #[cfg(windows)]
        c.env("VBM365_AUTH_BROWSER", fake_browser()).env(
            "VBM365_TEST_OPENED_LOG",
            self.bin_dir.path().join("opened.log"),
        );
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c
    }

    /// Runs the CLI to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.cmd(args).output().expect("run vbm365-auth");
        Run::from(out)
    }

    /// Runs the CLI from a blocking thread (for use inside async tests).
    pub async fn run_async(&self, args: &[&str]) -> Run {
        let cmd = self.cmd(args);
        tokio::task::spawn_blocking(move || {
            let mut cmd = cmd;
            Run::from(cmd.output().expect("run vbm365-auth"))
        })
        .await
        .unwrap()
    }

    /// `tenant add` against the emulators, pinned to the emulator certificate.
    pub fn add_tenant(&self, name: &str, version: &str) -> Run {
        let pin = self.emu.cert_sha256();
        self.add_tenant_with(name, &["--api-version", version, "--pin-sha256", &pin])
    }

    /// `tenant add` against the emulators with `extra` arguments (no pin unless given).
    pub fn add_tenant_with(&self, name: &str, extra: &[&str]) -> Run {
        let r = self.try_add_tenant(name, extra);
        assert_eq!(r.code, 0, "tenant add failed: {}", r.stderr);
        r
    }

    /// [`Env::add_tenant_with`], whatever the outcome.
    pub fn try_add_tenant(&self, name: &str, extra: &[&str]) -> Run {
        let (vbm, ms) = (self.emu.vbm_url(), self.emu.ms_url());
        let mut args = vec!["tenant", "add", name, "--server", &vbm, "--authority", &ms];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// `status --json` (which must succeed).
    pub fn status(&self) -> Value {
        self.run(&["status", "--json"]).ok().json()
    }

    /// The `state` of the first tenant in `status --json`.
    pub fn state(&self) -> String {
        self.status()[0]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// `config.json` of the config dir.
    pub fn config_json(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join("config.json")).expect("config");
        serde_json::from_str(&text).expect("config.json is JSON")
    }

    /// The keyring account (`username`) of the vault key of the config dir.
    pub fn vault_key_account(&self) -> String {
        let cfg = self.config_json();
        format!("vault-key/{}", cfg["vault_id"].as_str().expect("vault_id"))
    }

    /// Starts the CLI with stdout and stderr captured. On Windows it gets a console of its own,
    /// so that [`interrupt`] can press Ctrl-C there.
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut c = self.cmd(args);
        #[cfg(windows)]
        {
            use std::os::windows::process::CommandExt;
            const CREATE_NEW_CONSOLE: u32 = 0x10;
            c.creation_flags(CREATE_NEW_CONSOLE);
        }
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vbm365-auth")
    }

    /// `login --json --no-browser`, approving the device code at the emulator as a person would.
    pub async fn login(&self, name: &str) -> Run {
        self.login_with(name, |emu, code| assert!(emu.approve(code)))
            .await
    }

    /// `login --json --no-browser`; `act` runs once the device code was printed.
    pub async fn login_with(&self, name: &str, act: impl FnOnce(&Emulators, &str)) -> Run {
        let mut child = self
            .cmd(&["login", name, "--json", "--no-browser"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                let _ = tx.send(line.clone());
                lines.push(line);
            }
            lines
        });
        let first = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(20)))
            .await
            .unwrap()
            .expect("device_code event");
        let ev: Value = serde_json::from_str(&first).expect("JSON line");
        assert_eq!(ev["event"], "device_code", "{first}");
        act(&self.emu, ev["user_code"].as_str().unwrap());
        let out = wait_child(child, Duration::from_secs(60)).await;
        let lines = reader.join().unwrap();
        let mut run = Run::from(out);
        run.stdout = lines.join("\n") + "\n";
        run
    }

    /// Sign in and return the CLI run; panics unless it succeeded.
    pub async fn signed_in(&self, name: &str, version: &str) {
        self.add_tenant(name, version);
        let r = self.login(name).await;
        assert_eq!(r.code, 0, "login failed: {}\n{}", r.stdout, r.stderr);
    }

    /// VBM365 token requests with their form fields.
    pub fn vbm_token_requests(&self) -> Vec<RecordedRequest> {
        self.emu
            .requests()
            .into_iter()
            .filter(|r| r.server == Server::Vbm && r.method == "POST" && r.path.ends_with("/token"))
            .collect()
    }

    pub fn grant_count(&self, server: Server, grant: &str) -> usize {
        self.emu
            .requests()
            .iter()
            .filter(|r| {
                r.server == server
                    && r.form()
                        .iter()
                        .any(|(k, v)| k == "grant_type" && v == grant)
            })
            .count()
    }

    /// Every file in the config dir, as text (for leak checks).
    pub fn all_files_text(&self) -> String {
        let mut out = String::new();
        for entry in walk(self.dir.path()) {
            out.push_str(&String::from_utf8_lossy(
                &std::fs::read(&entry).unwrap_or_default(),
            ));
        }
        out
    }
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                files.extend(walk(&p));
            } else {
                files.push(p);
            }
        }
    }
    files
}

/// `examples/fake-browser` beside the CLI binary (`cargo test` builds the examples).
#[cfg(windows)]
fn fake_browser() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_vbm365-auth"))
        .parent()
        .unwrap()
        .join("examples")
        .join(format!("fake-browser{}", std::env::consts::EXE_SUFFIX));
    assert!(
        exe.exists(),
        "{} is missing: build it with cargo test (or cargo build --example fake-browser)",
        exe.display()
    );
    exe
}

/// Presses Ctrl-C for a CLI started with [`Env::spawn`], as a person at its terminal would.
///
/// Unix: SIGINT. Windows: a `CTRL_C_EVENT` on the CLI's console. Windows delivers that event to
/// every process attached to a console and lets only an attached process send it, so the CLI has a
/// console of its own ([`Env::spawn`]) and a helper process (this test binary, running only
/// [`send_ctrl_c_to_the_console_of`]) attaches to it and sends the event.
pub fn interrupt(child: &Child) {
    #[cfg(unix)]
    {
        let st = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
    #[cfg(windows)]
    {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "common::send_ctrl_c_to_the_console_of",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("VBM365_TEST_CTRL_C_PID", child.id().to_string())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "the Ctrl-C helper failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Not a test: the helper process of [`interrupt`] on Windows, run as
/// `<this test binary> --ignored --exact common::send_ctrl_c_to_the_console_of` with the CLI's
/// process id in `VBM365_TEST_CTRL_C_PID`. It leaves its own console, attaches to the CLI's, ignores
/// the event itself and sends it.
#[cfg(windows)]
#[test]
#[ignore = "the helper process of common::interrupt, run by it"]
fn send_ctrl_c_to_the_console_of() {
    use windows_sys::Win32::System::Console::{
        AttachConsole, FreeConsole, GenerateConsoleCtrlEvent, SetConsoleCtrlHandler, CTRL_C_EVENT,
    };
    let Some(pid) = std::env::var("VBM365_TEST_CTRL_C_PID").ok() else {
        return; // Run without the helper's variable (e.g. --include-ignored): nothing to do.
    };
    let pid: u32 = pid.parse().expect("a process id");
    // SAFETY: plain Win32 calls without pointers; this process is a short-lived helper whose
    // console can be given up.
    unsafe {
        FreeConsole();
        assert!(
            AttachConsole(pid) != 0,
            "attach to the console of process {pid}: {}",
            std::io::Error::last_os_error()
        );
        assert!(SetConsoleCtrlHandler(None, 1) != 0);
        assert!(
            GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0) != 0,
            "send Ctrl-C: {}",
            std::io::Error::last_os_error()
        );
        FreeConsole();
    }
}

pub async fn wait_child(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("child did not finish within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A finished CLI run.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    /// JSON lines of stdout.
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The last JSON line of stdout (how `login --json` ends).
    pub fn last_event(&self) -> Value {
        self.events().pop().expect("a JSON line on stdout")
    }

    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Field of a recorded form.
pub fn field(r: &RecordedRequest, name: &str) -> Option<String> {
    r.form()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}
