//! What the Microsoft identity emulator issued: device codes and their progress, access and
//! refresh tokens; the [`Shared`] methods tests steer them with.

use super::{Inner, RefreshStatus, Shared};
use crate::options::PortalAppRegistration;
use crate::types::{DeviceCodeInfo, DeviceCodeState};
use std::time::Instant;

/// A device code and its progress.
#[derive(Debug, Clone)]
pub(crate) struct DeviceCode {
    pub user_code: String,
    pub device_code: String,
    pub tenant: String,
    pub client_id: String,
    pub scope: String,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    pub expires_in: u64,
    pub expires_at: Instant,
    /// Required interval between polls, in seconds.
    pub interval: u64,
    pub last_poll: Option<Instant>,
    pub auto_approve_at: Option<Instant>,
    pub state: DeviceCodeState,
}

impl DeviceCode {
    /// Applies what time alone changes: auto-approval and expiry.
    pub fn advance(&mut self, now: Instant) {
        if self.state == DeviceCodeState::Pending && self.auto_approve_at.is_some_and(|t| now >= t)
        {
            self.state = DeviceCodeState::Approved;
        }
        if matches!(
            self.state,
            DeviceCodeState::Pending | DeviceCodeState::Approved
        ) && now >= self.expires_at
        {
            self.state = DeviceCodeState::Expired;
        }
    }

    pub fn info(&self) -> DeviceCodeInfo {
        DeviceCodeInfo {
            user_code: self.user_code.clone(),
            device_code: self.device_code.clone(),
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            scope: self.scope.clone(),
            issued_at: self.issued_at,
            expires_in: self.expires_in,
            interval: self.interval,
            state: self.state,
        }
    }
}

/// A Microsoft access token (checked by the VBM365 emulator when it is used as an assertion).
#[derive(Debug, Clone)]
pub(crate) struct MsAccess {
    pub tenant: String,
    pub upn: String,
    /// The application of an `api://<app>/…` scope the token was issued for (`None`: Graph).
    pub audience: Option<String>,
    pub expires_at: Instant,
}

/// A Microsoft refresh token.
#[derive(Debug, Clone)]
pub(crate) struct MsRefresh {
    pub tenant: String,
    pub client_id: String,
    pub scope: String,
    pub upn: String,
    pub status: RefreshStatus,
}

impl Inner {
    /// How `client_id` is registered if it is the Restore Portal's application (`portal_app`)
    /// and not a public client; `None` for every other client.
    pub fn portal_app(&self, portal_app: &str, client_id: &str) -> Option<PortalAppRegistration> {
        let registration = self.settings.restore_portal_app;
        (client_id.eq_ignore_ascii_case(portal_app)
            && registration != PortalAppRegistration::PublicClient)
            .then_some(registration)
    }

    /// The device code with this user code (compared ignoring case, spaces and dashes).
    pub fn by_user_code(&mut self, user_code: &str) -> Option<&mut DeviceCode> {
        let wanted: String = user_code
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_ascii_uppercase();
        if wanted.is_empty() {
            return None;
        }
        let now = Instant::now();
        let dc = self
            .device_codes
            .iter_mut()
            .find(|d| d.user_code == wanted)?;
        dc.advance(now);
        Some(dc)
    }
}

impl Shared {
    pub fn set_restore_portal_app(&self, registration: PortalAppRegistration) {
        self.lock().settings.restore_portal_app = registration;
    }

    pub fn device_codes(&self) -> Vec<DeviceCodeInfo> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner
            .device_codes
            .iter_mut()
            .map(|d| {
                d.advance(now);
                d.info()
            })
            .collect()
    }

    /// Moves a device code to `to` if its current state passes `allowed`.
    fn transition(
        &self,
        user_code: &str,
        allowed: impl Fn(DeviceCodeState) -> bool,
        to: DeviceCodeState,
    ) -> bool {
        let mut inner = self.lock();
        match inner.by_user_code(user_code) {
            Some(dc) if allowed(dc.state) => {
                dc.state = to;
                true
            }
            _ => false,
        }
    }

    pub fn approve(&self, user_code: &str) -> bool {
        self.transition(
            user_code,
            |s| s == DeviceCodeState::Pending,
            DeviceCodeState::Approved,
        )
    }

    pub fn decline(&self, user_code: &str) -> bool {
        self.transition(
            user_code,
            |s| s == DeviceCodeState::Pending,
            DeviceCodeState::Declined,
        )
    }

    pub fn block(&self, user_code: &str, aadsts: u32) -> bool {
        self.transition(
            user_code,
            |s| matches!(s, DeviceCodeState::Pending | DeviceCodeState::Approved),
            DeviceCodeState::Blocked { aadsts },
        )
    }

    pub fn expire(&self, user_code: &str) -> bool {
        self.transition(
            user_code,
            |s| !matches!(s, DeviceCodeState::Expired | DeviceCodeState::Redeemed),
            DeviceCodeState::Expired,
        )
    }

    pub fn revoke_ms_refresh_tokens(&self) {
        for rt in self.lock().ms_refresh.values_mut() {
            rt.status = RefreshStatus::Revoked;
        }
    }

    pub fn ms_token_responses(&self) -> Vec<String> {
        self.lock().ms_responses.clone()
    }
}
