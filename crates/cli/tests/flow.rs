//! The whole modern app-only flow through the real CLI against the emulators, asserted on the wire.

mod common;

use common::{field, Env, TENANT};
use std::time::Duration;
use vbm365_emulator::{EmulatorOptions, Server};

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_sends_the_microsoft_reply_byte_for_byte_as_the_assertion() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let run = env.login(TENANT).await.ok();

    let events = run.events();
    assert_eq!(events.first().unwrap()["event"], "device_code");
    assert_eq!(events[0]["tenant"], TENANT);
    assert!(events[0]["verification_uri"]
        .as_str()
        .unwrap()
        .ends_with("/devicelogin"));
    assert!(events[0]["expires_in"].as_u64().unwrap() > 0);
    let last = events.last().unwrap();
    assert_eq!(last["event"], "signed_in", "{run:?}");
    let expires =
        chrono::DateTime::parse_from_rfc3339(last["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires > chrono::Utc::now() + chrono::Duration::minutes(50));

    // Step 1 on the wire.
    let reqs = env.emu.requests();
    let dc = reqs
        .iter()
        .find(|r| r.path.ends_with("/oauth2/v2.0/devicecode"))
        .unwrap();
    assert_eq!(dc.path, format!("/{TENANT}/oauth2/v2.0/devicecode"));
    assert_eq!(
        dc.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        field(dc, "client_id").as_deref(),
        Some("04b07795-8ddb-461a-bbee-02f9e1bf7b46")
    );
    assert_eq!(
        field(dc, "scope").as_deref(),
        Some("Directory.AccessAsUser.All User.ReadWrite.All offline_access")
    );

    // Step 3: device code grant, never faster than the interval.
    let polls: Vec<_> = reqs
        .iter()
        .filter(|r| {
            r.server == Server::Ms
                && field(r, "grant_type").as_deref()
                    == Some("urn:ietf:params:oauth:grant-type:device_code")
        })
        .collect();
    assert!(!polls.is_empty());
    for p in &polls {
        assert_eq!(
            field(p, "client_id").as_deref(),
            Some("04b07795-8ddb-461a-bbee-02f9e1bf7b46")
        );
        assert!(field(p, "device_code").is_some_and(|c| !c.is_empty()));
    }
    for w in polls.windows(2) {
        assert!(
            w[1].at.duration_since(w[0].at) >= Duration::from_millis(990),
            "polled faster than the interval"
        );
    }
    // The server never had to say slow_down (each one adds 5 s to the code's interval); the one
    // code issued was redeemed by the last poll: every earlier poll was answered with an error
    // (authorization_pending), none came after the tokens.
    let codes = env.emu.device_codes();
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].interval, 1, "the client was told to slow down");
    assert_eq!(codes[0].state, vbm365_emulator::DeviceCodeState::Redeemed);
    let stats = env.emu.stats();
    let stat = |k: &str| stats.get(k).copied().unwrap_or(0);
    assert_eq!(stat("ms_tokens_issued"), 1, "{stats:?}");
    assert_eq!(stat("ms_errors"), polls.len() as u64 - 1, "{stats:?}");

    // Step 4: the assertion is the Microsoft token response, byte for byte.
    let ms_bodies = env.emu.ms_token_responses();
    assert_eq!(ms_bodies.len(), 1);
    let vbm = env.vbm_token_requests();
    assert_eq!(vbm.len(), 1);
    let x = &vbm[0];
    assert_eq!(x.path, "/v8/token");
    assert_eq!(
        x.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        field(x, "grant_type").as_deref(),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    assert_eq!(field(x, "client_id").as_deref(), Some(TENANT));
    assert_eq!(
        field(x, "assertion").unwrap().as_bytes(),
        ms_bodies[0].as_bytes()
    );
    assert_eq!(
        field(x, "disable_antiforgery_token").as_deref(),
        Some("true")
    );

    // Signed in: status and token.
    let st = env.status();
    assert_eq!(st[0]["state"], "signed_in");
    assert_eq!(st[0]["active"], true);
    let token = env.run(&["token"]).ok().stdout;
    assert!(token.trim().len() > 100);
    // The token works against the server: one ServiceInstance call with it succeeds.
    let tj = env.run(&["token", "--json"]).ok().json();
    assert_eq!(tj["tenant"], TENANT);
    assert_eq!(tj["token_type"], "bearer");
    assert_eq!(tj["access_token"].as_str().unwrap(), token.trim());
    assert!(tj["expires_at"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn v6_v7_v8_request_shapes() {
    let env = Env::new().await;
    for (i, v) in ["v6", "v7", "v8"].iter().enumerate() {
        let name = format!("t{i}.onmicrosoft.com");
        env.signed_in(&name, v).await;
        env.run(&["refresh", &name]).ok();
        let reqs: Vec<_> = env
            .vbm_token_requests()
            .into_iter()
            .filter(|r| r.path == format!("/{v}/token"))
            .collect();
        assert_eq!(reqs.len(), 2, "{v}: one exchange and one refresh");
        for r in &reqs {
            let flag = field(r, "disable_antiforgery_token");
            if *v == "v6" {
                assert_eq!(flag, None, "v6 has no antiforgery parameter");
            } else {
                assert_eq!(flag.as_deref(), Some("true"), "{v}");
            }
        }
        assert_eq!(
            field(&reqs[1], "grant_type").as_deref(),
            Some("refresh_token")
        );
        // Refresh worked without a cookie on every version: the tokens are not tied to a browser.
        assert!(reqs[1].header("cookie").is_none());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_interval_means_five_seconds() {
    let env = Env::with(EmulatorOptions {
        device_code_interval: None,
        include_message: false,
        ..common::options()
    })
    .await;
    env.add_tenant(TENANT, "v8");
    let run = env
        .login_with(TENANT, |emu, code| {
            assert!(emu.approve(code));
        })
        .await
        .ok();
    assert!(run.events()[0]["message"].is_null());
    let reqs = env.emu.requests();
    let dc = reqs
        .iter()
        .find(|r| r.path.ends_with("/devicecode"))
        .unwrap();
    let first_poll = reqs
        .iter()
        .find(|r| field(r, "device_code").is_some())
        .unwrap();
    let gap = first_poll.at.duration_since(dc.at);
    assert!(
        gap >= Duration::from_millis(4990),
        "first poll after {gap:?}, expected ≥ 5 s"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_stores_the_new_pair_and_never_reuses_the_old_refresh_token() {
    let env = Env::with_signed_in_tenant().await;
    let t0 = env.run(&["token"]).ok().stdout;
    env.run(&["refresh"]).ok();
    let t1 = env.run(&["token"]).ok().stdout;
    env.run(&["refresh", "--json"]).ok();
    let t2 = env.run(&["token"]).ok().stdout;
    assert_ne!(t0, t1);
    assert_ne!(t1, t2);
    let refreshes: Vec<_> = env
        .vbm_token_requests()
        .into_iter()
        .filter(|r| field(r, "grant_type").as_deref() == Some("refresh_token"))
        .collect();
    assert_eq!(refreshes.len(), 2);
    let rt1 = field(&refreshes[0], "refresh_token").unwrap();
    let rt2 = field(&refreshes[1], "refresh_token").unwrap();
    assert_ne!(
        rt1, rt2,
        "the second refresh must use the rotated refresh token"
    );
    // The server rejects reuse, so both succeeding proves the stored pair was replaced together.
    assert_eq!(
        env.grant_count(Server::Ms, "refresh_token"),
        0,
        "no silent re-sign-in was needed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_refresh_signs_in_again_silently_then_requires_sign_in() {
    let env = Env::new().await;
    env.signed_in(TENANT, "v7").await;
    env.emu.revoke_vbm_refresh_tokens();
    let r = env.run(&["refresh", "--json"]).ok();
    assert_eq!(r.json()["tenant"], TENANT);
    // On the wire: a refused VBM refresh, a Microsoft refresh_token grant, a new jwt-bearer exchange.
    let ms_rt: Vec<_> = env
        .emu
        .requests()
        .into_iter()
        .filter(|r| {
            r.server == Server::Ms && field(r, "grant_type").as_deref() == Some("refresh_token")
        })
        .collect();
    assert_eq!(ms_rt.len(), 1);
    assert_eq!(
        field(&ms_rt[0], "client_id").as_deref(),
        Some("04b07795-8ddb-461a-bbee-02f9e1bf7b46")
    );
    assert!(field(&ms_rt[0], "scope")
        .unwrap()
        .contains("offline_access"));
    assert_eq!(
        env.grant_count(Server::Vbm, "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        2
    );
    let bodies = env.emu.ms_token_responses();
    let last_exchange = env
        .vbm_token_requests()
        .into_iter()
        .rev()
        .find(|r| field(r, "assertion").is_some())
        .unwrap();
    assert_eq!(
        field(&last_exchange, "assertion").unwrap().as_bytes(),
        bodies.last().unwrap().as_bytes()
    );
    assert_eq!(env.state(), "signed_in");

    // Now both refresh tokens are refused: sign-in required, exit 4.
    env.emu.revoke_vbm_refresh_tokens();
    env.emu.revoke_ms_refresh_tokens();
    let r = env.run(&["token", "--min-valid", "999999"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("sign-in required"), "{}", r.stderr);
    assert_eq!(env.state(), "sign_in_required");
    assert_eq!(env.run(&["token"]).code, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_remembered_microsoft_sign_in_a_refused_refresh_needs_sign_in() {
    let env = Env::new().await;
    let pin = env.emu.cert_sha256();
    env.add_tenant_with(TENANT, &["--pin-sha256", &pin, "--no-remember-ms-sign-in"]);
    env.login(TENANT).await.ok();
    env.emu.revoke_vbm_refresh_tokens();
    let r = env.run(&["refresh"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert_eq!(env.grant_count(Server::Ms, "refresh_token"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn six_processes_needing_a_refresh_send_exactly_one() {
    let env = Env::with(EmulatorOptions {
        vbm_token_lifetime: 60,
        vbm_latency_ms: 300,
        ..common::options()
    })
    .await;
    env.signed_in(TENANT, "v8").await;
    env.emu.set_vbm_token_lifetime(3600);
    env.emu.clear_requests();
    // Every process sees a token valid for 60 s and wants 120 s: all need a refresh at once.
    let children: Vec<_> = (0..6)
        .map(|_| {
            env.cmd(&["token", "--min-valid", "120"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut tokens = Vec::new();
    for c in children {
        let out = common::wait_child(c, Duration::from_secs(60)).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokens.push(String::from_utf8(out.stdout).unwrap());
    }
    let refreshes = env.grant_count(Server::Vbm, "refresh_token");
    assert_eq!(
        refreshes, 1,
        "exactly one refresh request for six processes"
    );
    assert!(
        tokens
            .iter()
            .all(|t| t == &tokens[0] && t.trim().len() > 100),
        "all print the same token"
    );
    let st = env
        .run(&["token", "--json", "--min-valid", "120"])
        .ok()
        .json();
    assert_eq!(st["access_token"].as_str().unwrap(), tokens[0].trim());
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_all_refreshes_every_signed_in_tenant_once() {
    let env = Env::new().await;
    for i in 0..5 {
        let n = format!("t{i}.onmicrosoft.com");
        env.add_tenant(&n, "v8");
        let m = env.emu.mint_vbm_tokens(&n, "v8");
        assert!(!m.refresh_token.is_empty());
    }
    // Sign two of them in through the real flow; the others stay signed out.
    env.login("t0.onmicrosoft.com").await.ok();
    env.login("t3.onmicrosoft.com").await.ok();
    env.emu.clear_requests();
    let r = env.run(&["refresh", "--all", "--json"]).ok();
    let rows = r.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows
        .iter()
        .all(|r| r["ok"] == true && r["expires_at"].is_string()));
    assert_eq!(env.grant_count(Server::Vbm, "refresh_token"), 2);
}
