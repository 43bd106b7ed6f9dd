//! Bad servers, broken keyrings and crashes: clear errors, nothing lost.

mod common;

use common::{Env, TENANT};
use std::time::{Duration, Instant};
use vbm365_emulator::{EmulatorOptions, Fault};

#[tokio::test(flavor = "multi_thread")]
async fn server_faults_give_clear_errors_and_keep_the_stored_tokens() {
    let env = Env::new().await;
    env.signed_in(TENANT, "v8").await;
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
    let env = e;
    for (fault, words) in cases {
        env.emu.inject_fault(fault, 1);
        let started = Instant::now();
        let r = env.run(&["refresh"]);
        assert_eq!(r.code, 1, "{fault:?}: {r:?}");
        assert!(
            r.stderr.contains(words),
            "{fault:?}: expected '{words}' in: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert!(started.elapsed() < Duration::from_secs(20));
        // The tokens are intact and still handed out.
        assert_eq!(
            env.run(&["token", "--min-valid", "0"]).ok().stdout,
            before,
            "{fault:?}"
        );
        assert_eq!(
            env.run(&["status", "--json"]).ok().json()[0]["state"],
            "signed_in"
        );
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
    let ev = r.events().pop().unwrap();
    assert_eq!(ev["event"], "error");
    assert_eq!(ev["code"], "network");
    assert!(ev["message"]
        .as_str()
        .unwrap()
        .contains(&format!("127.0.0.1:{port}")));
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_authentication_disabled_points_to_the_server_setting() {
    let env = Env::with(EmulatorOptions {
        tenant_auth_enabled: false,
        ..common::options()
    })
    .await;
    env.add_tenant(TENANT, "v8");
    let r = env.login(TENANT).await;
    assert_eq!(r.code, 1);
    let ev = r.events().pop().unwrap();
    assert_eq!(ev["code"], "tenant_auth_disabled");
    assert!(
        ev["message"]
            .as_str()
            .unwrap()
            .contains("Enable tenant authentication"),
        "{ev}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn device_flow_errors_are_said_in_plain_words() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let r = env
        .login_with(TENANT, |emu, code| assert!(emu.decline(code)))
        .await;
    assert_eq!(r.code, 1);
    assert_eq!(r.events().pop().unwrap()["code"], "sign_in_declined");
    assert!(r.stderr.contains("declined"));

    let r = env
        .login_with(TENANT, |emu, code| assert!(emu.block(code, 53003)))
        .await;
    let ev = r.events().pop().unwrap();
    assert_eq!(ev["code"], "conditional_access_blocked");
    let m = ev["message"].as_str().unwrap();
    assert!(
        m.contains("Conditional Access") && m.contains("AADSTS53003"),
        "{m}"
    );

    let r = env
        .login_with(TENANT, |emu, code| assert!(emu.expire(code)))
        .await;
    assert_eq!(r.events().pop().unwrap()["code"], "device_code_expired");

    // Nothing was stored by failed sign-ins.
    assert_eq!(
        env.run(&["status", "--json"]).ok().json()[0]["state"],
        "signed_out"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn device_code_expiry_stops_polling() {
    let env = Env::with(EmulatorOptions {
        device_code_expires_in: 3,
        ..common::options()
    })
    .await;
    env.add_tenant(TENANT, "v8");
    let started = Instant::now();
    let r = env.run(&["login", "--json", "--no-browser"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.events().pop().unwrap()["code"], "device_code_expired");
    assert!(started.elapsed() < Duration::from_secs(10));
}

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
    let r = env.login(TENANT).await;
    assert_eq!(r.code, 1, "{r:?}");
    let ev = r.events().pop().unwrap();
    assert_eq!(ev["code"], "keyring_unavailable", "{ev}");
    assert!(ev["message"]
        .as_str()
        .unwrap()
        .contains("VBM365_AUTH_STORAGE=file"));
    assert!(!env.config_dir().join("secrets.json").exists());
    assert!(!env.config_dir().join("vault.bin").exists());
    let body = env.emu.ms_token_responses().pop().unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(!env
        .all_files_text()
        .contains(v["refresh_token"].as_str().unwrap()));
}

#[tokio::test(flavor = "multi_thread")]
async fn keyring_down_after_sign_in_fails_reads_with_exit_1() {
    let env = Env::new().await;
    env.signed_in(TENANT, "v8").await;
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
    let st = broken.run(&["status", "--json"]).ok().json();
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

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_config_writes_never_leaves_a_torn_config() {
    let env = Env::new().await;
    // A large config makes every write take a while, so kills land mid-write.
    for i in 0..300 {
        env.run(&[
            "tenant",
            "add",
            &format!("t{i}.onmicrosoft.com"),
            "--server",
            "https://vbm.example:4443",
        ])
        .ok();
        if i >= 3 {
            break;
        }
    }
    let path = env.config_dir().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let template = cfg["tenants"][0].clone();
    let tenants = cfg["tenants"].as_array_mut().unwrap();
    for i in 4..3000 {
        let mut t = template.clone();
        t["name"] = format!("t{i}.onmicrosoft.com").into();
        tenants.push(t);
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let mut kills = 0;
    for i in 0..150u64 {
        let target = format!("t{}.onmicrosoft.com", i % 4);
        let mut child = env
            .cmd(&["switch", &target])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(1000 + (i * 7919) % 80000));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("torn config after kill {i}: {e}"));
        assert_eq!(parsed["tenants"].as_array().unwrap().len(), 3000);
    }
    assert!(
        kills > 10,
        "only {kills} kills landed while the process ran"
    );
    // Leftover temporary files from killed writers never shadow the config.
    env.run(&["status", "--json"]).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn locked_keyring_is_a_clear_error() {
    let env = Env::new().await;
    env.signed_in(TENANT, "v8").await;
    // Another desktop session whose Secret Service has no unlocked collection.
    let data_home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("dbus-run-session");
    cmd.args([
        "--",
        "sh",
        "-c",
        "gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1; exec \"$0\" token",
    ])
    .arg(env!("CARGO_BIN_EXE_vbm365-auth"))
    .env("XDG_DATA_HOME", data_home.path())
    .env("VBM365_AUTH_CONFIG_DIR", env.config_dir())
    .env("VBM365_AUTH_KEYRING_TIMEOUT_MS", "5000")
    .env_remove("DBUS_SESSION_BUS_ADDRESS");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("keyring is locked") || stderr.contains("keyring is not available"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no token printed");
    // Back in the unlocked session, the tokens are all there.
    env.run(&["token"]).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_cancels_a_sign_in_and_stops_polling() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let child = env
        .cmd(&["login", "--json", "--no-browser"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env
        .emu
        .requests()
        .iter()
        .any(|r| common::field(r, "device_code").is_some())
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let st = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
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
    let polls = env.emu.requests().len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.emu.requests().len(), polls, "no request after cancel");
}
