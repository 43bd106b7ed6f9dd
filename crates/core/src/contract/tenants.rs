//! Tenants and tokens: `tenant list`, `status`, `token`, `refresh` and the window's tenant list.

use super::{bare, maybe_time, time, ErrorBody};
use crate::config::{ApiVersion, Config, Role, SignInMethod, TenantProfile};
use crate::session::{TenantState, TenantStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A saved tenant's settings, as both faces show them (no secret, no state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantSettings {
    /// The VBM365 REST server, e.g. `https://vbm.example:4443`.
    pub server: String,
    /// REST API version.
    pub api_version: ApiVersion,
    /// Microsoft identity platform authority, e.g. `https://login.microsoftonline.com`.
    pub authority: String,
    /// Application (client) id used for the Microsoft sign-in.
    pub client_id: String,
    /// Scope asked of Microsoft.
    pub scope: String,
    /// The Microsoft refresh token is kept for silent re-sign-in.
    pub remember_ms_sign_in: bool,
    /// Who signs in: `organization` or `operator` (a restore operator).
    pub role: Role,
    /// How the Microsoft sign-in happens: `device_code` or `browser`.
    pub sign_in_method: SignInMethod,
}

impl From<&TenantProfile> for TenantSettings {
    fn from(p: &TenantProfile) -> Self {
        TenantSettings {
            server: bare(&p.server),
            api_version: p.api_version,
            authority: bare(&p.authority),
            client_id: p.client_id.clone(),
            scope: p.scope.clone(),
            remember_ms_sign_in: p.remember_ms_sign_in,
            role: p.role,
            sign_in_method: p.sign_in_method,
        }
    }
}

/// One row of `tenant list --json`.
#[derive(Debug, Clone, Serialize)]
pub struct TenantRow {
    /// The tenant's name as saved.
    pub tenant: String,
    /// It is the active tenant.
    pub active: bool,
    /// Its settings.
    #[serde(flatten)]
    pub settings: TenantSettings,
    /// Certificate pins (SHA-256) of its server.
    pub pinned_sha256: Vec<String>,
    /// SHA-256 of the certificate authorities trusted for its server.
    pub trusted_ca_sha256: Vec<String>,
}

impl TenantRow {
    /// The row of `t` in `cfg`.
    pub fn new(cfg: &Config, t: &TenantProfile) -> Self {
        let hp = t.server_host_port();
        TenantRow {
            tenant: t.name.clone(),
            active: cfg.active_tenant.as_deref() == Some(t.name.as_str()),
            settings: TenantSettings::from(t),
            pinned_sha256: cfg.pins_for(&hp).to_vec(),
            trusted_ca_sha256: cfg.cas_for(&hp),
        }
    }
}

/// One row of `status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    /// The tenant's name as saved.
    pub tenant: String,
    /// It is the active tenant.
    pub active: bool,
    /// Its VBM365 server.
    pub server: String,
    /// Who signs in: `organization` or `operator`.
    pub role: Role,
    /// Its state.
    pub state: TenantState,
    /// When the stored access token expires (or expired).
    #[serde(serialize_with = "maybe_time")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<&TenantStatus> for StatusRow {
    fn from(s: &TenantStatus) -> Self {
        StatusRow {
            tenant: s.profile.name.clone(),
            active: s.active,
            server: bare(&s.profile.server),
            role: s.profile.role,
            state: s.state,
            expires_at: s.expires_at,
        }
    }
}

/// One tenant in the window's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantView {
    /// The tenant's name as saved.
    pub name: String,
    /// It is the active tenant.
    pub active: bool,
    /// Its settings.
    #[serde(flatten)]
    pub settings: TenantSettings,
    /// Its state.
    pub state: TenantState,
    /// When the stored access token expires (or expired).
    #[serde(serialize_with = "maybe_time")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The user VBM365 named with the tokens.
    pub user: Option<String>,
    /// Why sign-in is required, or the error.
    pub detail: Option<String>,
    /// A pinned certificate or a certificate authority is trusted for the tenant's server
    /// (`host:port`, shared by every tenant on it): "Forget trusted certificate" has work to do.
    pub trusted: bool,
}

impl TenantView {
    /// The view of `s`, with the trust of its server read from `cfg`.
    pub fn new(cfg: &Config, s: &TenantStatus) -> Self {
        TenantView {
            name: s.profile.name.clone(),
            active: s.active,
            settings: TenantSettings::from(&s.profile),
            state: s.state,
            expires_at: s.expires_at,
            user: s.user_name.clone(),
            detail: s.detail.clone(),
            trusted: cfg.trusts_server(&s.profile.server_host_port()),
        }
    }
}

// ----- tokens ------------------------------------------------------------------------------------

/// `token --json`: the one document that carries a token, for the script that asked for it.
#[derive(Debug, Serialize)]
pub struct TokenOutput<'a> {
    /// The tenant's name as saved.
    pub tenant: &'a str,
    /// The bearer token.
    pub access_token: &'a str,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// When it expires.
    #[serde(serialize_with = "time")]
    pub expires_at: DateTime<Utc>,
}

/// A token renewed or handed out, told without the token: `refresh --json`, and what the window's
/// `refresh_now` and `copy_token` return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenExpiry {
    /// The tenant's name as saved.
    pub tenant: String,
    /// When the access token expires.
    #[serde(serialize_with = "time")]
    pub expires_at: DateTime<Utc>,
}

/// One row of `refresh --all --json`.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshRow {
    /// The tenant's name as saved.
    pub tenant: String,
    /// It was refreshed.
    pub ok: bool,
    /// When its new access token expires (when `ok`).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "maybe_time")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Why not (when not `ok`): `code` and `message` (and `remedy`) at the row's top level.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

// ----- import ------------------------------------------------------------------------------------

/// An entry an import could not take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidEntry {
    /// 1-based position in the file.
    pub entry: usize,
    /// Its name, when it has a readable one.
    pub tenant: Option<String>,
    /// Stable code of the problem ([`Error::code`](crate::Error::code)).
    pub code: String,
    /// What is wrong.
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Tenants added.
    pub added: Vec<String>,
    /// Entries equal to a tenant already saved (nothing to do).
    pub unchanged: Vec<String>,
    /// Entries with problems: none were added when there are any, unless skipping was asked for.
    pub invalid: Vec<InvalidEntry>,
}
