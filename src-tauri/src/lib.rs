//! VBM365 Auth desktop app: a window and a tray icon over the core engine
//! ([`vbm365_auth_core::Engine`]), sharing config and secrets with the `vbm365-auth` CLI.
//!
//! [`build`] registers state and commands and [`plugins`] the desktop plugins on any
//! [`tauri::Builder`] (tests pass `tauri::test::mock_builder()`); [`run`] adds single instance,
//! the tray and the background tasks, and starts the real app.
//!
//! The app is two processes. The *tray process* (the one a user or start at login launches) holds
//! the tray, the background refresh, notifications and single instance, and never creates a web
//! view. The window runs in a *window process* of its own (`--window`) that [`show_main_window`]
//! starts when no window is open, and that ends when the window is closed, taking every WebKit
//! process and all of WebKit's memory with it; see [`window`]. `--hidden` ([`launch::HIDDEN_ARG`],
//! what start at login passes) starts the tray process without a window.

pub mod commands;
pub mod desktop;
pub mod error;
pub mod launch;
pub mod monitor;
pub mod scheduler;
pub mod signin;
pub mod state;
pub mod tray;
pub mod window;

use chrono::Utc;
use launch::wants_hidden;
use state::AppState;
use std::sync::Arc;
use std::time::Duration;
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::Notify;
use tray::{MenuId, Tray};
use vbm365_auth_core::{Engine, EngineOptions};

/// Registers the app state and every command on `builder`.
pub fn build<R: Runtime>(builder: tauri::Builder<R>, engine: Arc<Engine>) -> tauri::Builder<R> {
    builder
        .manage(AppState::new(engine))
        .invoke_handler(tauri::generate_handler![
            commands::get_state,
            commands::add_tenant,
            commands::update_tenant,
            commands::remove_tenant,
            commands::switch_tenant,
            commands::probe_certificate,
            commands::pin_certificate,
            commands::remove_trust,
            commands::start_sign_in,
            commands::cancel_sign_in,
            commands::open_sign_in_page,
            commands::copy_user_code,
            commands::refresh_now,
            commands::copy_token,
            commands::test_connection,
            commands::sign_out,
            commands::set_settings,
        ])
}

/// Registers the desktop plugins the app drives from Rust: clipboard, notifications, autostart
/// (macOS only).
/// None of their commands is reachable from the web UI, because the capability in
/// `capabilities/` grants none of their permissions; the IPC tests register them on the mock
/// builder too, so that it is the capability that refuses. (Single instance is added by [`run`]
/// only: it owns a name on the session bus.)
pub fn plugins<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    with_autostart(
        builder
            .plugin(tauri_plugin_clipboard_manager::init())
            .plugin(tauri_plugin_notification::init()),
    )
}

/// The autostart plugin, on macOS only: on Windows and Linux the app keeps its Run entry or XDG
/// autostart file itself (`desktop::set_autostart`), since the plugin leaves the program's path
/// unquoted there, which a path with spaces breaks.
#[cfg(target_os = "macos")]
fn with_autostart<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.plugin(tauri_plugin_autostart::init(
        tauri_plugin_autostart::MacosLauncher::LaunchAgent,
        Some(vec![launch::HIDDEN_ARG]),
    ))
}

#[cfg(not(target_os = "macos"))]
fn with_autostart<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
}

/// Shows, unminimizes and focuses the window, starting the window process when none runs.
pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    window::open(app, window::Opening::Plain, on_window_process_exit);
}

/// When the window process ends after its window was closed, the app stays in the tray if
/// [`stays_in_tray`], and quits otherwise. A window process that failed leaves the tray as it is.
fn on_window_process_exit<R: Runtime>(app: &AppHandle<R>, closed_normally: bool) {
    if closed_normally && !stays_in_tray(app) {
        app.exit(0);
    }
}

