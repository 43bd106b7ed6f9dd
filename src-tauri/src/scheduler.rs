//! Background refresh. [`Planner`] decides, as pure functions of the tenant list and the time, when
//! each signed-in tenant refreshes: before expiry by a [`margin`] that adapts to the token's
//! lifetime, with [`backoff`] after failures (transient failures keep the stored tokens: the core
//! only drops them when the server says sign-in is required). [`run`] drives a planner over a
//! [`Source`] and is tested in virtual time.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use vbm365_auth_core::{Engine, TenantState};

/// Longest margin before expiry (long-lived tokens refresh 5 minutes early).
pub const MAX_MARGIN: Duration = Duration::from_secs(300);
/// Shortest margin, unless the token lives less than twice as long.
pub const MIN_MARGIN: Duration = Duration::from_secs(5);
/// First retry delay after a failed refresh; doubles per failure.
pub const BACKOFF_START: Duration = Duration::from_secs(5);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Shortest time between two refresh attempts of one tenant, whatever the plan says (a server
/// that issues tokens already expired must not be asked again in a loop).
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
/// The loop re-reads the state at least this often (changes by the CLI are seen within it).
pub const MAX_IDLE: Duration = Duration::from_secs(10);

/// How long before expiry a token with this lifetime is refreshed: 20 % of the lifetime, between
/// [`MIN_MARGIN`] and [`MAX_MARGIN`], and never more than half the lifetime.
pub fn margin(lifetime: Duration) -> Duration {
    (lifetime / 5)
        .clamp(MIN_MARGIN, MAX_MARGIN)
        .min(lifetime / 2)
}

/// The delay before retry number `failures` (1 = after the first failure).
pub fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(16);
    BACKOFF_START.saturating_mul(1u32 << shift).min(BACKOFF_MAX)
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A tenant as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub tenant: String,
    pub state: TenantState,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a refresh attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Refreshed {
        expires_at: DateTime<Utc>,
    },
    /// The server wants a new sign-in: stop refreshing this tenant.
    SignInRequired,
    /// Anything else: retry with backoff (the tokens are kept).
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    expires_at: DateTime<Utc>,
    /// When this expiry was first seen: the lifetime is measured from here.
    seen_at: DateTime<Utc>,
    failures: u32,
    retry_at: Option<DateTime<Utc>>,
}

impl Plan {
    fn new(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Plan {
            expires_at,
            seen_at: now,
            failures: 0,
            retry_at: None,
        }
    }

    fn due_at(&self) -> DateTime<Utc> {
        if let Some(r) = self.retry_at {
            return r;
        }
        let lifetime = (self.expires_at - self.seen_at)
            .to_std()
            .unwrap_or_default();
        self.expires_at - chrono_of(margin(lifetime))
    }
}

/// The refresh plan of every signed-in tenant.
#[derive(Debug, Default)]
pub struct Planner {
    plans: HashMap<String, Plan>,
    /// When each tenant was last tried (kept across new plans: see [`MIN_INTERVAL`]).
    last_attempt: HashMap<String, DateTime<Utc>>,
}

impl Planner {
    /// Brings the plan in line with the current tenant list: new or renewed tokens get a fresh
    /// plan; tenants without tokens (signed out, sign-in required) are dropped.
    pub fn observe(&mut self, rows: &[Row], now: DateTime<Utc>) {
        let mut next = HashMap::new();
        for r in rows {
            let Some(expires_at) = r.expires_at else {
                continue;
            };
            if !matches!(r.state, TenantState::SignedIn | TenantState::Expired) {
                continue;
            }
            let plan = match self.plans.remove(&r.tenant) {
                Some(p) if p.expires_at == expires_at => p,
                // A new token that is already expired (born expired, or a clock far off) is no
                // renewal: the backoff goes on.
                Some(p) if expires_at <= now => Plan { expires_at, ..p },
                _ => Plan::new(expires_at, now),
            };
            next.insert(r.tenant.clone(), plan);
        }
        self.plans = next;
        let plans = &self.plans;
        self.last_attempt.retain(|t, _| plans.contains_key(t));
    }

