//! The OAuth `error` values of the Microsoft identity platform, as one enum.

use crate::text;

/// An OAuth `error` of the Microsoft identity platform (RFC 6749 §5.2, RFC 8628 §3.5, and the
/// extensions Microsoft documents); any other value is kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// `authorization_pending`: the user has not approved yet; poll again after the interval.
    AuthorizationPending,
    /// `slow_down`: polls come too fast; the interval grows by [`SLOW_DOWN_STEP`](super::SLOW_DOWN_STEP) for the rest of
    /// the flow.
    SlowDown,
    /// `authorization_declined`: the user declined the sign-in (code `sign_in_declined`).
    AuthorizationDeclined,
    /// `access_denied`: the user or the tenant denied the request (code `sign_in_declined`).
    AccessDenied,
    /// `expired_token`: the device code expired before the user approved (code
    /// `device_code_expired`).
    ExpiredToken,
    /// `bad_verification_code`: Microsoft does not know the device code that was sent.
    BadVerificationCode,
    /// `invalid_grant`: the device code or refresh token is invalid, expired or revoked, or a
    /// policy blocked the grant (AADSTS53003: Conditional Access). A refusal: the Microsoft refresh
    /// token is dead.
    InvalidGrant,
    /// `interaction_required`: the user must sign in interactively (MFA, a changed password, …). A
    /// refusal.
    InteractionRequired,
    /// `consent_required`: the scope needs a consent that was not given. A refusal.
    ConsentRequired,
    /// `temporarily_unavailable`: Microsoft cannot answer for now. Transient: the client reports it
    /// as [`Error::ServerFailure`](crate::Error::ServerFailure).
    TemporarilyUnavailable,
    /// `server_error`: a failure inside Microsoft. Transient, like `temporarily_unavailable`.
    ServerError,
    /// `invalid_request`: the request was malformed (a parameter missing, repeated or wrong).
    InvalidRequest,
    /// `invalid_client`: the client id is unknown or not allowed (code `identity_error`).
    InvalidClient,
    /// `unauthorized_client`: the client may not use this grant (public client flows off for the
    /// application).
    UnauthorizedClient,
    /// `invalid_scope`: a requested scope is unknown or not allowed.
    InvalidScope,
    /// `unsupported_grant_type`: the endpoint does not accept this `grant_type`.
    UnsupportedGrantType,
    /// Any other value as it came, made safe to show (at most 80 characters). Not a refusal.
    Other(String),
}

impl OAuthError {
    const NAMED: [(&'static str, OAuthError); 16] = [
        ("authorization_pending", OAuthError::AuthorizationPending),
        ("slow_down", OAuthError::SlowDown),
        ("authorization_declined", OAuthError::AuthorizationDeclined),
        ("access_denied", OAuthError::AccessDenied),
        ("expired_token", OAuthError::ExpiredToken),
        ("bad_verification_code", OAuthError::BadVerificationCode),
        ("invalid_grant", OAuthError::InvalidGrant),
        ("interaction_required", OAuthError::InteractionRequired),
        ("consent_required", OAuthError::ConsentRequired),
        (
            "temporarily_unavailable",
            OAuthError::TemporarilyUnavailable,
        ),
        ("server_error", OAuthError::ServerError),
        ("invalid_request", OAuthError::InvalidRequest),
        ("invalid_client", OAuthError::InvalidClient),
        ("unauthorized_client", OAuthError::UnauthorizedClient),
        ("invalid_scope", OAuthError::InvalidScope),
        ("unsupported_grant_type", OAuthError::UnsupportedGrantType),
    ];

    /// The error as the server wrote it (an unknown one made safe to show).
    pub fn parse(raw: &str) -> OAuthError {
        Self::NAMED
            .iter()
            .find(|(name, _)| *name == raw)
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| OAuthError::Other(text::shown(raw, 80)))
    }

    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            OAuthError::Other(s) => s,
            known => Self::NAMED
                .iter()
                .find(|(_, e)| e == known)
                .map(|(name, _)| *name)
                .unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
