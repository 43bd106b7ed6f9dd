//! A failure that says nothing about a token never signs anyone out: every fault kind of both
//! servers, on refresh, silent re-sign-in and sign-in, against the real binary; replies lost after
//! the server rotated the tokens; organization names kept as typed; explicit pins never widened.

mod common;

use common::{Env, TENANT};
use std::time::Duration;
use vbm365_emulator::{EmulatorOptions, Fault, Server};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Faults that a retry gets past (the fault replaces the answer; the grant did not run): every
/// kind but a lost reply, and `Unavailable` both with and without `Retry-After`.
fn transient_faults() -> Vec<Fault> {
    let mut faults: Vec<Fault> = Fault::ALL
        .into_iter()
        .filter(|f| !matches!(f, Fault::LostReply))
        .collect();
    faults.push(Fault::Unavailable {
        retry_after_secs: Some(1),
    });
    faults
}

/// Signed in, with a short HTTP timeout so that `Hang` costs little.
async fn signed_in_env() -> Env {
    let mut env = Env::new().await;
    env.extra_env
        .push(("VBM365_AUTH_HTTP_TIMEOUT".into(), "1.5".into()));
    env.signed_in(TENANT, "v8").await;
    env
}

fn token(env: &Env) -> String {
    env.run(&["token", "--min-valid", "0"]).ok().stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn each_transient_fault_of_vbm365_on_a_refresh_is_retried_and_the_refresh_succeeds() {
    let env = signed_in_env().await;
    for fault in transient_faults() {
        let before = token(&env);
        env.emu.clear_requests();
        env.emu.inject_fault(fault, 1);
        let r = env.run(&["refresh"]);
        assert_eq!(r.code, 0, "{fault:?}: {}", r.stderr);
        let refreshes = env.grant_count(Server::Vbm, "refresh_token");
        assert_eq!(refreshes, 2, "{fault:?}: one faulted attempt, one retry");
        assert_ne!(token(&env), before, "{fault:?}: a new token was stored");
        assert_eq!(env.state(), "signed_in", "{fault:?}");
        assert_eq!(env.emu.device_codes().len(), 1, "no new sign-in");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fault_that_persists_keeps_every_token_and_says_so() {
    let mut env = signed_in_env().await;
    env.extra_env
        .push(("VBM365_AUTH_RETRY_BUDGET".into(), "0".into()));
    for fault in transient_faults() {
        let before = token(&env);
        env.emu.inject_fault(fault, 1);
        let r = env.run(&["refresh", "--json"]);
        assert_eq!(r.code, 1, "{fault:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("The stored tokens were kept"),
            "{fault:?}: {}",
            r.stderr
        );
        assert_eq!(env.state(), "signed_in", "{fault:?}");
        assert_eq!(
            token(&env),
            before,
            "{fault:?}: the same token is handed out"
        );
    }
    // The stored refresh token still works.
    env.run(&["refresh"]).ok();
    assert_eq!(env.state(), "signed_in");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_waited_out_as_retry_after_says_and_a_long_wait_gives_up_at_once() {
    let mut env = signed_in_env().await;
    env.emu.clear_requests();
    env.emu.inject_fault(
        Fault::Throttled {
            retry_after_secs: 2,
        },
        1,
    );
    env.run(&["refresh"]).ok();
    let at: Vec<_> = env.vbm_token_requests().iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 2);
    assert!(
        at[1].duration_since(at[0]) >= Duration::from_secs(2),
        "retried after {:?}",
        at[1].duration_since(at[0])
    );

    // A Retry-After beyond the command's retry budget: one attempt, tokens kept, exit 1.
    env.extra_env
        .push(("VBM365_AUTH_RETRY_BUDGET".into(), "5".into()));
    env.emu.clear_requests();
    env.emu.inject_fault(
        Fault::Throttled {
            retry_after_secs: 120,
        },
        1,
    );
    let r = env.run(&["refresh", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.json()["error"]["code"], "throttled", "{}", r.stdout);
    assert!(r.stderr.contains("retry after 120 s"), "{}", r.stderr);
    assert_eq!(env.vbm_token_requests().len(), 1);
    assert_eq!(env.state(), "signed_in");
}

#[tokio::test(flavor = "multi_thread")]
async fn microsoft_faults_during_the_silent_sign_in_keep_the_microsoft_refresh_token() {
    let mut env = signed_in_env().await;
    for fault in transient_faults() {
        // VBM365 refuses the refresh token: the silent re-sign-in with Microsoft starts.
        env.emu.revoke_vbm_refresh_tokens();
        env.emu.inject_fault_on(Server::Ms, fault, 1);
        let r = env.run(&["refresh"]);
        assert_eq!(r.code, 0, "{fault:?}: {}", r.stderr);
        assert_eq!(env.state(), "signed_in", "{fault:?}");
    }
    // Microsoft down for longer than the command waits: nothing is dropped, and once it is back
    // the kept Microsoft refresh token signs in again without the user.
    env.extra_env
        .push(("VBM365_AUTH_RETRY_BUDGET".into(), "0".into()));
    env.emu.revoke_vbm_refresh_tokens();
    env.emu.inject_fault_on(
        Server::Ms,
        Fault::Unavailable {
            retry_after_secs: Some(1),
        },
        1,
    );
    let r = env.run(&["refresh"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("temporarily_unavailable"), "{}", r.stderr);
    assert_ne!(env.state(), "sign_in_required");
    let r = env.run(&["refresh"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.state(), "signed_in");
    assert_eq!(env.emu.device_codes().len(), 1, "no new device code");
}

#[tokio::test(flavor = "multi_thread")]
async fn device_code_polling_survives_throttling_and_outages() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let faults = [
        Fault::Throttled {
            retry_after_secs: 1,
        },
        Fault::Unavailable {
            retry_after_secs: Some(1),
        },
        Fault::ProxyBadGateway,
    ];
    // Consecutive failures back off (2, 4, 8 s with a 1 s interval), so three keep this short.
    let r = env
        .login_with(TENANT, |emu, code| {
            for f in faults {
                emu.inject_fault_on(Server::Ms, f, 1);
            }
            assert!(emu.approve(code));
        })
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.last_event()["event"], "signed_in");
    assert_eq!(
        env.emu.stats().get("ms_faults").copied(),
        Some(faults.len() as u64)
    );
    assert_eq!(env.state(), "signed_in");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_whose_reply_was_lost_recovers_through_the_silent_sign_in() {
    let env = signed_in_env().await;
    env.emu.clear_requests();
    // VBM365 rotates the pair, then the reply never arrives: the stored refresh token is used up.
    env.emu.inject_fault(Fault::LostReply, 1);
    let r = env.run(&["refresh"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.emu.stats().get("lost_replies").copied(), Some(1));
    assert_eq!(env.grant_count(Server::Ms, "refresh_token"), 1);
    assert_eq!(env.grant_count(Server::Vbm, JWT_BEARER), 1);
    assert_eq!(env.emu.device_codes().len(), 1, "no new device code");
    assert_eq!(env.state(), "signed_in");
    env.run(&["refresh"]).ok();

    // Lost on the Microsoft side too: Microsoft keeps old refresh tokens valid, so the retry works.
    env.emu.revoke_vbm_refresh_tokens();
    env.emu.inject_fault_on(Server::Ms, Fault::LostReply, 1);
    let r = env.run(&["refresh"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.state(), "signed_in");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_exchange_reply_after_approval_does_not_waste_the_sign_in() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let r = env
        .login_with(TENANT, |emu, code| {
            emu.inject_fault(Fault::LostReply, 1);
            assert!(emu.approve(code));
        })
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.grant_count(Server::Vbm, JWT_BEARER), 2);
    assert_eq!(env.state(), "signed_in");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_exchange_after_approval_keeps_the_microsoft_sign_in_for_later() {
    let (env, _) = Env::exchange_refused().await;
    // The administrator turns tenant authentication on: no new device code is needed.
    env.emu.set_tenant_auth_enabled(true);
    let r = env.run(&["token"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.state(), "signed_in");
    assert_eq!(env.emu.device_codes().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_organization_name_is_sent_exactly_as_typed_and_found_ignoring_case() {
    let env = Env::with(EmulatorOptions {
        known_organizations: Some(vec!["Contoso.onmicrosoft.com".into()]),
        ..common::options()
    })
    .await;
    env.signed_in("Contoso.onmicrosoft.com", "v8").await;
    let exchange = env
        .vbm_token_requests()
        .into_iter()
        .find(|r| common::field(r, "grant_type").as_deref() == Some(JWT_BEARER))
        .unwrap();
    assert_eq!(
        common::field(&exchange, "client_id").as_deref(),
        Some("Contoso.onmicrosoft.com")
    );
    let list = env.run(&["tenant", "list", "--json"]).ok().json();
    assert_eq!(list[0]["tenant"], "Contoso.onmicrosoft.com", "{list}");
    // Looked up ignoring case; a second spelling of the same name is the same tenant.
    env.run(&["token", "CONTOSO.ONMICROSOFT.COM"]).ok();
    let r = env.run(&[
        "tenant",
        "add",
        "contoso.onmicrosoft.com",
        "--server",
        &env.emu.vbm_url(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("already saved"), "{}", r.stderr);

    // Typed in another case than the server's: the refusal names the likely cause.
    env.add_tenant("fabrikam.onmicrosoft.com", "v8");
    let r = env.login("fabrikam.onmicrosoft.com").await;
    let ev = r.last_event();
    assert_eq!(ev["code"], "exchange_refused", "{ev}");
    let m = ev["message"].as_str().unwrap();
    assert!(m.contains("fabrikam.onmicrosoft.com"), "{m}");
    assert!(m.contains("case-sensitively"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pin_given_with_a_tenant_is_never_widened() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8"); // pins the emulator's real certificate
    let other = "ab".repeat(32);
    let r = env.try_add_tenant("fabrikam.onmicrosoft.com", &["--pin-sha256", &other]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(&env.emu.cert_sha256()), "{}", r.stderr);
    assert!(r.stderr.contains(&other), "{}", r.stderr);
    let cfg = env.config_json();
    let pins = cfg["trusted_certificates"].as_object().unwrap();
    assert_eq!(pins.len(), 1);
    let only: Vec<_> = pins.values().next().unwrap().as_array().unwrap().clone();
    assert_eq!(only, vec![serde_json::Value::from(env.emu.cert_sha256())]);
    assert!(cfg["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["name"] != "fabrikam.onmicrosoft.com"));
    // The pin already trusted is fine.
    let pin = env.emu.cert_sha256();
    let r = env.try_add_tenant("fabrikam.onmicrosoft.com", &["--pin-sha256", &pin]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