    /// When the tenant's refresh is due: its plan, but never sooner than [`MIN_INTERVAL`] after
    /// the last attempt.
    fn due_at(&self, tenant: &str, plan: &Plan) -> DateTime<Utc> {
        match self.last_attempt.get(tenant) {
            Some(last) => plan.due_at().max(*last + chrono_of(MIN_INTERVAL)),
            None => plan.due_at(),
        }
    }

    /// Forgets everything (auto refresh turned off).
    pub fn clear(&mut self) {
        self.plans.clear();
    }

    /// Tenants whose refresh is due, in name order.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut out: Vec<String> = self
            .plans
            .iter()
            .filter(|(n, p)| self.due_at(n, p) <= now)
            .map(|(n, _)| n.clone())
            .collect();
        out.sort();
        out
    }

    /// When the next refresh is due, from `now` (zero if one is due already).
    pub fn next_due_in(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.plans
            .iter()
            .map(|(n, p)| (self.due_at(n, p) - now).to_std().unwrap_or_default())
            .min()
    }

    /// Records an attempt's outcome.
    pub fn record(&mut self, tenant: &str, outcome: Outcome, now: DateTime<Utc>) {
        self.last_attempt.insert(tenant.to_string(), now);
        match outcome {
            Outcome::Refreshed { expires_at } => {
                self.plans
                    .insert(tenant.to_string(), Plan::new(expires_at, now));
            }
            Outcome::SignInRequired => {
                self.plans.remove(tenant);
            }
            Outcome::Failed => {
                if let Some(p) = self.plans.get_mut(tenant) {
                    p.failures = p.failures.saturating_add(1);
                    p.retry_at = Some(now + chrono_of(backoff(p.failures)));
                }
            }
        }
    }
}

/// Where the loop gets its state and refreshes tokens (the engine in the app, a fake in tests).
pub trait Source: Send + Sync {
    /// The tenants, or `None` when auto refresh is off.
    fn rows(&self) -> impl Future<Output = Result<Option<Vec<Row>>, String>> + Send;
    /// Refreshes one tenant.
    fn refresh(&self, tenant: &str) -> impl Future<Output = Outcome> + Send;
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// Refreshes tenants as they come due, forever. `wake` makes it look at the state again at once.
pub async fn run<S: Source>(source: S, wake: Arc<Notify>) {
    let mut planner = Planner::default();
    loop {
        match source.rows().await {
            Ok(Some(rows)) => planner.observe(&rows, source.now()),
            Ok(None) => planner.clear(),
            Err(e) => tracing::warn!(error = %e, "background refresh cannot read the state"),
        }
        for tenant in planner.due(source.now()) {
            let outcome = source.refresh(&tenant).await;
            tracing::info!(tenant = %tenant, ?outcome, "background refresh");
            planner.record(&tenant, outcome, source.now());
        }
        let wait = planner
            .next_due_in(source.now())
            .map_or(MAX_IDLE, |d| d.min(MAX_IDLE));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {}
        }
    }
}

/// The engine as a [`Source`].
pub struct EngineSource(pub Arc<Engine>);

