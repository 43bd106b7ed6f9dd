//! One error type for the core, with a stable machine code per variant ([`Error::code`]) that the
//! CLI (`--json`) and the desktop UI branch on. Messages are for people and never contain secrets.

use crate::failure::{self, Verdict};
use crate::msid::OAuthError;
use std::time::Duration;

/// Result alias of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a user can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{0}")]
    InvalidInput(String),

    #[error("no tenant named '{0}' is saved (see `vbm365-auth tenant list`)")]
    TenantNotFound(String),

    #[error("a tenant named '{0}' is already saved")]
    TenantExists(String),

    #[error("no tenant given and no active tenant is set (use `vbm365-auth switch <TENANT>`)")]
    NoActiveTenant,

    #[error("{tenant}: sign-in required ({reason})")]
    SignInRequired { tenant: String, reason: String },

    /// The Microsoft identity platform answered with an OAuth error.
    #[error("{}", identity_message(.error, .aadsts, .description))]
    Identity {
        error: OAuthError,
        aadsts: Option<u32>,
        description: Option<String>,
    },

    #[error("the sign-in code expired before it was used; start the sign-in again")]
    DeviceCodeExpired,

    #[error("sign-in was cancelled")]
    Cancelled,

    /// The VBM365 server refused a request (4xx) and said why.
    #[error("the VBM365 server refused the request (HTTP {status}): {message}")]
    ServerRejected { status: u16, message: String },

    /// The VBM365 server refused the Microsoft sign-in of an organization (the jwt-bearer
    /// exchange). The server's message is shown as it is; the likely causes are listed because the
    /// server's wording is not a contract.
    #[error("the VBM365 server refused the sign-in of organization '{organization}' (HTTP {status}): {message}. Likely causes: tenant authentication is disabled on the server (General Options > Authentication > \"Enable tenant authentication\"); the organization name does not match the server's spelling exactly (it is compared case-sensitively); the organization is not added on this server")]
    ExchangeRefused {
        organization: String,
        status: u16,
        message: String,
    },

    /// A failure that says nothing about the request's credentials: 5xx, 429, 407, 408, 425, a
    /// proxy's page, any other error reply that is not a refusal (see [`crate::failure`]).
    #[error("{service} answered HTTP {status}{}: {message}", retry_hint(.retry_after))]
    ServerFailure {
        service: &'static str,
        status: u16,
        message: String,
        /// The server's `Retry-After`, bounded.
        retry_after: Option<Duration>,
        /// Whether trying again may help ([`failure::is_transient_reply`]).
        transient: bool,
    },

    /// A refresh failed for a reason that says nothing about the stored tokens; they were kept.
    #[error("{tenant}: the tokens could not be refreshed ({} attempt{}): {}. The stored tokens were kept; try again later", .attempts, if *.attempts == 1 { "" } else { "s" }, source.to_string().trim_end_matches('.'))]
    TokensKept {
        tenant: String,
        attempts: u32,
        source: Box<Error>,
    },

    #[error("{service} sent a reply that could not be understood: {detail}")]
    BadResponse {
        service: &'static str,
        detail: String,
    },

    #[error("cannot reach {url}: {detail}")]
    Network { url: String, detail: String },

    #[error("no browser could be started for {url} ({detail}); open the address yourself")]
    BrowserUnavailable { url: String, detail: String },

    #[error("{url} did not answer within {} s", .after.as_secs_f32())]
    Timeout { url: String, after: Duration },

    #[error("certificate of {host} does not match its pin: the server presented SHA-256 {actual}, the pin is {expected}. If the server certificate was renewed on purpose, run `vbm365-auth tenant trust <TENANT>` again")]
    PinMismatch {
        host: String,
        expected: String,
        actual: String,
    },

    #[error("the certificate of {host} is not trusted ({detail}). Check it and pin it with `vbm365-auth tenant trust <TENANT>`, or trust the authority that issued it with `vbm365-auth tenant trust <TENANT> --ca-file <PEM>`")]
    UntrustedCertificate { host: String, detail: String },

    #[error("the certificate of {host} does not verify against the certificate authority in {file} ({detail}); nothing was saved")]
    NotIssuedByCa {
        host: String,
        file: String,
        detail: String,
    },

    #[error("the OS keyring is not available: {0}. Start a Secret Service (e.g. gnome-keyring) or set VBM365_AUTH_STORAGE=file to keep secrets in a plain file (mode 0600)")]
    KeyringUnavailable(String),

    #[error("the OS keyring is locked: {0}. Unlock it (e.g. log in to the desktop session) and try again")]
    KeyringLocked(String),

    #[error("the OS keyring did not answer within {} s", .0.as_secs_f32())]
    KeyringTimeout(Duration),

    #[error("the key of the token vault is missing from the OS keyring; sign in again (`vbm365-auth logout --all` clears the unreadable vault)")]
    VaultKeyMissing,

    #[error("the token vault {path} cannot be read: {detail}")]
    VaultCorrupt { path: String, detail: String },

    #[error("the configuration file {path} cannot be read: {detail}")]
    ConfigCorrupt { path: String, detail: String },

    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("another process holds {what} for more than {} s{}", .after.as_secs(), holder_hint(.holder))]
    LockTimeout {
        what: String,
        after: Duration,
        /// Who holds it, as the holder wrote it into the lock file ("pid 1234 (vbm365-auth …)").
        holder: Option<String>,
    },

    /// A file or directory this product keeps its data in is not safe to use.
    #[error("{path} is not safe to use: {detail}")]
    UnsafeFile { path: String, detail: String },
}

