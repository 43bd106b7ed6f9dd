//! `status --check`: asks each signed-in tenant's server whether everything works, and says what
//! does not. Per tenant: a token valid for a minute (refreshed if needed), `ServiceInstance`
//! (server version, the certificate presented and how it is trusted, the server's clock from its
//! `Date`), `Organization` and `Organization/LoggedInUser` (every API version has both), over
//! one call: a 401 forces one refresh for the tenant's whole check, and the probes after it use
//! the renewed token. Tenants are checked concurrently.

use super::api::{target_url, Call};
use super::*;
use crate::contract::check_code;
use crate::error::Remedy;
use crate::session::ApiResponse;
use crate::text;
use serde_json::Value;

/// Tenants checked at once.
const CHECK_CONCURRENCY: usize = 16;
/// A server clock further off than this fails the check (Microsoft token lifetimes are checked
/// on the server's clock with five minutes of tolerance).
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// A certificate expiring within this many days is reported (without failing the check).
pub const CERTIFICATE_WARNING_DAYS: i64 = 30;

/// How the server's certificate is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustKind {
    /// A pinned SHA-256 fingerprint.
    Pin,
    /// A certificate authority trusted for this server.
    Ca,
    /// The system's certificate authorities.
    System,
}

/// What the check learnt about the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateCheck {
    /// How it is trusted.
    pub trust: TrustKind,
    /// SHA-256 of the certificate presented (lowercase hex), when the connection could tell.
    pub sha256: Option<String>,
    /// Its `notAfter`, when known.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whole days until then (negative once expired).
    pub days_left: Option<i64>,
}

/// One thing that is wrong (or about to be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Which check found it: `sign_in`, `server`, `organization`, `user`, `certificate`, `clock`.
    pub check: &'static str,
    /// Stable code: an error code ([`Error::code`]), `http_error`, `clock_skew`,
    /// `certificate_expired` or `certificate_expiring`.
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
    /// Whether it fails the check (`false`: a warning).
    pub fatal: bool,
    /// The kind of fix, when it is one of the engine's remedies.
    pub remedy: Option<Remedy>,
}

impl Problem {
    fn of(check: &'static str, e: &Error) -> Problem {
        Problem {
            check,
            code: e.code().to_string(),
            message: e.to_string(),
            fatal: true,
            remedy: e.remedy(),
        }
    }
}

/// The result for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantCheck {
    /// The saved tenant.
    pub profile: TenantProfile,
    /// Whether it is the active tenant.
    pub active: bool,
    /// Why it was not checked (never signed in, or signed out); `None` when it was.
    pub skipped: Option<String>,
    /// The server's version (`ServiceInstance`).
    pub server_version: Option<String>,
    /// The organization's name (`Organization`).
    pub organization: Option<String>,
    /// The signed-in user's name (`Organization/LoggedInUser`).
    pub user: Option<String>,
    /// When the access token in use expires.
    pub token_expires_at: Option<DateTime<Utc>>,
    /// The server's certificate.
    pub certificate: Option<CertificateCheck>,
    /// Seconds the server's clock is ahead of this computer's (negative: behind).
    pub clock_skew_secs: Option<i64>,
    /// What is wrong.
    pub problems: Vec<Problem>,
}

impl TenantCheck {
    /// Whether nothing failed (warnings allowed; a skipped tenant passes).
    pub fn passed(&self) -> bool {
        !self.problems.iter().any(|p| p.fatal)
    }
}

impl Engine {
    /// Checks one tenant, or every tenant with tokens (signed-out ones are listed as skipped).
    pub async fn check(&self, name: Option<&str>) -> Result<Vec<TenantCheck>> {
        let rows = self.status()?;
        let cfg = self.config()?;
        let chosen: Vec<TenantStatus> = match name {
            Some(n) => {
                let wanted = cfg.resolve(Some(n))?.name.clone();
                rows.into_iter()
                    .filter(|r| r.profile.name == wanted)
                    .collect()
            }
            None => rows,
        };
        let explicit = name.is_some();
        let checks = futures::stream::iter(chosen)
            .map(|row| {
                let cfg = &cfg;
                async move { self.check_one(cfg, row, explicit).await }
            })
            .buffered(CHECK_CONCURRENCY)
            .collect()
            .await;
        Ok(checks)
    }

