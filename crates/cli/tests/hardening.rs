//! Hardening: sign-out races a refresh and wins, hostile numbers, private files, hand-edited configs, locks that say who holds them, an
//! unreadable vault, symbolic links. The real binary against the emulators, on the real keyring.

mod common;

use common::{Env, TENANT};
use std::time::{Duration, Instant};
use vbm365_emulator::Server;

/// Starts `refresh` with the VBM365 server slowed down and waits until its request has arrived:
/// the refresh is then in flight, holding the tenant's refresh lock.
async fn refresh_in_flight(env: &Env) -> std::process::Child {
    env.emu.set_vbm_latency_ms(2500);
    env.emu.clear_requests();
    let child = env.spawn(&["refresh"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.grant_count(Server::Vbm, "refresh_token") == 0 {
        assert!(
            Instant::now() < deadline,
            "the refresh never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child
}

/// Waits for the refresh of [`refresh_in_flight`] to end, then takes the slowdown off the server.
async fn refresh_finished(env: &Env, refresh: std::process::Child) -> std::process::Output {
    let out = common::wait_child(refresh, Duration::from_secs(30)).await;
    env.emu.set_vbm_latency_ms(0);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_during_a_refresh_wins() {
    let env = Env::with_signed_in_tenant().await;
    let refresh = refresh_in_flight(&env).await;
    let r = env.run_async(&["logout"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = refresh_finished(&env, refresh).await;
    assert_eq!(out.status.code(), Some(0), "the refresh itself succeeded");
    assert_eq!(env.state(), "signed_out");
    assert_eq!(env.run(&["token"]).code, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_of_everything_during_a_refresh_leaves_a_usable_store() {
    let env = Env::with_signed_in_tenant().await;
    let refresh = refresh_in_flight(&env).await;
    let r = env.run_async(&["logout", "--all"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    refresh_finished(&env, refresh).await;
    // No vault sealed under the deleted key: every command works, and a new sign-in too.
    assert_eq!(env.state(), "signed_out");
    assert!(!env.config_dir().join("vault.bin").exists());
    let r = env.login(TENANT).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    env.run(&["token"]).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_tenants_tokens_never_come_back() {
    let env = Env::with_signed_in_tenant().await;
    let refresh = refresh_in_flight(&env).await;
    env.run_async(&["tenant", "remove", TENANT]).await.ok();
    refresh_finished(&env, refresh).await;
    env.add_tenant(TENANT, "v8");
    assert_eq!(env.state(), "signed_out");
    assert_eq!(env.run(&["token"]).code, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_numbers_are_usage_errors_not_panics() {
    let env = Env::with_signed_in_tenant().await;
    let r = env.run(&["token", "--min-valid", "10000000000000"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    for (var, value) in [
        ("VBM365_AUTH_HTTP_TIMEOUT", "inf"),
        ("VBM365_AUTH_HTTP_TIMEOUT", "-1"),
        ("VBM365_AUTH_HTTP_TIMEOUT", "NaN"),
        ("VBM365_AUTH_RETRY_BUDGET", "1e30"),
    ] {
        let r = env.cmd(&["token"]).env(var, value).output().unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains(var), "{var}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_born_expired_is_an_error_not_a_loop() {
    let env = Env::with_signed_in_tenant().await;
    env.emu.set_vbm_token_lifetime(0);
    env.emu.clear_requests();
    let r = env.run(&["refresh"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("already expired"), "{}", r.stderr);
    assert_eq!(
        env.grant_count(Server::Vbm, "refresh_token"),
        1,
        "one request, no loop"
    );
    // `token` then refreshes once more (the stored token is expired) and says the same.
    let r = env.run(&["token"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "no expired token handed out");
    assert_eq!(env.grant_count(Server::Vbm, "refresh_token"), 2);
    // The rotated refresh token was stored: with a sane lifetime again, the next refresh works.
    env.emu.set_vbm_token_lifetime(3600);
    env.run(&["refresh"]).ok();
    assert_eq!(env.state(), "signed_in");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn files_are_private_under_any_umask_and_a_shared_config_dir_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new().await;
    let dir = env.config_dir().join("nested");
    let out = std::process::Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_vbm365-auth"))
        .args([
            "tenant",
            "add",
            TENANT,
            "--server",
            "https://vbm.example:4443",
        ])
        .env("VBM365_AUTH_CONFIG_DIR", &dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("config.json")), 0o600);
    assert_eq!(mode(&dir.join("locks")), 0o700);
    // A mode stricter than 0600 that the user chose is kept across writes.
    std::fs::set_permissions(
        dir.join("config.json"),
        std::fs::Permissions::from_mode(0o400),
    )
    .unwrap();
    let switch = |env: &Env| {
        env.cmd(&["switch", TENANT])
            .env("VBM365_AUTH_CONFIG_DIR", &dir)
            .output()
            .unwrap()
    };
    assert!(switch(&env).status.success());
    assert_eq!(mode(&dir.join("config.json")), 0o400);
    // Another user could swap config.json in a world-writable directory: refused, with why.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = switch(&env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("other users can write"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_edited_config_is_checked_like_tenant_add() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let path = env.config_dir().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg["tenants"][0]["server"] = "http://0.0.0.0/".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let r = env.run(&["token", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.json()["error"]["code"], "config_corrupt");
    assert!(
        r.stderr.contains(TENANT) && r.stderr.contains("https"),
        "{}",
        r.stderr
    );
    assert!(env.emu.requests().is_empty(), "nothing was sent anywhere");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_config_lock_ends_in_a_clear_error_naming_the_holder() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let lock_path = env.config_dir().join("locks").join("config.lock");
    // Held by this test process, the way the product takes it (on Windows a byte-range lock that
    // leaves the holder's description readable), so the message names this process.
    let held = vbm365_auth_core::fsutil::FileLock::acquire_blocking(
        &lock_path,
        "the test's hold",
        Duration::from_secs(5),
    )
    .unwrap();
    let started = Instant::now();
    let r = env.run_async(&["switch", TENANT]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    let holder = format!("pid {}", std::process::id());
    assert!(r.stderr.contains(&holder), "{}", r.stderr);
    assert!(r.stderr.contains("configuration file"), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(60));
    drop(held);
    env.run(&["switch", TENANT]).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_vault_says_so_at_once() {
    let env = Env::with_signed_in_tenant().await;
    let account = env.vault_key_account();
    #[cfg(unix)]
    {
        let cleared = std::process::Command::new("secret-tool")
            .args(["clear", "service", "vbm365-auth", "username", &account])
            .status()
            .unwrap();
        assert!(cleared.success());
    }
    // Windows has no command-line client for Credential Manager that Wine runs: the product's
    // own keyring access deletes the entry.
    #[cfg(windows)]
    {
        use vbm365_auth_core::keystore::{KeyStore, OsKeyring};
        let ks = OsKeyring::from_env();
        assert!(
            ks.get(&account).unwrap().is_some(),
            "the vault key is stored"
        );
        ks.delete(&account).unwrap();
    }
    let r = env.run(&["logout"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("key of the token vault is missing"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Signed out"), "{}", r.stderr);
    // A sign-in fails before Microsoft is asked for a code (the user approves nothing in vain).
    env.emu.clear_requests();
    let r = env.run(&["login", "--json", "--no-browser"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.last_event()["code"], "vault_key_missing");
    assert!(
        env.emu.requests().is_empty(),
        "no device code was requested"
    );
    // `logout --all` clears it; then everything works again.
    env.run(&["logout", "--all"]).ok();
    env.login(TENANT).await.ok();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn symbolic_links_are_refused_not_replaced() {
    let env = Env::with_signed_in_tenant().await;
    for file in ["config.json", "vault.bin"] {
        let path = env.config_dir().join(file);
        let elsewhere = env.bin_dir.path().join(file);
        std::fs::rename(&path, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        let r = env.run(&["refresh"]);
        assert_eq!(r.code, 1, "{file}: {}", r.stderr);
        assert!(r.stderr.contains("symbolic link"), "{file}: {}", r.stderr);
        assert!(std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_file(&path).unwrap();
        std::fs::rename(&elsewhere, &path).unwrap();
    }
    env.run(&["refresh"]).ok();
}
