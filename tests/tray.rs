//! The tray of the real app, driven over D-Bus as a tray host would: the StatusNotifierItem the
//! app exports under /org/ayatana/NotificationItem and its `com.canonical.dbusmenu` menu
//! (`GetLayout`, `Event <id> "clicked"`). The app runs as a child process on the test's display and
//! session bus; its state is checked with the `vbm365-auth` CLI on the same config dir.
//!
//! Needs an X display, a session bus, the built CLI (`cargo build -p vbm365-auth-cli`); ignored by
//! default:
//! `xvfb-run -a scripts/with-keyring cargo test -p vbm365-auth-app --test tray -- --ignored --test-threads=1`

mod support;

use std::time::Duration;
use support::*;

const A: &str = "a.example.onmicrosoft.com";
const B: &str = "b.example.onmicrosoft.com";

/// "Switch tenant" has `name` checked and no other tenant.
fn only(name: &'static str) -> impl Fn(&MenuNode) -> bool {
    move |m| {
        m.tenants()
            .iter()
            .all(|(t, checked)| *checked == (t == name))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn tray_menu_lists_tenants_and_switches_both_ways() {
    require_desktop_session();
    let s = Setup::new(3600).await;
    s.add_tenant(A, true);
    s.add_tenant(B, false);
    s.add_tenant("c.example.onmicrosoft.com", false);
    s.sign_in(A).await;

    let mut app = s.start_app();
    let tray = tray_of(&mut app, Duration::from_secs(15));

    // Every tenant, the active one checked; the actions of the tray menu (README, "Desktop app") in order.
    let menu = tray.menu();
    assert_eq!(
        menu.tenants(),
        vec![
            (A.to_string(), true),
            (B.to_string(), false),
            ("c.example.onmicrosoft.com".to_string(), false),
        ]
    );
    let top = menu.top_labels();
    assert!(
        top[0].starts_with(&format!("{A} — signed in, expires in")),
        "{top:?}"
    );
    assert_eq!(
        top[1..],
        [
            "---",
            "Switch tenant",
            "Refresh now",
            "Copy access token",
            "Sign in…",
            "---",
            "Show window",
            "Quit"
        ]
    );
    assert!(menu.item("Refresh now").enabled);

    // Clicking another tenant makes it active, as the CLI sees it.
    tray.click(menu.item(B).id);
    wait_for(
        "the CLI sees B active after the tray click",
        Duration::from_secs(10),
        || (active_tenant(&s.config).as_deref() == Some(B)).then_some(()),
    );
    // The menu is rebuilt from the state (the click itself only toggles B's native check mark):
    // B alone checked, B (signed out) in the header and nothing to refresh.
    let menu = tray.wait_menu("B alone checked", Duration::from_secs(10), only(B));
    assert!(
        menu.top_labels()[0].starts_with(&format!("{B} — signed out")),
        "{menu:#?}"
    );
    assert!(!menu.item("Refresh now").enabled);

    // A switch made by the CLI shows up in the tray without a restart.
    cli(&s.config, &["switch", A]);
    let menu = tray.wait_menu(
        "A alone checked after `switch`",
        Duration::from_secs(10),
        only(A),
    );
    assert!(menu.item("Refresh now").enabled);
    app.assert_running();
    let token = s.token(A).await;
    s.assert_no_plaintext_secrets(&[&token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn tray_refresh_now_sends_exactly_one_refresh() {
    require_desktop_session();
    let s = Setup::new(3600).await;
    s.add_tenant(A, true);
    s.add_tenant(B, false);
    let (a, b) = tokio::join!(s.sign_in(A), s.sign_in(B));
    let before = s.token(A).await;
    let before_b = s.token(B).await;
    assert!(a.expires_at.is_some() && b.expires_at.is_some());

    let mut app = s.start_app();
    let tray = tray_of(&mut app, Duration::from_secs(15));
    let menu = tray.menu();
    let refresh = menu.item("Refresh now");
    assert!(refresh.enabled, "{menu:#?}");

    s.emu.clear_requests();
    tray.click(refresh.id);
    wait_for(
        "a refresh request at the emulator",
        Duration::from_secs(10),
        || (!all_refreshes(&s.emu).is_empty()).then_some(()),
    );
    // Give a second refresh (a double click, a retry, the scheduler) time to show up.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        all_refreshes(&s.emu).len(),
        1,
        "requests: {:?}",
        s.emu
            .requests()
            .iter()
            .map(|r| (r.server, r.path.clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(vbm_refreshes(&s.emu).len(), 1);
    assert_eq!(token_requests(&s.emu).len(), 1, "only the refresh");
    // The active tenant got new tokens; the other one is untouched.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while s.token(A).await == before {
        assert!(
            std::time::Instant::now() < deadline,
            "A's token was not renewed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.token(B).await, before_b);
    assert_eq!(status_of(&s.config, B)["state"], "signed_in");
    app.assert_running();
    let after = s.token(A).await;
    s.assert_no_plaintext_secrets(&[&before, &after, &before_b]);
}