    async fn check_one(&self, cfg: &Config, row: TenantStatus, explicit: bool) -> TenantCheck {
        let mut c = TenantCheck {
            profile: row.profile.clone(),
            active: row.active,
            skipped: None,
            server_version: None,
            organization: None,
            user: None,
            token_expires_at: None,
            certificate: None,
            clock_skew_secs: None,
            problems: Vec::new(),
        };
        if row.state == TenantState::SignedOut && !explicit {
            c.skipped = Some("not signed in".into());
            return c;
        }
        let token = match self
            .token(Some(&row.profile.name), Duration::from_secs(60))
            .await
        {
            Ok(t) => t,
            Err(e) => {
                c.problems.push(Problem::of("sign_in", &e));
                return c;
            }
        };
        let mut call = Call::gets(self, &row.profile, token);
        let si = probe(&mut c, &mut call, "server", "ServiceInstance").await;
        c.token_expires_at = Some(call.expires_at());
        let Some(si) = si else {
            return c;
        };
        let received = Utc::now();
        c.server_version = field(&si, "version");
        c.certificate = Some(certificate(cfg, &row.profile, &si, &mut c.problems));
        c.clock_skew_secs = clock_skew(&si, received, &mut c.problems);
        if let Some(org) = probe(&mut c, &mut call, "organization", "Organization").await {
            c.organization = field(&org, "name");
        }
        if let Some(user) = probe(&mut c, &mut call, "user", "Organization/LoggedInUser").await {
            c.user = field(&user, "name");
        }
        c.token_expires_at = Some(call.expires_at());
        c
    }
}

/// `GET` of `path` for the check over the tenant's one `call`; a failure becomes a problem of
/// `check`.
async fn probe(
    c: &mut TenantCheck,
    call: &mut Call<'_>,
    check: &'static str,
    path: &str,
) -> Option<ApiResponse> {
    let sent = async {
        let url = target_url(&c.profile, path, &[])?;
        let ex = call.send(&url).await?;
        Ok::<_, Error>(call.response(&url, ex, None, 1))
    }
    .await;
    match sent {
        Ok(r) if r.is_success() => Some(r),
        Ok(r) => {
            c.problems.push(Problem {
                check,
                code: check_code::HTTP_ERROR.into(),
                message: format!(
                    "GET /{}/{path} answered HTTP {}: {}",
                    c.profile.api_version,
                    r.status,
                    r.error_message.unwrap_or_default()
                ),
                fatal: true,
                remedy: (r.status == 401).then_some(Remedy::SignIn),
            });
            None
        }
        Err(e) => {
            c.problems.push(Problem::of(check, &e));
            None
        }
    }
}

/// A text field of a JSON reply, made safe to show.
fn field(r: &ApiResponse, name: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(&r.body).ok()?;
    v.get(name)
        .and_then(Value::as_str)
        .map(|s| text::shown(s, 200))
}

fn certificate(
    cfg: &Config,
    profile: &TenantProfile,
    r: &ApiResponse,
    problems: &mut Vec<Problem>,
) -> CertificateCheck {
    let hp = profile.server_host_port();
    let trust = if !cfg.pins_for(&hp).is_empty() {
        TrustKind::Pin
    } else if !cfg.cas_for(&hp).is_empty() {
        TrustKind::Ca
    } else {
        TrustKind::System
    };
    let der = r.peer_certificate.as_deref();
    let expires_at = der.and_then(crate::x509::not_after);
    let days_left = expires_at.map(|t| (t - Utc::now()).num_days());
    if let (Some(t), Some(days)) = (expires_at, days_left) {
        let when = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if t <= Utc::now() {
            problems.push(Problem {
                check: "certificate",
                code: check_code::CERTIFICATE_EXPIRED.into(),
                message: format!("the server's certificate expired on {when}"),
                fatal: true,
                remedy: None,
            });
        } else if days < CERTIFICATE_WARNING_DAYS {
            problems.push(Problem {
                check: "certificate",
                code: check_code::CERTIFICATE_EXPIRING.into(),
                message: format!("the server's certificate expires in {days} days ({when})"),
                fatal: false,
                remedy: None,
            });
        }
    }
    CertificateCheck {
        trust,
        sha256: der.map(tls::fingerprint),
        expires_at,
        days_left,
    }
}

/// The server's clock against ours, from its `Date` header (1 s resolution).
fn clock_skew(
    r: &ApiResponse,
    received: DateTime<Utc>,
    problems: &mut Vec<Problem>,
) -> Option<i64> {
    let date = r
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("date"))
        .and_then(|(_, v)| crate::vbm::parse_date(v))?;
    let skew = (date - received).num_seconds();
    if skew.abs() > MAX_CLOCK_SKEW_SECS {
        let (amount, way) = (
            skew.unsigned_abs(),
            if skew > 0 { "ahead of" } else { "behind" },
        );
        problems.push(Problem {
            check: "clock",
            code: check_code::CLOCK_SKEW.into(),
            message: format!(
                "the server's clock is {} min {} s {way} this computer's (more than {} min apart makes sign-ins fail)",
                amount / 60,
                amount % 60,
                MAX_CLOCK_SKEW_SECS / 60
            ),
            fatal: true,
            remedy: None,
        });
    }
    Some(skew)
}
