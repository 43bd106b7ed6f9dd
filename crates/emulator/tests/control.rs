//! The JSON control API on both ports, and the `vbm365-emulator` binary.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

async fn call(c: &reqwest::Client, base: &str, route: &str, body: Option<Value>) -> Reply {
    let url = format!("{base}/_emulator/{route}");
    let req = match body {
        Some(b) => c.post(url).json(&b),
        None => c.get(url),
    };
    Reply::from(req.send().await.expect("request")).await
}

#[tokio::test]
async fn both_ports_steer_the_same_state() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let (ms, vbm) = (emu.ms_url(), emu.vbm_url());
    let index = call(&c, &ms, "", None).await;
    assert_eq!(
        index.status,
        StatusCode::NOT_FOUND,
        "the index is /_emulator without a slash"
    );
    let index = Reply::from(
        c.get(format!("{ms}/_emulator"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(index.json()["vbm_url"], vbm.as_str());

    let dc = device_code(&c, &emu, TENANT).await;
    let user_code = dc["user_code"].as_str().unwrap_or_default();
    let codes = call(&c, &vbm, "device_codes", None).await.json();
    assert_eq!(codes[0]["user_code"], user_code);
    assert_eq!(codes[0]["state"], "pending");
    assert_eq!(codes[0]["tenant"], TENANT);
    let r = call(
        &c,
        &vbm,
        "block",
        Some(json!({"user_code": user_code, "aadsts": 53003})),
    )
    .await;
    assert_eq!(r.json()["ok"], true);
    let codes = call(&c, &ms, "device_codes", None).await.json();
    assert_eq!(codes[0]["state"], "blocked");
    assert_eq!(codes[0]["aadsts"], 53003);
    assert_eq!(
        call(&c, &ms, "approve", Some(json!({"user_code": user_code})))
            .await
            .json()["ok"],
        false
    );
    assert_eq!(
        call(&c, &ms, "expire", Some(json!({"user_code": user_code})))
            .await
            .json()["ok"],
        true
    );
    let dc2 = device_code(&c, &emu, TENANT).await;
    let uc2 = dc2["user_code"].as_str().unwrap_or_default();
    assert_eq!(
        call(&c, &ms, "decline", Some(json!({"user_code": uc2})))
            .await
            .json()["ok"],
        true
    );
    let dc3 = device_code(&c, &emu, TENANT).await;
    let uc3 = dc3["user_code"].as_str().unwrap_or_default();
    assert_eq!(
        call(&c, &vbm, "approve", Some(json!({"user_code": uc3})))
            .await
            .json()["ok"],
        true
    );
    let r = poll(
        &c,
        &emu,
        TENANT,
        dc3["device_code"].as_str().unwrap_or_default(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let bodies = call(&c, &ms, "ms_token_responses", None).await.json();
    assert_eq!(bodies[0], r.text.as_str());
    let r = call(&c, &ms, "approve", Some(json!({"code": 1}))).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "bad control input is a 400: {}",
        r.text
    );

    // VBM settings.
    assert_eq!(
        call(&c, &ms, "tenant_auth", Some(json!({"enabled": false})))
            .await
            .json()["ok"],
        true
    );
    let r = vbm_token(
        &c,
        &emu,
        "v8",
        &[
            ("grant_type", JWT_BEARER),
            ("client_id", TENANT),
            ("assertion", &r.text),
        ],
    )
    .await;
    assert!(r
        .text
        .to_lowercase()
        .contains("tenant authentication is disabled"));
    call(&c, &ms, "tenant_auth", Some(json!({"enabled": true}))).await;
    call(&c, &ms, "token_lifetime", Some(json!({"secs": 120}))).await;
    let minted = call(
        &c,
        &vbm,
        "mint",
        Some(json!({"tenant": TENANT, "version": "v7"})),
    )
    .await
    .json();
    assert_eq!(minted["expires_in"], 120);
    let rt = minted["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = call(
        &c,
        &vbm,
        "mint",
        Some(json!({"tenant": TENANT, "version": "v9"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    call(&c, &ms, "revoke_vbm_refresh_tokens", Some(json!({}))).await;
    let r = vbm_token(
        &c,
        &emu,
        "v7",
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    call(&c, &ms, "latency", Some(json!({"ms": 300}))).await;
    let started = std::time::Instant::now();
    vbm_token(
        &c,
        &emu,
        "v7",
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        call(&c, &ms, "revoke_ms_refresh_tokens", Some(json!({})))
            .await
            .json()["ok"],
        true
    );

    // Requests and stats, then clear.
    let reqs = call(&c, &ms, "requests", None).await.json();
    let reqs = reqs.as_array().expect("array");
    assert!(reqs.iter().all(|r| !r["path"]
        .as_str()
        .unwrap_or_default()
        .starts_with("/_emulator")));
    assert_eq!(reqs[0]["server"], "ms");
    assert_eq!(reqs[0]["method"], "POST");
    assert!(reqs[0]["body"]
        .as_str()
        .unwrap_or_default()
        .contains("client_id="));
    assert!(reqs.iter().any(|r| r["server"] == "vbm"));
    let stats = call(&c, &vbm, "stats", None).await.json();
    assert_eq!(stats["ms_devicecode"], 3);
    assert_eq!(stats["ms_device_code_polls"], 1);
    assert_eq!(stats["vbm_refresh"], 2);
    assert_eq!(stats["vbm_jwt_bearer"], 1);
    assert_eq!(stats["vbm_minted"], 1);
    call(&c, &vbm, "clear", Some(json!({}))).await;
    assert_eq!(call(&c, &ms, "requests", None).await.json(), json!([]));
    assert_eq!(call(&c, &ms, "stats", None).await.json(), json!({}));
}

#[tokio::test]
async fn the_binary_prints_one_json_line_and_serves() {
    let (mut child, v) = spawn_binary(&[
        "--interval",
        "2",
        "--date-format",
        "iso8601",
        "--auto-approve-after-ms",
        "0",
    ])
    .await;
    let ms = v["ms_url"].as_str().expect("ms_url").to_string();
    assert!(ms.starts_with("http://127.0.0.1:"));
    assert!(v["vbm_url"]
        .as_str()
        .is_some_and(|u| u.starts_with("https://127.0.0.1:")));
    assert_eq!(v["cert_sha256"].as_str().map(str::len), Some(64));
    assert_eq!(v["control"], format!("{ms}/_emulator"));

    let c = reqwest::Client::new();
    let r = c
        .post(format!("{ms}/{TENANT}/oauth2/v2.0/devicecode"))
        .form(&[("client_id", CLIENT_ID), ("scope", SCOPE)])
        .send()
        .await
        .expect("request");
    let dc: Value = r.json().await.expect("JSON");
    assert_eq!(dc["interval"], 2);
    let r = c
        .post(format!("{ms}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", CLIENT_ID),
            (
                "device_code",
                dc["device_code"].as_str().unwrap_or_default(),
            ),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK, "auto-approved");
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts the binary with `args`; the child and the JSON line it printed first.
async fn spawn_binary(args: &[&str]) -> (std::process::Child, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vbm365-emulator"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the binary");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("reader")
    .expect("first line");
    (child, serde_json::from_str(&line).expect("one JSON line"))
}

#[tokio::test]
async fn the_binary_injects_faults_from_its_flags() {
    let (mut child, v) = spawn_binary(&[
        "--fault",
        "throttled=3",
        "--fault",
        "lost_reply",
        "--fault-server",
        "ms",
    ])
    .await;
    let ms = v["ms_url"].as_str().expect("ms_url").to_string();
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let devicecode = || {
        c.post(format!("{ms}/{TENANT}/oauth2/v2.0/devicecode"))
            .form(&[("client_id", CLIENT_ID), ("scope", SCOPE)])
            .send()
    };
    let r = Reply::from(devicecode().await.expect("request")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    let err = devicecode().await.expect_err("the reply is lost");
    assert!(!err.is_timeout(), "{err:?}");
    assert_eq!(
        devicecode().await.expect("request").status(),
        StatusCode::OK
    );
    let stats: Value = c
        .get(format!("{ms}/_emulator/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("JSON");
    assert_eq!(stats["ms_faults"], 2);
    assert_eq!(stats["lost_replies"], 1);
    assert_eq!(stats["ms_devicecode"], 3);
    let _ = child.kill();
    let _ = child.wait();

    let (mut child, v) = spawn_binary(&["--fault-rate", "1"]).await;
    let ms = v["ms_url"].as_str().expect("ms_url").to_string();
    let r = c
        .post(format!("{ms}/{TENANT}/oauth2/v2.0/token"))
        .form(&[("grant_type", "refresh_token")])
        .timeout(Duration::from_millis(1500))
        .send()
        .await;
    let stats: Value = c
        .get(format!("{ms}/_emulator/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("JSON");
    assert_eq!(stats["ms_random_faults"], 1, "{stats} after {r:?}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_binary_documents_and_checks_its_fault_flags() {
    let help = Command::new(env!("CARGO_BIN_EXE_vbm365-emulator"))
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for needle in [
        "--fault-rate <P>",
        "--fault <KIND>",
        "--fault-server <SERVER>",
        "throttled[=SECS]",
        "lost_reply",
        "proxy_auth_required",
        "--restore-portal-app <KIND>",
        "spa-localhost",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    for (args, complaint) in [
        (["--fault-rate", "1.5"], "0.0 to 1.0"),
        (["--fault", "meteor_strike"], "unknown fault"),
        (["--fault-server", "both"], "unknown server"),
        (["--restore-portal-app", "native"], "unknown registration"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_vbm365-emulator"))
            .args(args)
            .output()
            .expect("run");
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(complaint), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn the_binary_registers_the_restore_portal_app_as_its_flag_says() {
    let (mut child, v) = spawn_binary(&["--restore-portal", "--restore-portal-app", "spa"]).await;
    let ms = v["ms_url"].as_str().expect("ms_url").to_string();
    let c = reqwest::Client::new();
    let index = call(&c, &ms, "", None).await;
    assert_eq!(index.status, StatusCode::NOT_FOUND);
    let index: Value = c
        .get(format!("{ms}/_emulator"))
        .send()
        .await
        .expect("index")
        .json()
        .await
        .expect("JSON");
    let app = index["restore_portal_app_id"].as_str().expect("app id");
    let dc = post_form(
        &c,
        &format!("{ms}/{TENANT}/oauth2/v2.0/devicecode"),
        &[("client_id", app), ("scope", "openid offline_access")],
    )
    .await
    .json();
    let r = post_form(
        &c,
        &format!("{ms}/{TENANT}/oauth2/v2.0/token"),
        &[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", app),
            (
                "device_code",
                dc["device_code"].as_str().unwrap_or_default(),
            ),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json()["error_codes"][0], 7000218, "{}", r.text);
    let _ = child.kill();
    let _ = child.wait();
}
