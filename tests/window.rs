//! The window exists only while it is open: the app started with `--hidden` (as start at login
//! starts it) runs in the tray with no web view at all, closing the window ends its window process
//! and every WebKit process, and the tray keeps working meanwhile. Seen from outside, as a user's
//! desktop sees it: processes in /proc, windows on the X display (closed with the message a window
//! manager's close button sends), the tray over D-Bus, the clipboard as a paste reads it, requests
//! at the emulators and the shared state through the `vbm365-auth` CLI; the tests with a
//! WebDriver session read the page itself.
//!
//! Needs an X display, a session bus, the built CLI (`cargo build -p vbm365-auth-cli`) and, for
//! the WebDriver tests, tauri-driver; ignored by default:
//! `xvfb-run -a scripts/with-keyring cargo test -p vbm365-auth-app --test window -- --ignored --test-threads=1`

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::webdriver::{self, click, row_button, wait_text, Driver};
use support::*;
use vbm365_auth_core::contract::DesktopSettings;
use vbm365_testkit::x11::Display;

const A: &str = "a.example.onmicrosoft.com";
const B: &str = "b.example.onmicrosoft.com";

/// Panics if a WebKit process runs under the app.
fn assert_no_webkit(app_pid: u32, when: &str) {
    let left = webkit_processes(app_pid);
    assert!(
        left.is_empty(),
        "{when}: WebKit processes of the app: {left:?}"
    );
}

/// Waits until both kinds of WebKit process run under the app (the window's page is up).
fn wait_webkit(app_pid: u32) {
    wait_for(
        "the window's WebKit processes",
        Duration::from_secs(30),
        || {
            let names: Vec<String> = webkit_processes(app_pid)
                .into_iter()
                .map(|(_, n)| n)
                .collect();
            (names.iter().any(|n| n.starts_with("WebKitWebProc"))
                && names.iter().any(|n| n.starts_with("WebKitNetwork")))
            .then_some(())
        },
    );
}

/// The clipboard's text, as a paste would get it.
fn clipboard() -> Option<String> {
    Display::open()
        .expect("X display")
        .clipboard_text(Duration::from_secs(2))
        .expect("clipboard")
}