fn holder_hint(holder: &Option<String>) -> String {
    match holder {
        Some(h) => format!(" (held by {h})"),
        None => String::new(),
    }
}

fn retry_hint(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (retry after {} s)", d.as_secs()),
        None => String::new(),
    }
}

fn identity_message(
    error: &OAuthError,
    aadsts: &Option<u32>,
    description: &Option<String>,
) -> String {
    let plain = match error {
        OAuthError::AuthorizationDeclined | OAuthError::AccessDenied => {
            "the sign-in was declined".to_string()
        }
        OAuthError::ExpiredToken => "the sign-in code expired before it was used".to_string(),
        OAuthError::BadVerificationCode => {
            "Microsoft did not recognise the sign-in code".to_string()
        }
        OAuthError::InvalidGrant => match aadsts {
            Some(53003) => "access was blocked by a Conditional Access policy of the tenant".into(),
            _ => "Microsoft refused the grant".into(),
        },
        OAuthError::InteractionRequired => {
            "Microsoft needs you to sign in interactively again".into()
        }
        OAuthError::ConsentRequired => "Microsoft needs consent for the requested access".into(),
        OAuthError::InvalidClient | OAuthError::UnauthorizedClient => {
            "Microsoft refused the client id".into()
        }
        OAuthError::InvalidScope => "Microsoft refused the requested scope".into(),
        other => format!("Microsoft answered '{other}'"),
    };
    let mut out = plain;
    if let Some(code) = aadsts {
        out.push_str(&format!(" (AADSTS{code})"));
    }
    if let Some(first) = description.as_deref().and_then(|d| d.lines().next()) {
        // "AADSTS53003: Access has been blocked…": the code is already shown once.
        let first = match first.trim().strip_prefix("AADSTS") {
            Some(rest) => rest
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start_matches(':')
                .trim(),
            None => first.trim(),
        };
        if !first.is_empty() {
            out.push_str(": ");
            out.push_str(first);
        }
    }
    out
}

