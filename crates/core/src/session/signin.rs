//! Sign-in with a device code: ask Microsoft for a code, poll until the user approved, exchange
//! the Microsoft token response (the assertion) with VBM365, store the tokens.

use super::*;

/// A started device-code sign-in.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    /// The tenant as saved when the sign-in began.
    pub profile: TenantProfile,
    /// Microsoft's device code reply: the user code to show, the device code to poll with.
    pub authorization: DeviceAuthorization,
    /// The verification URI if it is safe to open (docs/protocol.md §1), else the reason it is not.
    pub openable_uri: std::result::Result<Url, String>,
    /// Whom Microsoft signs in: the tenant's profile, or for a restore operator the Restore
    /// Portal application's.
    pub(super) microsoft: TenantProfile,
}

impl Engine {
    /// Step 1: asks Microsoft for a device code (for a restore operator, after reading the server's
    /// Restore Portal settings).
    pub async fn begin_sign_in(&self, name: Option<&str>) -> Result<PendingSignIn> {
        let cfg = self.config()?;
        let profile = cfg.resolve(name)?.clone();
        // Find out now, not after the user approved, that the tokens could not be stored.
        self.vault(&cfg).check_writable()?;
        let clients = self.clients()?;
        let microsoft = self.microsoft_profile(clients, &profile).await.result?;
        let authorization = failure::retry(&self.retry, || clients.ms.device_code(&microsoft))
            .await
            .result
            .map_err(|e| exchange::microsoft_refusal(&profile, &microsoft, e))?;
        let openable_uri =
            validate::verification_uri(&authorization.verification_uri).map_err(|e| e.to_string());
        Ok(PendingSignIn {
            profile,
            authorization,
            openable_uri,
            microsoft,
        })
    }

    /// Steps 3–4: polls until approved, exchanges the assertion and stores the tokens. Dropping the
    /// future cancels the sign-in. A refusal by the tenant's Conditional Access comes back as
    /// [`Error::DeviceCodeBlocked`] (the browser method may be allowed); for a restore operator,
    /// one caused by the Restore Portal's app registration as
    /// [`Error::RestorePortalAppNotPublic`].
    pub async fn complete_sign_in(
        &self,
        pending: &PendingSignIn,
        mut on_event: impl FnMut(SignInEvent),
    ) -> Result<TenantStatus> {
        let auth = &pending.authorization;
        let ms = &self.clients()?.ms;
        let ms_token = msid::poll_device_flow(
            auth.interval,
            auth.expires_in,
            || ms.poll(&pending.microsoft, &auth.device_code),
            &mut on_event,
        )
        .await
        .map_err(|e| {
            let e = device_code_refusal(e);
            exchange::microsoft_refusal(&pending.profile, &pending.microsoft, e)
        })?;
        self.finish_sign_in(&pending.profile, &pending.microsoft, ms_token, on_event)
            .await
    }

    /// After Microsoft's approval, whatever the method: exchanges the reply with VBM365 and stores
    /// the tokens and the Microsoft refresh token under the tenant's refresh locks, unless the
    /// tenant was removed or pointed elsewhere meanwhile.
    pub(super) async fn finish_sign_in(
        &self,
        profile: &TenantProfile,
        microsoft: &TenantProfile,
        ms_token: MsTokenResponse,
        mut on_event: impl FnMut(SignInEvent),
    ) -> Result<TenantStatus> {
        on_event(SignInEvent::Exchanging);
        let clients = self.clients()?;
        let exchanged = self
            .exchange(clients, profile, microsoft, &ms_token)
            .await
            .result;
        let flight = self.flight(&profile.name);
        let _in_process = flight.lock().await;
        let _cross_process = self.refresh_lock(&[profile.name.as_str()]).await?;
        let cfg = self.config()?;
        unchanged(&cfg, profile)?;
        let ms_refresh = remembered(profile, &ms_token);
        self.store_sign_in(&cfg, &profile.name, exchanged, ms_refresh)
            .await?;
        self.status()?
            .into_iter()
            .find(|s| s.profile.name == profile.name)
            .ok_or_else(|| Error::TenantNotFound(profile.name.clone()))
    }

    /// Stores a sign-in's outcome. When the exchange failed after the user approved, the
    /// Microsoft refresh token is kept so that a later refresh can finish the sign-in without a
    /// new code (once the server accepts it); the VBM365 tokens the tenant may still have are left
    /// as they are.
    async fn store_sign_in(
        &self,
        cfg: &Config,
        name: &str,
        exchanged: Result<VbmTokens>,
        ms_refresh: Option<MsRefreshToken>,
    ) -> Result<()> {
        let name = name.to_string();
        let tokens = match exchanged {
            Ok(tokens) => tokens,
            Err(e) => {
                if let Some(ms) = ms_refresh {
                    self.vault(cfg)
                        .update(move |data| {
                            let entry = data.tenants.entry(name).or_default();
                            entry.ms_refresh_token = Some(ms);
                            entry.generation += 1;
                        })
                        .await?;
                }
                return Err(e);
            }
        };
        self.vault(cfg)
            .update(move |data| {
                let entry = data.tenants.entry(name).or_default();
                entry.vbm = Some(tokens);
                entry.ms_refresh_token = ms_refresh;
                entry.sign_in_required = None;
                entry.generation += 1;
            })
            .await
    }
}

/// Removed or pointed elsewhere while the user was signing in: store nothing.
fn unchanged(cfg: &Config, profile: &TenantProfile) -> Result<()> {
    match cfg.tenant(&profile.name) {
        None => Err(Error::TenantNotFound(profile.name.clone())),
        Some(now) if !same_endpoints(now, profile) => Err(Error::InvalidInput(format!(
            "the settings of {} changed during the sign-in; nothing was stored, sign in again",
            profile.name
        ))),
        Some(_) => Ok(()),
    }
}

/// A device code refused by the tenant's Conditional Access (AADSTS53003) says so, so that the
/// faces can offer the browser method.
fn device_code_refusal(e: Error) -> Error {
    match e {
        Error::Identity {
            error: crate::msid::OAuthError::InvalidGrant,
            aadsts: Some(53003),
            ..
        } => Error::DeviceCodeBlocked {
            source: Box::new(e),
        },
        other => other,
    }
}

pub(super) fn remembered(profile: &TenantProfile, t: &MsTokenResponse) -> Option<MsRefreshToken> {
    profile
        .remember_ms_sign_in
        .then(|| t.refresh_token.clone())
        .flatten()
}
