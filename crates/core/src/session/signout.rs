//! Sign-out: under the same locks as a refresh, so sign-out always wins.

use super::*;

impl Engine {
    /// Signs out: `POST /token/logout` (v7+, best effort), then forgets the tenant's secrets.
    /// Returns the logout call's error, if any, for display; the secrets are deleted regardless.
    /// Takes the tenant's refresh locks first, so sign-out wins over a refresh in flight: that
    /// refresh finishes and its tokens are then deleted, and one still waiting finds the tenant
    /// signed out and stores nothing. A vault that cannot be read is an error: nothing could be
    /// deleted.
    pub async fn logout(&self, name: Option<&str>) -> Result<Option<Error>> {
        let cfg = self.config()?;
        let profile = cfg.resolve(name)?.clone();
        let flight = self.flight(&profile.name);
        let _in_process = flight.lock().await;
        let _cross_process = self.refresh_lock(&[profile.name.as_str()]).await?;
        let vault = self.vault(&cfg);
        let data = vault.load()?;
        let Some(entry) = data.tenants.get(&profile.name) else {
            return Ok(None);
        };
        let mut warning = None;
        if let Some(t) = entry.vbm.as_ref().filter(|t| t.expires_at > Utc::now()) {
            warning = self
                .clients()?
                .vbm
                .logout(&profile, &t.access_token)
                .await
                .err();
        }
        let n = profile.name.clone();
        vault.update(move |d| d.tenants.remove(&n)).await?;
        Ok(warning)
    }

    /// Signs every tenant out and deletes the vault and its keyring key, holding every refresh
    /// lock (no refresh can seal the vault again under the deleted key).
    pub async fn logout_all(&self) -> Result<()> {
        let cfg = self.config()?;
        let names: Vec<&str> = cfg.tenants.iter().map(|t| t.name.as_str()).collect();
        let _locks = self.refresh_lock(&names).await?;
        if let Ok(data) = self.vault(&cfg).load() {
            for p in &cfg.tenants {
                if let Some(t) = data.tenants.get(&p.name).and_then(|s| s.vbm.as_ref()) {
                    if t.expires_at > Utc::now() {
                        if let Ok(c) = self.clients() {
                            let _ = c.vbm.logout(p, &t.access_token).await;
                        }
                    }
                }
            }
        }
        self.vault(&cfg).destroy().await
    }
}
