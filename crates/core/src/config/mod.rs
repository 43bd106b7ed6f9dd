//! `config.json`: the saved tenants, the active tenant, certificate pins and settings.
//!
//! No secret is ever stored here (tokens live in the vault, see [`crate::vault`]). The file carries a
//! `version` so that later releases can migrate it; it is replaced atomically
//! ([`crate::fsutil::write_atomic`]) and edited under a cross-process lock, so the app and the CLI
//! can change it at the same time without losing each other's edits.

use crate::error::{Error, Result};
pub use crate::role::{Role, SignInMethod};
use crate::validate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use url::Url;

mod store;

pub use store::ConfigStore;

/// The config format this build writes.
pub const CONFIG_VERSION: u32 = 1;
/// Azure CLI's public client id, used by the seed document.
pub const DEFAULT_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// Scope asked of Microsoft by default (space-separated); `offline_access` is what makes Microsoft
/// issue a refresh token.
pub const DEFAULT_SCOPE: &str = "Directory.AccessAsUser.All User.ReadWrite.All offline_access";
/// Why a restore operator's profile cannot have a client id or scope other than the defaults:
/// they would be saved and never used.
pub const OPERATOR_OWN_APP: &str = "a restore operator signs in to the Restore Portal application the server names: a client id or scope of its own does not apply to the operator role";
/// Microsoft identity platform authority of the global cloud: the default.
pub const AUTHORITY_GLOBAL: &str = "https://login.microsoftonline.com";
/// Authority of the US Government cloud.
pub const AUTHORITY_US_GOV: &str = "https://login.microsoftonline.us";
/// Authority of the cloud operated in China.
pub const AUTHORITY_CHINA: &str = "https://login.partner.microsoftonline.cn";

/// VBM365 REST API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    /// `/v6`: no logout endpoint, no antiforgery parameter.
    V6,
    /// `/v7`: logout, and `disable_antiforgery_token=true` on token requests.
    V7,
    /// `/v8`, the default: as v7.
    #[default]
    V8,
}

impl ApiVersion {
    /// The path segment: `v6`, `v7` or `v8` (also the form saved in `config.json`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V6 => "v6",
            ApiVersion::V7 => "v7",
            ApiVersion::V8 => "v8",
        }
    }

    /// v7 and later tie refresh tokens to a browser cookie unless asked not to.
    pub fn has_antiforgery(self) -> bool {
        !matches!(self, ApiVersion::V6)
    }

    /// `POST /token/logout` exists from v7 on.
    pub fn has_logout(self) -> bool {
        !matches!(self, ApiVersion::V6)
    }
}

impl std::str::FromStr for ApiVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v6" | "6" => Ok(ApiVersion::V6),
            "v7" | "7" => Ok(ApiVersion::V7),
            "v8" | "8" => Ok(ApiVersion::V8),
            other => Err(Error::InvalidInput(format!(
                "unknown API version '{other}': use v6, v7 or v8"
            ))),
        }
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A saved tenant: everything needed to sign in, nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantProfile {
    /// Organization name as VBM365 knows it, e.g. `Contoso.onmicrosoft.com`: stored and sent
    /// exactly as typed (VBM365 compares it case-sensitively); looked up ignoring case. Configs
    /// written by earlier builds hold it lowercased, which keeps working as it did.
    pub name: String,
    /// VBM365 REST API base URL, e.g. `https://vbm.example.local:4443`.
    pub server: Url,
    /// REST API version of the server; v8 when the file has none.
    #[serde(default)]
    pub api_version: ApiVersion,
    /// Microsoft identity platform authority, e.g. `https://login.microsoftonline.com`.
    pub authority: Url,
    /// Application (client) id sent to Microsoft; [`DEFAULT_CLIENT_ID`] unless changed.
    pub client_id: String,
    /// Space-separated scopes asked of Microsoft; [`DEFAULT_SCOPE`] unless changed.
    pub scope: String,
    /// Keep the Microsoft refresh token so that a refused VBM365 refresh can sign in again silently.
    #[serde(default = "default_true")]
    pub remember_ms_sign_in: bool,
    /// Who signs in: the organization (the default; also for files written before roles existed)
    /// or a restore operator, whose Microsoft application and scope come from the server (the
    /// profile's `client_id` and `scope` are then not used).
    #[serde(default)]
    pub role: Role,
    /// How the Microsoft sign-in happens: device code (the default) or browser.
    #[serde(default)]
    pub sign_in_method: SignInMethod,
}

fn default_true() -> bool {
    true
}

impl TenantProfile {
    /// A profile with the defaults of docs/protocol.md §1, validated.
    pub fn new(name: &str, server: &str) -> Result<Self> {
        let p = TenantProfile {
            name: validate::tenant_name(name)?,
            server: validate::server_url(server)?,
            api_version: ApiVersion::default(),
            authority: validate::authority_url(AUTHORITY_GLOBAL)?,
            client_id: DEFAULT_CLIENT_ID.to_string(),
            scope: DEFAULT_SCOPE.to_string(),
            remember_ms_sign_in: true,
            role: Role::default(),
            sign_in_method: SignInMethod::default(),
        };
        Ok(p)
    }

