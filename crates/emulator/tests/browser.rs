//! The authorization endpoint and code grant with PKCE of the identity emulator, and restore
//! operators on the VBM365 emulator (RestorePortalSettings, the operator grant), over real HTTP.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vbm365_emulator::{EmulatorOptions, Emulators, PortalAppRegistration};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "http://localhost:4711";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn authorize_url(emu: &Emulators, client_id: &str, redirect: &str, scope: &str) -> String {
    let q = form_urlencoded_pairs(&[
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("scope", scope),
        ("state", "st-1"),
        ("code_challenge", &challenge(VERIFIER)),
        ("code_challenge_method", "S256"),
    ]);
    format!("{}/{TENANT}/oauth2/v2.0/authorize?{q}", emu.ms_url())
}

fn form_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Opens the page and presses a button, as a person would: the 302's Location.
async fn choose(c: &reqwest::Client, url: &str, action: &str) -> String {
    let page = Reply::from(c.get(url).send().await.unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("id=\"approve\""), "{}", page.text);
    let flow = page
        .text
        .split("name=\"flow\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("flow field")
        .to_string();
    let url = url.split('?').next().unwrap();
    let r = post_form(c, url, &[("flow", &flow), ("action", action)]).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    r.header("location").expect("Location").to_string()
}

fn query_of(location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn get<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

async fn redeem(c: &reqwest::Client, emu: &Emulators, fields: &[(&str, &str)]) -> Reply {
    let url = format!("{}/{TENANT}/oauth2/v2.0/token", emu.ms_url());
    post_form(c, &url, fields).await
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn assert_aad(r: &Reply, error: &str, code: u64) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let v = r.json();
    assert_eq!(v["error"], error, "{}", r.text);
    assert_eq!(v["error_codes"][0], code, "{}", r.text);
}

#[tokio::test]
async fn approve_redirects_with_code_and_state_and_the_code_redeems_once_with_its_verifier() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let scope = "Directory.AccessAsUser.All openid profile offline_access";
    let location = choose(
        &c,
        &authorize_url(&emu, CLIENT_ID, REDIRECT, scope),
        "approve",
    )
    .await;
    assert!(location.starts_with("http://localhost:4711?"), "{location}");
    let q = query_of(&location);
    assert_eq!(get(&q, "state"), Some("st-1"));
    let code = get(&q, "code").expect("code").to_string();
    let fields = |verifier: &'static str, redirect: &'static str| {
        vec![
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
            ("scope", scope),
        ]
    };
    let with_code = |mut f: Vec<(&'static str, &'static str)>, code: &str| {
        let code: &'static str = Box::leak(code.to_string().into_boxed_str());
        f.push(("code", code));
        f
    };
    // Wrong verifier, wrong redirect URI: Microsoft's errors, and the code is still good.
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX";
    let r = redeem(&c, &emu, &with_code(fields(wrong, REDIRECT), &code)).await;
    assert_aad(&r, "invalid_grant", 501481);
    let r = redeem(
        &c,
        &emu,
        &with_code(fields(VERIFIER, "http://localhost:4712"), &code),
    )
    .await;
    assert_aad(&r, "invalid_grant", 500112);
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("does not match the reply address"));
    let r = redeem(&c, &emu, &with_code(fields(VERIFIER, REDIRECT), &code)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t = r.json();
    assert!(t["refresh_token"].as_str().is_some());
    let id = claims(
        t["id_token"]
            .as_str()
            .expect("id_token when openid is asked for"),
    );
    assert_eq!(id["aud"], CLIENT_ID);
    assert_eq!(
        format!(
            "{}.{}",
            id["oid"].as_str().unwrap(),
            id["tid"].as_str().unwrap()
        ),
        emu.operator_account(TENANT)
    );
    assert_eq!(emu.ms_token_responses().last().unwrap(), &r.text);
    // Used once: reused → AADSTS54005.
    let r = redeem(&c, &emu, &with_code(fields(VERIFIER, REDIRECT), &code)).await;
    assert_aad(&r, "invalid_grant", 54005);
    let r = redeem(
        &c,
        &emu,
        &with_code(fields(VERIFIER, REDIRECT), "1.AQnot-issued"),
    )
    .await;
    assert_aad(&r, "invalid_grant", 9002313);
    assert_eq!(emu.stats().get("ms_auth_code_redemptions"), Some(&5));
}

#[tokio::test]
async fn decline_redirects_with_access_denied_and_a_bad_redirect_uri_gets_no_redirect() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let location = choose(
        &c,
        &authorize_url(&emu, CLIENT_ID, REDIRECT, "offline_access"),
        "decline",
    )
    .await;
    let q = query_of(&location);
    assert_eq!(get(&q, "error"), Some("access_denied"));
    assert_eq!(get(&q, "state"), Some("st-1"));
    assert!(get(&q, "error_description")
        .unwrap()
        .starts_with("AADSTS65004"));
    assert_eq!(get(&q, "code"), None);
    for (client_id, redirect, code) in [
        (CLIENT_ID, "http://localhost:4711/callback", "AADSTS50011"),
        (CLIENT_ID, "https://evil.example/", "AADSTS50011"),
        ("not-a-guid", REDIRECT, "AADSTS700016"),
    ] {
        let r = Reply::from(
            c.get(authorize_url(&emu, client_id, redirect, "openid"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.header("location").is_none());
        assert!(r.text.contains(code), "{redirect}: {}", r.text);
        assert!(!r.text.contains("id=\"approve\""));
    }
}

async fn operator_settings(c: &reqwest::Client, emu: &Emulators, v: &str) -> Value {
    let r = Reply::from(
        c.get(format!("{}/{v}/RestorePortalSettings", emu.vbm_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

/// A Microsoft access token for the Restore Portal application, by device code.
async fn portal_token(c: &reqwest::Client, emu: &Emulators, app: &str) -> Value {
    let url = format!("{}/{TENANT}/oauth2/v2.0/devicecode", emu.ms_url());
    let scope = format!("api://{app}/access_as_user openid profile offline_access");
    let dc = post_form(c, &url, &[("client_id", app), ("scope", &scope)])
        .await
        .json();
    assert!(emu.approve(dc["user_code"].as_str().unwrap()));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let token_url = format!("{}/{TENANT}/oauth2/v2.0/token", emu.ms_url());
    let r = post_form(
        c,
        &token_url,
        &[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", app),
            ("device_code", dc["device_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

#[tokio::test]
async fn restore_operators_sign_in_with_the_operator_grant_only_while_the_portal_is_on() {
    let emu = start(EmulatorOptions {
        operator_auth_enabled: true,
        ..fast()
    })
    .await;
    let c = client(&emu);
    let s = operator_settings(&c, &emu, "v8").await;
    assert_eq!(s["isEnabled"], true);
    let app = s["applicationId"].as_str().unwrap().to_string();
    assert_eq!(app, emu.restore_portal_app_id());
    assert_eq!(
        s["msalAuthorityUri"],
        format!("{}/organizations", emu.ms_url())
    );
    assert!(s["restorePortalUri"].is_string());
    assert!(operator_settings(&c, &emu, "v6").await["restorePortalUri"].is_null());
    let ms = portal_token(&c, &emu, &app).await;
    assert_eq!(claims(ms["access_token"].as_str().unwrap())["aud"], app);
    let account = emu.operator_account(TENANT);
    let at = ms["access_token"].as_str().unwrap();
    let grant = |account: &str, assertion: &str| {
        vec![
            ("grant_type".to_string(), "operator".to_string()),
            ("client_id".to_string(), account.to_string()),
            ("assertion".to_string(), assertion.to_string()),
            ("disable_antiforgery_token".to_string(), "true".to_string()),
        ]
    };
    let send = |form: Vec<(String, String)>| {
        let c = c.clone();
        let url = format!("{}/v8/token", emu.vbm_url());
        async move { Reply::from(c.post(url).form(&form).send().await.unwrap()).await }
    };
    // Another account, or an organization's Graph token: refused.
    let r = send(grant(
        &format!("{}.x", account.split('.').next().unwrap()),
        at,
    ))
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let graph = ms_sign_in(&c, &emu, TENANT).await;
    let graph_at: Value = serde_json::from_str(&graph).unwrap();
    let r = send(grant(&account, graph_at["access_token"].as_str().unwrap())).await;
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("Restore Portal"),
        "{}",
        r.text
    );
    let r = send(grant(&account, at)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let pair = r.json();
    assert_eq!(pair["userName"], format!("admin@{TENANT}"));
    // The pair refreshes while the portal is on, not once it is turned off.
    let refresh = |rt: &str| {
        vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            ("refresh_token".to_string(), rt.to_string()),
            ("disable_antiforgery_token".to_string(), "true".to_string()),
        ]
    };
    let r = send(refresh(pair["refresh_token"].as_str().unwrap())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let next = r.json();
    emu.set_operator_auth_enabled(false);
    let r = send(refresh(next["refresh_token"].as_str().unwrap())).await;
    assert!(
        r.json()["message"].as_str().unwrap().contains("disabled"),
        "{}",
        r.text
    );
    let r = send(grant(&account, at)).await;
    assert!(
        r.json()["message"].as_str().unwrap().contains("disabled"),
        "{}",
        r.text
    );
    let off = operator_settings(&c, &emu, "v8").await;
    assert_eq!(off["isEnabled"], false);
    assert_eq!(off["applicationId"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(emu.stats().get("vbm_operator"), Some(&4));
}

/// Polls the token endpoint once for a device code of `client_id`.
async fn device_code_poll(c: &reqwest::Client, emu: &Emulators, client_id: &str) -> Reply {
    let url = format!("{}/{TENANT}/oauth2/v2.0/devicecode", emu.ms_url());
    let scope = format!("api://{client_id}/access_as_user openid profile offline_access");
    let dc = post_form(c, &url, &[("client_id", client_id), ("scope", &scope)]).await;
    assert_eq!(dc.status, StatusCode::OK, "{}", dc.text);
    let dc = dc.json();
    redeem(
        c,
        emu,
        &[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", client_id),
            ("device_code", dc["device_code"].as_str().unwrap()),
        ],
    )
    .await
}

/// Bug caught: the emulator took the device code and an `http://localhost` redirect from the
/// Restore Portal's application however it was registered, hiding what a portal registered only
/// for its own web page answers a desktop app.
#[tokio::test]
async fn a_restore_portal_app_that_is_no_public_client_refuses_desktop_sign_ins_as_microsoft_does()
{
    let emu = start(EmulatorOptions {
        operator_auth_enabled: true,
        restore_portal_app: PortalAppRegistration::Spa,
        ..fast()
    })
    .await;
    let c = client(&emu);
    let app = emu.restore_portal_app_id();
    let scope = format!("api://{app}/access_as_user openid profile offline_access");
    // Device code: public client flows are off, so the token endpoint wants a secret, whatever
    // state the code is in.
    let r = device_code_poll(&c, &emu, &app).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json()["error"], "invalid_client");
    assert_eq!(r.json()["error_codes"][0], 7000218);
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."));
    // Browser: the loopback redirect is not registered (only the portal's own address is).
    let page = Reply::from(
        c.get(authorize_url(&emu, &app, REDIRECT, &scope))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(page.text.contains("AADSTS50011"), "{}", page.text);
    assert!(page.text.contains(&app), "{}", page.text);
    assert!(!page.text.contains("id=\"approve\""));
    let portal = format!("{}/", emu.vbm_url());
    let location = choose(&c, &authorize_url(&emu, &app, &portal, &scope), "approve").await;
    assert!(location.starts_with(&portal), "{location}");
    // Other applications are not affected.
    assert_eq!(
        device_code_poll(&c, &emu, CLIENT_ID).await.json()["error"],
        "authorization_pending"
    );

    // http://localhost as a single-page application redirect: a code, redeemable only
    // cross-origin (from a web page, with an Origin header).
    let r = post_form(
        &c,
        &format!("{}/_emulator/restore_portal_app", emu.ms_url()),
        &[],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "a registration is required"
    );
    let set = |registration: &str| {
        let c = c.clone();
        let url = format!("{}/_emulator/restore_portal_app", emu.vbm_url());
        let body = serde_json::json!({ "registration": registration });
        async move { Reply::from(c.post(url).json(&body).send().await.unwrap()).await }
    };
    assert_eq!(set("native").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(set("spa-localhost").await.status, StatusCode::OK);
    let location = choose(&c, &authorize_url(&emu, &app, REDIRECT, &scope), "approve").await;
    let code = get(&query_of(&location), "code").unwrap().to_string();
    let fields = [
        ("grant_type", "authorization_code"),
        ("client_id", app.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("scope", scope.as_str()),
    ];
    let r = redeem(&c, &emu, &fields).await;
    assert_aad(&r, "invalid_request", 9002327);
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("may only be redeemed via cross-origin requests"));
    let url = format!("{}/{TENANT}/oauth2/v2.0/token", emu.ms_url());
    let r = Reply::from(
        c.post(url)
            .header("origin", "http://localhost:4711")
            .form(&fields)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        device_code_poll(&c, &emu, &app).await.json()["error_codes"][0],
        7000218
    );

    // A public client again: both sign-ins work.
    assert_eq!(set("public-client").await.status, StatusCode::OK);
    assert_eq!(
        device_code_poll(&c, &emu, &app).await.json()["error"],
        "authorization_pending"
    );
    let location = choose(&c, &authorize_url(&emu, &app, REDIRECT, &scope), "approve").await;
    let code = get(&query_of(&location), "code").unwrap().to_string();
    let fields = [
        ("grant_type", "authorization_code"),
        ("client_id", app.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    assert_eq!(redeem(&c, &emu, &fields).await.status, StatusCode::OK);
    emu.set_restore_portal_app(PortalAppRegistration::SpaLocalhost);
    assert_eq!(
        device_code_poll(&c, &emu, &app).await.status,
        StatusCode::UNAUTHORIZED
    );
}
