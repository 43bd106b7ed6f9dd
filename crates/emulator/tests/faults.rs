//! Injected faults of the VBM365 token endpoint and its latency, seen by a real HTTP client.

mod common;

use common::*;
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use vbm365_emulator::{Emulators, Fault};

/// A refresh request with a fresh minted token.
fn refresh_request(c: &reqwest::Client, emu: &Emulators) -> reqwest::RequestBuilder {
    let m = emu.mint_vbm_tokens(TENANT, "v8");
    c.post(format!("{}/v8/token", emu.vbm_url())).form(&[
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", m.refresh_token),
        ("disable_antiforgery_token", "true".to_string()),
    ])
}

#[tokio::test]
async fn status_faults_then_back_to_normal() {
    let emu = start(fast()).await;
    let c = client(&emu);
    emu.inject_fault(Fault::Status500Html, 2);
    emu.inject_fault(Fault::Status502Empty, 1);
    for _ in 0..2 {
        let r = Reply::from(refresh_request(&c, &emu).send().await.expect("request")).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")));
        assert!(r.text.contains("Server Error"));
    }
    let r = Reply::from(refresh_request(&c, &emu).send().await.expect("request")).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(r.text.is_empty());
    let r = Reply::from(refresh_request(&c, &emu).send().await.expect("request")).await;
    assert_eq!(r.status, StatusCode::OK, "faults are used up: {}", r.text);
    assert_eq!(emu.stats().get("vbm_faults"), Some(&3));
}

#[tokio::test]
async fn malformed_and_mistyped_json() {
    let emu = start(fast()).await;
    let c = client(&emu);
    emu.inject_fault(Fault::MalformedJson, 1);
    emu.inject_fault(Fault::WrongTypes, 1);
    let r = Reply::from(refresh_request(&c, &emu).send().await.expect("request")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, r#"{"access_token": 42"#);
    let r = Reply::from(refresh_request(&c, &emu).send().await.expect("request")).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert!(v["expires_in"].is_string(), "{v}");
    assert!(v.get("refresh_token").is_none(), "{v}");
    assert!(v["access_token"].is_string());
}

#[tokio::test]
async fn truncated_body_fails_while_reading() {
    let emu = start(fast()).await;
    let c = client(&emu);
    emu.inject_fault(Fault::TruncatedBody, 1);
    let res = refresh_request(&c, &emu)
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(res.status(), StatusCode::OK);
    let announced = res.content_length().expect("Content-Length");
    let err = res.bytes().await.expect_err("the body is cut off");
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );
    assert!(announced > 500);
    // The server keeps serving.
    assert_eq!(
        refresh_request(&c, &emu)
            .send()
            .await
            .expect("request")
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn oversized_body_is_twelve_mebibytes_without_length() {
    let emu = start(fast()).await;
    let c = client(&emu);
    emu.inject_fault(Fault::OversizedBody, 1);
    let res = refresh_request(&c, &emu).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.content_length(), None);
    let body = res.bytes().await.expect("whole body");
    assert!(body.len() >= 12 * 1024 * 1024, "{}", body.len());
    assert!(body.starts_with(br#"{"access_token":"AAAA"#));
}

#[tokio::test]
async fn hang_never_answers_and_close_drops_the_connection() {
    let emu = start(fast()).await;
    let c = client(&emu);
    emu.inject_fault(Fault::Hang, 1);
    let started = Instant::now();
    let err = refresh_request(&c, &emu)
        .timeout(Duration::from_millis(400))
        .send()
        .await
        .expect_err("no answer");
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // HTTP/1.1 and HTTP/2 alike: the connection goes away without a response.
    let h1 = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(&emu.cert_der()).expect("DER"))
        .http1_only()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for client in [&c, &h1] {
        emu.inject_fault(Fault::CloseConnection, 1);
        let started = Instant::now();
        let err = refresh_request(client, &emu)
            .send()
            .await
            .expect_err("connection dropped");
        assert!(!err.is_timeout(), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        // The next request (on a new connection) is served normally.
        assert_eq!(
            refresh_request(client, &emu)
                .send()
                .await
                .expect("request")
                .status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn faults_can_be_injected_through_the_control_api() {
    let emu = start(fast()).await;
    let c = client(&emu);
    for fault in Fault::ALL {
        let name = serde_json::to_value(fault).expect("name");
        let r = Reply::from(
            c.post(format!("{}/_emulator/fault", emu.ms_url()))
                .json(&serde_json::json!({"fault": name, "count": 0}))
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.text);
    }
    let r = Reply::from(
        c.post(format!("{}/_emulator/fault", emu.vbm_url()))
            .json(&serde_json::json!({"fault": "status500_html"}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(r.json()["ok"], true);
    assert_eq!(
        refresh_request(&c, &emu)
            .send()
            .await
            .expect("request")
            .status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        refresh_request(&c, &emu)
            .send()
            .await
            .expect("request")
            .status(),
        StatusCode::OK
    );
    let r = Reply::from(
        c.post(format!("{}/_emulator/fault", emu.vbm_url()))
            .json(&serde_json::json!({"fault": "meteor_strike"}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_token_requests_with_100_ms_latency() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let requests: Vec<_> = (0..1000).map(|_| refresh_request(&c, &emu)).collect();
    // Warm up the connection first so the measurement is about the server.
    assert_eq!(
        refresh_request(&c, &emu)
            .send()
            .await
            .expect("warm-up")
            .status(),
        StatusCode::OK
    );
    emu.set_vbm_latency_ms(100);
    let started = Instant::now();
    let handles: Vec<_> = requests
        .into_iter()
        .map(|r| tokio::spawn(async move { r.send().await.map(|res| res.status()) }))
        .collect();
    for h in handles {
        assert_eq!(h.await.expect("task").expect("response"), StatusCode::OK);
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(100),
        "latency applied: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    eprintln!("1,000 concurrent token requests with 100 ms latency: {took:?}");
    assert_eq!(emu.stats().get("vbm_refresh"), Some(&1001));
}
