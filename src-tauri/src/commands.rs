//! Tauri commands: each takes the state, calls one engine operation and returns
//! `Result<T, UiError>`. No command returns a token or a device code: "copy token" copies in Rust.

use crate::desktop;
use crate::error::{UiError, UiResult};
use crate::signin::SignInInfo;
use crate::state::{AppState, TenantForm};
use std::time::Duration;
use tauri::{AppHandle, Runtime, State};
use vbm365_auth_core::contract::{app_code, DesktopSettings, Snapshot, TokenExpiry, TrustInfo};
use vbm365_auth_core::vbm::ServiceInstance;
use vbm365_auth_core::{RemovedTrust, SignInMethod};

/// Tenants, states and settings.
#[tauri::command(async)]
pub fn get_state(state: State<'_, AppState>) -> UiResult<Snapshot> {
    state.snapshot()
}

/// Saves a new tenant (validation errors name the form field).
#[tauri::command(async)]
pub fn add_tenant(state: State<'_, AppState>, form: TenantForm) -> UiResult<Snapshot> {
    let activate = form.activate;
    state
        .engine
        .add_tenant(form.into_profile()?, None, activate)?;
    state.poke();
    state.snapshot()
}

/// Replaces a saved tenant's settings (the name identifies it). A new server, API version,
/// authority or client id signs the tenant out (its tokens belong to the old endpoints); the
/// snapshot then shows it signed out.
#[tauri::command]
pub async fn update_tenant(state: State<'_, AppState>, form: TenantForm) -> UiResult<Snapshot> {
    state.engine.update_tenant(form.into_profile()?).await?;
    state.poke();
    state.snapshot()
}

/// Signs a tenant out (best effort) and forgets it.
#[tauri::command]
pub async fn remove_tenant(state: State<'_, AppState>, name: String) -> UiResult<Snapshot> {
    state.engine.remove_tenant(&name).await?;
    state.poke();
    state.snapshot()
}

/// Makes a tenant the active one.
#[tauri::command(async)]
pub fn switch_tenant(state: State<'_, AppState>, name: String) -> UiResult<Snapshot> {
    state.engine.switch(&name)?;
    state.poke();
    state.snapshot()
}

/// Connects to the tenant's server and reports its certificate and the core's verdict on it
/// (nothing is pinned). The fingerprint seen is the one `pin_certificate` accepts, once.
#[tauri::command]
pub async fn probe_certificate(state: State<'_, AppState>, name: String) -> UiResult<TrustInfo> {
    Ok(state.engine.examine_certificate(Some(&name)).await?)
}

/// Pins the certificate fingerprint the user accepted in the trust dialog: only the one the last
/// `probe_certificate` of this tenant saw on its current server (the page cannot pin a
/// fingerprint of its own choosing).
#[tauri::command(async)]
pub fn pin_certificate(state: State<'_, AppState>, name: String, sha256: String) -> UiResult<()> {
    state
        .engine
        .pin_examined_certificate(Some(&name), &sha256)?;
    state.poke();
    Ok(())
}

/// Forgets the pinned certificates and trusted certificate authorities of the tenant's server
/// (`host:port`: every tenant on it is affected); its next connection asks again.
#[tauri::command(async)]
pub fn remove_trust(state: State<'_, AppState>, name: String) -> UiResult<RemovedTrust> {
    let removed = state.engine.remove_trust(Some(&name))?;
    state.poke();
    Ok(removed)
}

