//! The real app refreshing in the background while the VBM365 server (or what stands in front of
//! it) misbehaves. The emulators issue short-lived VBM365 tokens, so the app refreshes every few
//! seconds without a click, and answer chosen refresh requests with injected faults
//! ([`Emulators::inject_fault`]). What must hold: a transient failure never costs the stored tokens
//! (no "sign-in required", no silent re-sign-in that a dropped token would need), the next refresh
//! works, and a refresh whose reply was lost is recovered with the saved Microsoft sign-in, without
//! a new device code.
//!
//! Needs an X display and a session bus with a Secret Service; ignored by default:
//! `xvfb-run -a scripts/with-keyring cargo test -p vbm365-auth-app --test faults -- --ignored --test-threads=1`

mod support;

use std::time::Duration;
use support::*;
use vbm365_auth_core::failure::RetryPolicy;
use vbm365_auth_core::{Engine, TenantState, TenantStatus};
use vbm365_emulator::{Fault, RecordedRequest, Server};

const TENANT: &str = "contoso.onmicrosoft.com";
/// Lifetime of the emulator's VBM365 tokens: the app refreshes 3 s after each renewal.
const LIFETIME: u64 = 6;
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A signed-in tenant on emulators with [`LIFETIME`] tokens, in a fresh config dir.
async fn setup() -> Setup {
    require_desktop_session();
    Setup::signed_in(LIFETIME, TENANT).await
}

fn status(engine: &Engine) -> TenantStatus {
    engine
        .status()
        .expect("status")
        .into_iter()
        .find(|s| s.profile.name == TENANT)
        .expect("the tenant")
}

/// The tenant still has its tokens: signed in, or expired with a refresh token that can renew it
/// (a refresh that is retrying may outlive a 6 s token).
fn assert_tokens_kept(engine: &Engine, app: &App) {
    let s = status(engine);
    assert!(
        matches!(s.state, TenantState::SignedIn | TenantState::Expired) && s.detail.is_none(),
        "the tokens were dropped: {s:?}\n{}",
        app.log()
    );
}

/// The refresh token of a VBM365 refresh request.
fn presented(r: &RecordedRequest) -> String {
    form_field(r, "refresh_token").expect("refresh_token in a refresh")
}

