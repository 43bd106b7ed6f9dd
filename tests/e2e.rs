//! End to end in the real window: the built `vbm365-auth-app` driven through `tauri-driver`
//! (WebKitWebDriver) with fantoccini, against the local emulators.
//!
//! Secrets are where the app keeps them by default: the vault sealed with a key in the OS keyring
//! (the Secret Service of `scripts/with-keyring`); every test has its own config dir, hence its own
//! vault id and keyring entry. One test covers the plain-file setting (`VBM365_AUTH_STORAGE=file`).
//!
//! Needs an X display, a session bus with a Secret Service, `tauri-driver` (`cargo install
//! tauri-driver --locked --version ^2`) and a built app (`cargo build -p vbm365-auth-app`). Only one
//! WebDriver session can run at a time, so these tests are ignored by default and run serially:
//! `xvfb-run -a scripts/with-keyring cargo test -p vbm365-auth-app --test e2e -- --ignored --test-threads=1`

mod support;

use fantoccini::{Client, Locator};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use support::webdriver::{click, offered, open, row_button, text_of, wait_text};
use support::Setup;
use vbm365_auth_core::failure::RetryPolicy;
use vbm365_auth_core::{StorageChoice, TenantProfile, TenantState};
use vbm365_emulator::{EmulatorOptions, Emulators, Fault};

/// Saves a screenshot of the window as `name` in `$VBM365_SCREENSHOTS`, if that is set.
async fn screenshot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("VBM365_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap_or_default();
        let _ = std::fs::write(PathBuf::from(dir).join(name), png);
    }
}

