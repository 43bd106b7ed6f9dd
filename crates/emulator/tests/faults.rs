//! Injected and random faults of both servers' token endpoints and the VBM365 latency, seen by a
//! real HTTP client.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use vbm365_emulator::{DeviceCodeState, EmulatorOptions, Emulators, Fault, Server};

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
    let err = refresh_request(&c, &emu)
        .timeout(Duration::from_millis(400))
        .send()
        .await
        .expect_err("no answer");
    assert!(err.is_timeout(), "{err:?}");

    // HTTP/1.1 and HTTP/2 alike: the connection goes away without a response.
    let h1 = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(&emu.cert_der()).expect("DER"))
        .http1_only()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for client in [&c, &h1] {
        emu.inject_fault(Fault::CloseConnection, 1);
        let err = refresh_request(client, &emu)
            .send()
            .await
            .expect_err("connection dropped");
        assert!(!err.is_timeout(), "{err:?}");
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
    // How fast is a benchmark's question (crates/bench), not a test's: a loaded machine is slow.
    eprintln!("1,000 concurrent token requests with 100 ms latency: {took:?}");
    assert_eq!(emu.stats().get("vbm_refresh"), Some(&1001));
}

// ----- both servers ---------------------------------------------------------------------------

/// A device code poll (the code does not matter: faults come first).
fn ms_token_request(c: &reqwest::Client, emu: &Emulators) -> reqwest::RequestBuilder {
    c.post(format!("{}/{TENANT}/oauth2/v2.0/token", emu.ms_url()))
        .form(&[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", CLIENT_ID),
            ("device_code", "not-a-device-code"),
        ])
}

/// A device code request.
fn ms_devicecode_request(c: &reqwest::Client, emu: &Emulators) -> reqwest::RequestBuilder {
    c.post(format!("{}/{TENANT}/oauth2/v2.0/devicecode", emu.ms_url()))
        .form(&[("client_id", CLIENT_ID), ("scope", SCOPE)])
}

async fn send(req: reqwest::RequestBuilder) -> Reply {
    Reply::from(req.send().await.expect("request")).await
}

/// A Microsoft OAuth error as login.microsoftonline.com sends it.
fn assert_ms_error(r: &Reply, status: StatusCode, error: &str, code: u64) -> Value {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let v = r.json();
    assert_eq!(v["error"], error, "{}", r.text);
    assert_eq!(v["error_codes"], json!([code]), "{}", r.text);
    let desc = v["error_description"].as_str().expect("error_description");
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    let trace = v["trace_id"].as_str().expect("trace_id");
    let correlation = v["correlation_id"].as_str().expect("correlation_id");
    assert!(
        desc.contains(&format!(
            "\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: "
        )),
        "{desc}"
    );
    assert!(v["timestamp"].is_string());
    assert!(v["error_uri"]
        .as_str()
        .is_some_and(|u| u.ends_with(&format!("/error?code={code}"))));
    assert_eq!(r.header("x-ms-request-id"), Some(trace));
    assert_eq!(r.header("client-request-id"), Some(correlation));
    v
}

/// An HTML page: the status, `text/html`, and these pieces of text.
fn assert_html(r: &Reply, status: StatusCode, needles: &[&str]) {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        r.header("content-type")
    );
    for needle in needles {
        assert!(r.text.contains(needle), "{needle} missing from {}", r.text);
    }
}

