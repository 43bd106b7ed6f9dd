//! The state both emulators share: issued codes and tokens, recorded requests, settings, faults.
//!
//! One `std::sync::Mutex` guards it all; it is never held across an `.await`.

use crate::options::EmulatorOptions;
use crate::types::{DeviceCodeInfo, DeviceCodeState, Fault, RecordedRequest, Server};
use rand::Rng;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Longest lifetime or delay the emulators use, in seconds (larger settings are clamped to it, so
/// time arithmetic never overflows): 100 years.
pub(crate) const MAX_SECS: u64 = 100 * 365 * 24 * 3600;

/// Lifetime of VBM365 refresh tokens.
pub(crate) const VBM_REFRESH_LIFETIME: Duration = Duration::from_secs(14 * 24 * 3600);

/// Shared by both servers and by the [`crate::Emulators`] handle.
pub(crate) struct Shared {
    /// Options given at start (the mutable ones are copied into [`Settings`]).
    pub opts: EmulatorOptions,
    /// `http://127.0.0.1:PORT` of the Microsoft emulator.
    pub ms_url: String,
    /// `https://127.0.0.1:PORT` of the VBM365 emulator.
    pub vbm_url: String,
    /// Installation id reported by `/ServiceInstance`.
    pub installation_id: String,
    /// Application id of the Restore Portal (`RestorePortalSettings.applicationId`).
    pub restore_portal_app_id: String,
    /// When the emulators started (for `at_ms` in the control API).
    pub started: Instant,
    inner: Mutex<Inner>,
}

/// Settings that can change while running.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub tenant_auth_enabled: bool,
    /// The Restore Portal is enabled: restore operators may sign in (`grant_type=operator`).
    pub operator_auth_enabled: bool,
    pub vbm_latency_ms: u64,
    pub vbm_token_lifetime: u64,
    /// Probability that a token or device code request without a queued fault gets a random one.
    pub fault_rate: f64,
    /// Every REST API request with a bearer token answers 401 (the server no longer accepts the
    /// tokens it issued, e.g. after its signing key changed); token requests are unaffected.
    pub vbm_api_rejects_tokens: bool,
    /// Backup jobs of each organization (`/vN/Jobs`).
    pub vbm_jobs: usize,
    /// Seconds the VBM365 server's clock (its `Date` header) is off.
    pub vbm_clock_offset_secs: i64,
}

/// A fault rate as a probability: NaN counts as 0, the rest is clamped to `0.0..=1.0`.
pub(crate) fn clamp_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// A fault kind drawn uniformly from [`Fault::ALL`]; `Throttled` and `Unavailable` come with a
/// `Retry-After` of 1 or 2 seconds.
fn random_fault() -> Fault {
    let mut rng = rand::thread_rng();
    let secs = rng.gen_range(1..=2);
    match Fault::ALL[rng.gen_range(0..Fault::ALL.len())] {
        Fault::Throttled { .. } => Fault::Throttled {
            retry_after_secs: secs,
        },
        Fault::Unavailable { .. } => Fault::Unavailable {
            retry_after_secs: Some(secs),
        },
        other => other,
    }
}

/// The prefix of a server's statistics.
pub(crate) fn prefix(server: Server) -> &'static str {
    match server {
        Server::Ms => "ms",
        Server::Vbm => "vbm",
    }
}

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

/// Whether a refresh token can still be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshStatus {
    Active,
    Used,
    Revoked,
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
    /// was sent (`false` when a [`Fault::LostReply`] dropped it).
    pub rotated: Option<bool>,
    /// Issued to a restore operator (`grant_type=operator`): refreshes need operator
    /// authentication on, not tenant authentication.
    pub operator: bool,
}

/// Everything behind the lock.
pub(crate) struct Inner {
    pub settings: Settings,
    pub requests: Vec<RecordedRequest>,
    pub stats: BTreeMap<String, u64>,
    pub device_codes: Vec<DeviceCode>,
    /// Requests of `/authorize` and the codes issued for them, oldest first.
    pub auth_requests: Vec<crate::authorize::AuthRequest>,
    pub ms_access: HashMap<String, MsAccess>,
    pub ms_refresh: HashMap<String, MsRefresh>,
    pub ms_responses: Vec<String>,
    pub vbm_access: HashMap<String, VbmAccess>,
    pub vbm_refresh: HashMap<String, VbmRefresh>,
    /// Queued faults of the Microsoft emulator, with how many requests each has left.
    pub ms_faults: VecDeque<(Fault, u32)>,
    /// Queued faults of the VBM365 emulator.
    pub vbm_faults: VecDeque<(Fault, u32)>,
    /// What tests switched on ([`crate::knobs`]).
    pub knobs: crate::knobs::Knobs,
}

