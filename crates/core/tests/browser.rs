//! The browser sign-in and restore operators in one process, against the emulators: the test
//! plays the browser (it loads the authorize URL, approves, and delivers the redirect to the
//! engine's loopback listener).

use std::time::Duration;
use vbm365_auth_core::config::{Role, TenantProfile};
use vbm365_auth_core::http::Timeouts;
use vbm365_auth_core::{validate, Engine, EngineOptions, StorageChoice, TenantState};
use vbm365_emulator::{browser, EmulatorOptions, Emulators, RecordedRequest, Server};

const T: &str = "contoso.onmicrosoft.com";

fn engine(dir: &std::path::Path) -> Engine {
    Engine::open(EngineOptions {
        config_dir: dir.to_path_buf(),
        storage: StorageChoice::PlainFile,
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(5),
        },
        retry: vbm365_auth_core::failure::RetryPolicy::default(),
        keystore: None,
    })
    .unwrap()
}

async fn emulators(operators: bool) -> Emulators {
    Emulators::start(EmulatorOptions {
        device_code_interval: Some(1),
        auto_approve_after_ms: Some(0),
        operator_auth_enabled: operators,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn add(engine: &Engine, emu: &Emulators, role: Role) {
    let mut p = TenantProfile::new(T, &emu.vbm_url()).unwrap();
    p.authority = validate::authority_url(&emu.ms_url()).unwrap();
    p.role = role;
    engine
        .add_tenant(p, Some(&emu.cert_sha256()), false)
        .unwrap();
}

fn field(r: &RecordedRequest, name: &str) -> Option<String> {
    r.form()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn vbm_grants(emu: &Emulators, grant: &str) -> Vec<RecordedRequest> {
    emu.requests()
        .into_iter()
        .filter(|r| r.server == Server::Vbm && field(r, "grant_type").as_deref() == Some(grant))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_sign_in_exchanges_the_token_reply_byte_for_byte_and_remembers_the_refresh_token() {
    let emu = emulators(false).await;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    add(&e, &emu, Role::Organization);
    let pending = e.begin_browser_sign_in(Some(T)).await.unwrap();
    let url = pending
        .openable_uri
        .clone()
        .expect("a loopback authority may be opened");
    assert_eq!(url, pending.authorize_url);
    let redirect_uri = pending.redirect_uri().to_string();
    assert!(
        redirect_uri.starts_with("http://localhost:"),
        "{redirect_uri}"
    );
    let done = tokio::spawn(async move {
        let e = e;
        let r = e.complete_browser_sign_in(pending, |_| {}).await;
        (e, r)
    });
    let location = browser::choose(url.as_str(), true).await.unwrap();
    assert!(location.starts_with(&redirect_uri), "{location}");
    let page = browser::get(&location).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("You can close this browser tab."));
    let (e, result) = done.await.unwrap();
    assert_eq!(result.unwrap().state, TenantState::SignedIn);
    // The listener is closed after the one redirect.
    assert!(browser::get(&location).await.is_err());
    // What VBM365 got as the assertion is Microsoft's reply to the code redemption, unchanged.
    let exchange = vbm_grants(&emu, "urn:ietf:params:oauth:grant-type:jwt-bearer");
    assert_eq!(exchange.len(), 1);
    let redeemed = emu.ms_token_responses();
    assert_eq!(field(&exchange[0], "assertion"), redeemed.last().cloned());
    let redemption = emu
        .requests()
        .into_iter()
        .find(|r| field(r, "grant_type").as_deref() == Some("authorization_code"))
        .unwrap();
    assert_eq!(field(&redemption, "redirect_uri"), Some(redirect_uri));
    assert_eq!(
        field(&redemption, "code_verifier").map(|v| v.len()),
        Some(43)
    );
    // The Microsoft refresh token was remembered: a refused VBM365 refresh signs in silently.
    emu.revoke_vbm_refresh_tokens();
    e.refresh(Some(T)).await.unwrap();
    assert_eq!(emu.stats().get("ms_refresh"), Some(&1));
}

/// Bug caught: a forged response (another `state`) ended the sign-in, so any local web page that
/// found the port could stop it.
#[tokio::test(flavor = "multi_thread")]
async fn a_forged_state_is_refused_unused_and_the_real_answer_still_signs_in() {
    let emu = emulators(false).await;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    add(&e, &emu, Role::Organization);
    let pending = e.begin_browser_sign_in(Some(T)).await.unwrap();
    let url = pending.authorize_url.clone();
    let redirect_uri = pending.redirect_uri().to_string();
    let done = tokio::spawn(async move { e.complete_browser_sign_in(pending, |_| {}).await });
    let forged = format!("{redirect_uri}/?code=stolen&state=guess");
    let page = browser::get(&forged).await.unwrap();
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("was not for the sign-in"),
        "{}",
        page.body
    );
    assert_eq!(emu.stats().get("ms_auth_code_redemptions"), None);
    // The listener still waits: the user's approval signs in.
    let location = browser::choose(url.as_str(), true).await.unwrap();
    assert_eq!(browser::get(&location).await.unwrap().status, 200);
    assert_eq!(done.await.unwrap().unwrap().state, TenantState::SignedIn);
    let redeemed: Vec<_> = emu
        .requests()
        .into_iter()
        .filter_map(|r| {
            (field(&r, "grant_type").as_deref() == Some("authorization_code"))
                .then(|| field(&r, "code"))
        })
        .collect();
    assert_eq!(redeemed, vec![browser::query_param(&location, "code")]);
    assert!(browser::get(&forged).await.is_err(), "listener closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_operator_signs_in_refreshes_signs_in_silently_and_out() {
    let emu = emulators(true).await;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    add(&e, &emu, Role::Operator);
    let pending = e.begin_sign_in(Some(T)).await.unwrap();
    let st = e.complete_sign_in(&pending, |_| {}).await.unwrap();
    assert_eq!(st.state, TenantState::SignedIn);
    assert_eq!(st.profile.role, Role::Operator);
    // Microsoft was asked for the Restore Portal application and its scope.
    let app = emu.restore_portal_app_id();
    let dc = &emu.device_codes()[0];
    assert_eq!(dc.client_id, app);
    assert_eq!(
        dc.scope,
        format!("api://{app}/access_as_user openid profile offline_access")
    );
    // The operator grant: the account from the ID token, the access token as the assertion.
    let ops = vbm_grants(&emu, "operator");
    assert_eq!(ops.len(), 1);
    assert_eq!(field(&ops[0], "client_id"), Some(emu.operator_account(T)));
    let reply: serde_json::Value =
        serde_json::from_str(emu.ms_token_responses().last().unwrap()).unwrap();
    assert_eq!(
        field(&ops[0], "assertion").as_deref(),
        reply["access_token"].as_str()
    );
    assert_eq!(
        field(&ops[0], "disable_antiforgery_token").as_deref(),
        Some("true")
    );
    // Refresh, then a silent re-sign-in through the Restore Portal application.
    e.refresh(Some(T)).await.unwrap();
    emu.revoke_vbm_refresh_tokens();
    e.refresh(Some(T)).await.unwrap();
    let ms_refresh: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| {
            r.server == Server::Ms && field(r, "grant_type").as_deref() == Some("refresh_token")
        })
        .collect();
    assert_eq!(ms_refresh.len(), 1);
    assert_eq!(field(&ms_refresh[0], "client_id"), Some(app));
    assert_eq!(vbm_grants(&emu, "operator").len(), 2);
    assert!(e.test_connection(Some(T)).await.is_ok());
    e.logout(Some(T)).await.unwrap();
    assert_eq!(e.status().unwrap()[0].state, TenantState::SignedOut);
    assert_eq!(emu.stats().get("vbm_logout"), Some(&1));
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_sign_in_says_when_the_restore_portal_is_off() {
    let emu = emulators(false).await;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    add(&e, &emu, Role::Operator);
    for err in [
        e.begin_sign_in(Some(T)).await.unwrap_err(),
        e.begin_browser_sign_in(Some(T)).await.unwrap_err(),
    ] {
        assert_eq!(err.code(), "operator_auth_disabled");
        assert!(err.to_string().contains(&emu.vbm_url()), "{err}");
    }
    assert!(emu.device_codes().is_empty(), "nothing asked of Microsoft");
}