/// Waits until the clipboard holds the stored access token of `tenant`; returns it.
async fn wait_clipboard_token(s: &Setup, tenant: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let token = s.token(tenant).await;
        if clipboard().as_deref() == Some(token.as_str()) {
            return token;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the clipboard does not hold {tenant}'s token"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts `vbm365-auth-app` a second time on the same config dir, display and session bus, as a
/// user clicking its launcher again; returns once that process has exited.
fn launch_again(s: &Setup, args: &[&str]) -> std::process::ExitStatus {
    app_environment(&mut Command::new(app_binary()), &s.config)
        .args(args)
        .status()
        .expect("second launch")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn hidden_start_has_no_web_view_and_the_tray_does_everything() {
    require_desktop_session();
    // 15 s tokens: the background refresh comes about 10 s after sign-in.
    let s = Setup::signed_in(15, A).await;
    s.add_tenant(B, false);
    let first_expiry = expires_at(&status_of(&s.config, A)).expect("expiry");
    s.emu.clear_requests();

    let mut app = s.start_app_with_args(&["--hidden"]);
    let pid = app.pid();
    let tray = tray_of(&mut app, Duration::from_secs(20));
    assert_no_webkit(pid, "after --hidden");
    assert!(
        window_process(pid).is_none(),
        "a window process after --hidden"
    );
    assert!(
        visible_windows(pid).is_empty(),
        "{:?}",
        visible_windows(pid)
    );

    // Background refresh with no window.
    wait_for("a background refresh", Duration::from_secs(30), || {
        (!vbm_refreshes(&s.emu).is_empty()).then_some(())
    });
    wait_for("the renewed tokens stored", Duration::from_secs(10), || {
        expires_at(&status_of(&s.config, A)).filter(|e| *e > first_expiry)
    });
    assert!(app.log().contains("background refresh"), "{}", app.log());

    // "Copy access token": the active tenant's token is on the clipboard (a fresh one: with
    // 15 s tokens, copying refreshes first).
    tray.click(tray.menu().item("Copy access token").id);
    let token = wait_clipboard_token(&s, A).await;

    // A switch made by the CLI shows in the tray; switching back from the tray reaches the CLI.
    cli(&s.config, &["switch", B]);
    tray.wait_menu("B checked after `switch`", Duration::from_secs(10), |m| {
        m.tenants().contains(&(B.to_string(), true))
    });
    tray.click(tray.menu().item(A).id);
    wait_for(
        "A active again after the tray click",
        Duration::from_secs(10),
        || (active_tenant(&s.config).as_deref() == Some(A)).then_some(()),
    );

    // "Refresh now" with no window.
    s.emu.clear_requests();
    tray.wait_menu("Refresh now enabled", Duration::from_secs(10), |m| {
        m.item("Refresh now").enabled
    });
    tray.click(tray.menu().item("Refresh now").id);
    wait_for(
        "the refresh of 'Refresh now'",
        Duration::from_secs(10),
        || (!vbm_refreshes(&s.emu).is_empty()).then_some(()),
    );

    // And through all of it, no web view was ever started.
    assert_no_webkit(pid, "after the tray's work");
    assert!(window_process(pid).is_none());
    app.assert_running();
    let after = s.token(A).await;
    s.assert_no_plaintext_secrets(&[&token, &after]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn closing_the_window_ends_its_webkit_processes_and_show_window_brings_it_back() {
    require_desktop_session();
    let s = Setup::signed_in(3600, A).await;
    let mut app = s.start_app();
    let pid = app.pid();
    let tray = tray_of(&mut app, Duration::from_secs(20));
    let first = wait_window_shown(&mut app, Duration::from_secs(30));
    wait_webkit(pid);

    // Closed: its window process and every WebKit process end; the app stays in the tray.
    close_window(&mut app, Duration::from_secs(30));
    wait_for("no WebKit process left", Duration::from_secs(10), || {
        webkit_processes(pid).is_empty().then_some(())
    });
    app.assert_running();
    assert!(visible_windows(pid).is_empty());

    // The tray still works: "Refresh now" sends one refresh.
    s.emu.clear_requests();
    tray.click(tray.menu().item("Refresh now").id);
    wait_for(
        "the refresh of 'Refresh now'",
        Duration::from_secs(10),
        || (!vbm_refreshes(&s.emu).is_empty()).then_some(()),
    );
    assert_no_webkit(pid, "after a refresh from the tray");

    // "Show window" over D-Bus, twice in a row as a double click on the Windows tray icon asks
    // (tray::icon_click): one new window process, on screen.
    let show = tray.menu().item("Show window").id;
    tray.click(show);
    tray.click(show);
    let second = wait_window_shown(&mut app, Duration::from_secs(30));
    assert_ne!(first, second, "a new window process");
    std::thread::sleep(Duration::from_secs(2));
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("the app's executable");
    let window_processes: Vec<u32> = procs::descendants(pid)
        .into_iter()
        .filter(|&p| {
            procs::parent(p) == Some(pid)
                && std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe)
        })
        .collect();
    assert_eq!(
        window_processes,
        [second],
        "one window process for two clicks"
    );
    assert_eq!(visible_windows(pid).len(), 1, "one window on screen");
    wait_webkit(pid);
    close_window(&mut app, Duration::from_secs(30));
    wait_for("no WebKit process left", Duration::from_secs(10), || {
        webkit_processes(pid).is_empty().then_some(())
    });

    // A second launch hands over to the running app, which shows its window...
    assert!(launch_again(&s, &[]).success());
    wait_window_shown(&mut app, Duration::from_secs(30));
    // ... and one with --hidden (start at login while the app runs) leaves it as it is.
    close_window(&mut app, Duration::from_secs(30));
    assert!(launch_again(&s, &["--hidden"]).success());
    std::thread::sleep(Duration::from_secs(2));
    assert!(window_process(pid).is_none(), "--hidden opened the window");

    // Quit ends the app and its window process.
    tray.click(tray.menu().item("Show window").id);
    let window = wait_window_shown(&mut app, Duration::from_secs(30));
    tray.click(tray.menu().item("Quit").id);
    assert!(app.wait_exit(Duration::from_secs(10)).success());
    wait_for("the window process gone", Duration::from_secs(10), || {
        (procs::name(window).is_empty()).then_some(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn with_close_to_tray_off_closing_the_window_quits() {
    require_desktop_session();
    let s = Setup::new(3600).await;
    s.engine
        .set_desktop_settings(DesktopSettings {
            auto_refresh: true,
            close_to_tray: false,
            start_at_login: false,
        })
        .expect("settings");
    let mut app = s.start_app();
    tray_of(&mut app, Duration::from_secs(20));
    wait_window_shown(&mut app, Duration::from_secs(30));
    let pid = app.pid();
    let display = Display::open().expect("X display");
    // As close_window does, but the app itself is expected to end.
    let status = wait_for("the app to quit", Duration::from_secs(30), || {
        for w in visible_windows(pid) {
            let _ = display.close(w.id);
        }
        std::thread::sleep(Duration::from_secs(1));
        app.try_exit()
    });
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a session bus and tauri-driver; run with --ignored --test-threads=1"]
async fn show_window_over_dbus_brings_the_tenant_list_and_a_copied_token_outlives_the_window() {
    require_desktop_session();
    let s = Setup::signed_in(3600, A).await;
    s.add_tenant(B, false);
    let driver = Driver::start(&s.config);
    // The session starts once the app has a window: started --hidden, it has none until "Show
    // window" is clicked in the tray.
    let session = tokio::spawn(webdriver::connect_with_args(&["--hidden"]));
    let app_pid = wait_for(
        "the app under tauri-driver",
        Duration::from_secs(20),
        || driver.app_pid(),
    );
    let tray = vbm365_testkit::tray::TrayMenu::find(app_pid, Duration::from_secs(20), || {})
        .expect("tray");
    assert!(window_process(app_pid).is_none());
    assert_no_webkit(app_pid, "after --hidden");
    assert!(!session.is_finished(), "a session with no window");

    tray.click(tray.menu().item("Show window").id);
    let c = tokio::time::timeout(Duration::from_secs(60), session)
        .await
        .expect("a WebDriver session once the window shows")
        .expect("session task");
    let row = |name: &str| format!(r#"li.tenant[data-name="{name}"]"#);
    wait_text(&c, &format!("{} .name", row(A)), A, 15).await;
    wait_text(&c, &format!("{} .name", row(B)), B, 15).await;
    wait_text(&c, &format!("{} .state", row(A)), "Signed in", 15).await;

    // "Copy access token" in the window, then the window is closed: the token stays on the
    // clipboard (the tray process holds it, not the window process that just ended).
    let token = s.token(A).await;
    click(&c, &row_button(A, "copy")).await;
    wait_for(
        "the token on the clipboard",
        Duration::from_secs(10),
        || (clipboard().as_deref() == Some(token.as_str())).then_some(()),
    );
    close_window_of(app_pid, Duration::from_secs(30), || {});
    assert_no_webkit(app_pid, "after closing the window");
    assert_eq!(clipboard().as_deref(), Some(token.as_str()));
    s.assert_no_plaintext_secrets(&[&token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a session bus and tauri-driver; run with --ignored --test-threads=1"]
async fn tray_sign_in_with_no_window_opens_it_on_the_sign_in_panel() {
    require_desktop_session();
    let s = Setup::new(3600).await;
    s.add_tenant(A, true);
    let driver = Driver::start(&s.config);
    let session = tokio::spawn(webdriver::connect_with_args(&["--hidden"]));
    let app_pid = wait_for(
        "the app under tauri-driver",
        Duration::from_secs(20),
        || driver.app_pid(),
    );
    let tray = vbm365_testkit::tray::TrayMenu::find(app_pid, Duration::from_secs(20), || {})
        .expect("tray");

    tray.click(tray.menu().item("Sign in…").id);
    let c = tokio::time::timeout(Duration::from_secs(60), session)
        .await
        .expect("a WebDriver session once the window shows")
        .expect("session task");
    let code = wait_for_code(&c).await;
    assert!(s.emu.approve(&code), "the emulator issued {code}");
    wait_text(&c, "#signin-status", "Signed in", 30).await;
    assert_eq!(status_of(&s.config, A)["state"], "signed_in");
}

/// The desktop's notification server (`org.freedesktop.Notifications`), played by the test: it
/// records the notifications the app shows (id, summary, actions); the test sends the signal a
/// click on one of them sends (`ActionInvoked id "default"`).
#[derive(Default)]
struct NotificationServer {
    shown: Arc<Mutex<Vec<Shown>>>,
}

/// A notification the app showed: the server's id for it, its summary and its actions.
type Shown = (u32, String, Vec<String>);

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl NotificationServer {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        _body: String,
        actions: Vec<String>,
        _hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap();
        let id = shown.len() as u32 + 1;
        shown.push((id, summary, actions));
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "test".into(),
            "vbm365-tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn a_click_on_a_notification_opens_the_window() {
    require_desktop_session();
    let s = Setup::signed_in(3600, A).await;
    let server = NotificationServer::default();
    let shown = server.shown.clone();
    const PATH: &str = "/org/freedesktop/Notifications";
    const NAME: &str = "org.freedesktop.Notifications";
    let bus = zbus::blocking::connection::Builder::session()
        .and_then(|b| b.name(NAME))
        .and_then(|b| b.serve_at(PATH, server))
        .and_then(|b| b.build())
        .expect("the notification server on the session bus");

    let mut app = s.start_app_with_args(&["--hidden"]);
    let pid = app.pid();
    let tray = tray_of(&mut app, Duration::from_secs(20));
    // "Refresh now" ends with a notification saying so.
    tray.click(tray.menu().item("Refresh now").id);
    let (id, actions) = wait_for("the refresh notification", Duration::from_secs(15), || {
        let shown = shown.lock().unwrap();
        shown
            .iter()
            .find(|(_, summary, _)| summary == "VBM365 Auth")
            .map(|(id, _, actions)| (*id, actions.clone()))
    });
    assert!(
        actions.iter().any(|a| a == "default"),
        "the notification offers no click: {actions:?}"
    );
    assert!(window_process(pid).is_none());

    bus.emit_signal(
        None::<zbus::names::BusName<'_>>,
        PATH,
        NAME,
        "ActionInvoked",
        &(id, "default"),
    )
    .expect("ActionInvoked");
    wait_window_shown(&mut app, Duration::from_secs(30));
    wait_webkit(pid);
}

/// The user code the sign-in panel shows.
async fn wait_for_code(c: &fantoccini::Client) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let code = webdriver::text_of(c, "#signin-code").await;
        if !code.trim().is_empty() {
            return code.trim().to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no user code shown; status: {}",
            webdriver::text_of(c, "#signin-status").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
