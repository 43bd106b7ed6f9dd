//! Saved tenants: add, edit (endpoint changes sign out), remove, switch. The trust of their
//! servers (pins, CAs) is in `certs.rs`.

use super::*;

impl Engine {
    /// Saves a tenant. The first tenant becomes active; `activate` makes this one active.
    pub fn add_tenant(
        &self,
        profile: TenantProfile,
        pin: Option<&str>,
        activate: bool,
    ) -> Result<Config> {
        profile.validate()?;
        let pin = pin.map(validate::sha256_pin).transpose()?;
        let (cfg, ()) = self.store.update(|cfg| {
            if let Some(existing) = cfg.tenant(&profile.name) {
                return Err(Error::TenantExists(existing.name.clone()));
            }
            if let Some(pin) = pin {
                let host_port = profile.server_host_port();
                check_pin_not_widened(cfg, &host_port, &pin, &[])?;
                add_pin(cfg, &host_port, pin);
            }
            if activate || cfg.active_tenant.is_none() {
                cfg.active_tenant = Some(profile.name.clone());
            }
            cfg.tenants.push(profile);
            Ok(())
        })?;
        Ok(cfg)
    }

    /// Replaces a saved tenant's settings (the name identifies it and cannot change). Tokens
    /// belong to the endpoints that issued them: when the server, API version, authority or
    /// client id changes, the tenant's tokens are deleted (it is signed out; nothing is sent to
    /// the new endpoints). Returns whether that happened, for the faces to say so.
    pub async fn update_tenant(&self, profile: TenantProfile) -> Result<TenantUpdate> {
        profile.validate()?;
        let stored = self.config()?.resolve(Some(&profile.name))?.clone();
        let flight = self.flight(&stored.name);
        let _in_process = flight.lock().await;
        let _cross_process = self.refresh_lock(&[stored.name.as_str()]).await?;
        let (cfg, before) = self.store.update(|cfg| {
            let slot = cfg
                .tenants
                .iter_mut()
                .find(|t| t.name.eq_ignore_ascii_case(&profile.name))
                .ok_or_else(|| Error::TenantNotFound(profile.name.clone()))?;
            let before = slot.clone();
            *slot = TenantProfile {
                name: before.name.clone(),
                ..profile
            };
            Ok(before)
        })?;
        let after = cfg.resolve(Some(&before.name))?;
        let mut signed_out = false;
        if !same_endpoints(&before, after) {
            let vault = self.vault(&cfg);
            let name = before.name.clone();
            let has = vault.load()?.tenants.contains_key(&name);
            if has {
                vault.update(move |d| d.tenants.remove(&name)).await?;
                signed_out = true;
            }
        }
        Ok(TenantUpdate {
            config: cfg,
            signed_out,
        })
    }

    /// Signs the tenant out (best effort) and forgets it.
    pub async fn remove_tenant(&self, name: &str) -> Result<()> {
        let cfg = self.config()?;
        let profile = cfg.resolve(Some(name))?.clone();
        match self.logout(Some(&profile.name)).await {
            // A vault nobody can read any more holds nothing that could come back.
            Ok(_) | Err(Error::VaultKeyMissing | Error::VaultCorrupt { .. }) => {}
            Err(e) => return Err(e),
        }
        self.store.update(|cfg| {
            cfg.tenants.retain(|t| t.name != profile.name);
            if cfg.active_tenant.as_deref() == Some(profile.name.as_str()) {
                cfg.active_tenant = None;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Saves the settings the desktop window edits (under the config lock, like every edit).
    pub fn set_desktop_settings(&self, s: crate::contract::DesktopSettings) -> Result<()> {
        self.store.update(|cfg| {
            s.apply_to(&mut cfg.settings);
            Ok(())
        })?;
        Ok(())
    }

    /// Makes a tenant the active one.
    pub fn switch(&self, name: &str) -> Result<String> {
        let (_, chosen) = self.store.update(|cfg| {
            let name = cfg.resolve(Some(name))?.name.clone();
            cfg.active_tenant = Some(name.clone());
            Ok(name)
        })?;
        Ok(chosen)
    }
}

/// What [`Engine::update_tenant`] did.
#[derive(Debug, Clone)]
pub struct TenantUpdate {
    /// The config as written by the update.
    pub config: Config,
    /// The endpoints changed and the tenant's tokens were deleted.
    pub signed_out: bool,
}

/// Whether two profiles send tokens to the same places (tokens are bound to their issuers): a
/// change that is not signs the tenant out ([`Engine::update_tenant`]).
pub fn same_endpoints(a: &TenantProfile, b: &TenantProfile) -> bool {
    a.name == b.name
        && a.server == b.server
        && a.api_version == b.api_version
        && a.authority == b.authority
        && a.client_id == b.client_id
        && a.role == b.role
}

/// A pin given with a new tenant (`tenant add --pin-sha256`, an import) must not change how its
/// server is trusted ([`Config::trusts_server`]): a pin beside other pins would let either
/// certificate carry this tenant's tokens, and a pin for a server trusted through certificate
/// authorities would replace them for every tenant on that `host:port` (pins are checked before
/// CAs). Both are refused, naming what is trusted now. `pending`: pins an import is about to add
/// for the same server.
pub(super) fn check_pin_not_widened(
    cfg: &Config,
    host_port: &str,
    pin: &str,
    pending: &[&String],
) -> Result<()> {
    let pins: Vec<&String> = cfg
        .pins_for(host_port)
        .iter()
        .chain(pending.iter().copied())
        .collect();
    if (!cfg.trusts_server(host_port) && pins.is_empty()) || pins.iter().any(|p| *p == pin) {
        return Ok(());
    }
    if pins.is_empty() {
        let cas = cfg.cas_for(host_port);
        return Err(Error::InvalidInput(format!(
            "the server {host_port} is trusted through the certificate authority with SHA-256 {}; the pin {pin} would replace that trust for every tenant on the server (a pin is checked before CAs). Leave the pin out to keep trusting the server through its CA, or change how the server is trusted with `tenant trust`",
            if cas.is_empty() { "(none readable in the config)".to_string() } else { cas.join(", ") }
        )));
    }
    let shown: Vec<&str> = pins.iter().map(|p| p.as_str()).collect();
    Err(Error::InvalidInput(format!(
        "the server {host_port} already trusts the certificate(s) with SHA-256 {}, not the pin you gave ({pin}); adding it would let either certificate carry this tenant's tokens. Leave the pin out to use the trusted certificate, or first check which certificate the server presents now and trust that one with `tenant trust`",
        shown.join(", ")
    )))
}

fn add_pin(cfg: &mut Config, host_port: &str, pin: String) {
    let pins = cfg
        .trusted_certificates
        .entry(host_port.to_string())
        .or_default();
    if !pins.contains(&pin) {
        pins.push(pin);
    }
}