#[tokio::test]
async fn vbm_status_faults_look_like_the_proxies_and_the_server() {
    let emu = start(fast()).await;
    let c = client(&emu);
    for fault in [
        Fault::Throttled {
            retry_after_secs: 3,
        },
        Fault::Unavailable {
            retry_after_secs: Some(5),
        },
        Fault::Unavailable {
            retry_after_secs: None,
        },
        Fault::ServerError,
        Fault::ProxyBadGateway,
        Fault::ProxyAuthRequired,
    ] {
        emu.inject_fault(fault, 1);
    }
    let r = send(refresh_request(&c, &emu)).await;
    assert_html(
        &r,
        StatusCode::TOO_MANY_REQUESTS,
        &[
            "<title>429 Too Many Requests</title>",
            "<h1>429 Too Many Requests</h1>",
            "<center>nginx</center>",
        ],
    );
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(r.header("server"), Some("nginx"));

    let r = send(refresh_request(&c, &emu)).await;
    assert_html(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        &[
            "<HTML><HEAD><TITLE>Service Unavailable</TITLE>",
            "<BODY><h2>Service Unavailable</h2>",
            "<hr><p>HTTP Error 503. The service is unavailable.</p>",
            "</BODY></HTML>",
        ],
    );
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(r.header("server"), Some("Microsoft-HTTPAPI/2.0"));
    let r = send(refresh_request(&c, &emu)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.header("retry-after"), None);

    let r = send(refresh_request(&c, &emu)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.json(), json!({"message": "An error has occurred."}));

    let r = send(refresh_request(&c, &emu)).await;
    assert_html(
        &r,
        StatusCode::BAD_GATEWAY,
        &["<title>502 Bad Gateway</title>", "<center>nginx</center>"],
    );

    let r = send(refresh_request(&c, &emu)).await;
    assert_html(
        &r,
        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        &[
            "<title>407 Proxy Authentication Required</title>",
            "<h1>Proxy Authentication Required</h1>",
        ],
    );
    assert_eq!(
        r.header("proxy-authenticate"),
        Some("Basic realm=\"proxy\"")
    );

    let r = send(refresh_request(&c, &emu)).await;
    assert_eq!(r.status, StatusCode::OK, "faults are used up: {}", r.text);
    let stats = emu.stats();
    assert_eq!(stats.get("vbm_faults"), Some(&6));
    assert_eq!(stats.get("vbm_fault_unavailable"), Some(&2));
    assert_eq!(stats.get("vbm_fault_proxy_auth_required"), Some(&1));
    assert_eq!(stats.get("ms_faults"), None);
}

