//! What depends on a tenant's role: whom Microsoft signs in (the tenant's own client id and
//! scope, or for a restore operator the Restore Portal application the server names) and which
//! VBM365 grant takes Microsoft's reply (`jwt-bearer` with the whole reply, or `operator` with
//! the access token and the account from the ID token). Sign-in and silent re-sign-in both go
//! through here, so a restore operator refreshes and signs in again like any other tenant.

use super::*;
use crate::config::Role;
use crate::failure::Attempted;
use crate::operator;

impl Engine {
    /// The profile Microsoft signs in with: the tenant's own, or for a restore operator the
    /// Restore Portal's (read from the server, retrying transient failures; refused with
    /// [`Error::OperatorAuthDisabled`] when the portal is off).
    pub(super) async fn microsoft_profile(
        &self,
        clients: &Clients,
        profile: &TenantProfile,
    ) -> Attempted<TenantProfile> {
        match profile.role {
            Role::Organization => Attempted {
                result: Ok(profile.clone()),
                attempts: 1,
            },
            Role::Operator => {
                let tried =
                    failure::retry(&self.retry, || operator::settings(&clients.http, profile))
                        .await;
                Attempted {
                    result: tried
                        .result
                        .and_then(|s| operator::microsoft_profile(profile, &s)),
                    attempts: tried.attempts,
                }
            }
        }
    }

    /// Exchanges Microsoft's reply for VBM365 tokens with the grant of the tenant's role,
    /// retrying transient failures. `ms_profile` is the profile Microsoft signed in with.
    pub(super) async fn exchange(
        &self,
        clients: &Clients,
        profile: &TenantProfile,
        ms_profile: &TenantProfile,
        ms_token: &MsTokenResponse,
    ) -> Attempted<VbmTokens> {
        match profile.role {
            Role::Organization => {
                failure::retry(&self.retry, || {
                    clients.vbm.exchange_assertion(profile, &ms_token.raw)
                })
                .await
            }
            Role::Operator => {
                let (account, assertion) =
                    match operator::operator_assertion(ms_token, &ms_profile.client_id) {
                        Ok(a) => a,
                        Err(e) => {
                            return Attempted {
                                result: Err(e),
                                attempts: 1,
                            }
                        }
                    };
                failure::retry(&self.retry, || {
                    operator::exchange(&clients.http, profile, &account, &assertion)
                })
                .await
            }
        }
    }
}

/// Microsoft's refusal of a sign-in: for a restore operator, one that comes from the Restore
/// Portal's app registration says so ([`operator::app_registration_refusal`]; `microsoft` is the
/// profile Microsoft signed in with, its client the Restore Portal's application); for an
/// organization it is left as it is.
pub(super) fn microsoft_refusal(
    profile: &TenantProfile,
    microsoft: &TenantProfile,
    e: Error,
) -> Error {
    match profile.role {
        Role::Organization => e,
        Role::Operator => operator::app_registration_refusal(&microsoft.client_id, e),
    }
}

/// A browser sign-in that timed out: for a restore operator, the error names the Restore
/// Portal's application, so that its message can say what Microsoft's page may have shown.
pub(super) fn browser_timeout(
    profile: &TenantProfile,
    microsoft: &TenantProfile,
    e: Error,
) -> Error {
    match (e, profile.role) {
        (Error::BrowserSignInTimedOut { after, .. }, Role::Operator) => {
            Error::BrowserSignInTimedOut {
                after,
                restore_portal_app: Some(microsoft.client_id.clone()),
            }
        }
        (e, _) => e,
    }
}
