//! `status --check --json`: one row per tenant with what its server said and every problem found.

use super::{bare, maybe_time};
use crate::config::ApiVersion;
use crate::error::Remedy;
use crate::session::{CertificateCheck, Problem, TenantCheck, TrustKind};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The codes of problems the check finds itself (besides the error codes of [`super::ERROR_CODES`]
/// for failed requests).
pub mod check_code {
    /// The server answered a check's request with an HTTP error.
    pub const HTTP_ERROR: &str = "http_error";
    /// The server's clock is off by more than the tolerance.
    pub const CLOCK_SKEW: &str = "clock_skew";
    /// The server's certificate has expired.
    pub const CERTIFICATE_EXPIRED: &str = "certificate_expired";
    /// The server's certificate expires soon.
    pub const CERTIFICATE_EXPIRING: &str = "certificate_expiring";
}

/// One problem a check found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckProblem {
    /// Which check found it: `sign_in`, `server`, `organization`, `user`, `certificate`, `clock`.
    pub check: &'static str,
    /// An error code, or one of [`check_code`].
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
    /// It fails the check (`false`: a warning).
    pub fatal: bool,
    /// The kind of fix, when it is one of the engine's remedies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<Remedy>,
    /// The CLI's wording of the fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl From<&Problem> for CheckProblem {
    fn from(p: &Problem) -> Self {
        CheckProblem {
            check: p.check,
            code: p.code.clone(),
            message: p.message.clone(),
            fatal: p.fatal,
            remedy: p.remedy,
            hint: None,
        }
    }
}

/// The server certificate as the check saw it.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateRow {
    /// How it is trusted: `pin`, `ca` or `system`.
    pub trust: TrustKind,
    /// SHA-256 of the certificate presented.
    pub sha256: Option<String>,
    /// Its `notAfter`.
    #[serde(serialize_with = "maybe_time")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Whole days until then (negative once expired).
    pub days_left: Option<i64>,
}

impl From<&CertificateCheck> for CertificateRow {
    fn from(c: &CertificateCheck) -> Self {
        CertificateRow {
            trust: c.trust,
            sha256: c.sha256.clone(),
            expires_at: c.expires_at,
            days_left: c.days_left,
        }
    }
}

/// One tenant's row of `status --check --json`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    /// The tenant's name as saved.
    pub tenant: String,
    /// It is the active tenant.
    pub active: bool,
    /// Its VBM365 server.
    pub server: String,
    /// Its REST API version.
    pub api_version: ApiVersion,
    /// Every check passed (warnings allowed).
    pub ok: bool,
    /// Why it was not checked (not signed in).
    pub skipped: Option<String>,
    /// The server's version.
    pub server_version: Option<String>,
    /// The organization's name.
    pub organization: Option<String>,
    /// The signed-in user's name.
    pub user: Option<String>,
    /// When the access token in use expires.
    #[serde(serialize_with = "maybe_time")]
    pub token_expires_at: Option<DateTime<Utc>>,
    /// The server's certificate.
    pub certificate: Option<CertificateRow>,
    /// Seconds the server's clock is ahead of this computer's (negative: behind).
    pub clock_skew_seconds: Option<i64>,
    /// What is wrong.
    pub problems: Vec<CheckProblem>,
}

impl From<&TenantCheck> for CheckRow {
    fn from(c: &TenantCheck) -> Self {
        CheckRow {
            tenant: c.profile.name.clone(),
            active: c.active,
            server: bare(&c.profile.server),
            api_version: c.profile.api_version,
            ok: c.passed(),
            skipped: c.skipped.clone(),
            server_version: c.server_version.clone(),
            organization: c.organization.clone(),
            user: c.user.clone(),
            token_expires_at: c.token_expires_at,
            certificate: c.certificate.as_ref().map(CertificateRow::from),
            clock_skew_seconds: c.clock_skew_secs,
            problems: c.problems.iter().map(CheckProblem::from).collect(),
        }
    }
}
