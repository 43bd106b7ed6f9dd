//! A service provider's app: 500 tenants. In the real window (WebDriver): every tenant listed in
//! compact rows, drawn a page at a time (the next as the end nears the screen, or as the keyboard
//! moves past the rows drawn), counts by state, the filter box (name, server, state), a state chip,
//! keyboard navigation from the filter into the list, Enter making the focused tenant active (as
//! the CLI then sees it), and a row's menu. In the tray (D-Bus): "Switch tenant" lists the active
//! tenant and the ones used lately, then "More…", which opens the window.
//!
//! Needs an X display, a session bus, the built CLI (`cargo build -p vbm365-auth-cli`) and
//! tauri-driver; ignored by default:
//! `xvfb-run -a scripts/with-keyring cargo test -p vbm365-auth-app --test many_tenants -- --ignored --test-threads=1`

mod support;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::webdriver::{click, open, text_of, wait_text};
use support::*;

const N: usize = 500;

fn name(i: usize) -> String {
    format!("customer{i:03}.onmicrosoft.com")
}

/// 500 tenants on the emulators' server, imported in one go as `tenant import` does (the first
/// one becomes active); `signed_in` of them signed in.
async fn many(signed_in: &[usize]) -> Setup {
    let s = Setup::new(3600).await;
    let tenants: Vec<Value> = (0..N)
        .map(|i| {
            json!({
                "name": name(i),
                "server": s.emu.vbm_url(),
                "authority": s.emu.ms_url(),
                "pins": [s.emu.cert_sha256()],
            })
        })
        .collect();
    let file = json!({"format": "vbm365-auth-tenants", "version": 1, "tenants": tenants});
    let report = s
        .engine
        .import_tenants(file.to_string().as_bytes(), "test", false)
        .expect("import");
    assert_eq!(report.added.len(), N, "{:?}", report.invalid);
    for &i in signed_in {
        s.sign_in(&name(i)).await;
    }
    s
}

/// Runs `script` in the page and returns its value.
async fn eval(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("script")
}

/// The names of the rows drawn, in order.
async fn visible(c: &Client) -> Vec<String> {
    let v = eval(
        c,
        "return [...document.querySelectorAll('li.tenant')].filter((li) => !li.hidden).map((li) => li.dataset.name)",
    )
    .await;
    serde_json::from_value(v).expect("names")
}

