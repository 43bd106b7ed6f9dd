//! The Microsoft identity platform emulator over real HTTP: device code, polling, tokens, refresh,
//! and the verification page.

mod common;

use base64::Engine as _;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use vbm365_emulator::{DeviceCodeState, EmulatorOptions, Server};

fn assert_aad_error(r: &Reply, error: &str, code: u64) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let v = r.json();
    assert_eq!(v["error"], error, "{}", r.text);
    assert_eq!(v["error_codes"], serde_json::json!([code]), "{}", r.text);
    let desc = v["error_description"].as_str().expect("error_description");
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    assert!(
        desc.contains("\r\nTrace ID: ") && desc.contains("\r\nCorrelation ID: "),
        "{desc}"
    );
    assert!(desc.contains("\r\nTimestamp: "), "{desc}");
    for k in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(v[k].is_string(), "{k} missing: {}", r.text);
    }
    assert!(v["error_uri"]
        .as_str()
        .unwrap_or_default()
        .ends_with(&format!("/error?code={code}")));
}

#[tokio::test]
async fn device_code_response_has_microsofts_shape() {
    let emu = start(EmulatorOptions::default()).await;
    let c = client(&emu);
    let v = device_code(&c, &emu, TENANT).await;
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "user_code",
        "device_code",
        "verification_uri",
        "expires_in",
        "interval",
        "message",
    ] {
        assert!(keys.contains(&k), "{k} missing from {v}");
    }
    let user_code = v["user_code"].as_str().expect("user_code");
    assert_eq!(user_code.len(), 9);
    assert!(user_code
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    assert!(v["device_code"].as_str().expect("device_code").len() > 100);
    let uri = format!("{}/devicelogin", emu.ms_url());
    assert_eq!(v["verification_uri"], uri.as_str());
    assert_eq!(v["expires_in"], 900);
    assert_eq!(v["interval"], 5);
    assert_eq!(
        v["message"],
        format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate.")
    );
    let codes = emu.device_codes();
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].user_code, user_code);
    assert_eq!(codes[0].tenant, TENANT);
    assert_eq!(codes[0].client_id, CLIENT_ID);
    assert_eq!(codes[0].scope, SCOPE);
    assert_eq!(codes[0].state, DeviceCodeState::Pending);
    // Recorded as sent.
    let req = &emu.requests()[0];
    assert_eq!(req.server, Server::Ms);
    assert_eq!(req.path, format!("/{TENANT}/oauth2/v2.0/devicecode"));
    assert_eq!(
        req.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(req
        .form()
        .contains(&("scope".to_string(), SCOPE.to_string())));
}

#[tokio::test]
async fn options_leave_out_interval_and_message_and_send_any_verification_uri() {
    let evil = "javascript:alert(1)";
    let emu = start(EmulatorOptions {
        device_code_interval: None,
        include_message: false,
        verification_uri: Some(evil.into()),
        device_code_expires_in: 42,
        ..EmulatorOptions::default()
    })
    .await;
    let v = device_code(&client(&emu), &emu, TENANT).await;
    assert!(
        v.get("interval").is_none() && v.get("message").is_none(),
        "{v}"
    );
    assert_eq!(v["verification_uri"], evil);
    assert_eq!(v["expires_in"], 42);
    // Without an announced interval the server expects 5 s, as RFC 8628 says.
    assert_eq!(emu.device_codes()[0].interval, 5);
}