/// Runs of equal consecutive values: (value, how many times in a row).
fn runs(values: Vec<String>) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for v in values {
        match out.last_mut() {
            Some((last, n)) if *last == v => *n += 1,
            _ => out.push((v, 1)),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn transient_faults_in_background_refreshes_keep_the_tokens() {
    let s = setup().await;
    let first_token = s.token(TENANT).await;
    let codes = s.emu.device_codes().len();
    s.emu.clear_requests();

    // Every kind of transient failure of the VBM365 token endpoint: the server's own 500s, a
    // reverse proxy's 502 pages and 429 (Retry-After), HTTP.sys's 503, a forward proxy's 407,
    // replies cut off, oversized, malformed or mistyped, dropped connections, no answer at all
    // (the app's request timeout is 3 s here).
    let kinds = [
        Fault::Status500Html,
        Fault::Status502Empty,
        Fault::TruncatedBody,
        Fault::Throttled {
            retry_after_secs: 1,
        },
        Fault::Unavailable {
            retry_after_secs: Some(1),
        },
        Fault::ProxyBadGateway,
        Fault::ProxyAuthRequired,
        Fault::ServerError,
        Fault::MalformedJson,
        Fault::WrongTypes,
        Fault::OversizedBody,
        Fault::CloseConnection,
        Fault::Hang,
    ];
    // Each background refresh meets one fault fewer than its attempts (the core retries transient
    // failures within a call), so each ends with new tokens.
    let per_refresh = (RetryPolicy::default().attempts - 1) as usize;
    assert!(per_refresh >= 1);
    let groups: Vec<&[Fault]> = kinds.chunks(per_refresh).collect();

    for f in groups[0] {
        s.emu.inject_fault(*f, 1);
    }
    let mut app = s.start_app_with_env(&[("VBM365_AUTH_HTTP_TIMEOUT", "3")]);
    for (i, group) in groups.iter().enumerate() {
        let done = i as u64 + 1;
        wait_for(
            &format!("a background refresh through {group:?}"),
            Duration::from_secs(45),
            || {
                app.assert_running();
                assert_tokens_kept(&s.engine, &app);
                (stat(&s.emu, "vbm_tokens_issued") >= done).then_some(())
            },
        );
        for f in *group {
            assert_eq!(
                stat(&s.emu, &format!("vbm_fault_{}", f.kind())),
                1,
                "{f:?} served once: {:?}",
                s.emu.stats()
            );
        }
        // The emulator counts the pair when it sends it; the app stores it a moment later. (With
        // 6 s tokens and a few seconds of retries the old token may expire meanwhile: `expired`
        // then, never `sign_in_required`, and never without tokens.)
        wait_for("the renewed tokens stored", Duration::from_secs(10), || {
            app.assert_running();
            assert_tokens_kept(&s.engine, &app);
            (status(&s.engine).state == TenantState::SignedIn).then_some(())
        });
        // The next refresh is due 3 s after this one: queue the next group for it.
        if let Some(next) = groups.get(i + 1) {
            for f in *next {
                s.emu.inject_fault(*f, 1);
            }
        }
    }
    // And the refresh after the last fault works like any other.
    let done = groups.len() as u64 + 1;
    wait_for(
        "a clean background refresh after the faults",
        Duration::from_secs(20),
        || {
            app.assert_running();
            (stat(&s.emu, "vbm_tokens_issued") >= done).then_some(())
        },
    );
    app.assert_running();
    let stats = s.emu.stats();
    let log = app.log();

    // Every faulted attempt carried the stored refresh token, retried until it was renewed, and
    // the renewed one was used next: runs of one token per refresh, `faults + 1` long.
    let runs = runs(vbm_refreshes(&s.emu).iter().map(presented).collect());
    let lengths: Vec<usize> = runs.iter().map(|(_, n)| *n).collect();
    for (i, group) in groups.iter().enumerate() {
        assert_eq!(
            lengths.get(i),
            Some(&(group.len() + 1)),
            "attempts per refresh token: {lengths:?}\n{stats:?}\n{log}"
        );
    }
    let mut distinct: Vec<&String> = runs.iter().map(|(t, _)| t).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), runs.len(), "a refresh token came back");
    // Nothing was refused, nothing dropped: no silent re-sign-in, no new device code.
    for counter in [
        "vbm_token_errors",
        "vbm_refresh_token_reused",
        "ms_refresh",
        "vbm_jwt_bearer",
        "ms_devicecode",
    ] {
        assert_eq!(stat(&s.emu, counter), 0, "{counter}: {stats:?}\n{log}");
    }
    assert_eq!(s.emu.device_codes().len(), codes);
    // The app saw no failed refresh: the retries inside each call absorbed the faults.
    assert!(!log.contains("background refresh failed"), "{log}");
    assert!(!log.contains("SignInRequired"), "{log}");

    let row = status_of(&s.config, TENANT);
    assert_eq!(row["state"], "signed_in", "{row}");
    let last_token = s.token(TENANT).await;
    assert!(
        last_token != first_token,
        "the access token was never replaced"
    );
    drop(app);
    s.assert_no_plaintext_secrets(&[&first_token, &last_token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn a_lost_refresh_reply_is_recovered_by_the_silent_sign_in_without_a_new_code() {
    let s = setup().await;
    let first_token = s.token(TENANT).await;
    let first_expiry = status(&s.engine).expires_at;
    let codes = s.emu.device_codes().len();
    s.emu.clear_requests();
    // The server renews the tokens for the first background refresh, and the reply never
    // arrives: the refresh token the app holds is spent, the new one lost.
    s.emu.inject_fault(Fault::LostReply, 1);
    let mut app = s.start_app();

    let exchange = wait_for(
        "the silent re-sign-in (jwt-bearer) after the lost reply",
        Duration::from_secs(30),
        || {
            app.assert_running();
            token_requests(&s.emu)
                .into_iter()
                .find(|r| r.server == Server::Vbm && grant(r).as_deref() == Some(JWT_BEARER))
        },
    );
    let requests = token_requests(&s.emu);
    let lost = &requests[0];
    assert_eq!(lost.server, Server::Vbm);
    assert_eq!(grant(lost).as_deref(), Some("refresh_token"));
    assert_eq!(stat(&s.emu, "lost_replies"), 1);
    // The app retried the spent token (it could not know), the server refused it, and the app
    // signed in again with the saved Microsoft refresh token: Microsoft first, then VBM365.
    let ms_refresh = requests
        .iter()
        .find(|r| r.server == Server::Ms && grant(r).as_deref() == Some("refresh_token"))
        .unwrap_or_else(|| panic!("no Microsoft refresh: {:?}", s.emu.stats()));
    assert!(lost.at < ms_refresh.at && ms_refresh.at < exchange.at);
    assert!(stat(&s.emu, "vbm_refresh_after_lost_reply") <= 1);
    // No person was asked: no new device code.
    assert_eq!(s.emu.device_codes().len(), codes);
    assert_eq!(stat(&s.emu, "ms_devicecode"), 0);

    // (The exchange was seen arriving at the server; the app stores its tokens a moment later.)
    let recovered = wait_for(
        "new tokens stored after the re-sign-in",
        Duration::from_secs(10),
        || {
            let st = status(&s.engine);
            (st.state == TenantState::SignedIn && st.expires_at > first_expiry).then_some(st)
        },
    );
    assert!(recovered.detail.is_none(), "{recovered:?}");
    let token = s.token(TENANT).await;
    assert!(token != first_token, "the access token was not replaced");

    // The next background refresh works with the tokens of the re-sign-in.
    let after_exchange = exchange.at;
    let refresh = wait_for(
        "a plain background refresh after the recovery",
        Duration::from_secs(20),
        || {
            app.assert_running();
            vbm_refreshes(&s.emu)
                .into_iter()
                .find(|r| r.at > after_exchange)
        },
    );
    assert!(
        presented(&refresh) != presented(lost),
        "the spent refresh token was presented again"
    );
    wait_for(
        "the refresh after the recovery to be stored",
        Duration::from_secs(10),
        || {
            let st = status(&s.engine);
            (st.state == TenantState::SignedIn && st.expires_at > recovered.expires_at)
                .then_some(())
        },
    );
    let log = app.log();
    // At most the spent token was refused; the later refresh was not.
    assert!(
        stat(&s.emu, "vbm_token_errors") <= 1,
        "{:?}\n{log}",
        s.emu.stats()
    );
    assert_eq!(stat(&s.emu, "ms_devicecode"), 0);
    assert!(!log.contains("SignInRequired"), "{log}");
    assert_eq!(status_of(&s.config, TENANT)["state"], "signed_in");
    drop(app);
    s.assert_no_plaintext_secrets(&[&first_token, &token]);
}