/// Waits until the visible rows are `want`.
async fn wait_visible(c: &Client, want: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = visible(c).await;
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "visible rows: {} (first {:?}), wanted {want:?}",
            now.len(),
            now.iter().take(5).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the rows drawn are the first page of `all` (the tenants the filter lets through,
/// in order): a first part of it, not every one when there are more than a page. Returns how
/// many rows the page holds.
async fn wait_first_page(c: &Client, all: &[String]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = visible(c).await;
        if !now.is_empty() && now.len() < all.len() && all.starts_with(&now) {
            return now.len();
        }
        assert!(
            Instant::now() < deadline,
            "rows drawn: {} (first {:?}), wanted the first part of {} rows",
            now.len(),
            now.iter().take(5).collect::<Vec<_>>(),
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `data-name` of the focused row ("" if the focus is not on a row).
async fn focused_row(c: &Client) -> String {
    let v = eval(
        c,
        "const e = document.activeElement; return e && e.matches('li.tenant') ? e.dataset.name : ''",
    )
    .await;
    v.as_str().unwrap_or_default().to_string()
}

/// Sends keys to whatever has the focus, as typing does.
async fn keys(c: &Client, text: &str) {
    c.active_element()
        .await
        .expect("focused element")
        .send_keys(text)
        .await
        .expect("send keys");
}

fn key(k: Key) -> String {
    char::from(k).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a session bus and tauri-driver; run with --ignored --test-threads=1"]
async fn the_window_filters_navigates_by_keyboard_and_switches_among_500_tenants() {
    require_desktop_session();
    let s = many(&[1, 2]).await;
    let (_driver, c) = open(&s.config, &[]).await;
    wait_text(&c, "li.tenant .name", &name(0), 20).await;
    // The first rows are drawn, not 500; every tenant shows in the counts.
    let all: Vec<String> = (0..N).map(name).collect();
    let page = wait_first_page(&c, &all).await;
    assert_eq!(text_of(&c, "#shown-count").await, "");
    // Counts by state, as chips.
    let counts = wait_text(&c, "#counts", "All 500", 10).await;
    assert!(counts.contains("Signed in 2"), "{counts}");
    assert!(counts.contains("Signed out 498"), "{counts}");

    // The filter: by name (every word must match), by state, by server.
    let filter = c.find(Locator::Css("#filter")).await.expect("filter box");
    filter.send_keys("customer04").await.expect("type");
    let forties: Vec<String> = (40..50).map(name).collect();
    wait_visible(&c, &forties).await;
    assert_eq!(text_of(&c, "#shown-count").await, "10 of 500 shown");
    filter.clear().await.expect("clear");
    filter.send_keys("signed in").await.expect("type");
    wait_visible(&c, &[name(1), name(2)]).await;
    filter.clear().await.expect("clear");
    filter
        .send_keys("127.0.0.1 customer49")
        .await
        .expect("type");
    let nineties: Vec<String> = (490..500).map(name).collect();
    wait_visible(&c, &nineties).await;
    // Escape in the filter clears it.
    filter.send_keys(&key(Key::Escape)).await.expect("escape");
    wait_visible(&c, &all[..page]).await;
    assert_eq!(text_of(&c, "#shown-count").await, "");

    // A state chip shows only the tenants in that state; "All" shows every one again.
    click(&c, "#counts button.chip.signed_in").await;
    wait_visible(&c, &[name(1), name(2)]).await;
    click(&c, "#counts button.chip.all").await;
    wait_visible(&c, &all[..page]).await;
    assert_eq!(text_of(&c, "#shown-count").await, "");

    // Keyboard: from the filter into the list, down one row, Enter makes that tenant active.
    filter.send_keys("customer04").await.expect("type");
    wait_visible(&c, &forties).await;
    filter.send_keys(&key(Key::Down)).await.expect("down");
    assert_eq!(focused_row(&c).await, name(40));
    keys(&c, &key(Key::Down)).await;
    assert_eq!(focused_row(&c).await, name(41));
    keys(&c, &key(Key::End)).await;
    assert_eq!(focused_row(&c).await, name(49));
    keys(&c, &key(Key::Up)).await;
    assert_eq!(focused_row(&c).await, name(48));
    keys(&c, &key(Key::Enter)).await;
    wait_text(&c, "#notice", "is now the active tenant", 10).await;
    assert_eq!(active_tenant(&s.config), Some(name(48)));
    wait_text(
        &c,
        &format!(r#"li.tenant[data-name="{}"] .active-badge"#, name(48)),
        "active",
        10,
    )
    .await;
    assert_eq!(
        focused_row(&c).await,
        name(48),
        "the focus stays on the row"
    );

    // A row's other actions are in its menu, which Escape closes again.
    let row = format!(r#"li.tenant[data-name="{}"]"#, name(41));
    click(&c, &format!("{row} .menu-button")).await;
    let open_menu = format!("return !document.querySelector('{row} .row-menu').hidden");
    assert_eq!(eval(&c, &open_menu).await, json!(true));
    // The focus is on its first item that can be used (a signed-out tenant has no token to copy,
    // refresh or test, and its main action, Sign in, is beside the menu).
    let item = eval(&c, "return document.activeElement.textContent").await;
    assert_eq!(item, json!("Make active"));
    keys(&c, &key(Key::Escape)).await;
    assert_eq!(eval(&c, &open_menu).await, json!(false));
    // Make active from the menu.
    click(&c, &format!(r#"{row} [data-act="activate"]"#)).await;
    wait_for(
        "the CLI sees the tenant made active from the row menu",
        Duration::from_secs(10),
        || (active_tenant(&s.config) == Some(name(41))).then_some(()),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a session bus and tauri-driver; run with --ignored --test-threads=1"]
async fn rows_past_the_first_page_are_drawn_by_scrolling_filtering_and_the_keyboard() {
    require_desktop_session();
    let s = many(&[]).await;
    let (_driver, c) = open(&s.config, &[]).await;
    wait_text(&c, "li.tenant .name", &name(0), 20).await;
    let all: Vec<String> = (0..N).map(name).collect();
    let page = wait_first_page(&c, &all).await;

    // A filter that lets through only a tenant far past the first page shows it.
    let filter = c.find(Locator::Css("#filter")).await.expect("filter box");
    filter.send_keys("customer321").await.expect("type");
    wait_visible(&c, &[name(321)]).await;
    assert_eq!(text_of(&c, "#shown-count").await, "1 of 500 shown");
    filter.clear().await.expect("clear");

    // 100 tenants: customer400…499. The keyboard moves through all of them, not only through the
    // rows drawn.
    filter.send_keys("customer4").await.expect("type");
    let fours: Vec<String> = (400..500).map(name).collect();
    wait_first_page(&c, &fours).await;
    assert_eq!(text_of(&c, "#shown-count").await, "100 of 500 shown");
    filter.send_keys(&key(Key::Down)).await.expect("down");
    assert_eq!(focused_row(&c).await, name(400));
    // Down from the last row drawn draws and focuses the next one.
    let last = visible(&c).await.len();
    assert!(last < fours.len(), "all {last} rows drawn at once");
    eval(
        &c,
        "document.querySelector('#tenants').lastElementChild.focus()",
    )
    .await;
    assert_eq!(focused_row(&c).await, fours[last - 1]);
    keys(&c, &key(Key::Down)).await;
    assert_eq!(focused_row(&c).await, fours[last]);
    assert_eq!(visible(&c).await[..=last], fours[..=last]);
    keys(&c, &key(Key::End)).await;
    assert_eq!(focused_row(&c).await, name(499), "End reaches the last one");
    keys(&c, &key(Key::PageUp)).await;
    assert_eq!(focused_row(&c).await, name(489));
    keys(&c, &key(Key::Home)).await;
    assert_eq!(focused_row(&c).await, name(400));

    // End in the whole list, then Enter: the last tenant is made active, its row (rebuilt) keeps
    // the focus and the rows drawn stay drawn.
    keys(&c, &key(Key::Escape)).await; // to the filter
    filter.send_keys(&key(Key::Escape)).await.expect("clear");
    wait_visible(&c, &all[..page]).await;
    filter.send_keys(&key(Key::Down)).await.expect("down");
    keys(&c, &key(Key::End)).await;
    assert_eq!(focused_row(&c).await, name(N - 1));
    keys(&c, &key(Key::Enter)).await;
    wait_text(&c, "#notice", "is now the active tenant", 10).await;
    assert_eq!(active_tenant(&s.config), Some(name(N - 1)));
    wait_text(
        &c,
        &format!(r#"li.tenant[data-name="{}"] .active-badge"#, name(N - 1)),
        "active",
        10,
    )
    .await;
    assert_eq!(
        focused_row(&c).await,
        name(N - 1),
        "the focus stays on the row"
    );
    assert_eq!(visible(&c).await, all);
    // Its menu opens there too (Shift+F10), on its first item that can be used (signed out and
    // active now: Edit), and Escape closes it.
    keys(&c, &format!("{}{}", key(Key::Shift), key(Key::F10))).await;
    let row = format!(r#"li.tenant[data-name="{}"]"#, name(N - 1));
    let open_menu = format!("return !document.querySelector('{row} .row-menu').hidden");
    assert_eq!(eval(&c, &open_menu).await, json!(true));
    assert_eq!(
        eval(&c, "return document.activeElement.textContent").await,
        json!("Edit")
    );
    keys(&c, &key(Key::Escape)).await;
    assert_eq!(eval(&c, &open_menu).await, json!(false));

    // A new filter starts from the first page again; scrolling to the end of the list draws the
    // rest, page by page, until the last tenant.
    filter.send_keys("customer").await.expect("type");
    wait_first_page(&c, &all).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        eval(
            &c,
            "window.scrollTo(0, document.documentElement.scrollHeight)",
        )
        .await;
        if visible(&c).await.len() == N {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scrolling to the end did not draw every row"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(visible(&c).await, all);
    assert_eq!(
        eval(&c, "return document.querySelector('#more-rows').hidden").await,
        json!(true),
        "room kept for rows that are all drawn"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and a session bus; run with --ignored --test-threads=1"]
async fn the_tray_lists_the_recent_tenants_and_more_opens_the_window() {
    require_desktop_session();
    let s = many(&[]).await;
    let mut app = s.start_app_with_args(&["--hidden"]);
    let tray = tray_of(&mut app, Duration::from_secs(20));
    let switch = |m: &MenuNode| -> Vec<String> {
        m.item("Switch tenant")
            .children
            .iter()
            .map(|c| {
                if c.separator {
                    "---".into()
                } else {
                    c.label.clone()
                }
            })
            .collect()
    };
    let more = "More… (all 500 tenants)".to_string();
    // Only the active tenant is known to be used yet.
    let m = tray.wait_menu("the active tenant listed", Duration::from_secs(10), |m| {
        switch(m) == [name(0), "---".into(), more.clone()]
    });
    assert_eq!(m.tenants()[0], (name(0), true));

    // Tenants made active (here by the CLI) join the list, most recent first after the active one.
    for i in [123, 321] {
        cli(&s.config, &["switch", &name(i)]);
        tray.wait_menu("the switch seen", Duration::from_secs(10), |m| {
            switch(m).first() == Some(&name(i))
        });
    }
    let m = tray.menu();
    assert_eq!(
        switch(&m),
        [name(321), name(123), name(0), "---".into(), more.clone()]
    );
    // A click on one of them makes it active.
    tray.click(m.item(&name(123)).id);
    wait_for("the tray's switch", Duration::from_secs(10), || {
        (active_tenant(&s.config) == Some(name(123))).then_some(())
    });
    tray.wait_menu("its order", Duration::from_secs(10), |m| {
        switch(m) == [name(123), name(321), name(0), "---".into(), more.clone()]
    });

    // "More…" opens the window, where the filter finds any of the 500.
    assert!(window_process(app.pid()).is_none());
    tray.click(tray.menu().item(&more).id);
    wait_window_shown(&mut app, Duration::from_secs(30));
}