/// Starts a sign-in with `method` (`device_code` or `browser`; the tenant's when absent). Device
/// code: asks Microsoft for a code, copies the user code and polls in the background. Browser:
/// opens Microsoft's page in the default browser and waits for its answer on 127.0.0.1. Progress
/// arrives as `sign-in-progress` events.
#[tauri::command]
pub async fn start_sign_in<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    name: Option<String>,
    method: Option<SignInMethod>,
) -> UiResult<SignInInfo> {
    state
        .engine
        .check_pin_before_sign_in(name.as_deref())
        .await?;
    let tenant_method = state
        .engine
        .config()?
        .resolve(name.as_deref())?
        .sign_in_method;
    if method.unwrap_or(tenant_method) == SignInMethod::Browser {
        let pending = state.engine.begin_browser_sign_in(name.as_deref()).await?;
        let page = pending.openable_uri.clone().ok();
        let opened = tauri::async_runtime::spawn_blocking(move || {
            page.is_some_and(|u| vbm365_auth_core::browser::open_verification_uri(&u).is_ok())
        })
        .await
        .unwrap_or(false);
        return Ok(state.signin.start_browser(
            &app,
            state.engine.clone(),
            state.changed.clone(),
            pending,
            opened,
        ));
    }
    let pending = state.engine.begin_sign_in(name.as_deref()).await?;
    let copied = desktop::copy_text(&app, &pending.authorization.user_code).is_ok();
    Ok(state.signin.start(
        &app,
        state.engine.clone(),
        state.changed.clone(),
        pending,
        copied,
    ))
}

/// Stops the sign-in in progress.
#[tauri::command]
pub fn cancel_sign_in<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> bool {
    state.signin.cancel(&app)
}

/// The error of a command about the sign-in in progress when there is none.
fn no_sign_in() -> UiError {
    UiError::new(app_code::NO_SIGN_IN, "no sign-in is in progress")
}

/// Opens the sign-in page of the sign-in in progress, if its address passed the checks.
#[tauri::command(async)]
pub fn open_sign_in_page(state: State<'_, AppState>) -> UiResult<()> {
    let uri = state
        .signin
        .openable_uri()
        .ok_or_else(no_sign_in)?
        .map_err(|why| UiError::new(app_code::UNSAFE_URI, why))?;
    vbm365_auth_core::browser::open_verification_uri(&uri)?;
    Ok(())
}

/// Copies the user code of the sign-in in progress again.
#[tauri::command]
pub fn copy_user_code<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> UiResult<()> {
    let code = state.signin.user_code().ok_or_else(no_sign_in)?;
    desktop::copy_text(&app, &code)
}

/// Refreshes a tenant's tokens now.
#[tauri::command]
pub async fn refresh_now(
    state: State<'_, AppState>,
    name: Option<String>,
) -> UiResult<TokenExpiry> {
    let result = state.engine.refresh(name.as_deref()).await;
    state.poke();
    let t = result?;
    Ok(TokenExpiry {
        tenant: t.tenant,
        expires_at: t.expires_at,
    })
}

/// Copies a valid access token (refreshed first if it expires within a minute) to the clipboard.
#[tauri::command]
pub async fn copy_token<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    name: Option<String>,
) -> UiResult<TokenExpiry> {
    let result = state
        .engine
        .token(name.as_deref(), Duration::from_secs(60))
        .await;
    state.poke();
    let t = result?;
    desktop::copy_text(&app, t.access_token.expose())?;
    Ok(TokenExpiry {
        tenant: t.tenant,
        expires_at: t.expires_at,
    })
}

/// `GET /vN/ServiceInstance` with the tenant's token: shows the server version.
#[tauri::command]
pub async fn test_connection(
    state: State<'_, AppState>,
    name: Option<String>,
) -> UiResult<ServiceInstance> {
    let result = state.engine.test_connection(name.as_deref()).await;
    state.poke();
    Ok(result?)
}

/// Signs a tenant out; returns the server's complaint about the logout call, if any (the local
/// secrets are deleted regardless).
#[tauri::command]
pub async fn sign_out(
    state: State<'_, AppState>,
    name: Option<String>,
) -> UiResult<Option<String>> {
    let warning = state.engine.logout(name.as_deref()).await?;
    state.poke();
    Ok(warning.map(|e| e.to_string()))
}

/// Saves the app settings; start-at-login is applied to the system at once.
#[tauri::command(async)]
pub fn set_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: DesktopSettings,
) -> UiResult<Snapshot> {
    let before = match desktop::system_autostart() {
        Some(on) => on,
        None => state.engine.config()?.settings.start_at_login,
    };
    if before != settings.start_at_login {
        desktop::set_autostart(&app, settings.start_at_login)?;
    }
    state.engine.set_desktop_settings(settings)?;
    state.poke();
    state.snapshot()
}
