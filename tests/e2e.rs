//! End to end in the real window: the built `vbm365-auth-app` driven through `tauri-driver`
//! (WebKitWebDriver) with fantoccini, against the local emulators.
//!
//! Needs an X display, `tauri-driver` (`cargo install tauri-driver --locked --version ^2`) and a
//! built app (`cargo build -p vbm365-auth-app`). Only one WebDriver session can run at a time, so
//! these tests are ignored by default and run serially:
//! `xvfb-run -a dbus-run-session -- cargo test -p vbm365-auth-app --test e2e -- --ignored --test-threads=1`

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use vbm365_auth_core::{Engine, EngineOptions, StorageChoice, TenantProfile};
use vbm365_emulator::{EmulatorOptions, Emulators};

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
    fn start(config_dir: &Path) -> Driver {
        let child = Command::new(tauri_driver())
            .env("VBM365_AUTH_CONFIG_DIR", config_dir)
            .env("VBM365_AUTH_STORAGE", "file")
            .spawn()
            .expect("start tauri-driver");
        Driver(child)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
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
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(DRIVER)
            .await
        {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn sign_in_through_the_window_then_sign_out() {
    let emu = Emulators::start(EmulatorOptions {
        device_code_interval: Some(1),
        ..EmulatorOptions::default()
    })
    .await
    .expect("emulators");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = EngineOptions::from_env(Some(dir.path().to_path_buf())).expect("options");
    opts.storage = StorageChoice::PlainFile;
    let engine = Engine::open(opts).expect("engine");
    let mut profile =
        TenantProfile::new("contoso.onmicrosoft.com", &emu.vbm_url()).expect("profile");
    profile.authority = emu.ms_url().parse().expect("authority");
    engine
        .add_tenant(profile, Some(&emu.cert_sha256()), true)
        .expect("add tenant");

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
    c.find(Locator::Css(r#"li.tenant [data-act="sign-in"]"#))
        .await
        .expect("sign-in button")
        .click()
        .await
        .expect("click");
    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        let code = text_of(&c, "#signin-code").await;
        if !code.trim().is_empty() {
            break code.trim().to_string();
        }
        assert!(Instant::now() < deadline, "no user code shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
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
    let emu = Emulators::start(EmulatorOptions {
        device_code_interval: Some(1),
        ..EmulatorOptions::default()
    })
    .await
    .expect("emulators");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = EngineOptions::from_env(Some(dir.path().to_path_buf())).expect("options");
    opts.storage = StorageChoice::PlainFile;
    let engine = Engine::open(opts).expect("engine");
    let mut profile =
        TenantProfile::new("contoso.onmicrosoft.com", &emu.vbm_url()).expect("profile");
    profile.authority = emu.ms_url().parse().expect("authority");
    engine
        .add_tenant(profile, Some(&emu.cert_sha256()), true)
        .expect("add tenant");

    let _driver = Driver::start(dir.path());
    let c = connect().await;
    wait_text(&c, "li.tenant .name", "contoso", Duration::from_secs(15)).await;
    c.find(Locator::Css(r#"li.tenant [data-act="sign-in"]"#))
        .await
        .expect("sign-in button")
        .click()
        .await
        .expect("click");
    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        let code = text_of(&c, "#signin-code").await;
        if !code.trim().is_empty() {
            break code.trim().to_string();
        }
        assert!(Instant::now() < deadline, "no user code shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
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
    let _ = c.close().await;
}
