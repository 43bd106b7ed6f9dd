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

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use vbm365_auth_core::failure::RetryPolicy;
use vbm365_auth_core::{StorageChoice, TenantProfile, TenantState};
use vbm365_emulator::{EmulatorOptions, Emulators, Fault};

const DRIVER: &str = "http://127.0.0.1:4444";

fn app_binary() -> PathBuf {
    // tests run from target/debug/deps: the app binary is one level up.
    let exe = std::env::current_exe().expect("test exe");
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("vbm365-auth-app"))
        .expect("target dir")
}

fn tauri_driver() -> PathBuf {
    std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"))
        })
        .expect("tauri-driver path")
}

/// tauri-driver, stopped (SIGTERM, which also stops WebKitWebDriver) on drop.
struct Driver(Child);

impl Driver {
    /// tauri-driver for an app on `config_dir` with its default storage (the OS keyring) and
    /// retry settings: the app inherits this environment.
    fn start(config_dir: &Path) -> Driver {
        Driver::start_with_env(config_dir, &[])
    }

    /// [`Driver::start`] with more environment variables for the app.
    fn start_with_env(config_dir: &Path, env: &[(&str, &str)]) -> Driver {
        let child = Command::new(tauri_driver())
            .env("VBM365_AUTH_CONFIG_DIR", config_dir)
            .env_remove("VBM365_AUTH_STORAGE")
            .env_remove("VBM365_AUTH_RETRY_BUDGET")
            .env_remove("VBM365_AUTH_HTTP_TIMEOUT")
            .envs(env.iter().copied())
            .spawn()
            .expect("start tauri-driver");
        Driver(child)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The app runs under WebKitWebDriver. A test that fails never closes its session, and an
        // app left running keeps the single-instance lock: the next test's app would hand over to
        // it and exit, and that test's session would never start. So the whole tree goes.
        let tree = support::procs::descendants(self.0.id());
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
        support::terminate(&tree);
    }
}

async fn connect() -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "tauri:options".into(),
        json!({ "application": app_binary() }),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut builder = ClientBuilder::native();
        let attempt = builder.capabilities(caps.clone()).connect(DRIVER);
        // WebKitWebDriver waits for ever for an app that exited at once (e.g. because another
        // instance of it is running).
        let Ok(result) = tokio::time::timeout(Duration::from_secs(20), attempt).await else {
            panic!(
                "no WebDriver session after 20 s: did the app start (is another instance running)?"
            );
        };
        match result {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("cannot start a WebDriver session: {e}"),
        }
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the element's text contains `want`.
async fn wait_text(c: &Client, css: &str, want: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let t = text_of(c, css).await;
        if t.contains(want) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{css}: wanted '{want}', have '{t}'"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn save_screenshot(name: &str, png: &[u8]) {
    if let Some(dir) = std::env::var_os("VBM365_SCREENSHOTS") {
        let _ = std::fs::write(PathBuf::from(dir).join(name), png);
    }
}

