//! VBM365 Auth desktop app: a window and a tray icon over the core engine
//! ([`vbm365_auth_core::Engine`]), sharing config and secrets with the `vbm365-auth` CLI.
//!
//! [`build`] registers state and commands and [`plugins`] the desktop plugins on any
//! [`tauri::Builder`] (tests pass `tauri::test::mock_builder()`); [`run`] adds single instance,
//! the tray and the background tasks, and starts the real app.

pub mod commands;
pub mod desktop;
pub mod error;
pub mod monitor;
pub mod scheduler;
pub mod signin;
pub mod state;
pub mod tray;

use chrono::Utc;
use state::AppState;
use std::sync::Arc;
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager, Runtime, WindowEvent};
use tokio::sync::Notify;
use tray::{MenuId, Tray};
use vbm365_auth_core::{Engine, EngineOptions};

/// Label of the main window (tauri.conf.json).
pub const MAIN_WINDOW: &str = "main";
/// Event asking the window to start a sign-in of the active tenant (tray "Sign in…").
pub const TRAY_SIGN_IN_EVENT: &str = "tray-sign-in";

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

/// Registers the desktop plugins the app drives from Rust: clipboard, notifications, autostart.
/// None of their commands is reachable from the web UI, because the capability in
/// `capabilities/` grants none of their permissions; the IPC tests register them on the mock
/// builder too, so that it is the capability that refuses. (Single instance is added by [`run`]
/// only: it owns a name on the session bus.)
pub fn plugins<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
}

/// Shows, unminimizes and focuses the main window.
pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
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
        MenuId::SignIn => {
            show_main_window(app);
            let _ = app.emit(TRAY_SIGN_IN_EVENT, ());
        }
        MenuId::ShowWindow => show_main_window(app),
        MenuId::Quit => app.exit(0),
    }
}

/// Creates the tray and starts the state monitor and the background refresh.
fn start_desktop<R: Runtime>(app: &AppHandle<R>) {
    let engine = app.state::<AppState>().engine.clone();
    let status = engine.status().unwrap_or_default();
    match Tray::create(app, tray::model(&status, Utc::now()), on_tray_menu) {
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
    tauri::async_runtime::spawn(monitor::run(app.clone(), wake));
}

/// Hides the main window instead of closing it when "close to tray" is on.
fn on_window_event<R: Runtime>(window: &tauri::Window<R>, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        if window.label() != MAIN_WINDOW || window.app_handle().try_state::<Tray<R>>().is_none() {
            return;
        }
        let to_tray = window
            .app_handle()
            .state::<AppState>()
            .engine
            .config()
            .map(|c| c.settings.close_to_tray)
            .unwrap_or(true);
        if to_tray {
            api.prevent_close();
            let _ = window.hide();
        }
    }
}

/// Environment variable of WebKitGTK that makes its web process paint with Skia on the CPU.
pub const CPU_RENDERING_ENV: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";

/// Asks WebKitGTK to paint this app's pages on the CPU, unless the user chose otherwise by setting
/// [`CPU_RENDERING_ENV`] themselves (`0` brings GPU painting back).
///
/// The window is a small form; GPU painting buys it nothing, while its first frame has to compile
/// a GL shader for every kind of shape drawn. Without a GPU (virtual machines, remote desktops,
/// Xvfb) Mesa's llvmpipe compiles those shaders with LLVM, which `make bench` measured as about
/// 200 ms of the app's cold start. WebKit reads the variable once per process and hands the
/// environment to its web process, so this must run before the first webview exists, while the
/// process has a single thread.
fn prefer_cpu_rendering() {
    if cfg!(target_os = "linux") && std::env::var_os(CPU_RENDERING_ENV).is_none() {
        std::env::set_var(CPU_RENDERING_ENV, "1");
    }
}

/// Starts the desktop app (the `vbm365-auth-app` binary).
pub fn run() {
    prefer_cpu_rendering();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VBM365_AUTH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let engine = match EngineOptions::from_env(None).and_then(Engine::open) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("vbm365-auth-app: {e}");
            std::process::exit(1);
        }
    };
    // Single instance first: a second start only shows the running app's window.
    let builder = plugins(
        tauri::Builder::default().plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            show_main_window(app)
        })),
    );
    let result = build(builder, engine)
        .setup(|app| {
            start_desktop(app.handle());
            Ok(())
        })
        .on_window_event(on_window_event)
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("vbm365-auth-app: {e}");
        std::process::exit(1);
    }
}
