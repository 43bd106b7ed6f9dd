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
}

impl Engine {
    /// Step 1: asks Microsoft for a device code.
    pub async fn begin_sign_in(&self, name: Option<&str>) -> Result<PendingSignIn> {
        let cfg = self.config()?;
        let profile = cfg.resolve(name)?.clone();
        // Find out now, not after the user approved, that the tokens could not be stored.
        self.vault(&cfg).check_writable()?;
        let ms = &self.clients()?.ms;
        let authorization = failure::retry(&self.retry, || ms.device_code(&profile))
            .await
            .result?;
        let openable_uri =
            validate::verification_uri(&authorization.verification_uri).map_err(|e| e.to_string());
        Ok(PendingSignIn {
            profile,
            authorization,
            openable_uri,
        })
    }

    /// Steps 3–4: polls until approved, exchanges the assertion and stores the tokens. Dropping the
    /// future cancels the sign-in.
    pub async fn complete_sign_in(
        &self,
        pending: &PendingSignIn,
        mut on_event: impl FnMut(SignInEvent),
    ) -> Result<TenantStatus> {
        let profile = &pending.profile;
        let auth = &pending.authorization;
        let Clients { ms, vbm, .. } = self.clients()?;
        let ms_token = msid::poll_device_flow(
            auth.interval,
            auth.expires_in,
            || ms.poll(profile, &auth.device_code),
            &mut on_event,
        )
        .await?;
        on_event(SignInEvent::Exchanging);
        let exchanged = failure::retry(&self.retry, || {
            vbm.exchange_assertion(profile, &ms_token.raw)
        })
        .await
        .result;
        let flight = self.flight(&profile.name);
        let _in_process = flight.lock().await;
        let _cross_process = self.refresh_lock(&[profile.name.as_str()]).await?;
        // Removed or pointed elsewhere while the user was signing in: store nothing.
        let cfg = self.config()?;
        match cfg.tenant(&profile.name) {
            None => return Err(Error::TenantNotFound(profile.name.clone())),
            Some(now) if !same_endpoints(now, profile) => {
                return Err(Error::InvalidInput(format!(
                    "the settings of {} changed during the sign-in; nothing was stored, sign in again",
                    profile.name
                )))
            }
            Some(_) => {}
        }
        let ms_refresh = remembered(profile, &ms_token);
        let name = profile.name.clone();
        let tokens = match exchanged {
            Ok(tokens) => tokens,
            Err(e) => {
                // The user approved: keep the Microsoft refresh token so that a later refresh can
                // finish the sign-in without a new code (once the server accepts it). The VBM365
                // tokens the tenant may still have are left as they are.
                if let Some(ms) = ms_refresh {
                    self.vault(&cfg)
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
        self.vault(&cfg)
            .update(move |data| {
                let entry = data.tenants.entry(name).or_default();
                entry.vbm = Some(tokens);
                entry.ms_refresh_token = ms_refresh;
                entry.sign_in_required = None;
                entry.generation += 1;
            })
            .await?;
        self.status()?
            .into_iter()
            .find(|s| s.profile.name == profile.name)
            .ok_or_else(|| Error::TenantNotFound(profile.name.clone()))
    }
}

pub(super) fn remembered(profile: &TenantProfile, t: &MsTokenResponse) -> Option<MsRefreshToken> {
    profile
        .remember_ms_sign_in
        .then(|| t.refresh_token.clone())
        .flatten()
}
