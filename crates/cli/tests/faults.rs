//! Bad servers, broken keyrings and crashes: clear errors, nothing lost.

mod common;

use common::{Env, TENANT};
use std::time::{Duration, Instant};
use vbm365_emulator::{EmulatorOptions, Fault};

#[tokio::test(flavor = "multi_thread")]
async fn server_faults_give_clear_errors_and_keep_the_stored_tokens() {
    let env = Env::with_signed_in_tenant().await;
    let before = env.run(&["token"]).ok().stdout;
    let cases = [
        (Fault::Status500Html, "HTTP 500"),
        (Fault::Status502Empty, "HTTP 502"),
        (Fault::TruncatedBody, "cut off"),
        (Fault::OversizedBody, "larger than"),
        (Fault::MalformedJson, "not JSON"),
        (Fault::WrongTypes, "no valid"),
        (Fault::CloseConnection, "cannot reach"),
        (Fault::Hang, "did not answer"),
    ];
    let mut e = env;
    e.extra_env
        .push(("VBM365_AUTH_HTTP_TIMEOUT".into(), "1.5".into()));
    // One injected fault per case: a retry inside the command would get a good answer and hide it.
    e.extra_env
        .push(("VBM365_AUTH_RETRY_BUDGET".into(), "0".into()));
    let env = e;
    for (fault, words) in cases {
        env.emu.inject_fault(fault, 1);
        let sent = env.vbm_token_requests().len();
        let started = Instant::now();
        let r = env.run(&["refresh"]);
        assert_eq!(r.code, 1, "{fault:?}: {r:?}");
        assert!(
            r.stderr.contains(words),
            "{fault:?}: expected '{words}' in: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("The stored tokens were kept"),
            "{fault:?}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert_eq!(
            env.vbm_token_requests().len(),
            sent + 1,
            "{fault:?}: one request, no retry with a budget of 0"
        );
        // A guard against a hang (the 1.5 s timeout not applied), far above any normal run.
        assert!(started.elapsed() < Duration::from_secs(30), "{fault:?}");
        // The tokens are intact and still handed out.
        assert_eq!(
            env.run(&["token", "--min-valid", "0"]).ok().stdout,
            before,
            "{fault:?}"
        );
        assert_eq!(env.state(), "signed_in");
    }
    // After the faults, a normal refresh works with the same stored refresh token.
    env.run(&["refresh"]).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn server_down_is_a_clear_error() {
    let env = Env::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env.run(&[
        "tenant",
        "add",
        TENANT,
        "--server",
        &format!("https://127.0.0.1:{port}"),
        "--authority",
        &format!("http://127.0.0.1:{port}"),
    ])
    .ok();
    let r = env.run(&["login", "--json", "--no-browser"]);
    assert_eq!(r.code, 1);
    let ev = r.last_event();
    assert_eq!(ev["event"], "error");
    assert_eq!(ev["code"], "network");
    assert!(ev["message"]
        .as_str()
        .unwrap()
        .contains(&format!("127.0.0.1:{port}")));
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_authentication_disabled_points_to_the_server_setting() {
    let (env, ev) = Env::exchange_refused().await;
    let message = ev["message"].as_str().unwrap();
    for part in ["Enable tenant authentication", TENANT] {
        assert!(message.contains(part), "'{part}' missing from: {message}");
    }
    // Nothing was stored by the refused exchange.
    assert_eq!(env.state(), "signed_out");
}

#[tokio::test(flavor = "multi_thread")]
async fn device_flow_errors_are_said_in_plain_words() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let r = env
        .login_with(TENANT, |emu, code| assert!(emu.decline(code)))
        .await;
    assert_eq!(r.code, 1);
    assert_eq!(r.last_event()["code"], "sign_in_declined");
    assert!(r.stderr.contains("declined"));

    let r = env
        .login_with(TENANT, |emu, code| assert!(emu.block(code, 53003)))
        .await;
    let ev = r.last_event();
    assert_eq!(ev["code"], "conditional_access_blocked");
    let m = ev["message"].as_str().unwrap();
    assert!(
        m.contains("Conditional Access") && m.contains("AADSTS53003"),
        "{m}"
    );

    let r = env
        .login_with(TENANT, |emu, code| assert!(emu.expire(code)))
        .await;
    assert_eq!(r.last_event()["code"], "device_code_expired");

    // Nothing was stored by failed sign-ins.
    assert_eq!(env.state(), "signed_out");
}

#[tokio::test(flavor = "multi_thread")]
async fn device_code_expiry_stops_polling() {
    let env = Env::with(EmulatorOptions {
        device_code_expires_in: 3,
        ..common::options()
    })
    .await;
    env.add_tenant(TENANT, "v8");
    let child = env.spawn(&["login", "--json", "--no-browser"]);
    // Bounded only against a hang: a poller that never stops fails here.
    let r = common::Run::from(common::wait_child(child, Duration::from_secs(60)).await);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.last_event()["code"], "device_code_expired");
    // A 3 s code polled every second: at most 3 polls, then the client gives up by itself.
    let polls = env
        .emu
        .requests()
        .iter()
        .filter(|r| common::field(r, "device_code").is_some())
        .count();
    assert!((1..=3).contains(&polls), "{polls} polls of a 3 s code");
}