impl Inner {
    /// Adds one to a counter of `/_emulator/stats`.
    pub fn count(&mut self, key: &str) {
        *self.stats.entry(key.to_string()).or_default() += 1;
    }

    fn fault_queue(&mut self, server: Server) -> &mut VecDeque<(Fault, u32)> {
        match server {
            Server::Ms => &mut self.ms_faults,
            Server::Vbm => &mut self.vbm_faults,
        }
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
    pub fn new(mut opts: EmulatorOptions, ms_url: String, vbm_url: String) -> Shared {
        opts.device_code_expires_in = opts.device_code_expires_in.min(MAX_SECS);
        opts.device_code_interval = opts.device_code_interval.map(|i| i.min(MAX_SECS));
        opts.ms_token_lifetime = opts.ms_token_lifetime.min(MAX_SECS);
        opts.vbm_token_lifetime = opts.vbm_token_lifetime.min(MAX_SECS);
        opts.auto_approve_after_ms = opts.auto_approve_after_ms.map(|ms| ms.min(MAX_SECS * 1000));
        opts.fault_rate = clamp_rate(opts.fault_rate);
        let settings = Settings {
            tenant_auth_enabled: opts.tenant_auth_enabled,
            operator_auth_enabled: opts.operator_auth_enabled,
            vbm_latency_ms: opts.vbm_latency_ms,
            vbm_token_lifetime: opts.vbm_token_lifetime,
            fault_rate: clamp_rate(opts.fault_rate),
            vbm_api_rejects_tokens: false,
            vbm_jobs: 3,
            vbm_clock_offset_secs: 0,
        };
        Shared {
            opts,
            ms_url,
            vbm_url,
            installation_id: crate::util::uuid_v4(),
            restore_portal_app_id: crate::util::uuid_v4(),
            started: Instant::now(),
            inner: Mutex::new(Inner {
                settings,
                requests: Vec::new(),
                stats: BTreeMap::new(),
                device_codes: Vec::new(),
                auth_requests: Vec::new(),
                ms_access: HashMap::new(),
                ms_refresh: HashMap::new(),
                ms_responses: Vec::new(),
                vbm_access: HashMap::new(),
                vbm_refresh: HashMap::new(),
                ms_faults: VecDeque::new(),
                vbm_faults: VecDeque::new(),
                knobs: Default::default(),
            }),
        }
    }

    /// Locks the state (a panic elsewhere never makes it unusable).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request in arrival order.
    pub fn record(&self, req: RecordedRequest) {
        let mut inner = self.lock();
        let pos = inner.requests.partition_point(|r| r.at <= req.at);
        inner.requests.insert(pos, req);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Forgets recorded requests and statistics.
    pub fn clear_requests(&self) {
        let mut inner = self.lock();
        inner.requests.clear();
        inner.stats.clear();
    }

    pub fn stats(&self) -> BTreeMap<String, u64> {
        self.lock().stats.clone()
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

    /// Queues `fault` for the next `count` token requests of `server` (after faults already
    /// queued there).
    pub fn inject_fault(&self, server: Server, fault: Fault, count: u32) {
        if count > 0 {
            self.lock().fault_queue(server).push_back((fault, count));
        }
    }

    pub fn set_fault_rate(&self, rate: f64) {
        self.lock().settings.fault_rate = clamp_rate(rate);
    }

    /// The fault for the current token (or device code) request of `server`: the next queued one,
    /// else a random one with probability `fault_rate`. Counts it in the statistics.
    pub fn take_fault(&self, server: Server) -> Option<Fault> {
        let mut inner = self.lock();
        let queue = inner.fault_queue(server);
        let queued = queue.front_mut().map(|(fault, left)| {
            *left -= 1;
            (*fault, *left == 0)
        });
        let (fault, random) = match queued {
            Some((fault, used_up)) => {
                if used_up {
                    queue.pop_front();
                }
                (fault, false)
            }
            None => {
                let rate = inner.settings.fault_rate;
                if rate <= 0.0 || !rand::thread_rng().gen_bool(rate) {
                    return None;
                }
                (random_fault(), true)
            }
        };
        let p = prefix(server);
        inner.count(&format!("{p}_faults"));
        inner.count(&format!("{p}_fault_{}", fault.kind()));
        if random {
            inner.count(&format!("{p}_random_faults"));
        }
        if fault == Fault::LostReply {
            inner.count("lost_replies");
        }
        Some(fault)
    }
}