/// Emulators (1 s poll interval) and a config dir holding `contoso.onmicrosoft.com`, active and
/// pinned to the emulator's certificate.
async fn one_pinned_tenant() -> (Emulators, tempfile::TempDir) {
    let emu = Emulators::start(EmulatorOptions {
        device_code_interval: Some(1),
        ..EmulatorOptions::default()
    })
    .await
    .expect("emulators");
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = support::engine(dir.path());
    support::add_tenant(&engine, &emu, "contoso.onmicrosoft.com", true);
    (emu, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn sign_in_through_the_window_then_sign_out() {
    let (emu, dir) = one_pinned_tenant().await;

    let _driver = Driver::start(dir.path());
    let c = connect().await;

    // The list shows the tenant, signed out.
    wait_text(
        &c,
        "li.tenant .name",
        "contoso.onmicrosoft.com",
        Duration::from_secs(15),
    )
    .await;
    wait_text(&c, "li.tenant .state", "Signed out", Duration::from_secs(5)).await;

    // Sign in: the panel shows the user code; approve it at the emulator.
    click(&c, r#"li.tenant [data-act="sign-in"]"#).await;
    let code = wait_code(&c).await;
    let uri = text_of(&c, "#signin-uri").await;
    assert!(uri.starts_with(&emu.ms_url()), "{uri}");
    wait_text(&c, "#signin-status", "Waiting", Duration::from_secs(5)).await;
    save_screenshot(
        "sign-in-panel.png",
        &c.screenshot().await.unwrap_or_default(),
    );
    assert!(emu.approve(&code), "emulator knows the code");
    wait_text(&c, "#signin-status", "Signed in", Duration::from_secs(15)).await;
    c.find(Locator::Css("#signin-done"))
        .await
        .expect("done")
        .click()
        .await
        .expect("click");
    wait_text(&c, "li.tenant .state", "Signed in", Duration::from_secs(10)).await;
    wait_text(
        &c,
        "li.tenant .expiry",
        "expires in",
        Duration::from_secs(5),
    )
    .await;
    save_screenshot("signed-in.png", &c.screenshot().await.unwrap_or_default());
    // The app sealed the tokens with a key in the OS keyring, where the CLI (here the core engine
    // with keyring storage) finds them.
    let engine = support::engine(dir.path());
    let token = support::stored_access_token(&engine, "contoso.onmicrosoft.com").await;
    assert!(dir.path().join("vault.bin").exists());
    support::assert_no_plaintext_secrets(dir.path(), &[&token]);

    // Test connection shows the server version.
    c.find(Locator::Css(r#"li.tenant [data-act="test"]"#))
        .await
        .expect("test button")
        .click()
        .await
        .expect("click");
    wait_text(
        &c,
        "li.tenant .result",
        "Connection OK",
        Duration::from_secs(10),
    )
    .await;

    // Sign out.
    c.find(Locator::Css(r#"li.tenant [data-act="sign-out"]"#))
        .await
        .expect("sign-out button")
        .click()
        .await
        .expect("click");
    wait_text(
        &c,
        "li.tenant .state",
        "Signed out",
        Duration::from_secs(10),
    )
    .await;

    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn declined_sign_in_says_so_and_offers_try_again() {
    let (emu, dir) = one_pinned_tenant().await;

    let _driver = Driver::start(dir.path());
    let c = connect().await;
    wait_text(&c, "li.tenant .name", "contoso", Duration::from_secs(15)).await;
    click(&c, r#"li.tenant [data-act="sign-in"]"#).await;
    let code = wait_code(&c).await;
    assert!(emu.decline(&code));
    wait_text(
        &c,
        "#signin-error-title",
        "declined",
        Duration::from_secs(15),
    )
    .await;
    let retry = c.find(Locator::Css("#signin-retry")).await.expect("retry");
    assert!(retry.is_displayed().await.unwrap_or(false));
    save_screenshot(
        "sign-in-declined.png",
        &c.screenshot().await.unwrap_or_default(),
    );
    support::assert_no_plaintext_secrets(dir.path(), &[]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn add_tenant_with_validation_and_trust_on_first_use() {
    let emu = Emulators::start(EmulatorOptions::default())
        .await
        .expect("emulators");
    let dir = tempfile::tempdir().expect("tempdir");
    let _driver = Driver::start(dir.path());
    let c = connect().await;
    wait_text(&c, "#empty", "No tenant yet", Duration::from_secs(15)).await;

    let fill = |css: &'static str, value: String| {
        let c = c.clone();
        async move {
            let e = c.find(Locator::Css(css)).await.expect(css);
            e.clear().await.expect("clear");
            e.send_keys(&value).await.expect("type");
        }
    };
    c.find(Locator::Css("#add-tenant"))
        .await
        .expect("add")
        .click()
        .await
        .expect("click");
    fill("#f-name", "contoso.onmicrosoft.com".into()).await;
    fill("#f-server", "http://vbm.example.com".into()).await;
    c.find(Locator::Css("#tenant-save"))
        .await
        .expect("save")
        .click()
        .await
        .expect("click");
    // http to a remote host is refused, next to the server field.
    wait_text(
        &c,
        r#".field-error[data-for="server"]"#,
        "https",
        Duration::from_secs(5),
    )
    .await;

    fill("#f-server", emu.vbm_url()).await;
    c.find(Locator::Css(
        r#"#f-authority-preset option[value="custom"]"#,
    ))
    .await
    .expect("custom option")
    .click()
    .await
    .expect("select custom");
    fill("#f-authority", emu.ms_url()).await;
    c.find(Locator::Css("#tenant-save"))
        .await
        .expect("save")
        .click()
        .await
        .expect("click");

    // First connection: the trust dialog shows the emulator's certificate fingerprint.
    let shown = wait_text(&c, "#trust-fingerprint", ":", Duration::from_secs(10)).await;
    assert_eq!(shown.replace(':', "").to_lowercase(), emu.cert_sha256());
    save_screenshot(
        "trust-dialog.png",
        &c.screenshot().await.unwrap_or_default(),
    );
    c.find(Locator::Css("#trust-ok"))
        .await
        .expect("trust")
        .click()
        .await
        .expect("click");
    wait_text(&c, "#notice", "trusted", Duration::from_secs(5)).await;
    let config = std::fs::read_to_string(dir.path().join("config.json")).expect("config");
    assert!(config.contains(&emu.cert_sha256()), "{config}");
    wait_text(
        &c,
        "li.tenant .name",
        "contoso.onmicrosoft.com",
        Duration::from_secs(5),
    )
    .await;
    support::assert_no_plaintext_secrets(dir.path(), &[]);
    let _ = c.close().await;
}

// ----- signed-in tenants, switching, copying and refreshing, error paths -----------------------

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// The row button `act` of tenant `name`.
fn row_button(name: &str, act: &str) -> String {
    format!(r#"li.tenant[data-name="{name}"] [data-act="{act}"]"#)
}

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
    let title = wait_text(c, "#signin-error-title", title, Duration::from_secs(15)).await;
    let message = text_of(c, "#signin-error-message").await;
    let retry = c.find(Locator::Css("#signin-retry")).await.expect("retry");
    assert!(retry.is_displayed().await.unwrap_or(false), "no Try again");
    (title, message)
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
    let emu = support::emulators(3600).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = support::engine(dir.path());
    support::add_tenant(&engine, &emu, A, true);
    support::sign_in(&engine, &emu, A).await;
    let token = support::stored_access_token(&engine, A).await;

    let _driver = Driver::start(dir.path());
    let c = connect().await;
    wait_text(&c, "li.tenant .state", "Signed in", Duration::from_secs(15)).await;
    click(&c, &row_button(A, "copy")).await;
    wait_text(
        &c,
        "li.tenant .result",
        "Access token copied to the clipboard",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(clipboard(), token, "the clipboard holds the stored token");
    // Copying happens in Rust: the token never reaches the page.
    let page = c.source().await.expect("page source");
    assert!(!page.contains(&token), "the token reached the web UI");
    support::assert_no_plaintext_secrets(dir.path(), &[&token]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn make_another_tenant_active_in_the_window() {
    let emu = support::emulators(3600).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = support::engine(dir.path());
    support::add_tenant(&engine, &emu, A, true);
    support::add_tenant(&engine, &emu, B, false);

    let _driver = Driver::start(dir.path());
    let c = connect().await;
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
    wait_text(
        &c,
        &format!(r#"li.tenant[data-name="{B}"] .name"#),
        B,
        Duration::from_secs(15),
    )
    .await;
    assert!(shown(badge(A)).await && !shown(badge(B)).await);
    assert!(!shown(row_button(A, "activate")).await);

    click(&c, &row_button(B, "activate")).await;
    wait_text(
        &c,
        "#notice",
        "is now the active tenant",
        Duration::from_secs(10),
    )
    .await;
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
    assert!(shown(row_button(A, "activate")).await);
    assert!(!shown(row_button(B, "activate")).await);
    // Saved for the CLI too.
    assert_eq!(
        engine.config().expect("config").active_tenant.as_deref(),
        Some(B)
    );
    support::assert_no_plaintext_secrets(dir.path(), &[]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn refresh_now_in_the_window_sends_exactly_one_refresh() {
    let emu = support::emulators(3600).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = support::engine(dir.path());
    support::add_tenant(&engine, &emu, A, true);
    support::sign_in(&engine, &emu, A).await;

    let _driver = Driver::start(dir.path());
    let c = connect().await;
    wait_text(&c, "li.tenant .state", "Signed in", Duration::from_secs(15)).await;
    emu.clear_requests();
    click(&c, &row_button(A, "refresh")).await;
    wait_text(
        &c,
        "li.tenant .result",
        "Token refreshed",
        Duration::from_secs(10),
    )
    .await;
    // Give a duplicate (double dispatch, background refresh) time to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(support::vbm_refreshes(&emu).len(), 1);
    assert_eq!(support::all_refreshes(&emu).len(), 1);
    assert_eq!(support::token_requests(&emu).len(), 1, "only the refresh");
    let token = support::stored_access_token(&engine, A).await;
    support::assert_no_plaintext_secrets(dir.path(), &[&token]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn refresh_now_while_the_server_is_throttled_keeps_the_tokens_and_says_why() {
    let emu = support::emulators(3600).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = support::engine(dir.path());
    support::add_tenant(&engine, &emu, A, true);
    support::sign_in(&engine, &emu, A).await;
    let before = support::stored_access_token(&engine, A).await;

    let _driver = Driver::start(dir.path());
    let c = connect().await;
    wait_text(&c, "li.tenant .state", "Signed in", Duration::from_secs(15)).await;
    emu.clear_requests();
    // The proxy in front of the server throttles every attempt of one click (429 with an nginx
    // page and Retry-After: 2); the app retries within the click, as many times as its policy
    // allows, then gives up.
    let attempts = RetryPolicy::default().attempts;
    emu.inject_fault(
        Fault::Throttled {
            retry_after_secs: 2,
        },
        attempts,
    );
    click(&c, &row_button(A, "refresh")).await;
    let shown = wait_text(
        &c,
        "li.tenant .result",
        "The stored tokens were kept",
        Duration::from_secs(60),
    )
    .await;
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
    let tried = support::vbm_refreshes(&emu);
    assert_eq!(tried.len(), attempts as usize, "{shown}");
    assert!(
        tried
            .windows(2)
            .all(|w| w[1].at - w[0].at >= Duration::from_millis(1900)),
        "Retry-After not honoured"
    );
    assert_eq!(support::token_requests(&emu).len(), tried.len());
    assert!(
        support::stored_access_token(&engine, A).await == before,
        "the stored access token changed"
    );
    let row = engine.status().expect("status").remove(0);
    assert_eq!(row.state, TenantState::SignedIn, "{row:?}");
    wait_text(&c, "li.tenant .state", "Signed in", Duration::from_secs(5)).await;

    // The server is fine again: the next click renews the kept tokens.
    click(&c, &row_button(A, "refresh")).await;
    wait_text(
        &c,
        "li.tenant .result",
        "Token refreshed",
        Duration::from_secs(15),
    )
    .await;
    let after = support::stored_access_token(&engine, A).await;
    assert!(after != before, "the access token was not renewed");
    assert_eq!(emu.stats().get("vbm_tokens_issued"), Some(&1));
    support::assert_no_plaintext_secrets(dir.path(), &[&before, &after]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn plain_file_storage_is_used_and_warned_about() {
    let emu = support::emulators(3600).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = support::engine_with(dir.path(), StorageChoice::PlainFile);
    support::add_tenant(&engine, &emu, A, true);
    support::sign_in(&engine, &emu, A).await;
    let before = support::stored_access_token(&engine, A).await;

    let _driver = Driver::start_with_env(dir.path(), &[("VBM365_AUTH_STORAGE", "file")]);
    let c = connect().await;
    // The app reads the plain file (a keyring vault would show "Signed out") and says so.
    wait_text(&c, "li.tenant .state", "Signed in", Duration::from_secs(15)).await;
    wait_text(
        &c,
        "#plaintext-warning",
        "plain file",
        Duration::from_secs(5),
    )
    .await;
    click(&c, &row_button(A, "refresh")).await;
    wait_text(
        &c,
        "li.tenant .result",
        "Token refreshed",
        Duration::from_secs(15),
    )
    .await;
    let after = support::stored_access_token(&engine, A).await;
    assert!(
        after != before,
        "the renewed tokens are not in the plain file"
    );
    let plain = std::fs::read_to_string(dir.path().join("secrets.json")).expect("secrets.json");
    assert!(plain.contains(&after));
    assert!(!dir.path().join("vault.bin").exists());
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn conditional_access_block_is_explained() {
    let emu = support::emulators(3600).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = support::engine(dir.path());
    support::add_tenant(&engine, &emu, A, true);

    let _driver = Driver::start(dir.path());
    let c = connect().await;
    wait_text(&c, "li.tenant .name", A, Duration::from_secs(15)).await;
    click(&c, &row_button(A, "sign-in")).await;
    let code = wait_code(&c).await;
    assert!(emu.block(&code, 53003));
    let (_, message) = wait_failure(&c, "Blocked by a Conditional Access policy").await;
    assert!(message.contains("Conditional Access"), "{message}");
    assert!(message.contains("administrator"), "{message}");
    support::assert_no_plaintext_secrets(dir.path(), &[]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn tenant_authentication_disabled_is_explained() {
    let emu = support::emulators(3600).await;
    emu.set_tenant_auth_enabled(false);
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = support::engine(dir.path());
    support::add_tenant(&engine, &emu, A, true);

    let _driver = Driver::start(dir.path());
    let c = connect().await;
    wait_text(&c, "li.tenant .name", A, Duration::from_secs(15)).await;
    click(&c, &row_button(A, "sign-in")).await;
    let code = wait_code(&c).await;
    assert!(emu.approve(&code));
    let (_, message) =
        wait_failure(&c, "The VBM365 server refused the organization's sign-in").await;
    assert!(
        message.contains("Enable tenant authentication"),
        "{message}"
    );
    wait_text(&c, "li.tenant .state", "Signed out", Duration::from_secs(5)).await;
    support::assert_no_plaintext_secrets(dir.path(), &[]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn certificate_mismatch_is_a_hard_error_naming_both_fingerprints() {
    let emu = support::emulators(3600).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = support::engine(dir.path());
    let wrong_pin = "ab".repeat(32);
    support::add_tenant_pinned(&engine, &emu, A, true, &wrong_pin);

    let _driver = Driver::start(dir.path());
    let c = connect().await;
    wait_text(&c, "li.tenant .name", A, Duration::from_secs(15)).await;
    click(&c, &row_button(A, "sign-in")).await;
    let (_, message) = wait_failure(&c, "The server certificate changed").await;
    assert!(message.contains(&emu.cert_sha256()), "{message}");
    assert!(message.contains(&wrong_pin), "{message}");
    // Not offered as a "trust this server?" question, and no Microsoft sign-in was started.
    assert!(c.find(Locator::Css("#trust-dialog[open]")).await.is_err());
    assert!(emu.device_codes().is_empty(), "a device code was requested");
    let config = std::fs::read_to_string(dir.path().join("config.json")).expect("config");
    assert!(
        !config.contains(&emu.cert_sha256()),
        "the new certificate got pinned"
    );
    support::assert_no_plaintext_secrets(dir.path(), &[]);
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn unreachable_server_is_explained() {
    let emu = support::emulators(3600).await;
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = support::engine(dir.path());
    let mut profile = TenantProfile::new(A, &format!("https://127.0.0.1:{port}")).expect("profile");
    profile.authority = emu.ms_url().parse().expect("authority");
    engine
        .add_tenant(profile, Some(&emu.cert_sha256()), true)
        .expect("add tenant");

    let _driver = Driver::start(dir.path());
    let c = connect().await;
    wait_text(&c, "li.tenant .name", A, Duration::from_secs(15)).await;
    click(&c, &row_button(A, "sign-in")).await;
    // Microsoft answers; the VBM365 server does not, which shows at the exchange.
    let code = wait_code(&c).await;
    assert!(emu.approve(&code));
    let (_, message) = wait_failure(&c, "The server cannot be reached").await;
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("Check the server address"), "{message}");
    support::assert_no_plaintext_secrets(dir.path(), &[]);
    let _ = c.close().await;
}