impl Error {
    /// A stable, machine-readable code (snake case) for the UI and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput(_) => "invalid_input",
            Error::TenantNotFound(_) => "tenant_not_found",
            Error::TenantExists(_) => "tenant_exists",
            Error::NoActiveTenant => "no_active_tenant",
            Error::SignInRequired { .. } => "sign_in_required",
            Error::Identity { error, aadsts, .. } => match (error, aadsts) {
                (OAuthError::AuthorizationDeclined | OAuthError::AccessDenied, _) => {
                    "sign_in_declined"
                }
                (OAuthError::ExpiredToken, _) => "device_code_expired",
                (OAuthError::BadVerificationCode, _) => "bad_verification_code",
                (OAuthError::InvalidGrant, Some(53003)) => "conditional_access_blocked",
                (OAuthError::InvalidGrant, _) => "invalid_grant",
                _ => "identity_error",
            },
            Error::DeviceCodeExpired => "device_code_expired",
            Error::Cancelled => "cancelled",
            Error::ServerRejected { .. } => "server_rejected",
            Error::ExchangeRefused { .. } => "exchange_refused",
            Error::ServerFailure { status: 429, .. } => "throttled",
            Error::ServerFailure { status: 407, .. } => "proxy_auth_required",
            Error::ServerFailure { .. } => "server_error",
            Error::TokensKept { source, .. } => source.code(),
            Error::BadResponse { .. } => "bad_response",
            Error::Network { .. } => "network",
            Error::Timeout { .. } => "timeout",
            Error::BrowserUnavailable { .. } => "browser_unavailable",
            Error::PinMismatch { .. } => "certificate_pin_mismatch",
            Error::UntrustedCertificate { .. } => "certificate_untrusted",
            Error::NotIssuedByCa { .. } => "certificate_not_issued_by_ca",
            Error::KeyringUnavailable(_) => "keyring_unavailable",
            Error::KeyringLocked(_) => "keyring_locked",
            Error::KeyringTimeout(_) => "keyring_timeout",
            Error::VaultKeyMissing => "vault_key_missing",
            Error::VaultCorrupt { .. } => "vault_corrupt",
            Error::ConfigCorrupt { .. } => "config_corrupt",
            Error::Io { .. } => "io",
            Error::LockTimeout { .. } => "lock_timeout",
            Error::UnsafeFile { .. } => "unsafe_file",
        }
    }

    /// What this failure says about the tokens of the request that failed: the one
    /// classification of [`crate::failure`].
    pub fn verdict(&self) -> Verdict {
        match self {
            Error::ServerRejected { .. } | Error::ExchangeRefused { .. } => Verdict::Refused,
            Error::Identity { error, .. } if failure::is_refusing_oauth_error(error) => {
                Verdict::Refused
            }
            Error::ServerFailure {
                retry_after,
                transient: true,
                ..
            } => Verdict::Transient {
                retry_after: *retry_after,
            },
            Error::Network { .. }
            | Error::Timeout { .. }
            | Error::BadResponse { .. }
            | Error::LockTimeout { .. } => Verdict::Transient { retry_after: None },
            Error::TokensKept { source, .. } => source.verdict(),
            _ => Verdict::Persistent,
        }
    }

    /// True for failures worth retrying later: they say nothing about the stored tokens.
    pub fn is_transient(&self) -> bool {
        matches!(self.verdict(), Verdict::Transient { .. })
    }

    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_access_is_named_with_its_code() {
        let e = Error::Identity {
            error: OAuthError::InvalidGrant,
            aadsts: Some(53003),
            description: Some("AADSTS53003: Access has been blocked by Conditional Access policies.\r\nTrace ID: x".into()),
        };
        assert_eq!(e.code(), "conditional_access_blocked");
        let m = e.to_string();
        assert!(m.contains("Conditional Access"), "{m}");
        assert!(m.contains("AADSTS53003"), "{m}");
        assert!(!m.contains("Trace ID"), "{m}");
        assert_eq!(m.matches("AADSTS53003").count(), 1, "{m}");
        assert!(m.contains(": Access has been blocked"), "{m}");
    }

    #[test]
    fn a_refused_exchange_names_the_likely_causes_and_the_servers_words() {
        let e = Error::ExchangeRefused {
            organization: "Contoso.onmicrosoft.com".into(),
            status: 400,
            message: "Something the server said.".into(),
        };
        assert_eq!(e.code(), "exchange_refused");
        let m = e.to_string();
        for part in [
            "Contoso.onmicrosoft.com",
            "Something the server said.",
            "Enable tenant authentication",
            "case-sensitively",
            "not added on this server",
        ] {
            assert!(m.contains(part), "{part} in {m}");
        }
        assert_eq!(e.verdict(), Verdict::Refused);
    }

    #[test]
    fn classification_of_failures() {
        let failure = |status, own_error| Error::ServerFailure {
            service: "s",
            status,
            message: "m".into(),
            retry_after: Some(Duration::from_secs(3)),
            transient: failure::is_transient_reply(status, own_error, None),
        };
        let transient = Verdict::Transient {
            retry_after: Some(Duration::from_secs(3)),
        };
        for status in [407, 408, 425, 429, 500, 502, 503, 504] {
            assert_eq!(failure(status, true).verdict(), transient, "{status}");
        }
        // A 4xx page that is not the service's own JSON: a proxy or a WAF.
        assert_eq!(failure(403, false).verdict(), transient);
        assert_eq!(failure(404, false).verdict(), transient);
        // The service's own 404/405: nothing about the tokens, nothing to wait for.
        assert_eq!(failure(404, true).verdict(), Verdict::Persistent);
        assert_eq!(failure(429, true).code(), "throttled");
        assert_eq!(failure(407, false).code(), "proxy_auth_required");
        let identity = |error: &str| Error::Identity {
            error: OAuthError::parse(error),
            aadsts: None,
            description: None,
        };
        for refusing in ["invalid_grant", "interaction_required", "consent_required"] {
            assert_eq!(identity(refusing).verdict(), Verdict::Refused, "{refusing}");
        }
        for other in [
            "invalid_client",
            "unauthorized_client",
            "invalid_scope",
            "access_denied",
        ] {
            assert_eq!(identity(other).verdict(), Verdict::Persistent, "{other}");
        }
        let kept = Error::TokensKept {
            tenant: "t".into(),
            attempts: 3,
            source: Box::new(failure(503, false)),
        };
        assert_eq!(kept.code(), "server_error");
        assert!(kept.to_string().contains("were kept"), "{kept}");
        assert!(kept.to_string().contains("3 attempts"), "{kept}");
    }
}