/// The Secret Service gone (no D-Bus session). Windows: `windows_keyring.rs`.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn keyring_unavailable_is_a_clear_error_and_nothing_is_written_in_plaintext() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let mut broken = Env {
        extra_env: vec![(
            "DBUS_SESSION_BUS_ADDRESS".into(),
            "unix:path=/nonexistent/bus".into(),
        )],
        ..env
    };
    broken
        .extra_env
        .push(("VBM365_AUTH_KEYRING_TIMEOUT_MS".into(), "5000".into()));
    let env = broken;
    let files_before = env.all_files_text();
    let r = env.run(&["login", "--json", "--no-browser"]);
    assert_eq!(r.code, 1, "{r:?}");
    // Found out before the user is asked to approve anything: the only event is the error.
    let events = r.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let ev = &events[0];
    assert_eq!(ev["event"], "error", "{ev}");
    assert_eq!(ev["code"], "keyring_unavailable", "{ev}");
    assert!(ev["hint"]
        .as_str()
        .unwrap()
        .contains("VBM365_AUTH_STORAGE=file"));
    assert!(
        env.emu.requests().is_empty(),
        "nothing sent to either server"
    );
    assert!(!env.config_dir().join("secrets.json").exists());
    assert!(!env.config_dir().join("vault.bin").exists());
    assert_eq!(env.all_files_text(), files_before, "nothing written");
}

/// Windows: `windows_keyring.rs`.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn keyring_down_after_sign_in_fails_reads_with_exit_1() {
    let env = Env::with_signed_in_tenant().await;
    let broken = Env {
        extra_env: vec![(
            "DBUS_SESSION_BUS_ADDRESS".into(),
            "unix:path=/nonexistent/bus".into(),
        )],
        ..env
    };
    let r = broken.run(&["token"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("keyring is not available"),
        "{}",
        r.stderr
    );
    let st = broken.status();
    assert_eq!(st[0]["state"], "error");
}

