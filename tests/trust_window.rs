//! Certificate trust in the real window, driven through `tauri-driver` (WebKitWebDriver) with
//! fantoccini against the local emulators: a server a trusted CA vouches for signs in without the
//! pin dialog; "Forget trusted certificate" (with its confirmation) forgets the CA, after which the
//! next sign-in asks again and "Trust this certificate" pins what the app probed.
//!
//! Needs an X display, a session bus with a Secret Service, `tauri-driver` and a built app; only
//! one WebDriver session can run at a time, so ignored by default and run serially:
//! `xvfb-run -a scripts/with-keyring cargo test -p vbm365-auth-app --test trust_window -- --ignored --test-threads=1`

mod support;

use fantoccini::Client;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use support::webdriver::{self, click, text_of, wait_text};
use vbm365_auth_core::TenantProfile;
use vbm365_emulator::{EmulatorOptions, Emulators};

const TENANT: &str = "contoso.onmicrosoft.com";

/// Runs `return <expr>` in the page.
async fn eval(c: &Client, expr: &str) -> Value {
    c.execute(&format!("return {expr};"), vec![])
        .await
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

async fn dialog_open(c: &Client, id: &str) -> bool {
    eval(c, &format!("document.getElementById('{id}').open")).await == json!(true)
}

async fn wait_dialog(c: &Client, id: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !dialog_open(c, id).await {
        assert!(Instant::now() < deadline, "#{id} never opened");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the sign-in panel shows a user code, checking all along that the trust dialog
/// stays closed.
async fn wait_code_without_trust_dialog(c: &Client) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(
            !dialog_open(c, "trust-dialog").await,
            "the pin dialog was offered: {}",
            text_of(c, "#trust-dialog").await
        );
        let code = text_of(c, "#signin-code").await;
        if !code.trim().is_empty() {
            return code.trim().to_string();
        }
        assert!(Instant::now() < deadline, "no user code shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn row_button(act: &str) -> String {
    webdriver::row_button(TENANT, act)
}

fn config(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("config.json")).expect("config");
    serde_json::from_str(&text).expect("json")
}

/// Bugs caught: the window offering to pin a certificate a trusted CA already vouches for
/// (`ca_trusted` ignored: the sign-in stops at a needless "trust?" question, and accepting it would
/// swap the CA for a pin); "Forget trusted certificate" missing, unconfirmed or forgetting nothing;
/// and the trust dialog's pin refused by the probe check (the window must send exactly what the
/// app probed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver; run with --ignored --test-threads=1"]
async fn a_ca_trusted_server_gets_no_pin_dialog_and_forgetting_it_asks_again() {
    support::require_desktop_session();
    let emu = Emulators::start(EmulatorOptions {
        device_code_interval: Some(1),
        ca_issued: true,
        ..EmulatorOptions::default()
    })
    .await
    .expect("emulators");
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = support::engine(dir.path());
    let mut profile = TenantProfile::new(TENANT, &emu.vbm_url()).expect("profile");
    profile.authority = emu.ms_url().parse().expect("authority");
    engine.add_tenant(profile, None, true).expect("add tenant");
    let pem = emu.ca_pem().expect("CA-issued emulator");
    engine
        .trust_ca(Some(TENANT), pem.as_bytes(), "corp-ca.pem")
        .await
        .expect("trust the CA");

    let (_driver, c) = webdriver::open(dir.path(), &[]).await;
    wait_text(&c, "li.tenant .name", TENANT, 15).await;
    assert!(
        webdriver::offered(&c, TENANT, "untrust").await,
        "CA trusted: Forget offered"
    );

    // Trusted through the CA: straight to the sign-in, no pin dialog.
    click(&c, &row_button("sign-in")).await;
    let code = wait_code_without_trust_dialog(&c).await;
    assert!(emu.approve(&code));
    wait_text(&c, "#signin-status", "Signed in", 15).await;
    click(&c, "#signin-done").await;
    assert!(
        config(dir.path())["trusted_certificates"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "nothing pinned beside the CA"
    );

    // Forget it: asked first; Cancel keeps it.
    click(&c, &row_button("untrust")).await;
    wait_dialog(&c, "confirm-dialog", Duration::from_secs(5)).await;
    let question = text_of(&c, "#confirm-text").await;
    let host_port = emu.vbm_url().trim_start_matches("https://").to_string();
    assert!(question.contains(&host_port), "{question}");
    click(&c, "#confirm-no").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(config(dir.path())["trusted_cas"]
        .as_object()
        .is_some_and(|m| !m.is_empty()));
    click(&c, &row_button("untrust")).await;
    wait_dialog(&c, "confirm-dialog", Duration::from_secs(5)).await;
    click(&c, "#confirm-yes").await;
    let said = wait_text(
        &c,
        "li.tenant .result",
        "Forgot the trusted certificate",
        10,
    )
    .await;
    assert!(said.contains(&host_port), "{said}");
    assert!(
        config(dir.path())["trusted_cas"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "the CA is forgotten"
    );
    let hidden = eval(
        &c,
        &format!(
            "document.querySelector('{}').hidden",
            row_button("untrust").replace('\'', "\\'")
        ),
    )
    .await;
    assert_eq!(hidden, json!(true), "nothing left to forget");

    // The next sign-in asks, showing the certificate the server presents; trusting it pins
    // exactly that fingerprint (accepted by the app's probe check) and the sign-in goes on.
    click(&c, &row_button("sign-in")).await;
    wait_dialog(&c, "trust-dialog", Duration::from_secs(10)).await;
    let shown = text_of(&c, "#trust-fingerprint").await;
    assert_eq!(shown.replace(':', "").to_lowercase(), emu.cert_sha256());
    click(&c, "#trust-ok").await;
    let code = {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let err = text_of(&c, "#trust-dialog .form-error").await;
            assert!(err.is_empty(), "the pin was refused: {err}");
            let code = text_of(&c, "#signin-code").await;
            if !code.trim().is_empty() && !dialog_open(&c, "trust-dialog").await {
                break code.trim().to_string();
            }
            assert!(Instant::now() < deadline, "no sign-in after trusting");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    assert_eq!(
        config(dir.path())["trusted_certificates"][&host_port],
        json!([emu.cert_sha256()])
    );
    assert!(emu.approve(&code));
    wait_text(&c, "#signin-status", "Signed in", 15).await;
    let _ = c.close().await;
}
