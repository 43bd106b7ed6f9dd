//! What the VBM365 emulator issued (access and refresh tokens) and the settings of the VBM365
//! server tests change while it runs.

use super::{RefreshStatus, Shared, MAX_SECS};
use std::time::{Duration, Instant};

/// Lifetime of VBM365 refresh tokens.
pub(crate) const VBM_REFRESH_LIFETIME: Duration = Duration::from_secs(14 * 24 * 3600);

/// A VBM365 access token.
#[derive(Debug, Clone)]
pub(crate) struct VbmAccess {
    pub refresh_token: String,
    pub expires_at: Instant,
    pub revoked: bool,
}

/// A VBM365 refresh token.
#[derive(Debug, Clone)]
pub(crate) struct VbmRefresh {
    pub tenant: String,
    pub user_name: String,
    pub expires_at: Instant,
    /// The antiforgery cookie value the token is bound to (v7/v8 without
    /// `disable_antiforgery_token=true`).
    pub antiforgery: Option<String>,
    pub status: RefreshStatus,
    /// `Some(delivered)` once the token was redeemed: whether the reply carrying its successor
    /// was sent (`false` when a [`crate::Fault::LostReply`] dropped it).
    pub rotated: Option<bool>,
    /// Issued to a restore operator (`grant_type=operator`): refreshes need operator
    /// authentication on, not tenant authentication.
    pub operator: bool,
}

impl Shared {
    pub fn set_tenant_auth_enabled(&self, on: bool) {
        self.lock().settings.tenant_auth_enabled = on;
    }

    pub fn set_operator_auth_enabled(&self, on: bool) {
        self.lock().settings.operator_auth_enabled = on;
    }

    pub fn set_vbm_latency_ms(&self, ms: u64) {
        self.lock().settings.vbm_latency_ms = ms;
    }

    pub fn set_vbm_token_lifetime(&self, secs: u64) {
        self.lock().settings.vbm_token_lifetime = secs.min(MAX_SECS);
    }

    pub fn set_vbm_api_rejects_tokens(&self, on: bool) {
        self.lock().settings.vbm_api_rejects_tokens = on;
    }

    pub fn set_vbm_jobs(&self, n: usize) {
        self.lock().settings.vbm_jobs = n.min(1_000_000);
    }

    pub fn set_vbm_clock_offset_secs(&self, secs: i64) {
        self.lock().settings.vbm_clock_offset_secs =
            secs.clamp(-(MAX_SECS as i64), MAX_SECS as i64);
    }

    /// Every VBM365 access token issued so far is refused from now on (401).
    pub fn revoke_vbm_access_tokens(&self) {
        for a in self.lock().vbm_access.values_mut() {
            a.revoked = true;
        }
    }

    pub fn revoke_vbm_refresh_tokens(&self) {
        for rt in self.lock().vbm_refresh.values_mut() {
            rt.status = RefreshStatus::Revoked;
        }
    }
}