#[tokio::test]
async fn ms_status_faults_look_like_microsoft_and_the_proxies() {
    let emu = start(fast()).await;
    let c = client(&emu);
    emu.inject_fault_on(
        Server::Ms,
        Fault::Throttled {
            retry_after_secs: 2,
        },
        1,
    );
    // Each server has its own queue: the VBM365 server is not affected.
    assert_eq!(send(refresh_request(&c, &emu)).await.status, StatusCode::OK);
    let r = send(ms_token_request(&c, &emu)).await;
    let v = assert_ms_error(
        &r,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        90055,
    );
    assert_eq!(r.header("retry-after"), Some("2"));
    assert!(v["error_description"]
        .as_str()
        .unwrap_or_default()
        .starts_with("AADSTS90055: There are too many incoming requests."));

    // The device code endpoint shares the Microsoft queue.
    emu.inject_fault_on(
        Server::Ms,
        Fault::Unavailable {
            retry_after_secs: Some(1),
        },
        1,
    );
    emu.inject_fault_on(
        Server::Ms,
        Fault::Unavailable {
            retry_after_secs: None,
        },
        1,
    );
    emu.inject_fault_on(Server::Ms, Fault::ServerError, 2);
    let r = send(ms_devicecode_request(&c, &emu)).await;
    let v = assert_ms_error(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        90033,
    );
    assert!(v["error_description"]
        .as_str()
        .unwrap_or_default()
        .starts_with("AADSTS90033: A transient error has occurred. Please try again.\r\n"));
    assert_eq!(r.header("retry-after"), Some("1"));
    let r = send(ms_token_request(&c, &emu)).await;
    assert_ms_error(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        90033,
    );
    assert_eq!(r.header("retry-after"), None);
    for r in [
        send(ms_token_request(&c, &emu)).await,
        send(ms_devicecode_request(&c, &emu)).await,
    ] {
        assert_ms_error(&r, StatusCode::INTERNAL_SERVER_ERROR, "server_error", 50000);
    }
    assert!(
        emu.device_codes().is_empty(),
        "faulted device code requests issue nothing"
    );

    for fault in [
        Fault::ProxyBadGateway,
        Fault::ProxyAuthRequired,
        Fault::Status500Html,
        Fault::Status502Empty,
    ] {
        emu.inject_fault_on(Server::Ms, fault, 1);
    }
    let r = send(ms_token_request(&c, &emu)).await;
    assert_html(
        &r,
        StatusCode::BAD_GATEWAY,
        &["<title>502 Bad Gateway</title>", "<center>nginx</center>"],
    );
    let r = send(ms_devicecode_request(&c, &emu)).await;
    assert_html(
        &r,
        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        &["<title>407 Proxy Authentication Required</title>"],
    );
    assert_eq!(
        r.header("proxy-authenticate"),
        Some("Basic realm=\"proxy\"")
    );
    let r = send(ms_token_request(&c, &emu)).await;
    assert_html(&r, StatusCode::INTERNAL_SERVER_ERROR, &["Server Error"]);
    let r = send(ms_token_request(&c, &emu)).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(r.text.is_empty());

    // Used up: back to normal.
    let r = send(ms_devicecode_request(&c, &emu)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let stats = emu.stats();
    assert_eq!(stats.get("ms_faults"), Some(&9));
    assert_eq!(stats.get("ms_fault_server_error"), Some(&2));
    assert_eq!(
        stats.get("ms_devicecode"),
        Some(&4),
        "faulted requests count"
    );
    assert_eq!(stats.get("vbm_faults"), None);
}

#[tokio::test]
async fn ms_broken_replies_are_shaped_like_the_endpoint() {
    let emu = start(fast()).await;
    let c = client(&emu);
    emu.inject_fault_on(Server::Ms, Fault::MalformedJson, 1);
    emu.inject_fault_on(Server::Ms, Fault::WrongTypes, 2);
    let r = send(ms_token_request(&c, &emu)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text.starts_with(r#"{"token_type":"Bearer""#),
        "{}",
        r.text
    );
    assert!(serde_json::from_str::<Value>(&r.text).is_err(), "cut off");
    let r = send(ms_token_request(&c, &emu)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), Some("no-store, no-cache"));
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    assert!(v.get("access_token").is_none(), "{v}");
    assert!(v["expires_in"].is_string(), "{v}");
    let r = send(ms_devicecode_request(&c, &emu)).await;
    let v = r.json();
    assert!(v["user_code"].is_number(), "{v}");
    assert!(v.get("device_code").is_none(), "{v}");
    assert!(v["expires_in"].is_string(), "{v}");

    emu.inject_fault_on(Server::Ms, Fault::TruncatedBody, 1);
    let res = ms_token_request(&c, &emu).send().await.expect("head");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.content_length().is_some_and(|n| n > 500));
    res.bytes().await.expect_err("the body is cut off");

    emu.inject_fault_on(Server::Ms, Fault::OversizedBody, 1);
    let res = ms_devicecode_request(&c, &emu).send().await.expect("head");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.content_length(), None);
    let body = res.bytes().await.expect("whole body");
    assert!(body.len() >= 12 * 1024 * 1024, "{}", body.len());
    assert!(body.starts_with(br#"{"user_code":"ABCDEFGHJ","device_code":"AAAA"#));

    emu.inject_fault_on(Server::Ms, Fault::OversizedBody, 1);
    let body = ms_token_request(&c, &emu)
        .send()
        .await
        .expect("head")
        .bytes()
        .await
        .expect("whole body");
    assert!(body.len() >= 12 * 1024 * 1024, "{}", body.len());
    assert!(body.starts_with(br#"{"token_type":"Bearer","#));

    emu.inject_fault_on(Server::Ms, Fault::Hang, 1);
    let err = ms_token_request(&c, &emu)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("no answer");
    assert!(err.is_timeout(), "{err:?}");
    emu.inject_fault_on(Server::Ms, Fault::CloseConnection, 1);
    let err = ms_devicecode_request(&c, &emu)
        .send()
        .await
        .expect_err("connection dropped");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(emu.device_codes().is_empty(), "not processed");
    assert_eq!(
        send(ms_devicecode_request(&c, &emu)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_lost_vbm_reply_still_rotates_the_refresh_token() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let refresh = |rt: String| {
        c.post(format!("{}/v8/token", emu.vbm_url())).form(&[
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", rt),
            ("disable_antiforgery_token", "true".to_string()),
        ])
    };
    let lost = emu.mint_vbm_tokens(TENANT, "v8");
    emu.inject_fault(Fault::LostReply, 1);
    let err = refresh(lost.refresh_token.clone())
        .send()
        .await
        .expect_err("no reply");
    assert!(!err.is_timeout(), "{err:?}");
    let stats = emu.stats();
    assert_eq!(stats.get("lost_replies"), Some(&1));
    assert_eq!(stats.get("vbm_fault_lost_reply"), Some(&1));
    assert_eq!(stats.get("vbm_tokens_issued"), Some(&1), "processed");
    // The token was used up although its successor never arrived.
    let r = send(refresh(lost.refresh_token)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json()["message"], "Invalid refresh token.");
    let stats = emu.stats();
    assert_eq!(stats.get("vbm_refresh_after_lost_reply"), Some(&1));
    assert_eq!(
        stats.get("vbm_refresh_token_reused"),
        None,
        "a legitimate retry"
    );

    // Presenting a token again after its successor was delivered is a reuse.
    let delivered = emu.mint_vbm_tokens(TENANT, "v8");
    let r = send(refresh(delivered.refresh_token.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = send(refresh(delivered.refresh_token)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["message"], "Invalid refresh token.");
    let stats = emu.stats();
    assert_eq!(stats.get("vbm_refresh_token_reused"), Some(&1));
    assert_eq!(stats.get("vbm_refresh_after_lost_reply"), Some(&1));
    // A token never used is neither.
    let r = send(refresh("unknown".into())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(emu.stats().get("vbm_refresh_token_reused"), Some(&1));
}

#[tokio::test]
async fn a_lost_ms_reply_still_redeems_the_device_code() {
    let emu = start(fast()).await;
    let c = client(&emu);
    // A lost device code reply still issues the code.
    emu.inject_fault_on(Server::Ms, Fault::LostReply, 1);
    ms_devicecode_request(&c, &emu)
        .send()
        .await
        .expect_err("no reply");
    assert_eq!(emu.device_codes().len(), 1);
    assert_eq!(emu.device_codes()[0].state, DeviceCodeState::Pending);

    let dc = device_code(&c, &emu, TENANT).await;
    let code = dc["device_code"].as_str().expect("device_code");
    assert!(emu.approve(dc["user_code"].as_str().expect("user_code")));
    emu.inject_fault_on(Server::Ms, Fault::LostReply, 1);
    let err = poll_request(&c, &emu, code)
        .send()
        .await
        .expect_err("no reply");
    assert!(!err.is_timeout(), "{err:?}");
    assert_eq!(emu.device_codes()[1].state, DeviceCodeState::Redeemed);
    assert_eq!(emu.ms_token_responses().len(), 1, "tokens were issued");
    let r = poll(&c, &emu, TENANT, code).await;
    assert_ms_error(&r, StatusCode::BAD_REQUEST, "invalid_grant", 54005);
    let stats = emu.stats();
    assert_eq!(stats.get("lost_replies"), Some(&2));
    assert_eq!(stats.get("ms_fault_lost_reply"), Some(&2));
    assert_eq!(stats.get("ms_tokens_issued"), Some(&1));

    // A lost refresh reply costs nothing: Microsoft refresh tokens stay valid when used.
    let first: Value = serde_json::from_str(&ms_sign_in(&c, &emu, TENANT).await).expect("JSON");
    let rt = first["refresh_token"].as_str().expect("refresh_token");
    let refresh = || {
        c.post(format!("{}/{TENANT}/oauth2/v2.0/token", emu.ms_url()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("refresh_token", rt),
                ("scope", SCOPE),
            ])
    };
    emu.inject_fault_on(Server::Ms, Fault::LostReply, 1);
    refresh().send().await.expect_err("no reply");
    let r = send(refresh()).await;
    assert_eq!(r.status, StatusCode::OK, "the retry works: {}", r.text);
    assert!(r.json()["access_token"].is_string());
}

/// `poll`, as a request builder.
fn poll_request(c: &reqwest::Client, emu: &Emulators, code: &str) -> reqwest::RequestBuilder {
    c.post(format!("{}/{TENANT}/oauth2/v2.0/token", emu.ms_url()))
        .form(&[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", CLIENT_ID),
            ("device_code", code),
        ])
}

#[tokio::test]
async fn the_control_api_injects_faults_per_server() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let inject = |body: Value| {
        let c = c.clone();
        let url = format!("{}/_emulator/fault", emu.vbm_url());
        async move { send(c.post(url).json(&body)).await }
    };
    let r = inject(json!({"fault": {"throttled": {"retry_after_secs": 4}}, "server": "ms"})).await;
    assert_eq!(r.json(), json!({"ok": true}));
    let r = inject(json!({"fault": "unavailable=2", "server": "ms", "count": 2})).await;
    assert_eq!(r.json(), json!({"ok": true}));
    let r = inject(json!({"fault": {"unavailable": {}}, "server": "vbm"})).await;
    assert_eq!(r.json(), json!({"ok": true}));
    let r = inject(json!({"fault": "proxy_bad_gateway"})).await;
    assert_eq!(r.json(), json!({"ok": true}), "vbm by default");

    let r = send(ms_token_request(&c, &emu)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after"), Some("4"));
    for _ in 0..2 {
        let r = send(ms_devicecode_request(&c, &emu)).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.header("retry-after"), Some("2"));
    }
    let r = send(refresh_request(&c, &emu)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.header("retry-after"), None);
    assert!(r.text.contains("HTTP Error 503."));
    let r = send(refresh_request(&c, &emu)).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(r.text.contains("nginx"));
    assert_eq!(send(refresh_request(&c, &emu)).await.status, StatusCode::OK);
    assert_eq!(
        send(ms_devicecode_request(&c, &emu)).await.status,
        StatusCode::OK
    );

    for bad in [
        json!({"fault": "lost_reply", "server": "both"}),
        json!({"fault": {"throttled": {}}}),
        json!({"fault": "throttled=soon"}),
        json!({"fault": "meteor_strike"}),
    ] {
        let r = inject(bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    let index = send(c.get(format!("{}/_emulator", emu.ms_url())))
        .await
        .json();
    assert_eq!(
        index["faults"].as_array().map(Vec::len),
        Some(Fault::ALL.len())
    );
    assert!(index["faults"]
        .as_array()
        .is_some_and(|f| f.contains(&json!({"throttled": {"retry_after_secs": 1}}))));
    let routes = index["routes"].as_array().expect("routes");
    for route in [
        r#"POST /_emulator/fault {"fault","count","server"}"#,
        r#"POST /_emulator/fault_rate {"rate"}"#,
    ] {
        assert!(
            routes.iter().any(|r| r == route),
            "{route} missing: {index}"
        );
    }
}

/// Whether a reply is a usable token (or device code) reply for a client that reads at most 1 MiB.
async fn usable(req: reqwest::RequestBuilder) -> bool {
    let Ok(res) = req.timeout(Duration::from_millis(1500)).send().await else {
        return false;
    };
    if res.status() != StatusCode::OK {
        return false;
    }
    let Ok(body) = res.bytes().await else {
        return false;
    };
    if body.len() > 1024 * 1024 {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return false;
    };
    (v["access_token"].is_string() || v["device_code"].is_string()) && v["expires_in"].is_u64()
}

#[tokio::test]
async fn a_fault_rate_of_one_fails_every_request_and_zero_none() {
    let emu = start(EmulatorOptions {
        fault_rate: 1.0,
        ..fast()
    })
    .await;
    let c = client(&emu);
    const N: u64 = 24;
    for i in 0..N {
        assert!(!usable(refresh_request(&c, &emu)).await, "vbm request {i}");
        let req = if i % 2 == 0 {
            ms_devicecode_request(&c, &emu)
        } else {
            ms_token_request(&c, &emu)
        };
        assert!(!usable(req).await, "ms request {i}");
    }
    let stats = emu.stats();
    for server in ["ms", "vbm"] {
        assert_eq!(
            stats.get(&format!("{server}_faults")),
            Some(&N),
            "{stats:?}"
        );
        assert_eq!(stats.get(&format!("{server}_random_faults")), Some(&N));
        let kinds = stats
            .keys()
            .filter(|k| k.starts_with(&format!("{server}_fault_")))
            .count();
        assert!(kinds >= 3, "kinds are drawn at random: {stats:?}");
    }

    // Through the control API: 0 turns them off, out-of-range rates are refused.
    let rate = |r: Value| {
        let c = c.clone();
        let url = format!("{}/_emulator/fault_rate", emu.ms_url());
        async move { send(c.post(url).json(&json!({ "rate": r }))).await }
    };
    assert_eq!(rate(json!(1.5)).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(rate(json!(-0.1)).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(rate(json!(0.0)).await.json(), json!({"ok": true}));
    emu.clear_requests();
    for _ in 0..N {
        assert!(usable(refresh_request(&c, &emu)).await);
        assert!(usable(ms_devicecode_request(&c, &emu)).await);
    }
    assert_eq!(emu.stats().get("vbm_faults"), None);
    assert_eq!(emu.stats().get("ms_faults"), None);

    // Queued faults come first, whatever the rate.
    emu.set_fault_rate(1.0);
    emu.inject_fault(Fault::ProxyAuthRequired, 1);
    let r = send(refresh_request(&c, &emu)).await;
    assert_eq!(r.status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    emu.set_fault_rate(0.0);
    assert!(usable(refresh_request(&c, &emu)).await);
}
