//! The app's managed state and the serializable views of the core's state that the web UI and the
//! tray render. Views carry no secret: a token never leaves Rust except through the clipboard.

use crate::error::{UiError, UiResult};
use crate::signin::SignInSlot;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use vbm365_auth_core::config::{ConfigStore, Settings};
use vbm365_auth_core::{validate, ApiVersion, Engine, TenantProfile, TenantState, TenantStatus};

/// Everything the app shares between commands, the tray and background tasks.
pub struct AppState {
    /// The one engine of this process (same config dir and vault as the CLI).
    pub engine: Arc<Engine>,
    /// The sign-in in progress, if any, and the numbering of attempts.
    pub signin: SignInSlot,
    /// Wakes the state monitor: something changed, re-read the status now.
    pub changed: Arc<Notify>,
    /// The certificate each tenant's server presented to the last `probe_certificate`, by tenant
    /// name: the only fingerprint `pin_certificate` accepts for it (once).
    probes: Mutex<HashMap<String, Probe>>,
}

/// What a trust probe saw: the server (`host:port`) and its certificate's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub host_port: String,
    pub sha256: String,
}

impl AppState {
    /// State over an engine.
    pub fn new(engine: Arc<Engine>) -> Self {
        AppState {
            engine,
            signin: SignInSlot::new(),
            changed: Arc::new(Notify::new()),
            probes: Mutex::new(HashMap::new()),
        }
    }

    /// Remembers what the probe of `tenant`'s server saw (replacing an earlier probe).
    pub fn remember_probe(&self, tenant: &str, probe: Probe) {
        self.probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.to_string(), probe);
    }

    /// Takes (and forgets) the last probe of `tenant`'s server.
    pub fn take_probe(&self, tenant: &str) -> Option<Probe> {
        self.probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant)
    }

    /// Tells the monitor (and through it the UI, tray and scheduler) to look again now.
    pub fn poke(&self) {
        self.changed.notify_one();
    }

    /// The current snapshot of tenants and settings.
    pub fn snapshot(&self) -> UiResult<Snapshot> {
        snapshot(&self.engine)
    }
}

/// One tenant row of the window's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantView {
    pub name: String,
    pub server: String,
    pub api_version: ApiVersion,
    pub authority: String,
    pub client_id: String,
    pub scope: String,
    pub remember_ms_sign_in: bool,
    pub active: bool,
    pub state: TenantState,
    pub expires_at: Option<DateTime<Utc>>,
    pub user: Option<String>,
    /// Why sign-in is required, or the error.
    pub detail: Option<String>,
    /// A pinned certificate or a certificate authority is trusted for the tenant's server
    /// (`host:port`, shared by every tenant on it): "Forget trusted certificate" has work to do.
    pub trusted: bool,
}

impl From<&TenantStatus> for TenantView {
    fn from(s: &TenantStatus) -> Self {
        TenantView {
            name: s.profile.name.clone(),
            server: s.profile.server.to_string(),
            api_version: s.profile.api_version,
            authority: s.profile.authority.to_string(),
            client_id: s.profile.client_id.clone(),
            scope: s.profile.scope.clone(),
            remember_ms_sign_in: s.profile.remember_ms_sign_in,
            active: s.active,
            state: s.state,
            expires_at: s.expires_at,
            user: s.user_name.clone(),
            detail: s.detail.clone(),
            trusted: false,
        }
    }
}

/// App settings as the UI edits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsView {
    pub auto_refresh: bool,
    pub close_to_tray: bool,
    pub start_at_login: bool,
}

impl From<&Settings> for SettingsView {
    fn from(s: &Settings) -> Self {
        SettingsView {
            auto_refresh: s.auto_refresh,
            close_to_tray: s.close_to_tray,
            start_at_login: s.start_at_login,
        }
    }
}

/// What the `state-changed` event carries and `get_state` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub tenants: Vec<TenantView>,
    pub settings: SettingsView,
    /// Secrets are kept in a plain file (the UI shows a warning).
    pub plaintext_storage: bool,
    pub config_dir: String,
}

