//! The CLI contract (README, "CLI reference"): every command, JSON shape and exit code.

mod common;

use common::{field, Env, TENANT};
use vbm365_emulator::Server;

#[tokio::test(flavor = "multi_thread")]
async fn tenant_add_list_switch_remove() {
    let env = Env::new().await;
    let a = "a.onmicrosoft.com";
    let b = "b.onmicrosoft.com";
    env.run(&[
        "tenant",
        "add",
        a,
        "--server",
        "https://vbm.example.local:4443",
    ])
    .ok();
    env.run(&[
        "tenant",
        "add",
        "B.onmicrosoft.com",
        "--server",
        "https://vbm2.example.local:4443/",
        "--api-version",
        "v6",
        "--authority",
        "us-gov",
        "--client-id",
        "11111111-2222-3333-4444-555555555555",
        "--scope",
        "User.Read offline_access",
    ])
    .ok();
    let list = env.run(&["tenant", "list", "--json"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["tenant"], a);
    assert_eq!(list[0]["active"], true, "the first tenant becomes active");
    assert_eq!(list[0]["api_version"], "v8");
    assert_eq!(list[0]["authority"], "https://login.microsoftonline.com");
    assert_eq!(list[0]["client_id"], "04b07795-8ddb-461a-bbee-02f9e1bf7b46");
    assert_eq!(list[1]["tenant"], "B.onmicrosoft.com", "kept as typed");
    assert_eq!(list[1]["active"], false);
    assert_eq!(list[1]["server"], "https://vbm2.example.local:4443");
    assert_eq!(list[1]["api_version"], "v6");
    assert_eq!(list[1]["authority"], "https://login.microsoftonline.us");
    assert_eq!(list[1]["scope"], "User.Read offline_access");
    let text = env.run(&["tenant", "list"]).ok().stdout;
    assert!(text.contains(&format!("* {a}")), "{text}");

    // Duplicates, bad names and bad URLs are usage errors that change nothing.
    let before = std::fs::read(env.config_dir().join("config.json")).unwrap();
    let add_c = |extra: &[&'static str]| {
        let mut args = vec!["tenant", "add", "c.onmicrosoft.com", "--server"];
        args.extend_from_slice(extra);
        args
    };
    for args in [
        vec!["tenant", "add", a, "--server", "https://x"],
        vec!["tenant", "add", "bad name", "--server", "https://x"],
        add_c(&["http://vbm.example:4443"]),
        add_c(&["https://x", "--api-version", "v9"]),
        add_c(&["https://x", "--pin-sha256", "zz"]),
        add_c(&["https://x", "--authority", "http://login.example.com"]),
    ] {
        let r = env.run(&args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    }
    assert_eq!(
        std::fs::read(env.config_dir().join("config.json")).unwrap(),
        before
    );

    // Names are matched case-insensitively here and shown as typed.
    let r = env.run(&["switch", b]).ok();
    assert!(r.stderr.contains("B.onmicrosoft.com"), "{}", r.stderr);
    let st = env.status();
    assert_eq!(st[1]["active"], true);
    assert_eq!(st[0]["active"], false);
    assert_eq!(env.run(&["switch", "nobody.onmicrosoft.com"]).code, 2);

    env.run(&["tenant", "remove", b]).ok();
    let list = env.run(&["tenant", "list", "--json"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        env.run(&["token"]).code,
        2,
        "no active tenant is a usage error"
    );
    assert_eq!(env.run(&["tenant", "remove", b]).code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2() {
    let env = Env::new().await;
    for args in [
        vec!["token", "--min-valid", "soon"],
        vec!["frobnicate"],
        vec!["refresh", "x", "--all"],
        vec!["logout", "x", "--all"],
        vec!["tenant", "add", "x.onmicrosoft.com"],
    ] {
        assert_eq!(env.run(&args).code, 2, "{args:?}");
    }
    assert_eq!(env.run(&["--help"]).code, 0);
    assert_eq!(env.run(&["--version"]).code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shapes_for_every_state() {
    let env = Env::with_signed_in_tenant().await;
    env.add_tenant("out.onmicrosoft.com", "v8");
    let st = env.status();
    let rows = st.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        let keys: Vec<_> = r.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["active", "expires_at", "role", "server", "state", "tenant"]
        );
        assert_eq!(r["role"], "organization");
    }
    assert_eq!(rows[0]["state"], "signed_in");
    assert_eq!(rows[0]["server"], env.emu.vbm_url());
    assert!(chrono::DateTime::parse_from_rfc3339(rows[0]["expires_at"].as_str().unwrap()).is_ok());
    assert_eq!(rows[1]["state"], "signed_out");
    assert!(rows[1]["expires_at"].is_null());
    let human = env.run(&["status"]).ok().stdout;
    assert!(
        human.contains("signed_in") && (human.contains("in 59 min") || human.contains("in 1 h")),
        "{human}"
    );

    // Expired: the access token is past its lifetime but the refresh token is kept.
    let short = Env::with(vbm365_emulator::EmulatorOptions {
        vbm_token_lifetime: 1,
        ..common::options()
    })
    .await;
    short.signed_in(TENANT, "v8").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(short.state(), "expired");
    // `token` refreshes an expired token by itself.
    short.emu.set_vbm_token_lifetime(3600);
    short.run(&["token"]).ok();
    assert_eq!(short.state(), "signed_in");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_refreshes_only_inside_min_valid() {
    let env = Env::with_signed_in_tenant().await;
    let t1 = env.run(&["token", "--min-valid", "60"]).ok().stdout;
    assert_eq!(env.grant_count(Server::Vbm, "refresh_token"), 0);
    let t2 = env.run(&["token", "--min-valid", "7200"]).ok().stdout;
    assert_eq!(env.grant_count(Server::Vbm, "refresh_token"), 1);
    assert_ne!(t1, t2);
    assert!(!t2.contains(' ') && t2.ends_with('\n'));
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_calls_the_server_and_forgets_the_tokens() {
    let env = Env::with_signed_in_tenant().await;
    let token = env.run(&["token"]).ok().stdout;
    env.run(&["logout"]).ok();
    let reqs = env.emu.requests();
    let lo = reqs
        .iter()
        .find(|r| r.path == "/v8/token/logout")
        .expect("logout request");
    assert_eq!(lo.method, "POST");
    assert_eq!(
        lo.header("authorization"),
        Some(format!("Bearer {}", token.trim()).as_str())
    );
    assert_eq!(env.state(), "signed_out");
    assert_eq!(env.run(&["token"]).code, 4);

    // v6 has no logout endpoint: nothing is sent, tokens are still forgotten.
    env.signed_in("six.onmicrosoft.com", "v6").await;
    env.emu.clear_requests();
    env.run(&["logout", "six.onmicrosoft.com"]).ok();
    assert!(env
        .emu
        .requests()
        .iter()
        .all(|r| !r.path.contains("logout")));

    // --all: every tenant signed out, vault removed.
    env.login(TENANT).await.ok();
    env.login("six.onmicrosoft.com").await.ok();
    env.run(&["logout", "--all"]).ok();
    let st = env.status();
    assert!(st
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["state"] == "signed_out"));
    assert!(!env.config_dir().join("vault.bin").exists());
    // Signing in again after logout --all works (a new vault key is made).
    env.login(TENANT).await.ok();
    let _ = field;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_errors_carry_a_code() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let r = env.run(&["token", "--json"]);
    assert_eq!(r.code, 4);
    let v = r.json();
    assert_eq!(v["error"]["code"], "sign_in_required");
    assert!(v["error"]["message"].as_str().unwrap().contains(TENANT));
    let r = env.run(&["refresh", "--all", "--json"]).ok();
    assert_eq!(r.json(), serde_json::json!([]));
}
