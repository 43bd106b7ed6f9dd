//! The browser sign-in and restore operators through the real `vbm365-auth` binary. The test
//! plays the browser: it takes the authorize URL the CLI opened (through the fake launcher on
//! PATH), loads Microsoft's page at the emulator, approves or declines, and delivers the redirect
//! to the CLI's loopback listener.

mod common;

use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::Receiver;
use std::time::Duration;
use vbm365_emulator::{browser, EmulatorOptions, PortalAppRegistration, Server};

/// A running `login`: the process, its JSON lines as they come, and stderr at the end.
struct Login {
    child: Child,
    lines: Receiver<String>,
}

impl Login {
    fn start(env: &Env, args: &[&str]) -> Login {
        let mut child = env.spawn(args);
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Login { child, lines }
    }

    /// The next JSON line.
    async fn event(&self) -> Value {
        let line = tokio::task::block_in_place(|| self.lines.recv_timeout(Duration::from_secs(30)))
            .expect("a JSON line from login");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Waits for the exit: its code, the remaining JSON lines and stderr.
    async fn finish(self) -> (i32, Vec<Value>, String) {
        let out = wait_child(self.child, Duration::from_secs(60)).await;
        let rest = self
            .lines
            .try_iter()
            .map(|l| serde_json::from_str(&l).unwrap())
            .collect();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap_or(-1), rest, stderr)
    }
}