#[tokio::test(flavor = "multi_thread")]
async fn plaintext_storage_only_on_request_with_a_warning() {
    let mut env = Env::new().await;
    env.extra_env
        .push(("VBM365_AUTH_STORAGE".into(), "file".into()));
    env.signed_in(TENANT, "v8").await;
    let r = env.run(&["token"]).ok();
    assert!(r.stderr.contains("UNENCRYPTED"), "{}", r.stderr);
    let p = env.config_dir().join("secrets.json");
    assert!(p.is_file(), "the tokens are in {}", p.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(!env.config_dir().join("vault.bin").exists());
}

/// Temporary files that `write_atomic` left in `dir` (a writer killed before its rename).
fn temp_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".tmp-"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_config_writes_never_leaves_a_torn_config() {
    let env = Env::new().await;
    for i in 0..4 {
        env.run(&[
            "tenant",
            "add",
            &format!("t{i}.onmicrosoft.com"),
            "--server",
            "https://vbm.example:4443",
        ])
        .ok();
    }
    let dir = env.config_dir().to_path_buf();
    let path = dir.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let template = cfg["tenants"][0].clone();
    let tenants = cfg["tenants"].as_array_mut().unwrap();
    for i in 4..3000 {
        let mut t = template.clone();
        t["name"] = format!("t{i}.onmicrosoft.com").into();
        tenants.push(t);
    }
    // A large config (about a megabyte) makes every write, and its fsync, take a while.
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let active = |text: &str| -> String {
        let parsed: serde_json::Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("torn config ({e}), {} bytes", text.len()));
        assert_eq!(parsed["tenants"].as_array().unwrap().len(), 3000);
        parsed["active_tenant"].as_str().unwrap().to_string()
    };

    // Every writer is SIGKILLed: half of them as soon as their temporary file appears, i.e. inside
    // the write; the others after a varying delay of up to 250 ms (start-up, reading, the rename,
    // or after the end of a whole run, about 100 ms here). A killed writer that leaves its
    // temporary file behind was killed after creating it and before renaming it: that count
    // proves the kills landed mid-write, where an in-place write would tear the file.
    let mut mid_write = 0;
    let mut switched = 0;
    let started = Instant::now();
    let mut i = 0u64;
    while i < 200 && (mid_write < 10 || i < 40) && started.elapsed() < Duration::from_secs(90) {
        let before_text = std::fs::read_to_string(&path).unwrap();
        let before = active(&before_text);
        let n: usize = before["t".len()..before.find('.').unwrap()]
            .parse()
            .unwrap();
        let target = format!("t{}.onmicrosoft.com", (n + 1) % 4);
        let leftovers = temp_files(&dir).len();
        let mut child = env
            .cmd(&["switch", &target])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        if i.is_multiple_of(2) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while temp_files(&dir).len() == leftovers
                && child.try_wait().unwrap().is_none()
                && Instant::now() < deadline
            {
                std::hint::spin_loop();
            }
        } else {
            std::thread::sleep(Duration::from_micros(1000 + (i * 7919) % 250_000));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let after = active(&std::fs::read_to_string(&path).unwrap());
        if temp_files(&dir).len() > leftovers {
            mid_write += 1;
            assert_eq!(
                after, before,
                "kill {i}: a killed write must change nothing"
            );
        } else if after == target {
            switched += 1;
        } else {
            assert_eq!(after, before, "kill {i}");
        }
        i += 1;
    }
    assert!(
        mid_write >= 10,
        "only {mid_write} of {i} kills landed inside a write ({switched} writes completed)"
    );
    eprintln!("{i} kills: {mid_write} inside a write, {switched} after a completed write");
    // Leftover temporary files from killed writers never shadow the config.
    let st = env.status();
    assert_eq!(st.as_array().unwrap().len(), 3000);
}

