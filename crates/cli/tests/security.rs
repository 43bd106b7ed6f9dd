//! TLS pinning, secrets never leaking, and the verification URI check.

mod common;

use common::{Env, TENANT};
use vbm365_emulator::{EmulatorOptions, Server};

#[tokio::test(flavor = "multi_thread")]
async fn pinned_certificate_connects_and_a_wrong_pin_fails_before_anything_is_sent() {
    let env = Env::new().await;
    env.signed_in(TENANT, "v8").await;
    // Replace the pin by a wrong one, as if the server certificate had changed.
    let path = env.config_dir().join("config.json");
    let real = env.emu.cert_sha256();
    let wrong = "ab".repeat(32);
    let cfg = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&real, &wrong);
    std::fs::write(&path, cfg).unwrap();
    env.emu.clear_requests();
    let r = env.run(&["refresh"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&real),
        "names the server's fingerprint: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&wrong),
        "names the pinned fingerprint: {}",
        r.stderr
    );
    assert!(
        env.emu.requests().iter().all(|q| q.server != Server::Vbm),
        "nothing reached the server"
    );
    // The stored tokens are intact: a token that is still valid is handed out.
    env.run(&["token", "--min-valid", "0"]).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn unpinned_self_signed_server_is_refused_and_tenant_trust_pins_it() {
    let env = Env::new().await;
    env.add_tenant_with(TENANT, &[]);
    let r = env.login(TENANT).await;
    assert_eq!(r.code, 1, "{r:?}");
    let last = r.events().pop().unwrap();
    assert_eq!(last["event"], "error");
    assert_eq!(last["code"], "certificate_untrusted");
    assert!(last["message"].as_str().unwrap().contains("tenant trust"));

    // Non-interactive trust without --yes refuses to pin.
    let r = env.run(&["tenant", "trust", TENANT]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        !std::fs::read_to_string(env.config_dir().join("config.json"))
            .unwrap()
            .contains(&env.emu.cert_sha256())
    );

    let r = env.run(&["tenant", "trust", TENANT, "--yes"]).ok();
    assert_eq!(r.stdout.trim(), env.emu.cert_sha256());
    let pretty = env.emu.cert_sha256().to_ascii_uppercase();
    assert!(
        r.stderr.contains(&pretty[..2]) && r.stderr.contains(':'),
        "{}",
        r.stderr
    );
    let list = env.run(&["tenant", "list", "--json"]).ok().json();
    assert_eq!(list[0]["pinned_sha256"][0], env.emu.cert_sha256());
    env.login(TENANT).await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_reach_config_logs_stderr_or_plain_files() {
    let env = Env::new().await;
    env.signed_in(TENANT, "v8").await;
    let mut outputs = Vec::new();
    let mut e2 = Env {
        extra_env: vec![("VBM365_AUTH_LOG".into(), "trace".into())],
        ..env
    };
    e2.extra_env.push(("RUST_LOG".into(), "trace".into()));
    let env = e2;
    for args in [
        vec!["refresh"],
        vec!["status"],
        vec!["status", "--json"],
        vec!["refresh", "--all"],
        vec!["tenant", "list", "--json"],
    ] {
        let r = env.run(&args).ok();
        outputs.push(r.stdout);
        outputs.push(r.stderr);
    }
    env.emu.revoke_vbm_refresh_tokens();
    let r = env.run(&["refresh"]).ok();
    outputs.push(r.stderr);
    let token_out = env.run(&["token"]).ok();
    outputs.push(token_out.stderr);
    // Every secret the emulators ever issued or received.
    let mut secrets = Vec::new();
    for body in env.emu.ms_token_responses() {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        secrets.push(v["access_token"].as_str().unwrap().to_string());
        secrets.push(v["refresh_token"].as_str().unwrap().to_string());
    }
    for q in env.emu.requests() {
        for f in ["device_code", "refresh_token"] {
            if let Some(v) = common::field(&q, f) {
                secrets.push(v);
            }
        }
    }
    secrets.push(token_out.stdout.trim().to_string());
    assert!(secrets.len() >= 6);
    let files = env.all_files_text();
    let config = std::fs::read_to_string(env.config_dir().join("config.json")).unwrap();
    assert!(
        !env.config_dir().join("secrets.json").exists(),
        "no plaintext store unless asked"
    );
    for s in &secrets {
        let probe = &s[..s.len().min(40)];
        assert!(!config.contains(probe), "secret in config.json");
        assert!(!files.contains(probe), "secret in a file of the config dir");
        for o in &outputs {
            assert!(!o.contains(probe), "secret in output: {o}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn safe_verification_uri_is_opened_and_unsafe_ones_are_only_shown() {
    // The emulator's own loopback page: opened in the (fake) browser.
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let mut child = env.spawn(&["login", TENANT]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while env.opened().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let code = env.emu.device_codes()[0].user_code.clone();
    assert!(env.emu.approve(&code));
    let out = common::wait_child(child_take(&mut child), std::time::Duration::from_secs(30)).await;
    assert!(out.status.success());
    assert_eq!(
        env.opened(),
        vec![format!("{}/devicelogin", env.emu.ms_url())]
    );

    for evil in [
        "http://evil.example.com/devicelogin",
        "javascript:alert(document.cookie)",
        "file:///etc/passwd",
        "https://user:pass@microsoft.com/devicelogin",
        "https://microsoft.com/device\u{1b}[2Jlogin",
    ] {
        let env = Env::with(EmulatorOptions {
            verification_uri: Some(evil.into()),
            ..common::options()
        })
        .await;
        env.add_tenant(TENANT, "v8");
        let mut child = env.spawn(&["login", TENANT]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while env.emu.device_codes().is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(env
            .emu
            .decline(&env.emu.device_codes()[0].user_code.clone()));
        let out =
            common::wait_child(child_take(&mut child), std::time::Duration::from_secs(30)).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(env.opened().is_empty(), "{evil:?} must not be opened");
        assert!(stderr.contains("not safe to open"), "{stderr}");
        assert!(
            !stderr.contains('\u{1b}'),
            "control characters never reach the terminal"
        );
    }
}

fn child_take(c: &mut std::process::Child) -> std::process::Child {
    std::mem::replace(c, std::process::Command::new("true").spawn().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_issued_by_a_private_ca_is_trusted_through_that_ca_file_only() {
    let env = Env::ca_issued().await;
    env.add_tenant_with(TENANT, &[]);
    let files = tempfile::tempdir().unwrap();
    let config = || std::fs::read_to_string(env.config_dir().join("config.json")).unwrap();
    let ca_pem = env.emu.ca_pem().expect("CA-issued emulator");
    let ca = files.path().join("corp-ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();

    // Not trusted yet: the message names both ways to trust it.
    let r = env.login(TENANT).await;
    let last = r.events().pop().unwrap();
    assert_eq!(last["code"], "certificate_untrusted", "{r:?}");
    assert!(
        last["message"].as_str().unwrap().contains("--ca-file"),
        "{last}"
    );

    // Bad files: a clear error each, nothing saved.
    let missing = files.path().join("missing.pem");
    let empty = files.path().join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    let other = Env::ca_issued().await;
    let other_ca = files.path().join("other-ca.pem");
    std::fs::write(&other_ca, other.emu.ca_pem().unwrap()).unwrap();
    for (file, code, needle) in [
        (&missing, 2, "cannot read the CA file"),
        (&empty, 2, "holds no PEM certificate"),
        (
            &other_ca,
            1,
            "does not verify against the certificate authority in",
        ),
    ] {
        let r = env.run(&[
            "tenant",
            "trust",
            TENANT,
            "--ca-file",
            file.to_str().unwrap(),
        ]);
        assert_eq!(r.code, code, "{file:?}: {r:?}");
        assert!(r.stderr.contains(needle), "{file:?}: {}", r.stderr);
        assert!(
            !config().contains("trusted_cas"),
            "{file:?} saved something"
        );
    }
    env.emu.clear_requests();

    // The right CA: checked against the server, saved (public certificate only), used by login.
    let r = env
        .run(&["tenant", "trust", TENANT, "--ca-file", ca.to_str().unwrap()])
        .ok();
    let der = vbm365_auth_core::tls::certificates_in(ca_pem.as_bytes());
    let ca_sha256 = vbm365_auth_core::tls::fingerprint(&der[0]);
    assert_eq!(r.stdout.trim(), ca_sha256);
    assert!(r.stderr.contains("verifies against"), "{}", r.stderr);
    assert!(
        env.emu.requests().iter().all(|q| q.server != Server::Vbm),
        "the check sends no request to the server"
    );
    assert!(config().contains("-----BEGIN CERTIFICATE-----"));
    let list = env.run(&["tenant", "list", "--json"]).ok().json();
    assert_eq!(list[0]["trusted_ca_sha256"][0], ca_sha256);
    assert_eq!(list[0]["pinned_sha256"].as_array().unwrap().len(), 0);
    env.login(TENANT).await.ok();
    env.run(&["status", "--json"]).ok();
    assert_eq!(
        env.vbm_token_requests().len(),
        1,
        "signed in through the CA"
    );
}
