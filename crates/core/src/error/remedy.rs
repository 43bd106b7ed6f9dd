//! What kind of fix each failure needs, in no face's words.

use super::Error;
use crate::msid::OAuthError;

/// What kind of fix a failure needs, in no face's words: the CLI says it as a command, the window
/// as a button or a sentence ([`Error::remedy`]). Messages themselves only say what went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Remedy {
    /// Name one of the saved tenants.
    PickSavedTenant,
    /// Name a tenant or choose which one is active.
    ChooseActiveTenant,
    /// Check the server's certificate and trust it: pin it, or trust the authority that issued it.
    TrustServerCertificate,
    /// The server presents another certificate than the pinned one: find out why; if it was
    /// renewed on purpose, trust the new one.
    ReviewChangedCertificate,
    /// Sign in again (a new Microsoft sign-in).
    SignIn,
    /// Sign in with the browser method instead of a device code (the tenant's policy blocks
    /// device codes).
    UseBrowserSignIn,
    /// Check the VBM365 server's set-up for the organization (the message lists the likely
    /// causes).
    CheckServerSetup,
    /// Have the Restore Portal's app registration (Microsoft Entra ID) allow public client flows
    /// and the `http://localhost` redirect (mobile and desktop applications).
    FixRestorePortalApp,
    /// Start an OS keyring (a Secret Service) or keep secrets in a plain file on purpose.
    StartKeyring,
    /// Unlock the OS keyring.
    UnlockKeyring,
    /// Clear the unreadable vault (sign out of every tenant), then sign in again.
    ResetVault,
    /// Nothing to change: try again later (the stored tokens were kept).
    RetryLater,
    /// Check the address, that the server runs, the network and any proxy.
    CheckConnection,
    /// Make the file or directory named in the message private to its user.
    FixPermissions,
    /// Correct or remove what the message names in the configuration file.
    FixConfig,
}

impl Error {
    /// The kind of fix this failure needs, if the user can do something about it.
    pub fn remedy(&self) -> Option<Remedy> {
        Some(match self {
            Error::TenantNotFound(_) => Remedy::PickSavedTenant,
            Error::NoActiveTenant => Remedy::ChooseActiveTenant,
            Error::SignInRequired { .. }
            | Error::DeviceCodeExpired
            | Error::Identity {
                error: OAuthError::ExpiredToken | OAuthError::AuthorizationDeclined,
                ..
            } => Remedy::SignIn,
            Error::DeviceCodeBlocked { .. } => Remedy::UseBrowserSignIn,
            Error::BrowserSignInTimedOut { .. } => Remedy::SignIn,
            Error::RestorePortalAppNotPublic { .. } => Remedy::FixRestorePortalApp,
            Error::ExchangeRefused { .. }
            | Error::OperatorRefused { .. }
            | Error::OperatorAuthDisabled { .. } => Remedy::CheckServerSetup,
            Error::PinMismatch { .. } => Remedy::ReviewChangedCertificate,
            Error::CertificateNotProbed { .. } => Remedy::TrustServerCertificate,
            Error::UntrustedCertificate { .. } => Remedy::TrustServerCertificate,
            Error::KeyringUnavailable(_) | Error::KeyringTimeout(_) => Remedy::StartKeyring,
            Error::KeyringLocked(_) => Remedy::UnlockKeyring,
            Error::VaultKeyMissing | Error::VaultCorrupt { .. } => Remedy::ResetVault,
            Error::UnsafeFile { .. } => Remedy::FixPermissions,
            Error::ConfigCorrupt { .. } => Remedy::FixConfig,
            Error::Network { .. } | Error::Timeout { .. } => Remedy::CheckConnection,
            Error::TokensKept { .. } | Error::ServerFailure { .. } | Error::LockTimeout { .. } => {
                Remedy::RetryLater
            }
            _ => return None,
        })
    }
}
