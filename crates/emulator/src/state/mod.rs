//! The state both emulators share: recorded requests, statistics, settings and faults here; what
//! each server issued in [`ms`] (device codes, Microsoft tokens) and [`vbm`] (VBM365 tokens and
//! the settings of the VBM365 server).
//!
//! One `std::sync::Mutex` guards it all; it is never held across an `.await`.

mod ms;
mod vbm;

pub(crate) use ms::{DeviceCode, MsAccess, MsRefresh};
pub(crate) use vbm::{VbmAccess, VbmRefresh, VBM_REFRESH_LIFETIME};

use crate::options::{EmulatorOptions, PortalAppRegistration};
use crate::types::{Fault, RecordedRequest, Server};
use rand::Rng;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// Longest lifetime or delay the emulators use, in seconds (larger settings are clamped to it, so
/// time arithmetic never overflows): 100 years.
pub(crate) const MAX_SECS: u64 = 100 * 365 * 24 * 3600;

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
    /// How the Restore Portal's application is registered at Microsoft.
    pub restore_portal_app: PortalAppRegistration,
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

/// Whether a refresh token can still be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshStatus {
    Active,
    Used,
    Revoked,
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
            restore_portal_app: opts.restore_portal_app,
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
