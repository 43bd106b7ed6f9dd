//! The machine side of an error: its stable code ([`Error::code`]) and what it says about the
//! tokens of the request that failed ([`Error::verdict`]).

use super::Error;
use crate::failure::{self, Verdict};
use crate::msid::OAuthError;

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
            Error::DeviceCodeBlocked { source } => source.code(),
            Error::BrowserSignInTimedOut { .. } => "browser_sign_in_timeout",
            Error::RestorePortalAppNotPublic { .. } => "restore_portal_app_not_public",
            Error::OperatorAuthDisabled { .. } => "operator_auth_disabled",
            Error::OperatorRefused { .. } => "operator_refused",
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
            Error::CertificateNotProbed { .. } => "certificate_not_probed",
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
            Error::ServerRejected { .. }
            | Error::ExchangeRefused { .. }
            | Error::OperatorRefused { .. } => Verdict::Refused,
            Error::DeviceCodeBlocked { source }
            | Error::RestorePortalAppNotPublic { source, .. } => source.verdict(),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
