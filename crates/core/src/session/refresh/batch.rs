//! `refresh --all`: which tenants need a request (the plan), and their renewals made concurrently
//! and stored in group commits.

use super::*;

/// Concurrent token requests of a batch refresh.
const BATCH_CONCURRENCY: usize = 128;

impl Engine {
    /// Refreshes every signed-in tenant (or only those expiring within `only_expiring_within`),
    /// concurrently, storing results in group commits. Holds the refresh locks of all tenants for
    /// the duration, so no other process refreshes them twice.
    pub async fn refresh_all(
        &self,
        only_expiring_within: Option<Duration>,
    ) -> Result<Vec<(String, Result<AccessToken>)>> {
        let cfg = self.config()?;
        let names: Vec<&str> = cfg.tenants.iter().map(|t| t.name.as_str()).collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let _locks = self.refresh_lock(&names).await?;
        // Tenants removed or edited while this waited for the locks: use the config as it is now
        // (a tenant added meanwhile is not locked and is left to a later run).
        let locked: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cfg = self.config()?;
        let vault = self.vault(&cfg);
        let data = vault.load()?;
        let profiles = cfg.tenants.iter().filter(|t| locked.contains(&t.name));
        let (mut out, jobs) = plan_batch(profiles, &data, only_expiring_within);
        out.extend(self.renew_batch(vault, jobs).await?);
        Ok(out)
    }

    /// Renews `jobs` concurrently; a committer stores whatever has finished in one vault write
    /// (group commit), so 1,000 tenants cost a few dozen writes, not 1,000.
    async fn renew_batch(&self, vault: &Vault, jobs: Renewals<'_>) -> Result<Outcomes> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let produce = futures::stream::iter(jobs)
            .map(|(profile, entry)| async move {
                let renewal = self.renew(profile, &entry).await;
                (profile, entry.generation, renewal)
            })
            .buffer_unordered(BATCH_CONCURRENCY)
            .for_each(move |done| {
                let _ = tx.send(done);
                async {}
            });
        let commit = async {
            let mut stored = Vec::new();
            let mut batch = Vec::new();
            while rx.recv_many(&mut batch, 4096).await > 0 {
                let chunk = std::mem::take(&mut batch);
                let results = vault
                    .update(|data| {
                        chunk
                            .into_iter()
                            .map(|(profile, generation, renewal)| {
                                (profile, apply(data, &profile.name, generation, renewal))
                            })
                            .collect::<Vec<_>>()
                    })
                    .await?;
                stored.extend(
                    results
                        .into_iter()
                        .map(|(p, r)| (p.name.clone(), r.map(|t| access(p, &t)))),
                );
            }
            Ok::<_, Error>(stored)
        };
        let ((), stored) = futures::join!(produce, commit);
        stored
    }
}

/// Each tenant's outcome of a batch refresh, by name.
type Outcomes = Vec<(String, Result<AccessToken>)>;
/// The renewals a batch refresh makes: each tenant with its stored secrets.
type Renewals<'p> = Vec<(&'p TenantProfile, TenantSecrets)>;

/// What a batch refresh does with each tenant: the outcomes known without a request (sign-in
/// required, still valid long enough) and the renewals to make (VBM365 refresh or silent
/// re-sign-in). Signed-out tenants are left out.
fn plan_batch<'p>(
    profiles: impl Iterator<Item = &'p TenantProfile>,
    data: &VaultData,
    only_expiring_within: Option<Duration>,
) -> (Outcomes, Renewals<'p>) {
    let mut out = Vec::new();
    let mut jobs = Vec::new();
    for profile in profiles {
        let entry = data.tenants.get(&profile.name).cloned().unwrap_or_default();
        let unusable = entry.sign_in_required.is_some() || entry.vbm.is_none();
        if unusable && can_sign_in_silently(profile, &entry) {
            jobs.push((profile, entry));
            continue;
        }
        match (&entry.sign_in_required, &entry.vbm) {
            (Some(reason), _) => {
                out.push((profile.name.clone(), Err(sign_in_required(profile, reason))))
            }
            (None, None) => {} // signed out: nothing to refresh
            (None, Some(t)) => {
                if only_expiring_within.is_some_and(|w| valid_for(t, w)) {
                    out.push((profile.name.clone(), Ok(access(profile, t))));
                } else {
                    jobs.push((profile, entry));
                }
            }
        }
    }
    (out, jobs)
}
