//! The parts of error messages that depend on the failure's details.

use crate::msid::OAuthError;
use std::time::Duration;

pub(super) fn holder_hint(holder: &Option<String>) -> String {
    match holder {
        Some(h) => format!(" (held by {h})"),
        None => String::new(),
    }
}

pub(super) fn retry_hint(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (retry after {} s)", d.as_secs()),
        None => String::new(),
    }
}

pub(super) fn identity_message(
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

/// For a restore operator's browser sign-in that timed out: what Microsoft's page says when the
/// Restore Portal's application has no `http://localhost` redirect.
pub(super) fn portal_redirect_hint(app: &Option<String>) -> String {
    match app {
        None => String::new(),
        Some(app) => format!(
            "; if Microsoft's page said AADSTS50011 (redirect URI mismatch), the app registration of the Restore Portal's application {app} has no http://localhost redirect"
        ),
    }
}
