//! The app's managed state, and the tenant form the window sends. The views the window renders are
//! the core's JSON contract ([`vbm365_auth_core::contract`]); they carry no secret: a token never
//! leaves Rust except through the clipboard.

use crate::error::{UiError, UiResult};
use crate::signin::SignInSlot;
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::Notify;
use vbm365_auth_core::contract::Snapshot;
#[cfg(test)]
use vbm365_auth_core::ApiVersion;
use vbm365_auth_core::{validate, Engine, TenantProfile};

/// Everything the app shares between commands, the tray and background tasks.
pub struct AppState {
    /// The one engine of this process (same config dir and vault as the CLI).
    pub engine: Arc<Engine>,
    /// The sign-in in progress, if any, and the numbering of attempts.
    pub signin: SignInSlot,
    /// Wakes the state monitor: something changed, re-read the status now.
    pub changed: Arc<Notify>,
}

impl AppState {
    /// State over an engine.
    pub fn new(engine: Arc<Engine>) -> Self {
        AppState {
            engine,
            signin: SignInSlot::new(),
            changed: Arc::new(Notify::new()),
        }
    }

    /// Tells the monitor (and through it the UI, tray and scheduler) to look again now.
    pub fn poke(&self) {
        self.changed.notify_one();
    }

    /// The current snapshot of tenants and settings (start at login as the system has it, where
    /// the app can read that: [`crate::desktop::with_system_autostart`]).
    pub fn snapshot(&self) -> UiResult<Snapshot> {
        Ok(crate::desktop::with_system_autostart(Snapshot::read(
            &self.engine,
        )?))
    }
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
    /// `organization` (when absent) or `operator`.
    #[serde(default)]
    pub role: Option<String>,
    /// `device_code` (when absent) or `browser`.
    #[serde(default)]
    pub sign_in_method: Option<String>,
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
        if let Some(r) = non_empty(&self.role) {
            p.role = r.parse().map_err(|e| field_error("role", e))?;
        }
        if let Some(m) = non_empty(&self.sign_in_method) {
            p.sign_in_method = m.parse().map_err(|e| field_error("sign_in_method", e))?;
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vbm365_auth_core::{Role, SignInMethod};

    fn form(name: &str, server: &str) -> TenantForm {
        TenantForm {
            name: name.into(),
            server: server.into(),
            api_version: Some("v7".into()),
            authority: Some(String::new()),
            client_id: None,
            scope: None,
            remember_ms_sign_in: true,
            role: None,
            sign_in_method: None,
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
        assert_eq!(
            (p.role, p.sign_in_method),
            (Role::Organization, SignInMethod::DeviceCode)
        );
        let mut f = form("a.example", "https://vbm.example");
        f.role = Some("operator".into());
        f.sign_in_method = Some("browser".into());
        let p = f.into_profile().unwrap();
        assert_eq!(
            (p.role, p.sign_in_method),
            (Role::Operator, SignInMethod::Browser)
        );
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
        let mut f = form("ok.example", "https://vbm.example");
        f.sign_in_method = Some("popup".into());
        assert_eq!(
            f.into_profile().unwrap_err().field.as_deref(),
            Some("sign_in_method")
        );
    }
}
