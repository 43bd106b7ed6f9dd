//! The browser sign-in and restore operators in the real window (WebDriver through
//! `tauri-driver`), against the emulators. The app opens Microsoft's page through the browser
//! launcher; here the launcher on PATH is a script that records the address, and the test plays
//! the browser: it loads that page at the emulator, approves, and delivers the redirect to the
//! app's loopback listener.
//!
//! `xvfb-run -a scripts/with-keyring cargo test -p vbm365-auth-app --test browser_signin -- --ignored --test-threads=1`

mod support;

use fantoccini::{Client, Locator};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::webdriver::{click, open, row_button, text_of, wait_text};
use support::Setup;
use vbm365_auth_core::{Role, SignInMethod, TenantProfile, TenantState};
use vbm365_emulator::browser;

const T: &str = "contoso.onmicrosoft.com";

/// A directory of fake browser launchers (the names the `open` crate tries) that append the
/// address they are given to `opened.log`.
struct Launcher {
    dir: tempfile::TempDir,
}

impl Launcher {
    fn new() -> Launcher {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("opened.log");
        let script = format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", log.display());
        for name in [
            "xdg-open",
            "gio",
            "gnome-open",
            "kde-open",
            "wslview",
            "x-www-browser",
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, &script).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        Launcher { dir }
    }

    /// PATH and BROWSER for the app.
    fn env(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let browser: PathBuf = self.dir.path().join("xdg-open");
        vec![
            ("PATH".into(), path),
            ("BROWSER".into(), browser.display().to_string()),
        ]
    }

    /// The addresses opened so far, waiting up to 15 s for the `n`th.
    async fn opened(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text =
                std::fs::read_to_string(self.dir.path().join("opened.log")).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            if lines.len() >= n {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "the app opened {lines:?}, not {n} page(s)"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn add(s: &Setup, role: Role, method: SignInMethod) {
    let mut p = TenantProfile::new(T, &s.emu.vbm_url()).unwrap();
    p.authority = s.emu.ms_url().parse().unwrap();
    p.role = role;
    p.sign_in_method = method;
    s.engine
        .add_tenant(p, Some(&s.emu.cert_sha256()), true)
        .unwrap();
}

async fn open_app(config: &Path, launcher: &Launcher) -> (support::webdriver::Driver, Client) {
    let env = launcher.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (driver, c) = open(config, &env).await;
    wait_text(&c, "li.tenant .name", T, 15).await;
    (driver, c)
}

/// Plays the browser on the page the app opened: approve, then the redirect to the app.
async fn approve_in_browser(url: &str) {
    let location = browser::choose(url, true).await.expect("approve");
    let page = browser::get(&location).await.expect("the app's listener");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("You can close this browser tab."));
    assert!(
        browser::get(&location).await.is_err(),
        "the listener took a second request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn a_browser_tenant_signs_in_through_the_page_the_app_opened() {
    let s = Setup::new(3600).await;
    add(&s, Role::Organization, SignInMethod::Browser);
    let launcher = Launcher::new();
    let (_driver, c) = open_app(&s.config, &launcher).await;
    wait_text(&c, "li.tenant .api", "browser sign-in", 5).await;
    click(&c, &row_button(T, "sign-in")).await;
    let url = launcher.opened(1).await.remove(0);
    assert!(url.starts_with(&s.emu.ms_url()), "{url}");
    // The panel shows the same address, and no user code.
    wait_text(&c, "#signin-browser-uri", &url[..60], 10).await;
    assert_eq!(text_of(&c, "#signin-code").await.trim(), "");
    wait_text(
        &c,
        "#signin-status",
        "approve the sign-in in the browser",
        5,
    )
    .await;
    approve_in_browser(&url).await;
    wait_text(&c, "#signin-status", "Signed in", 15).await;
    click(&c, "#signin-done").await;
    wait_text(&c, "li.tenant .state", "Signed in", 10).await;
    let row = s.engine.status().unwrap().remove(0);
    assert_eq!(row.state, TenantState::SignedIn);
    assert_eq!(s.emu.stats().get("ms_auth_code_redemptions"), Some(&1));
    // Cancel closes the listener of a sign-in still waiting for the browser.
    click(&c, &row_button(T, "sign-in")).await;
    let url = launcher.opened(2).await.remove(1);
    let redirect = browser::query_param(&url, "redirect_uri").unwrap();
    let probe = format!("{redirect}/favicon.ico");
    assert_eq!(browser::get(&probe).await.unwrap().status, 404, "listening");
    click(&c, "#signin-cancel").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser::get(&probe).await.is_ok() {
        assert!(Instant::now() < deadline, "still listening after Cancel");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn a_device_code_refused_by_conditional_access_is_one_click_from_the_browser_method() {
    let s = Setup::new(3600).await;
    add(&s, Role::Organization, SignInMethod::DeviceCode);
    let launcher = Launcher::new();
    let (_driver, c) = open_app(&s.config, &launcher).await;
    click(&c, &row_button(T, "sign-in")).await;
    let code = loop {
        let code = text_of(&c, "#signin-code").await;
        if !code.trim().is_empty() {
            break code.trim().to_string();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(s.emu.block(&code, 53003));
    wait_text(&c, "#signin-error-title", "Conditional Access", 15).await;
    let message = text_of(&c, "#signin-error-message").await;
    assert!(
        message.contains("browser sign-in may be allowed"),
        "{message}"
    );
    let button = c.find(Locator::Css("#signin-use-browser")).await.unwrap();
    assert!(button.is_displayed().await.unwrap());
    button.click().await.unwrap();
    let url = launcher.opened(1).await.remove(0);
    approve_in_browser(&url).await;
    wait_text(&c, "#signin-status", "Signed in", 15).await;
    // The tenant's own method is unchanged: the one click was for this sign-in.
    assert_eq!(
        s.engine.config().unwrap().tenants[0].sign_in_method,
        SignInMethod::DeviceCode
    );
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn a_restore_operator_signs_in_and_out_in_the_window() {
    let s = Setup::new(3600).await;
    s.emu.set_operator_auth_enabled(true);
    add(&s, Role::Operator, SignInMethod::Browser);
    let launcher = Launcher::new();
    let (_driver, c) = open_app(&s.config, &launcher).await;
    wait_text(&c, "li.tenant .api", "restore operator", 5).await;
    click(&c, &row_button(T, "sign-in")).await;
    let url = launcher.opened(1).await.remove(0);
    let app = s.emu.restore_portal_app_id();
    assert_eq!(browser::query_param(&url, "client_id"), Some(app.clone()));
    approve_in_browser(&url).await;
    wait_text(&c, "#signin-status", "Signed in", 15).await;
    click(&c, "#signin-done").await;
    wait_text(&c, "li.tenant .state", "Signed in", 10).await;
    assert_eq!(s.emu.stats().get("vbm_operator"), Some(&1));
    // Refresh now uses the operator's VBM365 refresh token like any other tenant's.
    click(&c, &row_button(T, "refresh")).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !s.emu.stats().contains_key("vbm_refresh") {
        assert!(Instant::now() < deadline, "no refresh");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    click(&c, &row_button(T, "sign-out")).await;
    wait_text(&c, "li.tenant .state", "Signed out", 10).await;
    // The Restore Portal turned off: the panel says so.
    s.emu.set_operator_auth_enabled(false);
    click(&c, &row_button(T, "sign-in")).await;
    wait_text(
        &c,
        "#signin-error-title",
        "Restore operator sign-in is disabled",
        15,
    )
    .await;
    let _ = c.close().await;
}