#[tokio::test]
async fn bad_requests_get_aadsts_errors() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let dc_url = format!("{}/{TENANT}/oauth2/v2.0/devicecode", emu.ms_url());
    let token_url = format!("{}/{TENANT}/oauth2/v2.0/token", emu.ms_url());
    assert_aad_error(
        &post_form(&c, &dc_url, &[("scope", SCOPE)]).await,
        "invalid_request",
        900144,
    );
    assert_aad_error(
        &post_form(&c, &dc_url, &[("client_id", CLIENT_ID)]).await,
        "invalid_request",
        900144,
    );
    assert_aad_error(
        &post_form(
            &c,
            &dc_url,
            &[("client_id", "not-a-guid"), ("scope", SCOPE)],
        )
        .await,
        "unauthorized_client",
        700016,
    );
    assert_aad_error(
        &post_form(&c, &token_url, &[("client_id", CLIENT_ID)]).await,
        "invalid_request",
        900144,
    );
    assert_aad_error(
        &post_form(
            &c,
            &token_url,
            &[("grant_type", "password"), ("client_id", CLIENT_ID)],
        )
        .await,
        "unsupported_grant_type",
        70003,
    );
    assert_aad_error(
        &post_form(
            &c,
            &token_url,
            &[("grant_type", DEVICE_CODE_GRANT), ("client_id", CLIENT_ID)],
        )
        .await,
        "invalid_request",
        900144,
    );
    assert_aad_error(
        &poll(&c, &emu, TENANT, "not-a-device-code").await,
        "bad_verification_code",
        70018,
    );
    // A device code polled by another application.
    let dc = device_code(&c, &emu, TENANT).await;
    let r = post_form(
        &c,
        &token_url,
        &[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", "11111111-2222-3333-4444-555555555555"),
            (
                "device_code",
                dc["device_code"].as_str().unwrap_or_default(),
            ),
        ],
    )
    .await;
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = post_form(&c, &format!("{}/x/oauth2/v2.0/token", emu.ms_url()), &[]).await;
    assert_eq!(r.json()["error"], "invalid_request", "{}", r.text);
    assert_eq!(emu.ms_token_responses().len(), 0);
}

#[tokio::test]
async fn polling_pending_then_slow_down_grows_the_interval() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let dc = device_code(&c, &emu, TENANT).await;
    let code = dc["device_code"].as_str().expect("device_code");
    assert_aad_error(
        &poll(&c, &emu, TENANT, code).await,
        "authorization_pending",
        70016,
    );
    // At once again: too fast.
    let r = poll(&c, &emu, TENANT, code).await;
    assert_eq!(r.json()["error"], "slow_down", "{}", r.text);
    assert_eq!(emu.device_codes()[0].interval, 6);
    // 1.1 s later is on time for the old interval but not for the new one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        poll(&c, &emu, TENANT, code).await.json()["error"],
        "slow_down"
    );
    assert_eq!(emu.device_codes()[0].interval, 11);
    let stats = emu.stats();
    assert_eq!(stats.get("ms_device_code_polls"), Some(&3));
}

#[tokio::test]
async fn polls_on_time_stay_pending_until_approval_then_the_code_is_consumed() {
    let emu = start(EmulatorOptions {
        device_code_interval: Some(1),
        ..EmulatorOptions::default()
    })
    .await;
    let c = client(&emu);
    let dc = device_code(&c, &emu, TENANT).await;
    let code = dc["device_code"].as_str().expect("device_code");
    let user_code = dc["user_code"].as_str().expect("user_code");
    assert_eq!(
        poll(&c, &emu, TENANT, code).await.json()["error"],
        "authorization_pending"
    );
    tokio::time::sleep(Duration::from_millis(950)).await; // within the 100 ms tolerance
    assert_eq!(
        poll(&c, &emu, TENANT, code).await.json()["error"],
        "authorization_pending"
    );
    assert!(
        emu.approve(&user_code.to_ascii_lowercase()),
        "codes match ignoring case"
    );
    assert!(
        !emu.approve(user_code),
        "only pending codes can be approved"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let r = poll(&c, &emu, TENANT, code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.header("cache-control"), Some("no-store, no-cache"));
    // Exactly what was recorded, keys in Microsoft's order.
    assert_eq!(emu.ms_token_responses(), vec![r.text.clone()]);
    let order = [
        "token_type",
        "scope",
        "expires_in",
        "ext_expires_in",
        "access_token",
        "refresh_token",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| {
            r.text
                .find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} missing"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{}", r.text);
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3599);
    assert_eq!(v["ext_expires_in"], 3599);
    assert_eq!(
        v["scope"],
        "https://graph.microsoft.com/Directory.AccessAsUser.All https://graph.microsoft.com/User.ReadWrite.All"
    );
    let at = v["access_token"].as_str().expect("access_token");
    let payload = at.split('.').nth(1).expect("JWT payload");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims");
    assert_eq!(claims["upn"], "admin@contoso.onmicrosoft.com");
    assert_eq!(claims["aud"], "00000003-0000-0000-c000-000000000000");
    assert!(claims["tid"].is_string());
    assert!(v["refresh_token"].as_str().is_some_and(|t| t.len() > 100));
    // The code is consumed.
    assert_aad_error(&poll(&c, &emu, TENANT, code).await, "invalid_grant", 54005);
    assert_eq!(emu.device_codes()[0].state, DeviceCodeState::Redeemed);
}

