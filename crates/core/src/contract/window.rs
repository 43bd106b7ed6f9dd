//! The window's own shapes: its settings, the state snapshot, the trust dialog.

use super::TenantView;
use crate::config::Settings;
use crate::session::{Engine, TenantStatus};
use serde::{Deserialize, Serialize};

/// The desktop settings the window edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesktopSettings {
    /// Refresh every signed-in tenant before its token expires.
    pub auto_refresh: bool,
    /// Closing the window leaves the app in the tray.
    pub close_to_tray: bool,
    /// Start the app at login.
    pub start_at_login: bool,
}

impl From<&Settings> for DesktopSettings {
    fn from(s: &Settings) -> Self {
        DesktopSettings {
            auto_refresh: s.auto_refresh,
            close_to_tray: s.close_to_tray,
            start_at_login: s.start_at_login,
        }
    }
}

impl DesktopSettings {
    /// Writes these into `s` (the settings the window does not edit stay).
    pub fn apply_to(self, s: &mut Settings) {
        s.auto_refresh = self.auto_refresh;
        s.close_to_tray = self.close_to_tray;
        s.start_at_login = self.start_at_login;
    }
}

/// What the window's `get_state` returns and its `state-changed` event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Every saved tenant, in saved order.
    pub tenants: Vec<TenantView>,
    /// The desktop settings.
    pub settings: DesktopSettings,
    /// Secrets are kept in a plain file (the window shows a warning).
    pub plaintext_storage: bool,
    /// Where `config.json` and the vault live.
    pub config_dir: String,
}

impl Snapshot {
    /// Reads the tenants' state, the config and the storage choice once.
    pub fn read(engine: &Engine) -> crate::Result<Snapshot> {
        Snapshot::of(engine, &engine.status()?)
    }

    /// The snapshot of tenants whose state was just read (`status`, from [`Engine::status`]).
    pub fn of(engine: &Engine, status: &[TenantStatus]) -> crate::Result<Snapshot> {
        let cfg = engine.config()?;
        Ok(Snapshot {
            tenants: status.iter().map(|s| TenantView::new(&cfg, s)).collect(),
            settings: DesktopSettings::from(&cfg.settings),
            plaintext_storage: engine.uses_plaintext_storage()?,
            config_dir: engine.config_dir().display().to_string(),
        })
    }
}

/// A server's certificate for the window's trust dialog (the verdict is the core's:
/// [`crate::Engine::probe_certificate`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustInfo {
    /// `host:port` the trust is saved under.
    pub host_port: String,
    /// Lowercase hex SHA-256 of the leaf certificate.
    pub sha256: String,
    /// The system's roots vouch for it: no pin needed.
    pub system_trusted: bool,
    /// A certificate authority trusted for this `host:port` vouches for it.
    pub ca_trusted: bool,
    /// This certificate is the pinned one.
    pub pinned: bool,
    /// Other certificates are pinned for this server: it changed. Never a question to ask in a
    /// dialog; the sign-in reports it as an error.
    pub pin_mismatch: bool,
}
