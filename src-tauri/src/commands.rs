//! Tauri commands: each takes the state, calls one engine operation and returns
//! `Result<T, UiError>`. No command returns a token or a device code: "copy token" copies in Rust.

use crate::desktop;
use crate::error::{UiError, UiResult};
use crate::signin::SignInInfo;
use crate::state::{AppState, Probe, SettingsView, Snapshot, TenantForm};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;
use tauri::{AppHandle, Runtime, State};
use vbm365_auth_core::vbm::ServiceInstance;
use vbm365_auth_core::{validate, Engine, RemovedTrust};

/// A token copied or renewed, described without the token itself.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub tenant: String,
    pub expires_at: DateTime<Utc>,
}

/// The server certificate for the trust dialog.
#[derive(Debug, Clone, Serialize)]
pub struct TrustInfo {
    pub host_port: String,
    /// Lowercase hex SHA-256 of the leaf certificate.
    pub sha256: String,
    /// The system's roots already vouch for it: no pin needed.
    pub system_trusted: bool,
    /// A certificate authority the user trusts for this `host:port` vouches for it: no pin
    /// needed (and none to offer: the CA decides).
    pub ca_trusted: bool,
    /// This fingerprint is already pinned.
    pub pinned: bool,
    /// Other fingerprints are pinned for this server: the certificate changed. Not something to
    /// trust from a dialog (docs/protocol.md §6: a hard error); the sign-in reports it.
    pub pin_mismatch: bool,
}

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

/// Connects to the tenant's server and reports its certificate (nothing is pinned). The
/// fingerprint seen is remembered for the tenant: it is the one `pin_certificate` accepts.
#[tauri::command]
pub async fn probe_certificate(state: State<'_, AppState>, name: String) -> UiResult<TrustInfo> {
    let tenant = state.engine.config()?.resolve(Some(&name))?.name.clone();
    let info = state.engine.probe_certificate(Some(&tenant)).await?;
    let cfg = state.engine.config()?;
    let pins = cfg.pins_for(&info.host_port);
    let pinned = pins.contains(&info.sha256);
    state.remember_probe(
        &tenant,
        Probe {
            host_port: info.host_port.clone(),
            sha256: info.sha256.clone(),
        },
    );
    Ok(TrustInfo {
        pin_mismatch: !pins.is_empty() && !pinned,
        host_port: info.host_port,
        sha256: info.sha256,
        system_trusted: info.system_trusted,
        ca_trusted: info.ca_trusted,
        pinned,
    })
}

/// Code of the error `pin_certificate` gives for a fingerprint the app did not just see.
pub const NOT_PROBED: &str = "certificate_not_probed";

/// Pins the certificate fingerprint the user accepted in the trust dialog: only the one the last
/// `probe_certificate` of this tenant saw on its current server, and only once (the page cannot
/// pin a fingerprint of its own choosing).
#[tauri::command(async)]
pub fn pin_certificate(state: State<'_, AppState>, name: String, sha256: String) -> UiResult<()> {
    let cfg = state.engine.config()?;
    let profile = cfg.resolve(Some(&name))?;
    let host_port = profile.server_host_port();
    let given = validate::sha256_pin(&sha256)?;
    let Some(probe) = state.take_probe(&profile.name) else {
        return Err(UiError::new(
            NOT_PROBED,
            format!(
                "the certificate of {host_port} was not checked just now: connect to the server \
                 again to see the certificate it presents; nothing was trusted"
            ),
        ));
    };
    if probe.host_port != host_port || probe.sha256 != given {
        return Err(UiError::new(
            NOT_PROBED,
            format!(
                "{host_port} did not present the certificate with SHA-256 {given}; only the \
                 certificate the server presented can be trusted; nothing was trusted"
            ),
        ));
    }
    if let Err(e) = state.engine.pin_certificate(Some(&profile.name), &given) {
        // Not pinned: the user may try again with what was probed.
        state.remember_probe(&profile.name, probe);
        return Err(e.into());
    }
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

/// Asks Microsoft for a device code, copies the user code and starts polling in the background
/// (progress arrives as `sign-in-progress` events).
#[tauri::command]
pub async fn start_sign_in<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    name: Option<String>,
) -> UiResult<SignInInfo> {
    check_pin(&state.engine, name.as_deref()).await?;
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

/// Before asking Microsoft for a code: if the tenant's server presents a certificate other than
/// the pinned one, fails at once with the pin mismatch (naming both fingerprints) instead of after
/// the user approved the sign-in. When the server cannot be probed, the sign-in goes on and
/// reports the problem in its own words (the probe connects directly, without a proxy).
async fn check_pin(engine: &Engine, name: Option<&str>) -> UiResult<()> {
    let cfg = engine.config()?;
    if cfg.resolve(name)?.server.scheme() != "https" {
        return Ok(());
    }
    let Ok(info) = engine.probe_certificate(name).await else {
        return Ok(());
    };
    let pins = cfg.pins_for(&info.host_port);
    if pins.is_empty() || pins.contains(&info.sha256) {
        return Ok(());
    }
    Err(vbm365_auth_core::Error::PinMismatch {
        host: info.host_port,
        expected: pins.join(" or "),
        actual: info.sha256,
    }
    .into())
}

/// Stops the sign-in in progress.
#[tauri::command]
pub fn cancel_sign_in<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> bool {
    state.signin.cancel(&app)
}

/// The error of a command about the sign-in in progress when there is none.
fn no_sign_in() -> UiError {
    UiError::new("no_sign_in", "no sign-in is in progress")
}

/// Opens the sign-in page of the sign-in in progress, if its address passed the checks.
#[tauri::command(async)]
pub fn open_sign_in_page(state: State<'_, AppState>) -> UiResult<()> {
    let uri = state
        .signin
        .openable_uri()
        .ok_or_else(no_sign_in)?
        .map_err(|why| UiError::new("unsafe_uri", why))?;
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
pub async fn refresh_now(state: State<'_, AppState>, name: Option<String>) -> UiResult<TokenInfo> {
    let result = state.engine.refresh(name.as_deref()).await;
    state.poke();
    let t = result?;
    Ok(TokenInfo {
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
) -> UiResult<TokenInfo> {
    let result = state
        .engine
        .token(name.as_deref(), Duration::from_secs(60))
        .await;
    state.poke();
    let t = result?;
    desktop::copy_text(&app, t.access_token.expose())?;
    Ok(TokenInfo {
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
    settings: SettingsView,
) -> UiResult<Snapshot> {
    let before = state.engine.config()?.settings.start_at_login;
    if before != settings.start_at_login {
        desktop::set_autostart(&app, settings.start_at_login)?;
    }
    crate::state::save_settings(&state.engine, settings)?;
    state.poke();
    state.snapshot()
}