#[tokio::test]
async fn declined_blocked_and_expired_codes() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let mut codes = Vec::new();
    for _ in 0..3 {
        let dc = device_code(&c, &emu, TENANT).await;
        codes.push((
            dc["user_code"].as_str().unwrap_or_default().to_string(),
            dc["device_code"].as_str().unwrap_or_default().to_string(),
        ));
    }
    assert!(emu.decline(&codes[0].0));
    assert!(emu.block(&codes[1].0, 53003));
    assert!(emu.expire(&codes[2].0));
    assert!(!emu.approve("NOPE12345"));
    assert_aad_error(
        &poll(&c, &emu, TENANT, &codes[0].1).await,
        "authorization_declined",
        70000,
    );
    let r = poll(&c, &emu, TENANT, &codes[1].1).await;
    assert_aad_error(&r, "invalid_grant", 53003);
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap_or_default()
        .starts_with("AADSTS53003: Access has been blocked by Conditional Access policies"));
    assert_aad_error(
        &poll(&c, &emu, TENANT, &codes[2].1).await,
        "expired_token",
        70019,
    );
    assert_eq!(
        emu.device_codes()[1].state,
        DeviceCodeState::Blocked { aadsts: 53003 }
    );
}

#[tokio::test]
async fn codes_expire_with_time_and_can_approve_themselves() {
    let emu = start(EmulatorOptions {
        device_code_expires_in: 1,
        ..fast()
    })
    .await;
    let c = client(&emu);
    let dc = device_code(&c, &emu, TENANT).await;
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let r = poll(
        &c,
        &emu,
        TENANT,
        dc["device_code"].as_str().unwrap_or_default(),
    )
    .await;
    assert_eq!(r.json()["error"], "expired_token");
    assert!(!emu.approve(dc["user_code"].as_str().unwrap_or_default()));

    let emu = start(EmulatorOptions {
        auto_approve_after_ms: Some(200),
        ..fast()
    })
    .await;
    let c = client(&emu);
    let dc = device_code(&c, &emu, TENANT).await;
    let code = dc["device_code"].as_str().unwrap_or_default();
    assert_eq!(
        poll(&c, &emu, TENANT, code).await.json()["error"],
        "authorization_pending"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(poll(&c, &emu, TENANT, code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_tokens_rotate_stay_valid_when_used_and_can_be_revoked() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let first: Value = serde_json::from_str(&ms_sign_in(&c, &emu, TENANT).await).expect("JSON");
    let url = format!("{}/{TENANT}/oauth2/v2.0/token", emu.ms_url());
    let refresh = |rt: String, client_id: &'static str| {
        let (c, url) = (c.clone(), url.clone());
        async move {
            post_form(
                &c,
                &url,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id),
                    ("refresh_token", &rt),
                    ("scope", SCOPE),
                ],
            )
            .await
        }
    };
    let rt1 = first["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    let r = refresh(rt1.clone(), "11111111-2222-3333-4444-555555555555").await;
    assert_eq!(
        r.json()["error"],
        "invalid_grant",
        "another client cannot use it"
    );
    let r = refresh(rt1.clone(), CLIENT_ID).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rt2 = r.json()["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_string();
    assert_ne!(rt1, rt2);
    assert_eq!(emu.ms_token_responses().last(), Some(&r.text));
    // Microsoft does not revoke a refresh token when it is used: rt1 works again, and each use
    // hands out a new one.
    let r = refresh(rt1.clone(), CLIENT_ID).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a used token stays valid: {}",
        r.text
    );
    let rt3 = r.json()["refresh_token"]
        .as_str()
        .expect("a new one")
        .to_string();
    assert!(rt3 != rt1 && rt3 != rt2);
    emu.revoke_ms_refresh_tokens();
    for rt in [rt1, rt2, rt3] {
        assert_aad_error(&refresh(rt, CLIENT_ID).await, "invalid_grant", 50173);
    }
    assert_aad_error(
        &refresh("nope".into(), CLIENT_ID).await,
        "invalid_grant",
        9002313,
    );
    assert_eq!(emu.stats().get("ms_refresh"), Some(&7));
}

#[tokio::test]
async fn no_refresh_token_without_offline_access() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let r = post_form(
        &c,
        &format!("{}/{TENANT}/oauth2/v2.0/devicecode", emu.ms_url()),
        &[("client_id", CLIENT_ID), ("scope", "User.Read")],
    )
    .await;
    let dc = r.json();
    assert!(emu.approve(dc["user_code"].as_str().unwrap_or_default()));
    let r = poll(
        &c,
        &emu,
        TENANT,
        dc["device_code"].as_str().unwrap_or_default(),
    )
    .await;
    let v = r.json();
    assert!(v["access_token"].is_string());
    assert!(v.get("refresh_token").is_none(), "{v}");
}

