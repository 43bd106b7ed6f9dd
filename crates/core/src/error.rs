//! One error type for the core, with a stable machine code per variant ([`Error::code`]) that the
//! CLI (`--json`) and the desktop UI branch on. Messages are for people and never contain secrets.

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
        error: String,
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

    #[error("the VBM365 server refused the tenant sign-in: {message}. Enable tenant authentication on the VBM365 server (General Options > Authentication > \"Enable tenant authentication\") and try again")]
    TenantAuthDisabled { message: String },

    #[error("the VBM365 server does not know this organization: {message}. Check that the organization is added to the server and that tenant authentication is enabled there (\"Enable tenant authentication\")")]
    OrganizationUnknown { message: String },

    #[error("{service} answered HTTP {status}: {message}")]
    ServerFailure {
        service: &'static str,
        status: u16,
        message: String,
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

    #[error("another vbm365-auth process holds {what} for more than {} s", .after.as_secs())]
    LockTimeout { what: String, after: Duration },
}

fn identity_message(error: &str, aadsts: &Option<u32>, description: &Option<String>) -> String {
    let plain = match error {
        "authorization_declined" | "access_denied" => "the sign-in was declined".to_string(),
        "expired_token" => "the sign-in code expired before it was used".to_string(),
        "bad_verification_code" => "Microsoft did not recognise the sign-in code".to_string(),
        "invalid_grant" => match aadsts {
            Some(53003) => "access was blocked by a Conditional Access policy of the tenant".into(),
            _ => "Microsoft refused the grant".into(),
        },
        "invalid_client" | "unauthorized_client" => "Microsoft refused the client id".into(),
        "invalid_scope" => "Microsoft refused the requested scope".into(),
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
            Error::Identity { error, aadsts, .. } => match (error.as_str(), aadsts) {
                ("authorization_declined" | "access_denied", _) => "sign_in_declined",
                ("expired_token", _) => "device_code_expired",
                ("bad_verification_code", _) => "bad_verification_code",
                ("invalid_grant", Some(53003)) => "conditional_access_blocked",
                ("invalid_grant", _) => "invalid_grant",
                _ => "identity_error",
            },
            Error::DeviceCodeExpired => "device_code_expired",
            Error::Cancelled => "cancelled",
            Error::ServerRejected { .. } => "server_rejected",
            Error::TenantAuthDisabled { .. } => "tenant_auth_disabled",
            Error::OrganizationUnknown { .. } => "organization_unknown",
            Error::ServerFailure { .. } => "server_error",
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
        }
    }

    /// True for failures worth retrying later (network, timeouts, 5xx): they say nothing about the
    /// validity of the stored tokens.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Network { .. }
                | Error::Timeout { .. }
                | Error::ServerFailure { .. }
                | Error::BadResponse { .. }
                | Error::LockTimeout { .. }
        )
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
            error: "invalid_grant".into(),
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
    fn tenant_auth_disabled_points_to_the_server_setting() {
        let e = Error::TenantAuthDisabled {
            message: "Tenant authentication is disabled".into(),
        };
        assert!(e.to_string().contains("Enable tenant authentication"));
    }
}
