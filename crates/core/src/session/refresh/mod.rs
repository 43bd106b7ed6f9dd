//! Tokens handed out and renewed: single flight across tasks and processes, renewal (VBM365
//! refresh, then silent re-sign-in with the Microsoft refresh token), failure classification
//! ([`crate::failure`]) deciding what is kept, and group commits for `refresh --all`.

use super::*;

mod batch;

/// What a renewal produced, before it is stored.
enum Renewal {
    Renewed {
        tokens: VbmTokens,
        ms_refresh: Option<Option<MsRefreshToken>>,
    },
    /// The VBM365 tokens are dead. `ms_refresh`: a Microsoft refresh token rotated on the way,
    /// kept (a later refresh or sign-in can still use it).
    SignInRequired {
        reason: String,
        ms_refresh: Option<MsRefreshToken>,
    },
    /// Nothing says the tokens are dead (network, certificate, garbled reply): keep them, and keep
    /// a Microsoft refresh token rotated on the way.
    Failed {
        error: Error,
        attempts: u32,
        ms_refresh: Option<MsRefreshToken>,
    },
}

impl Engine {
    /// A token valid for at least `min_valid`, refreshed first when needed.
    pub async fn token(&self, name: Option<&str>, min_valid: Duration) -> Result<AccessToken> {
        self.token_or_refresh(name, Some(min_valid)).await
    }

    /// Refreshes one tenant now (unless another process did while this one waited for the lock).
    pub async fn refresh(&self, name: Option<&str>) -> Result<AccessToken> {
        self.token_or_refresh(name, None).await
    }

    /// `min_valid: None` forces a refresh.
    async fn token_or_refresh(
        &self,
        name: Option<&str>,
        min_valid: Option<Duration>,
    ) -> Result<AccessToken> {
        let cfg = self.config()?;
        let profile = cfg.resolve(name)?.clone();
        let data = self.vault(&cfg).load()?;
        let entry = data.tenants.get(&profile.name).cloned().unwrap_or_default();
        match (&entry.vbm, &entry.sign_in_required) {
            (Some(tokens), None) => {
                if min_valid.is_some_and(|d| valid_for(tokens, d)) {
                    return Ok(access(&profile, tokens));
                }
            }
            _ if can_sign_in_silently(&profile, &entry) => {}
            (_, Some(reason)) => return Err(sign_in_required(&profile, reason)),
            (None, None) => return Err(sign_in_required(&profile, "not signed in")),
        }
        let tokens = self
            .refresh_one(&profile, entry.generation, min_valid)
            .await?;
        Ok(access(&profile, &tokens))
    }

    /// Single-flight refresh of one tenant. `seen` is the vault generation the caller decided on;
    /// if it changed while waiting for the locks, another task or process stored new tokens and
    /// those are used (when still valid for `want`).
    async fn refresh_one(
        &self,
        profile: &TenantProfile,
        seen: u64,
        want: Option<Duration>,
    ) -> Result<VbmTokens> {
        let flight = self.flight(&profile.name);
        let _in_process = flight.lock().await;
        let _cross_process = self.refresh_lock(&[profile.name.as_str()]).await?;
        // While this waited, the tenant may have been signed out, removed or edited: read both
        // again and go on only with what is there now.
        let cfg = &self.config()?;
        let profile = &cfg.resolve(Some(&profile.name))?.clone();
        let vault = self.vault(cfg);
        let entry = vault
            .load()?
            .tenants
            .get(&profile.name)
            .cloned()
            .unwrap_or_default();
        if entry.vbm.is_none() && !can_sign_in_silently(profile, &entry) {
            let reason = entry.sign_in_required.as_deref().unwrap_or("not signed in");
            return Err(sign_in_required(profile, reason));
        }
        if entry.generation != seen {
            if let Some(reason) = &entry.sign_in_required {
                return Err(sign_in_required(profile, reason));
            }
            if let Some(t) = entry
                .vbm
                .as_ref()
                .filter(|t| valid_for(t, want.unwrap_or(Duration::ZERO)))
            {
                return Ok(t.clone());
            }
        }
        let renewal = self.renew(profile, &entry).await;
        let name = profile.name.clone();
        vault
            .update(|data| apply(data, &name, entry.generation, renewal))
            .await?
    }

    /// Renews a tenant's tokens: VBM365 refresh first; when VBM365 refuses it (or there is no
    /// VBM365 pair), silent re-sign-in with the Microsoft refresh token. Transient failures are
    /// retried ([`RetryPolicy`]); when they persist, everything is kept as it is. Only a definitive
    /// refusal ([`Verdict::Refused`]) drops a token.
    async fn renew(&self, profile: &TenantProfile, entry: &TenantSecrets) -> Renewal {
        let clients = match self.clients() {
            Ok(c) => c,
            Err(error) => {
                return Renewal::Failed {
                    error,
                    attempts: 1,
                    ms_refresh: None,
                }
            }
        };
        let refused = match &entry.vbm {
            Some(current) => {
                let tried = failure::retry(&self.retry, || {
                    clients.vbm.refresh(profile, &current.refresh_token)
                })
                .await;
                match tried.result {
                    Ok(tokens) => {
                        return Renewal::Renewed {
                            tokens,
                            ms_refresh: None,
                        }
                    }
                    Err(e) if e.verdict() == Verdict::Refused => {
                        format!("the VBM365 server refused the refresh: {e}")
                    }
                    Err(error) => {
                        return Renewal::Failed {
                            error,
                            attempts: tried.attempts,
                            ms_refresh: None,
                        }
                    }
                }
            }
            None => entry
                .sign_in_required
                .clone()
                .unwrap_or_else(|| "not signed in".into()),
        };
        tracing::info!(tenant = %profile.name, reason = %refused, "no usable VBM365 refresh token");
        match entry
            .ms_refresh_token
            .as_ref()
            .filter(|_| profile.remember_ms_sign_in)
        {
            Some(ms_rt) => self.silent_sign_in(clients, profile, ms_rt).await,
            None => Renewal::SignInRequired {
                reason: refused,
                ms_refresh: None,
            },
        }
    }