#[tokio::test]
async fn the_verification_page_approves_and_declines_like_a_person() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let page = Reply::from(
        c.get(format!("{}/devicelogin", emu.ms_url()))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    for needle in [
        r#"name="otc" id="otc""#,
        r#"name="action" value="approve""#,
        r#"name="action" value="decline""#,
        r#"method="post" action="/devicelogin""#,
    ] {
        assert!(page.text.contains(needle), "{needle} missing");
    }
    assert!(
        !page.text.contains("<script") && !page.text.contains("http"),
        "no scripts, nothing external"
    );

    let tenant = "<b>evil&co.onmicrosoft.com";
    let a = device_code(&c, &emu, TENANT).await;
    let b = device_code(&c, &emu, tenant).await;
    let submit = |code: String, action: &'static str| {
        let c = c.clone();
        let url = format!("{}/devicelogin", emu.ms_url());
        async move { post_form(&c, &url, &[("otc", &code), ("action", action)]).await }
    };
    let r = submit(
        a["user_code"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase(),
        "approve",
    )
    .await;
    assert!(
        r.text.contains(&format!(
            "You have signed in to {TENANT} on your device. You may now close this window."
        )),
        "{}",
        r.text
    );
    let r = submit(
        b["user_code"].as_str().unwrap_or_default().to_string(),
        "decline",
    )
    .await;
    assert!(r.text.contains("declined"), "{}", r.text);
    assert!(
        r.text.contains("&lt;b&gt;evil&amp;co") && !r.text.contains("<b>evil"),
        "escaped"
    );
    let r = submit("ZZZZZZZZZ".into(), "approve").await;
    assert!(
        r.text.contains("Check the code and try again"),
        "{}",
        r.text
    );
    let r = submit(
        a["user_code"].as_str().unwrap_or_default().to_string(),
        "approve",
    )
    .await;
    assert!(r.text.contains("already used"), "{}", r.text);
    let states: Vec<DeviceCodeState> = emu.device_codes().iter().map(|d| d.state).collect();
    assert_eq!(
        states,
        [DeviceCodeState::Approved, DeviceCodeState::Declined]
    );
    // The person's visit is recorded like any other request.
    assert!(emu
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.path == "/devicelogin"));
}
