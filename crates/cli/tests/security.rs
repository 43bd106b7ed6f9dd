//! TLS pinning, secrets never leaking, and the verification URI check.

mod common;

use common::{walk, Env, TENANT};
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
    assert!(last["hint"].as_str().unwrap().contains("tenant trust"));

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

/// Length of the pieces of secrets looked for. Secrets are cut into pieces of this length every
/// `PIECE / 2` characters, so any run of `PIECE * 3 / 2` or more characters of a secret that shows up
/// somewhere holds a whole piece.
const PIECE: usize = 16;

/// Panics if `secret`, or any run of 24 or more of its characters, is in one of `places`
/// (`index`: every `PIECE`-byte window of every place).
fn assert_absent(
    what: &str,
    secret: &str,
    pieces: bool,
    places: &[(String, String)],
    index: &std::collections::HashMap<&[u8], usize>,
) {
    assert!(secret.len() >= PIECE, "too short to be a secret: {what}");
    for (place, text) in places {
        assert!(!text.contains(secret), "{what} found whole in {place}");
    }
    if !pieces {
        return;
    }
    let b = secret.as_bytes();
    for at in (0..=b.len() - PIECE).step_by(PIECE / 2) {
        if let Some(&i) = index.get(&b[at..at + PIECE]) {
            panic!(
                "characters {at}..{} of {what} found in {}",
                at + PIECE,
                places[i].0
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_reach_config_logs_stderr_or_plain_files() {
    let mut env = Env::new().await;
    env.extra_env
        .push(("VBM365_AUTH_LOG".into(), "trace".into()));
    env.extra_env.push(("RUST_LOG".into(), "trace".into()));
    // Everything a command printed that must hold no secret, by command.
    let mut outputs: Vec<(String, String)> = Vec::new();
    // VBM365 access tokens, from `token`, whose stdout is the one place a token belongs.
    let mut access_tokens = Vec::new();
    let record = |what: &str, r: common::Run, outputs: &mut Vec<(String, String)>| {
        outputs.push((format!("{what} stdout"), r.stdout));
        outputs.push((format!("{what} stderr"), r.stderr));
    };
    env.add_tenant(TENANT, "v8");
    let login = env.login(TENANT).await.ok();
    record("login", login, &mut outputs);
    let mut step = |args: &[&str], outputs: &mut Vec<(String, String)>| {
        let r = env.run(args).ok();
        if args[0] == "token" {
            outputs.push((format!("{} stderr", args.join(" ")), r.stderr));
            access_tokens.push(r.stdout.trim().to_string());
        } else {
            record(&args.join(" "), r, outputs);
        }
        let t = env.run(&["token", "--min-valid", "0"]).ok();
        outputs.push(("token stderr".into(), t.stderr));
        access_tokens.push(t.stdout.trim().to_string());
    };
    for args in [
        &["refresh"][..],
        &["status"],
        &["status", "--json"],
        &["refresh", "--all"],
        &["tenant", "list", "--json"],
        &["refresh", "--json"],
    ] {
        step(args, &mut outputs);
    }
    // A refused refresh: silent re-sign-in with the Microsoft refresh token, a new assertion.
    env.emu.revoke_vbm_refresh_tokens();
    step(&["refresh"], &mut outputs);
    step(&["token", "--min-valid", "999999"], &mut outputs);
    // A last refresh sends the refresh token stored by the steps before, so it is probed too.
    step(&["refresh"], &mut outputs);

    // Every secret the emulators issued or received.
    // (what, the secret, whether pieces of it count too: not for the whole Microsoft reply, whose
    // JSON punctuation is no secret; its tokens are listed one by one).
    let mut secrets: Vec<(String, String, bool)> = Vec::new();
    let bodies = env.emu.ms_token_responses();
    assert_eq!(bodies.len(), 2, "sign-in and silent re-sign-in");
    for body in &bodies {
        // The whole Microsoft reply is the assertion sent to VBM365.
        secrets.push((
            "assertion (Microsoft token reply)".into(),
            body.clone(),
            false,
        ));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        for f in ["access_token", "refresh_token", "id_token"] {
            if let Some(t) = v[f].as_str() {
                secrets.push((format!("Microsoft {f}"), t.to_string(), true));
            }
        }
    }
    for q in env.emu.requests() {
        for f in ["device_code", "refresh_token", "assertion"] {
            if let Some(v) = common::field(&q, f) {
                secrets.push((format!("{f} sent to {:?}", q.server), v, f != "assertion"));
            }
        }
    }
    for c in env.emu.device_codes() {
        secrets.push(("device code".into(), c.device_code, true));
    }
    let vbm_refresh_tokens = secrets
        .iter()
        .filter(|(k, _, _)| k == "refresh_token sent to Vbm")
        .count();
    assert!(
        vbm_refresh_tokens >= 5,
        "{vbm_refresh_tokens} VBM365 refresh tokens"
    );
    access_tokens.dedup();
    assert!(access_tokens.len() >= 6, "{access_tokens:?}");
    for t in access_tokens {
        secrets.push(("VBM365 access token".into(), t, true));
    }

    assert!(
        !env.config_dir().join("secrets.json").exists(),
        "no plaintext store unless asked"
    );
    let mut places = outputs;
    for f in walk(env.config_dir()) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        places.push((f.display().to_string(), text));
    }
    assert!(places.iter().any(|(p, _)| p.ends_with("config.json")));
    assert!(places.iter().any(|(p, _)| p.ends_with("vault.bin")));
    let mut index = std::collections::HashMap::new();
    for (i, (_, text)) in places.iter().enumerate() {
        for w in text.as_bytes().windows(PIECE) {
            index.entry(w).or_insert(i);
        }
    }
    for (what, secret, pieces) in &secrets {
        assert_absent(what, secret, *pieces, &places, &index);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn safe_verification_uri_is_opened_and_unsafe_ones_are_only_shown() {
    // The emulator's own loopback page: opened in the (fake) browser.
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let child = env.spawn(&["login", TENANT]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while env.opened().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let code = env.emu.device_codes()[0].user_code.clone();
    assert!(env.emu.approve(&code));
    let out = common::wait_child(child, std::time::Duration::from_secs(30)).await;
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
        let child = env.spawn(&["login", TENANT]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while env.emu.device_codes().is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(env
            .emu
            .decline(&env.emu.device_codes()[0].user_code.clone()));
        let out = common::wait_child(child, std::time::Duration::from_secs(30)).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(env.opened().is_empty(), "{evil:?} must not be opened");
        assert!(stderr.contains("not safe to open"), "{stderr}");
        assert!(
            !stderr.contains('\u{1b}'),
            "control characters never reach the terminal"
        );
    }
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

    // Not trusted yet: the hint names both ways to trust it (the message only what went wrong).
    let r = env.login(TENANT).await;
    let last = r.events().pop().unwrap();
    assert_eq!(last["code"], "certificate_untrusted", "{r:?}");
    let hint = last["hint"].as_str().unwrap();
    assert!(
        hint.contains("tenant trust <TENANT> --ca-file") && hint.contains("tenant trust <TENANT>`"),
        "{last}"
    );
    assert!(
        !last["message"].as_str().unwrap().contains("vbm365-auth"),
        "{last}"
    );
    assert!(r.stderr.contains(&format!("hint: {hint}")), "{}", r.stderr);

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