    /// Checks every field, and that a restore operator's client id and scope are the defaults
    /// ([`OPERATOR_OWN_APP`]): what every path that saves a profile requires (`tenant add`,
    /// `tenant edit`, an import, the window's form).
    pub fn validate(&self) -> Result<()> {
        self.validate_fields()?;
        if self.role == Role::Operator
            && (self.client_id != DEFAULT_CLIENT_ID || self.scope != DEFAULT_SCOPE)
        {
            return Err(Error::InvalidInput(OPERATOR_OWN_APP.into()));
        }
        Ok(())
    }

    /// Checks every field: what a profile read from disk must pass. A restore operator that an
    /// earlier build saved with a client id or scope of its own still loads (they are not used),
    /// so one stale value never makes every tenant unusable; saving it again needs the defaults.
    fn validate_fields(&self) -> Result<()> {
        validate::tenant_name(&self.name)?;
        validate::server_url(self.server.as_str())?;
        validate::authority_url(self.authority.as_str())?;
        validate::client_id(&self.client_id)?;
        validate::scope(&self.scope)?;
        Ok(())
    }

    /// `host:port` of the VBM365 server, the key of certificate pins.
    pub fn server_host_port(&self) -> String {
        validate::host_port(&self.server)
    }
}

/// App and CLI settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The desktop app refreshes every signed-in tenant's tokens before they expire (default on).
    pub auto_refresh: bool,
    /// Closing the desktop app's window hides it to the tray instead of quitting (default on).
    pub close_to_tray: bool,
    /// The desktop app is registered to start when the user logs in (default off).
    pub start_at_login: bool,
    /// `true` keeps secrets in a plain 0600 file instead of the OS keyring (explicit opt-in).
    pub plaintext_storage: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auto_refresh: true,
            close_to_tray: true,
            start_at_login: false,
            plaintext_storage: false,
        }
    }
}

/// The whole `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Format of the file; [`CONFIG_VERSION`] once loaded (a missing or 0 version reads as the
    /// current one; a newer one is refused).
    pub version: u32,
    /// Random id naming this config's vault key in the OS keyring (not a secret).
    pub vault_id: String,
    /// Name of the tenant used when a command names none; `None` when no tenant is active (none
    /// saved yet, or the active one was removed).
    #[serde(default)]
    pub active_tenant: Option<String>,
    /// The saved tenants in the order they were added; no two names equal ignoring ASCII case.
    #[serde(default)]
    pub tenants: Vec<TenantProfile>,
    /// SHA-256 fingerprints (lowercase hex) of trusted server certificates, by `host:port`.
    #[serde(default)]
    pub trusted_certificates: BTreeMap<String, Vec<String>>,
    /// Certificate authorities (PEM) trusted for one server each, by `host:port`, besides the
    /// system's. Public certificates, not secrets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trusted_cas: BTreeMap<String, Vec<String>>,
    /// App and CLI settings; the defaults when the file has none.
    #[serde(default)]
    pub settings: Settings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: CONFIG_VERSION,
            vault_id: new_vault_id(),
            active_tenant: None,
            tenants: Vec::new(),
            trusted_certificates: BTreeMap::new(),
            trusted_cas: BTreeMap::new(),
            settings: Settings::default(),
        }
    }
}

fn new_vault_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

impl Config {
    /// The tenant with this name, compared ignoring ASCII case.
    pub fn tenant(&self, name: &str) -> Option<&TenantProfile> {
        let name = name.trim();
        self.tenants
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// The named tenant, or the active one when `name` is `None`.
    pub fn resolve(&self, name: Option<&str>) -> Result<&TenantProfile> {
        match name {
            Some(n) => self
                .tenant(n)
                .ok_or_else(|| Error::TenantNotFound(n.to_string())),
            None => {
                let active = self.active_tenant.as_deref().ok_or(Error::NoActiveTenant)?;
                self.tenant(active)
                    .ok_or_else(|| Error::TenantNotFound(active.to_string()))
            }
        }
    }

    /// Pins of a `host:port`.
    pub fn pins_for(&self, host_port: &str) -> &[String] {
        self.trusted_certificates
            .get(host_port)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// A pin or a certificate authority is trusted for `host:port`.
    pub fn trusts_server(&self, host_port: &str) -> bool {
        !self.pins_for(host_port).is_empty()
            || self
                .trusted_cas
                .get(host_port)
                .is_some_and(|c| !c.is_empty())
    }

    /// SHA-256 (lowercase hex) of the CA certificates trusted for `host:port`.
    pub fn cas_for(&self, host_port: &str) -> Vec<String> {
        self.trusted_cas
            .get(host_port)
            .into_iter()
            .flatten()
            .flat_map(|pem| crate::tls::certificates_in(pem.as_bytes()))
            .map(|der| crate::tls::fingerprint(&der))
            .collect()
    }

    /// Brings an older file up to [`CONFIG_VERSION`]. Version 1 is the first format; later formats
    /// add a step here (`1 => { ...; self.version = 2 }`) so that old files keep working.
    fn migrate(mut self, path: &Path) -> Result<Self> {
        if self.version > CONFIG_VERSION {
            return Err(Error::ConfigCorrupt {
                path: path.display().to_string(),
                detail: format!(
                    "written by a newer vbm365-auth (format {}, this build reads up to {CONFIG_VERSION})",
                    self.version
                ),
            });
        }
        if self.version == 0 {
            self.version = CONFIG_VERSION;
        }
        if self.vault_id.is_empty() {
            self.vault_id = new_vault_id();
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests;