impl Source for EngineSource {
    async fn rows(&self) -> Result<Option<Vec<Row>>, String> {
        let engine = self.0.clone();
        let read = tokio::task::spawn_blocking(move || {
            let cfg = engine.config()?;
            if !cfg.settings.auto_refresh {
                return Ok(None);
            }
            let rows = engine
                .status()?
                .into_iter()
                .map(|s| Row {
                    tenant: s.profile.name,
                    state: s.state,
                    expires_at: s.expires_at,
                })
                .collect();
            Ok::<_, vbm365_auth_core::Error>(Some(rows))
        });
        match read.await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn refresh(&self, tenant: &str) -> Outcome {
        match self.0.refresh(Some(tenant)).await {
            Ok(t) => Outcome::Refreshed {
                expires_at: t.expires_at,
            },
            Err(vbm365_auth_core::Error::SignInRequired { .. }) => Outcome::SignInRequired,
            Err(e) => {
                tracing::warn!(tenant, code = e.code(), error = %e, "background refresh failed");
                Outcome::Failed
            }
        }
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::Mutex;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    fn secs(s: i64) -> chrono::Duration {
        chrono::Duration::seconds(s)
    }

    #[test]
    fn margin_adapts_to_the_lifetime() {
        assert_eq!(margin(Duration::from_secs(3600)), Duration::from_secs(300));
        assert_eq!(margin(Duration::from_secs(600)), Duration::from_secs(120));
        assert_eq!(margin(Duration::from_secs(60)), Duration::from_secs(12));
        assert_eq!(margin(Duration::from_secs(20)), Duration::from_secs(5));
        assert_eq!(margin(Duration::from_secs(6)), Duration::from_secs(3));
        assert_eq!(margin(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let got: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(got, vec![5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }

    #[test]
    fn planner_schedules_before_expiry_and_backs_off() {
        let mut p = Planner::default();
        let rows = vec![
            Row {
                tenant: "a".into(),
                state: TenantState::SignedIn,
                expires_at: Some(t0() + secs(3600)),
            },
            Row {
                tenant: "b".into(),
                state: TenantState::SignedOut,
                expires_at: None,
            },
            Row {
                tenant: "c".into(),
                state: TenantState::SignInRequired,
                expires_at: Some(t0() + secs(10)),
            },
        ];
        p.observe(&rows, t0());
        assert_eq!(p.next_due_in(t0()), Some(Duration::from_secs(3300)));
        assert!(p.due(t0() + secs(3299)).is_empty());
        assert_eq!(p.due(t0() + secs(3300)), vec!["a".to_string()]);
        p.record("a", Outcome::Failed, t0() + secs(3300));
        assert_eq!(
            p.next_due_in(t0() + secs(3300)),
            Some(Duration::from_secs(5))
        );
        p.record("a", Outcome::Failed, t0() + secs(3305));
        assert_eq!(
            p.next_due_in(t0() + secs(3305)),
            Some(Duration::from_secs(10))
        );
        // Observing the same expiry keeps the backoff.
        p.observe(&rows, t0() + secs(3306));
        assert_eq!(
            p.next_due_in(t0() + secs(3305)),
            Some(Duration::from_secs(10))
        );
        p.record(
            "a",
            Outcome::Refreshed {
                expires_at: t0() + secs(3315 + 3600),
            },
            t0() + secs(3315),
        );
        assert_eq!(
            p.next_due_in(t0() + secs(3315)),
            Some(Duration::from_secs(3300))
        );
        p.record("a", Outcome::SignInRequired, t0() + secs(3316));
        assert_eq!(p.next_due_in(t0()), None);
    }

    #[test]
    fn expired_tokens_are_due_at_once_and_renewals_reset_the_plan() {
        let mut p = Planner::default();
        let row = |exp: DateTime<Utc>, state| Row {
            tenant: "a".into(),
            state,
            expires_at: Some(exp),
        };
        p.observe(&[row(t0() - secs(5), TenantState::Expired)], t0());
        assert_eq!(p.due(t0()), vec!["a".to_string()]);
        // Another process (the CLI) refreshed: a new expiry replaces the plan.
        p.observe(&[row(t0() + secs(60), TenantState::SignedIn)], t0());
        assert_eq!(p.next_due_in(t0()), Some(Duration::from_secs(48)));
    }

    /// A fake server in virtual time: tokens live `lifetime`; refreshes can be made to fail.
    struct Fake {
        start: tokio::time::Instant,
        lifetime: i64,
        state: Mutex<FakeState>,
    }

    struct FakeState {
        expires_at: Option<DateTime<Utc>>,
        sign_in_required: bool,
        refreshes: Vec<i64>,
        fail_from: Option<i64>,
        refuse: bool,
        /// Every refresh stores a token that is already expired and fails, as the engine does.
        born_expired: bool,
    }

    impl Fake {
        fn new(lifetime: i64) -> Arc<Self> {
            Arc::new(Fake {
                start: tokio::time::Instant::now(),
                lifetime,
                state: Mutex::new(FakeState {
                    expires_at: Some(t0() + secs(lifetime)),
                    sign_in_required: false,
                    refreshes: Vec::new(),
                    fail_from: None,
                    refuse: false,
                    born_expired: false,
                }),
            })
        }
        fn elapsed(&self) -> i64 {
            self.start.elapsed().as_secs() as i64
        }
    }

    impl Source for Arc<Fake> {
        async fn rows(&self) -> Result<Option<Vec<Row>>, String> {
            let s = self.state.lock().unwrap();
            let state = match (s.sign_in_required, s.expires_at) {
                (true, _) => TenantState::SignInRequired,
                (false, Some(e)) if e > self.now() => TenantState::SignedIn,
                (false, Some(_)) => TenantState::Expired,
                (false, None) => TenantState::SignedOut,
            };
            Ok(Some(vec![Row {
                tenant: "a".into(),
                state,
                expires_at: s.expires_at,
            }]))
        }

        async fn refresh(&self, _tenant: &str) -> Outcome {
            let now = self.now();
            let elapsed = self.elapsed();
            let mut s = self.state.lock().unwrap();
            s.refreshes.push(elapsed);
            if s.refuse {
                s.sign_in_required = true;
                s.expires_at = None;
                return Outcome::SignInRequired;
            }
            if s.fail_from.is_some_and(|f| elapsed >= f) {
                return Outcome::Failed;
            }
            if s.born_expired {
                s.expires_at = Some(now);
                return Outcome::Failed;
            }
            let e = now + secs(self.lifetime);
            s.expires_at = Some(e);
            Outcome::Refreshed { expires_at: e }
        }

        fn now(&self) -> DateTime<Utc> {
            t0() + chrono::Duration::from_std(self.start.elapsed()).unwrap()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn short_tokens_are_refreshed_before_expiry_without_clicks() {
        let fake = Fake::new(60);
        let task = tokio::spawn(run(fake.clone(), Arc::new(Notify::new())));
        tokio::time::sleep(Duration::from_secs(200)).await;
        task.abort();
        let s = fake.state.lock().unwrap();
        // 60 s tokens, 12 s margin: refreshed at 48, 96, 144, 192.
        assert_eq!(s.refreshes, vec![48, 96, 144, 192]);
        assert!(s.expires_at.unwrap() > fake.now());
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_and_keep_the_token() {
        let fake = Fake::new(3600);
        fake.state.lock().unwrap().fail_from = Some(0);
        let task = tokio::spawn(run(fake.clone(), Arc::new(Notify::new())));
        tokio::time::sleep(Duration::from_secs(3300 + 200)).await;
        task.abort();
        let s = fake.state.lock().unwrap();
        // First try at 3300 s, then 5, 10, 20, 40, 80 s later.
        assert_eq!(s.refreshes, vec![3300, 3305, 3315, 3335, 3375, 3455]);
        assert_eq!(s.expires_at, Some(t0() + secs(3600)));
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_born_expired_back_off_instead_of_flooding() {
        let fake = Fake::new(0);
        fake.state.lock().unwrap().born_expired = true;
        let task = tokio::spawn(run(fake.clone(), Arc::new(Notify::new())));
        tokio::time::sleep(Duration::from_secs(60)).await;
        task.abort();
        // Each attempt stores a new (expired) token; the backoff still goes on: 0, +5, +10, +20.
        assert_eq!(fake.state.lock().unwrap().refreshes, vec![0, 5, 15, 35]);
    }

    #[test]
    fn attempts_of_one_tenant_are_at_least_the_minimum_interval_apart() {
        let mut p = Planner::default();
        let row = |exp: DateTime<Utc>| Row {
            tenant: "a".into(),
            state: TenantState::Expired,
            expires_at: Some(exp),
        };
        p.observe(&[row(t0() - secs(1))], t0());
        assert_eq!(p.due(t0()), vec!["a".to_string()]);
        p.record(
            "a",
            Outcome::Refreshed {
                expires_at: t0() + secs(1),
            },
            t0(),
        );
        // A 1-second token would be due at once; not before the minimum interval.
        p.observe(&[row(t0() + secs(1))], t0());
        assert!(p.due(t0() + secs(4)).is_empty());
        assert_eq!(p.due(t0() + secs(5)), vec!["a".to_string()]);
        assert_eq!(p.next_due_in(t0() + secs(2)), Some(Duration::from_secs(3)));
    }

    #[tokio::test(start_paused = true)]
    async fn sign_in_required_stops_refreshing() {
        let fake = Fake::new(60);
        fake.state.lock().unwrap().refuse = true;
        let task = tokio::spawn(run(fake.clone(), Arc::new(Notify::new())));
        tokio::time::sleep(Duration::from_secs(600)).await;
        task.abort();
        assert_eq!(fake.state.lock().unwrap().refreshes, vec![48]);
    }
}
