//! The real app started as a plain process, as a user or autostart starts it. Background refresh:
//! nobody clicks anything; the emulators issue short-lived VBM365 tokens and count the refresh
//! requests, and the `vbm365-auth` CLI reads the shared state. Also the rendering mode its web
//! process is started with.
//!
//! Needs an X display, a session bus and the built CLI (`cargo build -p vbm365-auth-cli`); ignored
//! by default:
//! `xvfb-run -a scripts/with-keyring cargo test -p vbm365-auth-app --test background -- --ignored --test-threads=1`

mod support;

use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};
use support::*;
use vbm365_auth_app::scheduler;
use vbm365_emulator::Fault;

const TENANT: &str = "contoso.onmicrosoft.com";

fn expiry_of(row: &serde_json::Value) -> DateTime<Utc> {
    expires_at(row).unwrap_or_else(|| panic!("no expires_at in {row}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn short_lived_tokens_are_refreshed_before_expiry_without_a_click() {
    require_desktop_session();
    // 15 s tokens: the margin is 5 s, so the app refreshes about 10 s after sign-in.
    let s = Setup::signed_in(15, TENANT).await;
    let first = status_of(&s.config, TENANT);
    assert_eq!(first["state"], "signed_in");
    let first_expiry = expiry_of(&first);
    s.emu.clear_requests();

    let mut app = s.start_app();
    let seen_at = wait_for(
        "a background refresh at the emulator",
        Duration::from_secs(20),
        || (!vbm_refreshes(&s.emu).is_empty()).then(Utc::now),
    );
    app.assert_running();
    // Seen (within the 100 ms poll) before the first token expired.
    assert!(
        seen_at < first_expiry,
        "refreshed at {seen_at}, after the expiry {first_expiry}"
    );
    assert_eq!(vbm_refreshes(&s.emu).len(), 1, "one refresh, not a burst");
    // The new tokens are stored where the CLI sees them.
    let row = wait_for("the renewed expiry", Duration::from_secs(5), || {
        let row = status_of(&s.config, TENANT);
        (expiry_of(&row) > first_expiry).then_some(row)
    });
    assert_eq!(row["state"], "signed_in");
    assert!(app.log().contains("background refresh"), "{}", app.log());
    // The renewed tokens went into the keyring-sealed vault, as the sign-in's did.
    let token = s.token(TENANT).await;
    s.assert_no_plaintext_secrets(&[&token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn a_failing_server_gets_backoff_and_the_tokens_are_kept() {
    require_desktop_session();
    // 6 s tokens: the first refresh is due 3 s after sign-in.
    let s = Setup::signed_in(6, TENANT).await;
    let expiry = expiry_of(&status_of(&s.config, TENANT));
    // The server is down for every token request from now on (a 502 from its proxy).
    s.emu.inject_fault(Fault::Status502Empty, 1000);
    s.emu.clear_requests();

    // No retries inside a refresh (VBM365_AUTH_RETRY_BUDGET=0): every request at the emulator is
    // one attempt of the background scheduler, whose own backoff is under test.
    let mut app = s.start_app_with_env(&[("VBM365_AUTH_RETRY_BUDGET", "0")]);
    wait_for(
        "the first (failing) refresh",
        Duration::from_secs(15),
        || (!vbm_refreshes(&s.emu).is_empty()).then_some(()),
    );
    // scheduler::backoff: 5 s after the first failure, 10 s after the second, 20 s after the
    // third; so the third attempt comes about 15 s after the first and the fourth 20 s later.
    // Watch until the third, checking all along that the tokens stay.
    let first = Instant::now();
    let attempts: Vec<Instant> = loop {
        app.assert_running();
        let row = status_of(&s.config, TENANT);
        assert!(
            row["state"] == "signed_in" || row["state"] == "expired",
            "tokens dropped while the server fails: {row}"
        );
        let attempts: Vec<Instant> = vbm_refreshes(&s.emu).iter().map(|r| r.at).collect();
        if attempts.len() >= 3 {
            break attempts;
        }
        assert!(
            first.elapsed() < Duration::from_secs(45),
            "{} refresh attempts in 45 s\n{}",
            attempts.len(),
            app.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(attempts.len(), 3, "a burst of retries\n{}", app.log());
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    // Each retry waits at least its backoff after the failed attempt, and the second wait is
    // 5 s longer than the first, give or take how much later than due each attempt went out: a
    // fixed delay, or none, fails here.
    assert!(
        gaps[0] >= scheduler::backoff(1) - Duration::from_millis(100),
        "retried too soon: {gaps:?}"
    );
    assert!(
        gaps[1] >= gaps[0] + Duration::from_secs(4),
        "the delay does not grow: {gaps:?}"
    );
    // Every request was answered with the fault: the tokens are still the first ones, expired.
    let row = status_of(&s.config, TENANT);
    assert_eq!(row["state"], "expired", "{row}");
    assert_eq!(expiry_of(&row), expiry);
    assert_eq!(
        token_requests(&s.emu).len(),
        attempts.len(),
        "nothing but the refresh attempts"
    );
}

/// The environment of the app's WebKit web process, once it runs.
fn web_process_env(app: &mut App) -> Vec<String> {
    let pid = wait_for(
        "the app's WebKitWebProcess",
        Duration::from_secs(20),
        || {
            app.assert_running();
            procs::descendants(app.pid())
                .into_iter()
                .find(|&p| procs::name(p) == "WebKitWebProces")
        },
    );
    procs::environment(pid)
}

#[test]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
fn the_web_process_paints_on_the_cpu_unless_the_user_chose_otherwise() {
    const VAR: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";
    assert!(
        std::env::var_os(VAR).is_none(),
        "run the tests without {VAR} set: the app inherits it"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config");
    // Unset: the app asks for CPU painting. Set by the user (0: GPU painting): kept.
    for (given, expected) in [(None, "1"), (Some("0"), "0")] {
        let env: Vec<(&str, &str)> = given.map(|v| (VAR, v)).into_iter().collect();
        let log = dir.path().join(format!("app-{expected}.log"));
        let mut app = App::start_with_env(&config, &log, &env);
        let seen = web_process_env(&mut app);
        let want = format!("{VAR}={expected}");
        assert!(
            seen.contains(&want),
            "{want} wanted with {given:?} given; the web process has {:?}",
            seen.iter()
                .filter(|v| v.starts_with("WEBKIT"))
                .collect::<Vec<_>>()
        );
    }
}