/// Secret Service only: Windows Credential Manager has no lock.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn locked_keyring_is_a_clear_error() {
    let env = Env::with_signed_in_tenant().await;
    let token = env.run(&["token"]).ok().stdout;
    // The vault key, as the unlocked session holds it.
    let account = env.vault_key_account();
    let lookup = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "vbm365-auth", "username", &account])
        .output()
        .expect("secret-tool (libsecret-tools)");
    let key = String::from_utf8(lookup.stdout).unwrap();
    assert_eq!(
        key.trim().len(),
        44,
        "vault key in the keyring: {}",
        String::from_utf8_lossy(&lookup.stderr)
    );

    // Another desktop session whose login keyring holds the same key but is locked: created with a
    // password, the key stored in it, then locked over the Secret Service API. No display, so the
    // unlock prompt cannot be shown. Each setup step that fails exits with its own code (9x).
    let data_home = tempfile::tempdir().unwrap();
    let script = r#"
        printf %s "$KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 91
        printf %s "$VAULT_KEY" | secret-tool store --label=vbm365-auth target default service vbm365-auth username "$ACCOUNT" || exit 92
        dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
            org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null || exit 93
        dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets/collection/login \
            org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Collection string:Locked \
            | grep -q 'boolean true' || exit 94
        exec "$0" token --json >"$CLI_STDOUT" 2>"$CLI_STDERR""#;
    let out = std::process::Command::new("dbus-run-session")
        .args(["--", "sh", "-c", script])
        .arg(env!("CARGO_BIN_EXE_vbm365-auth"))
        .env("XDG_DATA_HOME", data_home.path())
        .env("CLI_STDOUT", data_home.path().join("stdout"))
        .env("CLI_STDERR", data_home.path().join("stderr"))
        .env("KEYRING_PASSWORD", "another session's password")
        .env("VAULT_KEY", key.trim())
        .env("ACCOUNT", &account)
        .env("VBM365_AUTH_CONFIG_DIR", env.config_dir())
        .env("VBM365_AUTH_KEYRING_TIMEOUT_MS", "10000")
        .env_remove("VBM365_AUTH_STORAGE")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    // The CLI's own output (the session's also has what the daemons print).
    let read = |f: &str| std::fs::read_to_string(data_home.path().join(f)).unwrap_or_default();
    let (stdout, stderr) = (read("stdout"), read("stderr"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{stderr}\nsession: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON error ({e}): {stdout}\n{stderr}"));
    assert_eq!(v["error"]["code"], "keyring_locked", "{v}\n{stderr}");
    assert!(stderr.contains("the OS keyring is locked"), "{stderr}");
    // The Secret Service client's words for "the item is in a locked collection and unlocking it
    // failed", not its "no result found" of a session without any collection.
    assert!(stderr.contains("unlock prompt was dismissed"), "{stderr}");
    assert!(!stdout.contains(token.trim()), "no token printed");
    // Back in the unlocked session, the tokens are all there.
    assert_eq!(env.run(&["token"]).ok().stdout, token);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_cancels_a_sign_in_and_stops_polling() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let polls = || -> Vec<Instant> {
        env.emu
            .requests()
            .iter()
            .filter(|r| common::field(r, "device_code").is_some())
            .map(|r| r.at)
            .collect()
    };
    let mut child = env.spawn(&["login", "--json", "--no-browser"]);
    // SIGINT in the steady state, between two polls (every second), within 600 ms after one: a
    // poll seen after the signal can only come from a poller that kept running.
    let deadline = Instant::now() + Duration::from_secs(20);
    let sigint_at = loop {
        assert!(Instant::now() < deadline, "no poll seen");
        assert!(child.try_wait().unwrap().is_none(), "login ended early");
        if let Some(last) = polls().last() {
            if polls().len() >= 2 && last.elapsed() < Duration::from_millis(600) {
                // SIGINT on Unix, the console's Ctrl-C event on Windows.
                common::interrupt(&child);
                break Instant::now(); // the signal was delivered by now
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let before = polls().len();
    let out = common::wait_child(child, Duration::from_secs(10)).await;
    assert_eq!(out.status.code(), Some(1));
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    let ev: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(ev["event"], "error");
    assert_eq!(ev["code"], "cancelled");
    // From the signal until the process was gone (up to 10 s, ten poll intervals), no poll.
    let after: Vec<_> = polls().into_iter().filter(|&t| t >= sigint_at).collect();
    assert!(
        after.is_empty(),
        "{} poll(s) after SIGINT ({before} before)",
        after.len()
    );
}
