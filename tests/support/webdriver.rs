//! The app in its real window, driven through `tauri-driver` (WebKitWebDriver) with fantoccini:
//! the driver process, the session, and waiting for what the page shows. Used by `e2e.rs` and
//! `trust_window.rs`; only one WebDriver session can run at a time.

use super::{app_binary, app_environment, procs, terminate};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Where tauri-driver listens.
pub const DRIVER: &str = "http://127.0.0.1:4444";

/// `$TAURI_DRIVER`, else `~/.cargo/bin/tauri-driver`.
pub fn tauri_driver() -> PathBuf {
    std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"))
        })
        .expect("tauri-driver path")
}

/// tauri-driver, stopped on drop with the whole process tree under it (WebKitWebDriver and the
/// app).
pub struct Driver(Child);

impl Driver {
    /// tauri-driver for an app on `config_dir` with its default storage (the OS keyring) and
    /// retry settings: the app inherits this environment.
    pub fn start(config_dir: &Path) -> Driver {
        Driver::start_with_env(config_dir, &[])
    }

    /// [`Driver::start`] with more environment variables for the app.
    pub fn start_with_env(config_dir: &Path, env: &[(&str, &str)]) -> Driver {
        let child = app_environment(&mut Command::new(tauri_driver()), config_dir)
            .envs(env.iter().copied())
            .spawn()
            .expect("start tauri-driver");
        Driver(child)
    }

    /// The pid of tauri-driver (the app runs under it, below WebKitWebDriver).
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// The app's first process under this driver (WebKitWebDriver's child; not its window
    /// process), once it runs.
    pub fn app_pid(&self) -> Option<u32> {
        procs::descendants(self.pid()).into_iter().find(|&p| {
            let is_app = |p: u32| {
                std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == app_binary())
            };
            is_app(p) && !procs::parent(p).is_some_and(is_app)
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The app runs under WebKitWebDriver. A test that fails never closes its session, and an
        // app left running keeps the single-instance lock: the next test's app would hand over to
        // it and exit, and that test's session would never start. So the whole tree goes.
        let tree = procs::descendants(self.0.id());
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
        terminate(&tree);
    }
}

/// A WebDriver session with the app (which tauri-driver starts), retried for up to 20 s while the
/// driver comes up.
pub async fn connect() -> Client {
    connect_with_args(&[]).await
}

/// [`connect`] with the app started with these command-line arguments. The session starts once
/// the app has a window: with `--hidden`, once something opens it.
pub async fn connect_with_args(args: &[&str]) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "tauri:options".into(),
        json!({ "application": app_binary(), "args": args }),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut builder = ClientBuilder::native();
        let attempt = builder.capabilities(caps.clone()).connect(DRIVER);
        // WebKitWebDriver waits for ever for an app that exited at once (e.g. because another
        // instance of it is running).
        let Ok(result) = tokio::time::timeout(Duration::from_secs(20), attempt).await else {
            panic!(
                "no WebDriver session after 20 s: did the app start (is another instance running)?"
            );
        };
        match result {
            Ok(c) => return c,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("cannot start a WebDriver session: {e}"),
        }
    }
}

/// tauri-driver for an app on `config_dir` ([`Driver::start_with_env`]) and a session with it
/// ([`connect`]). Keep the driver until the end of the test.
pub async fn open(config_dir: &Path, env: &[(&str, &str)]) -> (Driver, Client) {
    let driver = Driver::start_with_env(config_dir, env);
    (driver, connect().await)
}

/// The text of the first element matching `css`, "" if there is none.
pub async fn text_of(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the element's text contains `want`, for at most `within_secs` seconds.
pub async fn wait_text(c: &Client, css: &str, want: &str, within_secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(within_secs);
    loop {
        let t = text_of(c, css).await;
        if t.contains(want) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{css}: wanted '{want}', have '{t}'"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Opens the row menu holding the first element matching `css`, if that element is a row menu's
/// item and the menu is closed (as a user clicks the row's "More actions" button first).
async fn open_row_menu_for(c: &Client, css: &str) {
    let script = r#"
        const e = document.querySelector(arguments[0]);
        const menu = e && e.closest(".row-menu");
        if (menu && menu.hidden) menu.closest("li.tenant").querySelector(".menu-button").click();
    "#;
    let _ = c.execute(script, vec![json!(css)]).await;
}

/// Whether the row action `act` of tenant `name` is offered: its button in the row or in the
/// row's menu is not hidden (menu items show once the menu is open).
pub async fn offered(c: &Client, name: &str, act: &str) -> bool {
    let script = r#"
        const b = document.querySelector(arguments[0]);
        return !!b && !b.hidden;
    "#;
    c.execute(script, vec![json!(row_button(name, act))])
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Clicks the first element matching `css`; a row action in the row's menu is reached through
/// the menu, as a user does. The window re-renders a row when its tenant changes, so an element
/// found a moment ago can be gone when the click arrives: then it is found again (for up to 5 s)
/// instead of failing on a node that was replaced.
pub async fn click(c: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        open_row_menu_for(c, css).await;
        let e = c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match e.click().await {
            Ok(()) => return,
            Err(e) if Instant::now() < deadline => {
                eprintln!("click {css}: {e}; finding it again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("click {css}: {e}"),
        }
    }
}

/// The row button `act` of tenant `name`.
pub fn row_button(name: &str, act: &str) -> String {
    format!(r#"li.tenant[data-name="{name}"] [data-act="{act}"]"#)
}