/// Emulators (1 s poll interval) and a config dir holding `contoso.onmicrosoft.com`, active and
/// pinned to the emulator's certificate.
async fn one_pinned_tenant() -> Setup {
    let s = Setup::new(3600).await;
    s.add_tenant("contoso.onmicrosoft.com", true);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn sign_in_through_the_window_then_sign_out() {
    let s = one_pinned_tenant().await;
    let (_driver, c) = open(&s.config, &[]).await;

    // The list shows the tenant, signed out.
    wait_text(&c, "li.tenant .name", "contoso.onmicrosoft.com", 15).await;
    wait_text(&c, "li.tenant .state", "Signed out", 5).await;
    // The page was told its platform before its scripts ran (window::platform_script, past the
    // page's content security policy), so ui/format.js words the keyring as Linux has it.
    let platform = c
        .execute("return window.__VBM365_PLATFORM__;", vec![])
        .await
        .expect("script");
    assert_eq!(platform, "linux");

    // Sign in: the panel shows the user code; approve it at the emulator.
    click(&c, r#"li.tenant [data-act="sign-in"]"#).await;
    let code = wait_code(&c).await;
    let uri = text_of(&c, "#signin-uri").await;
    assert!(uri.starts_with(&s.emu.ms_url()), "{uri}");
    wait_text(&c, "#signin-status", "Waiting", 5).await;
    screenshot(&c, "sign-in-panel.png").await;
    assert!(s.emu.approve(&code), "emulator knows the code");
    wait_text(&c, "#signin-status", "Signed in", 15).await;
    click(&c, "#signin-done").await;
    wait_text(&c, "li.tenant .state", "Signed in", 10).await;
    wait_text(&c, "li.tenant .expiry", "expires in", 5).await;
    screenshot(&c, "signed-in.png").await;
    // The app sealed the tokens with a key in the OS keyring, where the CLI (here a new core
    // engine with keyring storage) finds them.
    let engine = support::engine(&s.config);
    let token = support::stored_access_token(&engine, "contoso.onmicrosoft.com").await;
    assert!(s.config.join("vault.bin").exists());
    s.assert_no_plaintext_secrets(&[&token]);

    // Test connection shows the server version.
    click(&c, r#"li.tenant [data-act="test"]"#).await;
    wait_text(&c, "li.tenant .result", "Connection OK", 10).await;

    // Sign out.
    click(&c, r#"li.tenant [data-act="sign-out"]"#).await;
    wait_text(&c, "li.tenant .state", "Signed out", 10).await;

    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn declined_sign_in_says_so_and_offers_try_again() {
    let s = one_pinned_tenant().await;
    let (_driver, c) = open(&s.config, &[]).await;
    wait_text(&c, "li.tenant .name", "contoso", 15).await;
    click(&c, r#"li.tenant [data-act="sign-in"]"#).await;
    let code = wait_code(&c).await;
    assert!(s.emu.decline(&code));
    wait_text(&c, "#signin-error-title", "declined", 15).await;
    let retry = c.find(Locator::Css("#signin-retry")).await.expect("retry");
    assert!(retry.is_displayed().await.unwrap_or(false));
    screenshot(&c, "sign-in-declined.png").await;
    s.assert_no_plaintext_secrets(&[]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn add_tenant_with_validation_and_trust_on_first_use() {
    let emu = Emulators::start(EmulatorOptions::default())
        .await
        .expect("emulators");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_driver, c) = open(dir.path(), &[]).await;
    wait_text(&c, "#empty", "No tenant yet", 15).await;

    let fill = |css: &'static str, value: String| {
        let c = c.clone();
        async move {
            let e = c.find(Locator::Css(css)).await.expect(css);
            e.clear().await.expect("clear");
            e.send_keys(&value).await.expect("type");
        }
    };
    click(&c, "#add-tenant").await;
    fill("#f-name", "contoso.onmicrosoft.com".into()).await;
    fill("#f-server", "http://vbm.example.com".into()).await;
    click(&c, "#tenant-save").await;
    // http to a remote host is refused, next to the server field.
    wait_text(&c, r#".field-error[data-for="server"]"#, "https", 5).await;

    fill("#f-server", emu.vbm_url()).await;
    click(&c, r#"#f-authority-preset option[value="custom"]"#).await;
    fill("#f-authority", emu.ms_url()).await;
    click(&c, "#tenant-save").await;

    // First connection: the trust dialog shows the emulator's certificate fingerprint.
    let shown = wait_text(&c, "#trust-fingerprint", ":", 10).await;
    assert_eq!(shown.replace(':', "").to_lowercase(), emu.cert_sha256());
    screenshot(&c, "trust-dialog.png").await;
    click(&c, "#trust-ok").await;
    wait_text(&c, "#notice", "trusted", 5).await;
    let config = std::fs::read_to_string(dir.path().join("config.json")).expect("config");
    assert!(config.contains(&emu.cert_sha256()), "{config}");
    wait_text(&c, "li.tenant .name", "contoso.onmicrosoft.com", 5).await;
    support::assert_no_plaintext_secrets(dir.path(), &[]);
    let _ = c.close().await;
}

// ----- signed-in tenants, switching, copying and refreshing, error paths -----------------------

/// Waits until the sign-in panel shows a user code.
async fn wait_code(c: &Client) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let code = text_of(c, "#signin-code").await;
        if !code.trim().is_empty() {
            return code.trim().to_string();
        }
        assert!(Instant::now() < deadline, "no user code shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for the sign-in panel's failure and checks it offers "Try again": (title, message).
async fn wait_failure(c: &Client, title: &str) -> (String, String) {
    let title = wait_text(c, "#signin-error-title", title, 15).await;
    let message = text_of(c, "#signin-error-message").await;
    let retry = c.find(Locator::Css("#signin-retry")).await.expect("retry");
    assert!(retry.is_displayed().await.unwrap_or(false), "no Try again");
    (title, message)
}

/// Opens the window on `s` and starts a sign-in of `tenant` from its row: the user code shown.
async fn start_sign_in(s: &Setup, tenant: &str) -> (support::webdriver::Driver, Client, String) {
    let (driver, c) = open(&s.config, &[]).await;
    wait_text(&c, "li.tenant .name", tenant, 15).await;
    click(&c, &row_button(tenant, "sign-in")).await;
    let code = wait_code(&c).await;
    (driver, c, code)
}

/// The X11 CLIPBOARD selection, read with xclip.
fn clipboard() -> String {
    let out = Command::new("timeout")
        .args(["5", "xclip", "-o", "-selection", "clipboard"])
        .output()
        .expect("run xclip (apt-get install xclip)");
    assert!(
        out.status.success(),
        "xclip: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 clipboard")
}

const A: &str = "a.example.onmicrosoft.com";
const B: &str = "b.example.onmicrosoft.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn copy_access_token_puts_it_on_the_clipboard_only() {
    let s = Setup::signed_in(3600, A).await;
    let token = s.token(A).await;

    let (_driver, c) = open(&s.config, &[]).await;
    wait_text(&c, "li.tenant .state", "Signed in", 15).await;
    click(&c, &row_button(A, "copy")).await;
    wait_text(
        &c,
        "li.tenant .result",
        "Access token copied to the clipboard",
        10,
    )
    .await;
    assert_eq!(clipboard(), token, "the clipboard holds the stored token");
    // Copying happens in Rust: the token never reaches the page.
    let page = c.source().await.expect("page source");
    assert!(!page.contains(&token), "the token reached the web UI");
    s.assert_no_plaintext_secrets(&[&token]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn make_another_tenant_active_in_the_window() {
    let s = Setup::new(3600).await;
    s.add_tenant(A, true);
    s.add_tenant(B, false);

    let (_driver, c) = open(&s.config, &[]).await;
    let badge = |name: &str| format!(r#"li.tenant[data-name="{name}"] .active-badge"#);
    let shown = |css: String| {
        let c = c.clone();
        async move {
            match c.find(Locator::Css(&css)).await {
                Ok(e) => e.is_displayed().await.unwrap_or(false),
                Err(_) => false,
            }
        }
    };
    wait_text(&c, &format!(r#"li.tenant[data-name="{B}"] .name"#), B, 15).await;
    assert!(shown(badge(A)).await && !shown(badge(B)).await);
    assert!(!offered(&c, A, "activate").await);

    click(&c, &row_button(B, "activate")).await;
    wait_text(&c, "#notice", "is now the active tenant", 10).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while shown(badge(A)).await || !shown(badge(B)).await {
        assert!(Instant::now() < deadline, "B is not marked active");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let class = c
        .find(Locator::Css(&format!(r#"li.tenant[data-name="{B}"]"#)))
        .await
        .expect("row B")
        .attr("class")
        .await
        .expect("class")
        .unwrap_or_default();
    assert!(class.contains("is-active"), "{class}");
    assert!(offered(&c, A, "activate").await);
    assert!(!offered(&c, B, "activate").await);
    // Saved for the CLI too.
    assert_eq!(
        s.engine.config().expect("config").active_tenant.as_deref(),
        Some(B)
    );
    s.assert_no_plaintext_secrets(&[]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn refresh_now_in_the_window_sends_exactly_one_refresh() {
    let s = Setup::signed_in(3600, A).await;

    let (_driver, c) = open(&s.config, &[]).await;
    wait_text(&c, "li.tenant .state", "Signed in", 15).await;
    s.emu.clear_requests();
    click(&c, &row_button(A, "refresh")).await;
    wait_text(&c, "li.tenant .result", "Token refreshed", 10).await;
    // Give a duplicate (double dispatch, background refresh) time to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(support::vbm_refreshes(&s.emu).len(), 1);
    assert_eq!(support::all_refreshes(&s.emu).len(), 1);
    assert_eq!(support::token_requests(&s.emu).len(), 1, "only the refresh");
    let token = s.token(A).await;
    s.assert_no_plaintext_secrets(&[&token]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn refresh_now_while_the_server_is_throttled_keeps_the_tokens_and_says_why() {
    let s = Setup::signed_in(3600, A).await;
    let before = s.token(A).await;

    let (_driver, c) = open(&s.config, &[]).await;
    wait_text(&c, "li.tenant .state", "Signed in", 15).await;
    s.emu.clear_requests();
    // The proxy in front of the server throttles every attempt of one click (429 with an nginx
    // page and Retry-After: 2); the app retries within the click, as many times as its policy
    // allows, then gives up.
    let attempts = RetryPolicy::default().attempts;
    s.emu.inject_fault(
        Fault::Throttled {
            retry_after_secs: 2,
        },
        attempts,
    );
    click(&c, &row_button(A, "refresh")).await;
    let shown = wait_text(&c, "li.tenant .result", "The stored tokens were kept", 60).await;
    assert!(
        shown.starts_with("The server is busy (too many requests): "),
        "{shown}"
    );
    assert!(!shown.contains("Something went wrong"), "{shown}");
    assert!(shown.contains("HTTP 429"), "{shown}");
    assert!(
        !shown.contains('<'),
        "the proxy's HTML page is shown: {shown}"
    );
    let class = c
        .find(Locator::Css("li.tenant .result"))
        .await
        .expect("result")
        .attr("class")
        .await
        .expect("class")
        .unwrap_or_default();
    assert!(class.contains("error"), "{class}");
    // Retried with the same (kept) refresh token, never sooner than Retry-After; no silent
    // re-sign-in, which a dropped token would have started.
    let tried = support::vbm_refreshes(&s.emu);
    assert_eq!(tried.len(), attempts as usize, "{shown}");
    assert!(
        tried
            .windows(2)
            .all(|w| w[1].at - w[0].at >= Duration::from_millis(1900)),
        "Retry-After not honoured"
    );
    assert_eq!(support::token_requests(&s.emu).len(), tried.len());
    assert!(
        s.token(A).await == before,
        "the stored access token changed"
    );
    let row = s.engine.status().expect("status").remove(0);
    assert_eq!(row.state, TenantState::SignedIn, "{row:?}");
    wait_text(&c, "li.tenant .state", "Signed in", 5).await;

    // The server is fine again: the next click renews the kept tokens.
    click(&c, &row_button(A, "refresh")).await;
    wait_text(&c, "li.tenant .result", "Token refreshed", 15).await;
    let after = s.token(A).await;
    assert!(after != before, "the access token was not renewed");
    assert_eq!(s.emu.stats().get("vbm_tokens_issued"), Some(&1));
    s.assert_no_plaintext_secrets(&[&before, &after]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn plain_file_storage_is_used_and_warned_about() {
    let s = Setup::with_storage(3600, StorageChoice::PlainFile).await;
    s.add_tenant(A, true);
    s.sign_in(A).await;
    let before = s.token(A).await;

    let (_driver, c) = open(&s.config, &[("VBM365_AUTH_STORAGE", "file")]).await;
    // The app reads the plain file (a keyring vault would show "Signed out") and says so.
    wait_text(&c, "li.tenant .state", "Signed in", 15).await;
    wait_text(&c, "#plaintext-warning", "plain file", 5).await;
    click(&c, &row_button(A, "refresh")).await;
    wait_text(&c, "li.tenant .result", "Token refreshed", 15).await;
    let after = s.token(A).await;
    assert!(
        after != before,
        "the renewed tokens are not in the plain file"
    );
    let plain = std::fs::read_to_string(s.config.join("secrets.json")).expect("secrets.json");
    assert!(plain.contains(&after));
    assert!(!s.config.join("vault.bin").exists());
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn conditional_access_block_is_explained() {
    let s = Setup::new(3600).await;
    s.add_tenant(A, true);

    let (_driver, c, code) = start_sign_in(&s, A).await;
    assert!(s.emu.block(&code, 53003));
    let (_, message) = wait_failure(&c, "Blocked by a Conditional Access policy").await;
    assert!(message.contains("Conditional Access"), "{message}");
    assert!(message.contains("browser sign-in"), "{message}");
    s.assert_no_plaintext_secrets(&[]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn tenant_authentication_disabled_is_explained() {
    let s = Setup::new(3600).await;
    s.emu.set_tenant_auth_enabled(false);
    s.add_tenant(A, true);

    let (_driver, c, code) = start_sign_in(&s, A).await;
    assert!(s.emu.approve(&code));
    let (_, message) =
        wait_failure(&c, "The VBM365 server refused the organization's sign-in").await;
    assert!(
        message.contains("Enable tenant authentication"),
        "{message}"
    );
    wait_text(&c, "li.tenant .state", "Signed out", 5).await;
    s.assert_no_plaintext_secrets(&[]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn certificate_mismatch_is_a_hard_error_naming_both_fingerprints() {
    let s = Setup::new(3600).await;
    let wrong_pin = "ab".repeat(32);
    support::add_tenant_pinned(&s.engine, &s.emu, A, true, &wrong_pin);

    let (_driver, c) = open(&s.config, &[]).await;
    wait_text(&c, "li.tenant .name", A, 15).await;
    click(&c, &row_button(A, "sign-in")).await;
    let (_, message) = wait_failure(&c, "The server certificate changed").await;
    assert!(message.contains(&s.emu.cert_sha256()), "{message}");
    assert!(message.contains(&wrong_pin), "{message}");
    // Not offered as a "trust this server?" question, and no Microsoft sign-in was started.
    assert!(c.find(Locator::Css("#trust-dialog[open]")).await.is_err());
    assert!(
        s.emu.device_codes().is_empty(),
        "a device code was requested"
    );
    let config = std::fs::read_to_string(s.config.join("config.json")).expect("config");
    assert!(
        !config.contains(&s.emu.cert_sha256()),
        "the new certificate got pinned"
    );
    s.assert_no_plaintext_secrets(&[]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn unreachable_server_is_explained() {
    let s = Setup::new(3600).await;
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut profile = TenantProfile::new(A, &format!("https://127.0.0.1:{port}")).expect("profile");
    profile.authority = s.emu.ms_url().parse().expect("authority");
    s.engine
        .add_tenant(profile, Some(&s.emu.cert_sha256()), true)
        .expect("add tenant");

    // Microsoft answers; the VBM365 server does not, which shows at the exchange.
    let (_driver, c, code) = start_sign_in(&s, A).await;
    assert!(s.emu.approve(&code));
    let (_, message) = wait_failure(&c, "The server cannot be reached").await;
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("Check the server address"), "{message}");
    s.assert_no_plaintext_secrets(&[]);
    let _ = c.close().await;
}