    /// Signs in again without the user: a new Microsoft token from the saved Microsoft refresh
    /// token, exchanged with VBM365 like a device-code sign-in. A Microsoft refresh token rotated
    /// on the way is kept whatever happens after.
    async fn silent_sign_in(
        &self,
        clients: &Clients,
        profile: &TenantProfile,
        ms_rt: &MsRefreshToken,
    ) -> Renewal {
        // A restore operator signs in again to the Restore Portal application the server names.
        let microsoft = self.microsoft_profile(clients, profile).await;
        let microsoft = match microsoft.result {
            Ok(p) => p,
            Err(error) => {
                return Renewal::Failed {
                    error,
                    attempts: microsoft.attempts,
                    ms_refresh: None,
                }
            }
        };
        let tried = failure::retry(&self.retry, || clients.ms.refresh(&microsoft, ms_rt)).await;
        let ms_token = match tried.result {
            Ok(t) => t,
            Err(e) if e.verdict() == Verdict::Refused => {
                return Renewal::SignInRequired {
                    reason: format!("the silent Microsoft sign-in failed: {e}"),
                    ms_refresh: None,
                }
            }
            Err(error) => {
                return Renewal::Failed {
                    error,
                    attempts: tried.attempts,
                    ms_refresh: None,
                }
            }
        };
        // Microsoft may have rotated its refresh token: keep the new one whatever happens next.
        let ms_refresh = remembered(profile, &ms_token).or_else(|| Some(ms_rt.clone()));
        let tried = self.exchange(clients, profile, &microsoft, &ms_token).await;
        match tried.result {
            Ok(tokens) => Renewal::Renewed {
                tokens,
                ms_refresh: Some(ms_refresh),
            },
            Err(e) if e.verdict() == Verdict::Refused => Renewal::SignInRequired {
                reason: format!("the VBM365 server refused the silent sign-in: {e}"),
                ms_refresh,
            },
            Err(error) => Renewal::Failed {
                error,
                attempts: tried.attempts,
                ms_refresh,
            },
        }
    }
}

fn valid_for(t: &VbmTokens, d: Duration) -> bool {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| Utc::now().checked_add_signed(d))
        .is_some_and(|until| t.expires_at > until)
}

/// Stores a renewal in the vault data. The refresh locks are held, so the entry is the one the
/// renewal started from; the check on `generation` guards against a bug elsewhere all the same.
fn apply(data: &mut VaultData, name: &str, generation: u64, renewal: Renewal) -> Result<VbmTokens> {
    let entry = data.tenants.entry(name.to_string()).or_default();
    match renewal {
        Renewal::Failed {
            error,
            attempts,
            ms_refresh,
        } => {
            if let Some(ms) = ms_refresh {
                entry.ms_refresh_token = Some(ms);
                entry.generation += 1;
            }
            Err(if error.is_transient() {
                Error::TokensKept {
                    tenant: name.to_string(),
                    attempts,
                    source: Box::new(error),
                }
            } else {
                error
            })
        }
        Renewal::Renewed { tokens, ms_refresh } => {
            if entry.generation != generation {
                tracing::warn!(tenant = name, "vault entry changed during a locked refresh");
            }
            entry.vbm = Some(tokens.clone());
            if let Some(ms) = ms_refresh {
                entry.ms_refresh_token = ms;
            }
            entry.sign_in_required = None;
            entry.generation += 1;
            if tokens.expires_at <= Utc::now() {
                // Stored all the same: the server rotated the pair and the new refresh token is
                // the only one that works now. But handing out (or refreshing again at once
                // because of) a token born expired would be a loop.
                return Err(Error::BadResponse {
                    service: "the VBM365 server",
                    detail: "it issued an access token that is already expired (check the server's clock and token lifetime)".into(),
                });
            }
            Ok(tokens)
        }
        Renewal::SignInRequired { reason, ms_refresh } => {
            entry.vbm = None;
            entry.ms_refresh_token = ms_refresh;
            entry.sign_in_required = Some(reason.clone());
            entry.generation += 1;
            Err(Error::SignInRequired {
                tenant: name.to_string(),
                reason,
            })
        }
    }
}

/// Whether a tenant without usable VBM365 tokens can still sign in again without the user.
fn can_sign_in_silently(profile: &TenantProfile, entry: &TenantSecrets) -> bool {
    profile.remember_ms_sign_in && entry.ms_refresh_token.is_some()
}
