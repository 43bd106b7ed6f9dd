//! What the faces show: each tenant's state, and a connection test with a fresh token.

use super::*;

impl Engine {
    /// Every saved tenant with its state. Reads the vault once.
    pub fn status(&self) -> Result<Vec<TenantStatus>> {
        let cfg = self.config()?;
        if cfg.tenants.is_empty() {
            return Ok(Vec::new());
        }
        let vault = self.vault(&cfg).load();
        let now = Utc::now();
        Ok(cfg
            .tenants
            .iter()
            .map(|p| {
                let active = cfg.active_tenant.as_deref() == Some(p.name.as_str());
                let mut row = TenantStatus {
                    profile: p.clone(),
                    active,
                    state: TenantState::SignedOut,
                    expires_at: None,
                    user_name: None,
                    detail: None,
                };
                match &vault {
                    Err(e) => {
                        row.state = TenantState::Error;
                        row.detail = Some(e.to_string());
                    }
                    Ok(data) => {
                        if let Some(s) = data.tenants.get(&p.name) {
                            row.expires_at = s.vbm.as_ref().map(|t| t.expires_at);
                            row.user_name = s.vbm.as_ref().and_then(|t| t.user_name.clone());
                            row.state = state_of(s, now);
                            row.detail = s.sign_in_required.clone();
                        }
                    }
                }
                row
            })
            .collect())
    }

    /// `GET /vN/ServiceInstance` with a fresh token: proves the token works, shows the version.
    pub async fn test_connection(&self, name: Option<&str>) -> Result<ServiceInstance> {
        let token = self.token(name, Duration::from_secs(60)).await?;
        let cfg = self.config()?;
        let profile = cfg.resolve(Some(&token.tenant))?;
        self.clients()?
            .vbm
            .service_instance(profile, &token.access_token)
            .await
    }
}
