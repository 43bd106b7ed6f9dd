//! The JSON both faces speak, in one place: what the CLI prints with `--json` and what the desktop
//! app's commands return to its window (and its events carry). A shape that both faces show — a
//! tenant's settings, an error, a renewed token's expiry — is one type here, so the two cannot
//! drift apart; the lists at the end (error codes, the window's commands) are what the app's
//! tests check the window's own files against.
//!
//! Nothing here holds a secret, with one exception made on purpose: [`TokenOutput`], the
//! `token --json` document, borrows the access token the script asked for. Times are RFC 3339 in
//! UTC with whole seconds (`2026-11-27T13:00:00Z`).

mod check;
mod commands;
mod signin;
mod tenants;
mod window;

pub use check::{check_code, CertificateRow, CheckProblem, CheckRow};
pub use signin::{LoginEvent, SignInProgress, SignInProgressEvent, SignInStarted};
pub use tenants::{
    ImportReport, InvalidEntry, RefreshRow, StatusRow, TenantRow, TenantSettings, TenantView,
    TokenExpiry, TokenOutput,
};
pub use window::{DesktopSettings, Snapshot, TrustInfo};

use crate::error::{Error, Remedy};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// `2026-11-27T13:00:00Z`: the one time format of both faces.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

fn maybe_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// A URL as people write it: without the trailing slash the parser adds.
fn bare(url: &url::Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

// ----- errors ------------------------------------------------------------------------------------

/// An error as both faces report it: the CLI inside `{"error": …}` (and in `login --json`'s
/// `error` event), the window as the rejection of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// Stable snake-case code: one of [`ERROR_CODES`] or [`app_code::ALL`].
    pub code: String,
    /// A sentence for people (never a secret).
    pub message: String,
    /// What kind of fix it needs; each face words it its own way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<Remedy>,
    /// The CLI's wording of the remedy (a command to run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The form field a validation error belongs to (window only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    /// An error with a face-level code (one of [`app_code::ALL`]).
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            code: code.to_string(),
            message: message.into(),
            remedy: None,
            hint: None,
            field: None,
        }
    }
}

impl From<&Error> for ErrorBody {
    fn from(e: &Error) -> Self {
        ErrorBody {
            code: e.code().to_string(),
            message: e.to_string(),
            remedy: e.remedy(),
            hint: None,
            field: None,
        }
    }
}

/// The CLI's `--json` document of a failed command: `{"error": {…}}`.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// What went wrong.
    pub error: ErrorBody,
}

// ----- the lists the window is checked against -----------------------------------------------------

/// Every code [`Error::code`] gives (checked against its source by the app's contract test); the
/// window has a title for each.
pub const ERROR_CODES: &[&str] = &[
    "invalid_input",
    "tenant_not_found",
    "tenant_exists",
    "no_active_tenant",
    "sign_in_required",
    "sign_in_declined",
    "device_code_expired",
    "bad_verification_code",
    "browser_sign_in_timeout",
    "restore_portal_app_not_public",
    "operator_auth_disabled",
    "operator_refused",
    "conditional_access_blocked",
    "invalid_grant",
    "identity_error",
    "cancelled",
    "server_rejected",
    "exchange_refused",
    "throttled",
    "proxy_auth_required",
    "server_error",
    "bad_response",
    "network",
    "timeout",
    "browser_unavailable",
    "certificate_pin_mismatch",
    "certificate_untrusted",
    "certificate_not_issued_by_ca",
    "certificate_not_probed",
    "keyring_unavailable",
    "keyring_locked",
    "keyring_timeout",
    "vault_key_missing",
    "vault_corrupt",
    "config_corrupt",
    "io",
    "lock_timeout",
    "unsafe_file",
];

/// Codes the desktop app gives for failures of its own (not the core's).
pub mod app_code {
    /// A command about the sign-in in progress when there is none.
    pub const NO_SIGN_IN: &str = "no_sign_in";
    /// The sign-in page's address failed the safety checks.
    pub const UNSAFE_URI: &str = "unsafe_uri";
    /// The clipboard is not available.
    pub const CLIPBOARD: &str = "clipboard";
    /// Start at login could not be changed.
    pub const AUTOSTART: &str = "autostart";
    /// The app framework failed.
    pub const APP: &str = "app";
    /// All of them.
    pub const ALL: &[&str] = &[NO_SIGN_IN, UNSAFE_URI, CLIPBOARD, AUTOSTART, APP];
}

/// The commands the desktop app's window may invoke: registered with Tauri, in the permission
/// manifest and the capability, and no others (the app's contract test checks all four). The list
/// is in `commands.rs`, which the app's build script includes to generate the permissions.
pub const APP_COMMANDS: &[&str] = commands::APP_COMMANDS;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TenantProfile;
    use serde_json::json;

    #[test]
    fn codes_are_unique_snake_case() {
        let all: Vec<&str> = ERROR_CODES.iter().chain(app_code::ALL).copied().collect();
        let mut seen = std::collections::BTreeSet::new();
        for c in &all {
            assert!(seen.insert(c), "{c} listed twice");
            assert!(
                c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{c} is not snake case"
            );
        }
    }

    /// The literals `Error::code` returns, read from its source: every `"…"` in its body.
    fn codes_in_error_rs() -> std::collections::BTreeSet<String> {
        let src = include_str!("../error/code.rs");
        let start = src
            .find("pub fn code(&self)")
            .expect("Error::code in error/code.rs");
        let body = &src[start..];
        let body = &body[..body.find("\n    }\n").expect("end of Error::code")];
        body.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_list_is_every_code_error_rs_gives() {
        let given = codes_in_error_rs();
        assert!(given.contains("unsafe_file") && given.contains("invalid_input"));
        let listed: std::collections::BTreeSet<String> =
            ERROR_CODES.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            given, listed,
            "ERROR_CODES (contract/mod.rs) and Error::code (error/code.rs) disagree"
        );
    }

    #[test]
    fn shapes_on_the_wire() {
        let t = "2026-11-27T13:00:00.123Z".parse::<DateTime<Utc>>().unwrap();
        let row = RefreshRow {
            tenant: "a".into(),
            ok: false,
            expires_at: None,
            error: Some(ErrorBody::from(&Error::NoActiveTenant)),
        };
        assert_eq!(
            serde_json::to_value(&row).unwrap(),
            json!({"tenant": "a", "ok": false, "code": "no_active_tenant",
                   "message": Error::NoActiveTenant.to_string(), "remedy": "choose_active_tenant"})
        );
        let ok = RefreshRow {
            tenant: "a".into(),
            ok: true,
            expires_at: Some(t),
            error: None,
        };
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            json!({"tenant": "a", "ok": true, "expires_at": "2026-11-27T13:00:00Z"})
        );
        let ev = LoginEvent::SignedIn {
            tenant: "a".into(),
            expires_at: Some(t),
        };
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            json!({"event": "signed_in", "tenant": "a", "expires_at": "2026-11-27T13:00:00Z"})
        );
    }

    #[test]
    fn tenant_settings_drop_the_trailing_slash() {
        let p = TenantProfile::new("a.example", "https://vbm.example:4443").unwrap();
        let s = TenantSettings::from(&p);
        assert_eq!(s.server, "https://vbm.example:4443");
        assert_eq!(s.authority, "https://login.microsoftonline.com");
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["api_version"], "v8");
    }
}