/// The `browser` event, checked against what the fake launcher was asked to open.
async fn browser_event(env: &Env, login: &Login) -> String {
    let ev = login.event().await;
    assert_eq!(ev["event"], "browser", "{ev}");
    assert_eq!(ev["tenant"], TENANT);
    let url = ev["authorize_url"].as_str().unwrap().to_string();
    // The CLI opened exactly that page (the launcher runs before the wait starts).
    for _ in 0..200 {
        if !env.opened().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(env.opened(), vec![url.clone()]);
    url
}

fn ms_grants(env: &Env, grant: &str) -> Vec<vbm365_emulator::RecordedRequest> {
    env.emu
        .requests()
        .into_iter()
        .filter(|r| r.server == Server::Ms && field(r, "grant_type").as_deref() == Some(grant))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn login_in_the_browser_signs_in_and_the_listener_takes_one_request() {
    let env = Env::new().await;
    env.add_tenant_with(
        TENANT,
        &[
            "--pin-sha256",
            &env.emu.cert_sha256(),
            "--sign-in-method",
            "browser",
        ],
    );
    let login = Login::start(&env, &["login", "--json"]);
    let url = browser_event(&env, &login).await;
    let redirect_uri = browser::query_param(&url, "redirect_uri").unwrap();
    assert!(
        redirect_uri.starts_with("http://localhost:"),
        "{redirect_uri}"
    );
    assert_eq!(
        browser::query_param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let location = browser::choose(&url, true).await.unwrap();
    let page = browser::get(&location).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("You can close this browser tab."));
    let (code, events, stderr) = login.finish().await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(events.last().unwrap()["event"], "signed_in", "{events:?}");
    assert!(
        stderr.contains("approve the sign-in in the browser"),
        "{stderr}"
    );
    // One request only: the listener is gone.
    assert!(
        browser::get(&location).await.is_err(),
        "second request reached a listener"
    );
    // The redemption carried the verifier and the same redirect URI; the assertion is Microsoft's
    // reply to it, byte for byte.
    let redeemed = ms_grants(&env, "authorization_code");
    assert_eq!(redeemed.len(), 1);
    assert_eq!(field(&redeemed[0], "redirect_uri"), Some(redirect_uri));
    assert!(field(&redeemed[0], "code_verifier").is_some_and(|v| v.len() >= 43));
    let exchange = env.vbm_token_requests();
    assert_eq!(
        field(&exchange[0], "assertion"),
        env.emu.ms_token_responses().last().cloned()
    );
    assert_eq!(env.state(), "signed_in");
    // The Microsoft refresh token was remembered: a refused VBM365 refresh signs in silently.
    env.emu.revoke_vbm_refresh_tokens();
    env.run(&["refresh"]).ok();
    assert_eq!(ms_grants(&env, "refresh_token").len(), 1);
    // Nothing secret in the config dir's plain files but the vault.
    let code = browser::query_param(&location, "code").unwrap();
    assert!(!env.all_files_text().contains(&code));
}

/// Bug caught: a local web page that found the port ended the user's sign-in with
/// `http://localhost:PORT/?state=x` (denial of service).
#[tokio::test(flavor = "multi_thread")]
async fn a_response_with_another_state_is_refused_and_the_real_one_still_signs_in() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let login = Login::start(&env, &["login", "--browser", "--json"]);
    let url = browser_event(&env, &login).await;
    let redirect_uri = browser::query_param(&url, "redirect_uri").unwrap();
    // Forged responses first: a bare state, a code of its own, a refusal without the state.
    for forged in [
        "?state=x",
        "?code=0.FORGED-CODE&state=forged",
        "?error=access_denied&error_description=AADSTS65004",
    ] {
        let page = browser::get(&format!("{redirect_uri}/{forged}"))
            .await
            .unwrap();
        assert_eq!(page.status, 400, "{forged}");
        assert!(
            page.body.contains("was not for the sign-in"),
            "{}",
            page.body
        );
    }
    // The user's approval afterwards still signs in, with the real code only.
    let location = browser::choose(&url, true).await.unwrap();
    let page = browser::get(&location).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    let (exit, events, stderr) = login.finish().await;
    assert_eq!(exit, 0, "{stderr}");
    assert_eq!(events.last().unwrap()["event"], "signed_in", "{events:?}");
    assert_eq!(
        stderr.matches("was refused and not used").count(),
        3,
        "{stderr}"
    );
    let redeemed = ms_grants(&env, "authorization_code");
    assert_eq!(redeemed.len(), 1);
    assert_eq!(
        field(&redeemed[0], "code"),
        browser::query_param(&location, "code")
    );
    assert_eq!(env.state(), "signed_in");
}

#[tokio::test(flavor = "multi_thread")]
async fn declined_cancelled_and_timed_out_browser_sign_ins_store_nothing() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    // Declined on Microsoft's page.
    let login = Login::start(&env, &["login", "--browser", "--json", "--no-browser"]);
    let url = login.event().await["authorize_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(env.opened().is_empty(), "--no-browser opens nothing");
    let location = browser::choose(&url, false).await.unwrap();
    assert_eq!(browser::get(&location).await.unwrap().status, 200);
    let (exit, events, _) = login.finish().await;
    assert_eq!(exit, 1);
    assert_eq!(
        events.last().unwrap()["code"],
        "sign_in_declined",
        "{events:?}"
    );
    // Cancelled (Ctrl-C) while waiting: the listener goes with it.
    let login = Login::start(&env, &["login", "--browser", "--json", "--no-browser"]);
    let url = login.event().await["authorize_url"]
        .as_str()
        .unwrap()
        .to_string();
    let redirect_uri = browser::query_param(&url, "redirect_uri").unwrap();
    interrupt(&login.child);
    let (exit, events, _) = login.finish().await;
    assert_eq!(exit, 1);
    assert_eq!(events.last().unwrap()["code"], "cancelled", "{events:?}");
    assert!(browser::get(&format!("{redirect_uri}/?code=x&state=y"))
        .await
        .is_err());
    // Nobody came back in time.
    let mut env = env;
    env.extra_env
        .push(("VBM365_AUTH_BROWSER_TIMEOUT".into(), "1".into()));
    let r = env.run(&["login", "--browser", "--json", "--no-browser"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.last_event()["code"], "browser_sign_in_timeout");
    assert_eq!(env.state(), "signed_out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_code_blocked_by_conditional_access_points_to_the_browser_method() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let r = env
        .login_with(TENANT, |emu, code| assert!(emu.block(code, 53003)))
        .await;
    assert_eq!(r.code, 1);
    let ev = r.last_event();
    assert_eq!(ev["code"], "conditional_access_blocked", "{ev}");
    assert_eq!(ev["remedy"], "use_browser_sign_in", "{ev}");
    assert!(
        ev["hint"]
            .as_str()
            .unwrap()
            .contains("vbm365-auth login --browser"),
        "{ev}"
    );
    assert!(
        r.stderr
            .contains("hint: the browser sign-in may be allowed"),
        "{}",
        r.stderr
    );
    // Following the hint works.
    let login = Login::start(&env, &["login", "--browser", "--json"]);
    let url = browser_event(&env, &login).await;
    let location = browser::choose(&url, true).await.unwrap();
    browser::get(&location).await.unwrap();
    let (exit, _, stderr) = login.finish().await;
    assert_eq!(exit, 0, "{stderr}");
}

async fn operator_env(enabled: bool) -> Env {
    let env = Env::with(EmulatorOptions {
        operator_auth_enabled: enabled,
        ..options()
    })
    .await;
    env.add_tenant_with(
        TENANT,
        &["--pin-sha256", &env.emu.cert_sha256(), "--role", "operator"],
    );
    env
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_operator_signs_in_refreshes_and_signs_out_like_any_tenant() {
    let env = operator_env(true).await;
    let r = env.login(TENANT).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let ops: Vec<_> = env
        .vbm_token_requests()
        .into_iter()
        .filter(|r| field(r, "grant_type").as_deref() == Some("operator"))
        .collect();
    assert_eq!(ops.len(), 1);
    assert_eq!(
        field(&ops[0], "client_id"),
        Some(env.emu.operator_account(TENANT))
    );
    let status = env.status();
    assert_eq!(status[0]["role"], "operator");
    assert_eq!(status[0]["state"], "signed_in");
    let list = env.run(&["tenant", "list"]).ok();
    assert!(
        list.stdout.contains("(restore operator)"),
        "{}",
        list.stdout
    );
    assert!(env
        .run(&["status"])
        .ok()
        .stdout
        .contains("(restore operator)"));
    env.run(&["refresh"]).ok();
    // The VBM365 refresh token is refused: the silent re-sign-in goes through the Restore
    // Portal application and the operator grant again.
    env.emu.revoke_vbm_refresh_tokens();
    let token = env.run(&["token", "--min-valid", "999999"]).ok();
    assert!(!token.stdout.trim().is_empty());
    let ms_refresh = ms_grants(&env, "refresh_token");
    assert_eq!(ms_refresh.len(), 1);
    assert_eq!(
        field(&ms_refresh[0], "client_id"),
        Some(env.emu.restore_portal_app_id())
    );
    assert_eq!(env.grant_count(Server::Vbm, "operator"), 2);
    env.run(&["logout"]).ok();
    assert_eq!(env.state(), "signed_out");
    assert_eq!(env.emu.stats().get("vbm_logout"), Some(&1));
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_sign_in_says_when_the_restore_portal_is_disabled() {
    let env = operator_env(false).await;
    let r = env.run(&["login", "--json", "--no-browser"]);
    assert_eq!(r.code, 1);
    let ev = r.last_event();
    assert_eq!(ev["code"], "operator_auth_disabled", "{ev}");
    assert!(ev["message"].as_str().unwrap().contains("disabled"), "{ev}");
    assert!(env.emu.device_codes().is_empty());
    // Once it is enabled, the same tenant signs in.
    env.emu.set_operator_auth_enabled(true);
    assert_eq!(env.login(TENANT).await.code, 0);
}

/// The error event of a restore operator's sign-in refused because of the Restore Portal's app
/// registration: its code, remedy, hint and message.
fn assert_portal_app_refusal(env: &Env, ev: &Value, aadsts: &str) {
    assert_eq!(ev["code"], "restore_portal_app_not_public", "{ev}");
    assert_eq!(ev["remedy"], "fix_restore_portal_app", "{ev}");
    let message = ev["message"].as_str().unwrap();
    assert!(message.contains(&env.emu.restore_portal_app_id()), "{ev}");
    assert!(message.contains(aadsts), "{ev}");
    let hint = ev["hint"].as_str().unwrap();
    for part in [
        "Allow public client flows",
        "http://localhost",
        "Mobile and desktop applications",
        "README",
    ] {
        assert!(hint.contains(part), "{part} in {hint}");
    }
}

/// Bug caught: a Restore Portal application registered as Veeam's portal needs it (a single-page
/// application, no public client flows) ended a restore operator's sign-in with Microsoft's bare
/// "refused the client id", not saying that the app registration must allow public client flows
/// and the `http://localhost` redirect (the emulator did not even refuse it).
#[tokio::test(flavor = "multi_thread")]
async fn a_restore_portal_app_that_is_no_public_client_says_what_its_registration_needs() {
    let env = Env::with(EmulatorOptions {
        operator_auth_enabled: true,
        auto_approve_after_ms: Some(0),
        restore_portal_app: PortalAppRegistration::Spa,
        ..options()
    })
    .await;
    env.add_tenant_with(
        TENANT,
        &["--pin-sha256", &env.emu.cert_sha256(), "--role", "operator"],
    );
    // Device code: AADSTS7000218 (public client flows off).
    let r = env.run(&["login", "--device-code", "--json", "--no-browser"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_portal_app_refusal(&env, &r.last_event(), "AADSTS7000218");
    assert!(
        r.stderr.contains("hint: ") && r.stderr.contains("Allow public client flows"),
        "{}",
        r.stderr
    );
    // Browser, http://localhost not registered: Microsoft's page says AADSTS50011 and never
    // redirects, so the wait runs out; for a restore operator it names the likely cause.
    let mut timeout_env = Env::with(EmulatorOptions {
        operator_auth_enabled: true,
        restore_portal_app: PortalAppRegistration::Spa,
        ..options()
    })
    .await;
    timeout_env.add_tenant_with(
        TENANT,
        &[
            "--pin-sha256",
            &timeout_env.emu.cert_sha256(),
            "--role",
            "operator",
        ],
    );
    timeout_env
        .extra_env
        .push(("VBM365_AUTH_BROWSER_TIMEOUT".into(), "2".into()));
    let login = Login::start(&timeout_env, &["login", "--browser", "--json"]);
    let url = browser_event(&timeout_env, &login).await;
    let page = browser::get(&url).await.unwrap();
    assert!(page.body.contains("AADSTS50011"), "{}", page.body);
    let (exit, events, _) = login.finish().await;
    assert_eq!(exit, 1);
    let ev = events.last().unwrap();
    assert_eq!(ev["code"], "browser_sign_in_timeout", "{ev}");
    let message = ev["message"].as_str().unwrap();
    assert!(
        message.contains("AADSTS50011") && message.contains("http://localhost"),
        "{ev}"
    );
    // Browser, http://localhost as a single-page application redirect: the code comes back but
    // Microsoft redeems it only for a web page (AADSTS9002327).
    env.emu
        .set_restore_portal_app(PortalAppRegistration::SpaLocalhost);
    let login = Login::start(&env, &["login", "--browser", "--json"]);
    let url = browser_event(&env, &login).await;
    let location = browser::choose(&url, true).await.unwrap();
    assert_eq!(browser::get(&location).await.unwrap().status, 200);
    let (exit, events, stderr) = login.finish().await;
    assert_eq!(exit, 1, "{stderr}");
    assert_portal_app_refusal(&env, events.last().unwrap(), "AADSTS9002327");
    assert_eq!(env.state(), "signed_out");
    // Once the registration allows public clients, the same profile signs in.
    env.emu
        .set_restore_portal_app(PortalAppRegistration::PublicClient);
    let r = env.run(&["login", "--device-code", "--json", "--no-browser"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.state(), "signed_in");
}
