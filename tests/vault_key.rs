//! The real app and a vault key that changes under it (Hardening item 2): another process signs
//! out of everything (vault and key deleted) and signs in again (a new key), or deletes the key
//! outright. The app runs as a child process on the test's display and session bus, with the
//! vault key in the throwaway Secret Service of `scripts/with-keyring`; its state is read from the
//! tray over D-Bus and from the `vbm365-auth` CLI on the same config dir.
//!
//! Needs an X display, a session bus with a Secret Service, `secret-tool` and the built CLI
//! (`cargo build -p vbm365-auth-cli`); ignored by default:
//! `xvfb-run -a scripts/with-keyring cargo test -p vbm365-auth-app --test vault_key -- --ignored --test-threads=1`

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

const TENANT: &str = "contoso.onmicrosoft.com";

/// The keyring account of the config dir's vault key.
fn key_account(config: &Path) -> String {
    let text = std::fs::read_to_string(config.join("config.json")).expect("config.json");
    let cfg: serde_json::Value = serde_json::from_str(&text).expect("config JSON");
    let id = cfg["vault_id"].as_str().expect("vault_id in config.json");
    format!("vault-key/{id}")
}

/// `secret-tool <op> service vbm365-auth username <account>`.
fn secret_tool(op: &str, account: &str) -> std::process::Output {
    Command::new("secret-tool")
        .args([op, "service", "vbm365-auth", "username", account])
        .output()
        .expect("run secret-tool (libsecret-tools)")
}

/// The vault key as stored in the keyring, if there is one.
fn stored_key(account: &str) -> Option<String> {
    let out = secret_tool("lookup", account);
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !key.is_empty()).then_some(key)
}

/// The tray's header item: "<active tenant> — <state>".
fn header(tray: &TrayMenu) -> String {
    tray.menu()
        .children
        .first()
        .map(|c| c.label.clone())
        .unwrap_or_default()
}

/// Waits until the tray's header contains `want`; panics with the last header and the app's log.
fn wait_header(tray: &TrayMenu, app: &mut App, want: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        app.assert_running();
        let h = header(tray);
        if h.contains(want) {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "the tray header never said '{want}' within {within:?}; last: '{h}'\napp log:\n{}",
            app.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts the app on `s` and waits for its first background refresh and for its tray to say
/// "signed in".
fn start_app_past_first_refresh(s: &Setup) -> (App, TrayMenu) {
    let mut app = s.start_app();
    let tray = tray_of(&mut app, Duration::from_secs(20));
    wait_for(
        "a first background refresh",
        Duration::from_secs(20),
        || (!vbm_refreshes(&s.emu).is_empty()).then_some(()),
    );
    wait_header(&tray, &mut app, "signed in", Duration::from_secs(10));
    (app, tray)
}

/// Bug caught: the app keeping the vault key it read at start. After another process signed out
/// of everything and in again, the vault is sealed with a new key: an app that does not re-read
/// the key cannot open it, shows the tenant in error and stops refreshing it (the user's tokens
/// then expire while the app claims to keep them fresh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn the_app_follows_a_vault_key_that_changed_under_it() {
    require_desktop_session();
    // 10 s tokens: refreshed about 5 s after each sign-in or refresh.
    let s = Setup::signed_in(10, TENANT).await;
    let account = key_account(&s.config);
    let old_key = stored_key(&account).expect("the vault key is in the keyring");

    // The app has read the vault (and so the key) and refreshes with it.
    let (mut app, tray) = start_app_past_first_refresh(&s);

    // Another process signs out of everything (vault file and key deleted) ...
    cli(&s.config, &["logout", "--all"]);
    assert_eq!(stored_key(&account), None, "logout --all deletes the key");
    wait_header(&tray, &mut app, "signed out", Duration::from_secs(10));
    // ... and signs in again: a new vault under a new key.
    let second = engine(&s.config);
    sign_in(&second, &s.emu, TENANT).await;
    let new_key = stored_key(&account).expect("a new vault key");
    assert_ne!(new_key, old_key, "the new sign-in made a new key");
    let signed_in_expiry =
        expires_at(&status_of(&s.config, TENANT)).expect("expiry after the new sign-in");
    s.emu.clear_requests();

    // The app opens the new vault: it refreshes again, the renewed tokens are sealed with the new
    // key (the CLI reads them), and its tray says signed in.
    wait_for(
        "a background refresh after the key changed",
        Duration::from_secs(30),
        || {
            app.assert_running();
            (!vbm_refreshes(&s.emu).is_empty()).then_some(())
        },
    );
    let row = wait_for(
        "tokens renewed by the app, readable with the new key",
        Duration::from_secs(10),
        || {
            let row = status_of(&s.config, TENANT);
            (expires_at(&row).is_some_and(|e| e > signed_in_expiry)).then_some(row)
        },
    );
    assert_eq!(row["state"], "signed_in", "{row}");
    assert_eq!(stored_key(&account).as_deref(), Some(new_key.as_str()));
    let h = wait_header(&tray, &mut app, "signed in", Duration::from_secs(10));
    assert!(h.starts_with(TENANT), "{h}");
    app.assert_running();
}

/// Bug caught: the app carrying on silently with a key it cached after the key was deleted from
/// the keyring: it shows the tenant signed in (and may even seal new tokens under a key nobody
/// else has, lost when it quits) while every other process finds the vault unreadable.
///
/// Fails as of this writing: the core's `Vault` keeps the key it read for the life of the engine
/// and asks the keyring again only when a decryption fails or the vault file is gone, so the app
/// keeps reading and re-sealing the vault with the deleted key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn a_deleted_vault_key_is_an_error_in_the_app_not_silence() {
    require_desktop_session();
    let s = Setup::signed_in(10, TENANT).await;
    let account = key_account(&s.config);
    assert!(stored_key(&account).is_some());

    let (mut app, tray) = start_app_past_first_refresh(&s);

    let out = secret_tool("clear", &account);
    assert!(out.status.success(), "secret-tool clear: {out:?}");
    assert_eq!(stored_key(&account), None);
    // Every other process sees it at once.
    let row = status_of(&s.config, TENANT);
    assert_eq!(row["state"], "error", "{row}");

    // So does the app: its tray shows the tenant in error, within a few of its polls and
    // refreshes.
    let h = wait_header(&tray, &mut app, "error", Duration::from_secs(30));
    assert!(h.starts_with(TENANT), "{h}");
    app.assert_running();
    // Nothing was sealed under a key that is not in the keyring: the CLI still finds the key
    // missing, not a vault re-sealed by the app.
    assert_eq!(stored_key(&account), None);
    assert_eq!(status_of(&s.config, TENANT)["state"], "error");
}