/// Reads the config and vault once.
pub fn snapshot(engine: &Engine) -> UiResult<Snapshot> {
    let status = engine.status()?;
    let cfg = engine.config()?;
    Ok(Snapshot {
        tenants: status
            .iter()
            .map(|s| {
                let hp = s.profile.server_host_port();
                TenantView {
                    trusted: !cfg.pins_for(&hp).is_empty()
                        || cfg.trusted_cas.get(&hp).is_some_and(|c| !c.is_empty()),
                    ..TenantView::from(s)
                }
            })
            .collect(),
        settings: SettingsView::from(&cfg.settings),
        plaintext_storage: engine.uses_plaintext_storage()?,
        config_dir: engine.config_dir().display().to_string(),
    })
}

/// Saves the app settings in `config.json` (under the config lock, like every config edit).
pub fn save_settings(engine: &Engine, s: SettingsView) -> UiResult<()> {
    ConfigStore::new(engine.config_dir()).update(|cfg| {
        cfg.settings.auto_refresh = s.auto_refresh;
        cfg.settings.close_to_tray = s.close_to_tray;
        cfg.settings.start_at_login = s.start_at_login;
        Ok(())
    })?;
    Ok(())
}

/// The add / edit tenant form.
#[derive(Debug, Clone, Deserialize)]
pub struct TenantForm {
    pub name: String,
    pub server: String,
    #[serde(default)]
    pub api_version: Option<String>,
    /// Empty means the global Microsoft authority.
    #[serde(default)]
    pub authority: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default = "yes")]
    pub remember_ms_sign_in: bool,
    #[serde(default)]
    pub activate: bool,
}

fn yes() -> bool {
    true
}

/// A validation error that names the form field it belongs to, so the form can show it there.
fn field_error(field: &str, e: vbm365_auth_core::Error) -> UiError {
    let mut ui = UiError::from(e);
    ui.field = Some(field.to_string());
    ui
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl TenantForm {
    /// Validates every field, naming the first bad one.
    pub fn into_profile(self) -> UiResult<TenantProfile> {
        let name = validate::tenant_name(&self.name).map_err(|e| field_error("name", e))?;
        let mut p =
            TenantProfile::new(&name, &self.server).map_err(|e| field_error("server", e))?;
        if let Some(v) = non_empty(&self.api_version) {
            p.api_version = v.parse().map_err(|e| field_error("api_version", e))?;
        }
        if let Some(a) = non_empty(&self.authority) {
            p.authority = validate::authority_url(a).map_err(|e| field_error("authority", e))?;
        }
        if let Some(c) = non_empty(&self.client_id) {
            validate::client_id(c).map_err(|e| field_error("client_id", e))?;
            p.client_id = c.to_string();
        }
        if let Some(s) = non_empty(&self.scope) {
            validate::scope(s).map_err(|e| field_error("scope", e))?;
            p.scope = s.to_string();
        }
        p.remember_ms_sign_in = self.remember_ms_sign_in;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, server: &str) -> TenantForm {
        TenantForm {
            name: name.into(),
            server: server.into(),
            api_version: Some("v7".into()),
            authority: Some(String::new()),
            client_id: None,
            scope: None,
            remember_ms_sign_in: true,
            activate: false,
        }
    }

    #[test]
    fn form_defaults_and_overrides() {
        let p = form("Contoso.onmicrosoft.com", "https://vbm.example:4443")
            .into_profile()
            .unwrap();
        assert_eq!(p.name, "Contoso.onmicrosoft.com", "kept as typed");
        assert_eq!(p.api_version, ApiVersion::V7);
        assert_eq!(p.authority.as_str(), "https://login.microsoftonline.com/");
    }

    #[test]
    fn form_errors_name_the_field() {
        let e = form("bad name!", "https://vbm.example")
            .into_profile()
            .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("invalid_input", Some("name"))
        );
        let e = form("ok.example", "http://vbm.example")
            .into_profile()
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("server"));
        let mut f = form("ok.example", "https://vbm.example");
        f.api_version = Some("v9".into());
        assert_eq!(
            f.into_profile().unwrap_err().field.as_deref(),
            Some("api_version")
        );
    }
}