/// Runs an engine job from the tray in the background; a failure becomes a notification.
fn tray_job<R, F, Fut>(app: &AppHandle<R>, what: &'static str, job: F)
where
    R: Runtime,
    F: FnOnce(Arc<Engine>, AppHandle<R>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<String, error::UiError>> + Send + 'static,
{
    let app = app.clone();
    let engine = app.state::<AppState>().engine.clone();
    tauri::async_runtime::spawn(async move {
        let result = job(engine, app.clone()).await;
        app.state::<AppState>().poke();
        match result {
            Ok(done) => desktop::notify(&app, "VBM365 Auth", &done),
            Err(e) => desktop::notify(&app, &format!("VBM365 Auth: {what} failed"), &e.message),
        }
    });
}

/// What the tray menu items do.
fn on_tray_menu<R: Runtime>(app: &AppHandle<R>, id: MenuId) {
    match id {
        MenuId::Header | MenuId::SwitchMenu => {}
        MenuId::Switch(name) => {
            if let Some(t) = app.try_state::<Tray<R>>() {
                t.invalidate(); // a click toggles the native check mark: redraw from state
            }
            tray_job(app, "switching tenant", move |engine, _| async move {
                engine.switch(&name)?;
                Ok(format!("{name} is now the active tenant"))
            });
        }
        MenuId::RefreshNow => tray_job(app, "refresh", |engine, _| async move {
            let t = engine.refresh(None).await?;
            Ok(format!(
                "{}: token refreshed, expires in {}",
                t.tenant,
                tray::remaining(t.expires_at, Utc::now()).unwrap_or_default()
            ))
        }),
        MenuId::CopyToken => tray_job(app, "copy token", |engine, app| async move {
            let t = engine.token(None, Duration::from_secs(60)).await?;
            desktop::copy_text(&app, t.access_token.expose())?;
            Ok(format!(
                "Access token of {} copied to the clipboard",
                t.tenant
            ))
        }),
        MenuId::SignIn => window::open(app, window::Opening::SignIn, on_window_process_exit),
        MenuId::ShowWindow | MenuId::More => show_main_window(app),
        MenuId::Quit => {
            window::close_all(app);
            app.exit(0)
        }
    }
}

/// Creates the tray and starts the state monitor and the background refresh; a click on a
/// notification shows the window.
fn start_desktop<R: Runtime>(app: &AppHandle<R>) {
    desktop::on_notification_click(app, show_main_window);
    let engine = app.state::<AppState>().engine.clone();
    let status = engine.status().unwrap_or_default();
    let active: Vec<String> = status
        .iter()
        .filter(|t| t.active)
        .map(|t| t.profile.name.clone())
        .collect();
    match Tray::create(app, tray::model(&status, &active, Utc::now()), on_tray_menu) {
        Ok(t) => {
            app.manage(t);
        }
        Err(e) => tracing::warn!(error = %e, "no tray icon"),
    }
    let wake = Arc::new(Notify::new());
    tauri::async_runtime::spawn(scheduler::run(
        scheduler::EngineSource(engine),
        wake.clone(),
    ));
    tauri::async_runtime::spawn(monitor::run(app.clone(), wake, true));
}

/// Whether the app keeps running in the tray when its window closes: it has a tray icon and
/// "close to tray" is on (the default; off, closing the window quits).
fn stays_in_tray<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<Tray<R>>().is_some()
        && app
            .state::<AppState>()
            .engine
            .config()
            .map(|c| c.settings.close_to_tray)
            .unwrap_or(true)
}

/// Starts the desktop app (the `vbm365-auth-app` binary): the tray process, or with `--window`
/// the window process.
pub fn run() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut window_opening = window::Opening::from_args(&args);
    let mut until_shown = window::until_shown(&args);
    launch::prefer_cpu_rendering();
    // A plain launch starts its window process first (forked off this one, which has a single
    // thread yet), so that the window does not wait for the tray.
    let mut host = None;
    if window_opening.is_none() && !wants_hidden(&args) {
        match window::start_early() {
            window::Early::Window => {
                window_opening = Some(window::Opening::Plain);
                until_shown = true;
            }
            window::Early::Tray(h) => host = Some(h),
        }
    }
    if window_opening.is_none() {
        launch::no_gl_in_tray();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VBM365_AUTH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    tracing::debug!(window = ?window_opening, "started");
    let engine = match EngineOptions::from_env(None).and_then(Engine::open) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("vbm365-auth-app: {e}");
            std::process::exit(1);
        }
    };
    tracing::debug!("engine open");
    let context = tauri::generate_context!();
    let result = match window_opening {
        Some(opening) => run_window_process(engine, opening, until_shown, context),
        None => run_tray_process(engine, host.unwrap_or_default(), context),
    };
    if let Err(e) = result {
        eprintln!("vbm365-auth-app: {e}");
        std::process::exit(1);
    }
}

/// The tray process: single instance, the tray, background refresh and notifications, with the
/// window process `host` may have started already.
fn run_tray_process(
    engine: Arc<Engine>,
    host: window::WindowHost,
    context: tauri::Context<tauri::Wry>,
) -> tauri::Result<()> {
    // Single instance first: a second start only shows the running app's window (unless it asks
    // for the tray only).
    let builder = plugins(
        tauri::Builder::default().plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            if !wants_hidden(args.get(1..).unwrap_or_default()) {
                show_main_window(app)
            }
        })),
    );
    build(builder, engine)
        .manage(host)
        .setup(move |app| {
            tracing::debug!("tray process set up");
            if window::watch_early(app.handle(), on_window_process_exit) {
                // The window comes first: the tray, the monitor and the scheduler (and the
                // keyring reads they start with) wait until it had time to open.
                let handle = app.handle().clone();
                tauri::async_runtime::spawn(async move {
                    tokio::time::sleep(TRAY_AFTER_WINDOW).await;
                    let on_main = handle.clone();
                    let _ = handle.run_on_main_thread(move || start_desktop(&on_main));
                });
            } else {
                start_desktop(app.handle());
            }
            Ok(())
        })
        .run(context)
}

/// How long the tray process waits, when its window process starts with it, before it sets up the
/// tray, the monitor and the scheduler: on a machine with few cores, their start-up slowed the
/// window's (`make bench`).
const TRAY_AFTER_WINDOW: Duration = Duration::from_millis(1500);

/// The window process: the window over its own engine, with a monitor that keeps it up to date
/// (no tray, no background refresh, no notifications: the tray process does those). It ends when
/// its window closes or when the tray process is gone.
fn run_window_process(
    engine: Arc<Engine>,
    opening: window::Opening,
    until_shown: bool,
    context: tauri::Context<tauri::Wry>,
) -> tauri::Result<()> {
    build(plugins(tauri::Builder::default()), engine)
        .setup(move |app| {
            tracing::debug!("window process set up");
            // The window first: the tray process's messages are about it.
            window::create(app.handle(), opening, !until_shown)?;
            tracing::debug!("window created");
            window::serve_tray(app.handle());
            tauri::async_runtime::spawn(monitor::run(
                app.handle().clone(),
                Arc::new(Notify::new()),
                false,
            ));
            Ok(())
        })
        .run(context)
}
