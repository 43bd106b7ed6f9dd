//! The trust of tenants' servers: probing a certificate, pinning it (from a dialog only the one
//! just seen), trusting certificate authorities, forgetting all of it, and the early pin check
//! before a sign-in. Pins and CAs are saved per `host:port`, shared by every tenant on it.

use super::*;
use crate::contract::TrustInfo;
use std::time::Instant;

/// How long a probe's result stands in for a new probe before a sign-in (the sign-in's own
/// connections enforce the pins anyway: this check only fails early, before the user approves).
const SEEN_FRESH: Duration = Duration::from_secs(60);

/// What the last examination of a tenant's server saw.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    host_port: String,
    sha256: String,
    at: Instant,
    /// Not yet used to pin: [`Engine::pin_examined_certificate`] accepts it once.
    pinnable: bool,
}

impl Engine {
    /// Examines the tenant's server certificate for a trust dialog: what the server presents and
    /// what this product makes of it (system or CA trusted, pinned, or a changed certificate).
    /// Remembers the fingerprint: it is the only one [`Engine::pin_examined_certificate`] will
    /// pin for this tenant, once.
    pub async fn examine_certificate(&self, name: Option<&str>) -> Result<TrustInfo> {
        let tenant = self.config()?.resolve(name)?.name.clone();
        let info = self.probe_certificate(Some(&tenant)).await?;
        let cfg = self.config()?;
        let pins = cfg.pins_for(&info.host_port);
        let pinned = pins.contains(&info.sha256);
        self.remember_seen(&tenant, &info, true);
        Ok(TrustInfo {
            pin_mismatch: !pins.is_empty() && !pinned,
            host_port: info.host_port,
            sha256: info.sha256,
            system_trusted: info.system_trusted,
            ca_trusted: info.ca_trusted,
            pinned,
        })
    }

    /// Pins `sha256` for the tenant's server only if it is the certificate the last
    /// [`Engine::examine_certificate`] of this tenant saw on its current server, and only once: a
    /// window cannot pin a fingerprint of its own choosing.
    pub fn pin_examined_certificate(&self, name: Option<&str>, sha256: &str) -> Result<()> {
        let cfg = self.config()?;
        let profile = cfg.resolve(name)?;
        let host_port = profile.server_host_port();
        let given = validate::sha256_pin(sha256)?;
        // Any attempt uses the examination up, a refused one too: a page cannot try fingerprints.
        let offered = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.get_mut(&profile.name).and_then(|s| {
                std::mem::take(&mut s.pinnable).then(|| (s.host_port.clone(), s.sha256.clone()))
            })
        };
        if offered != Some((host_port.clone(), given.clone())) {
            return Err(Error::CertificateNotProbed { host_port, given });
        }
        let pinned = self.pin_certificate(Some(&profile.name), &given);
        if pinned.is_err() {
            // Not pinned: the user may try again with what was examined.
            if let Some(s) = self
                .seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(&profile.name)
            {
                s.pinnable = s.sha256 == given;
            }
        }
        pinned
    }

    /// Before asking Microsoft for a code: when the tenant's server presents a certificate other
    /// than its pins, fails now with the mismatch (naming both) instead of after the user
    /// approved. A recent examination stands in for a new connection. A server that cannot be
    /// reached passes: the sign-in reports that in its own words.
    pub async fn check_pin_before_sign_in(&self, name: Option<&str>) -> Result<()> {
        let cfg = self.config()?;
        let profile = cfg.resolve(name)?;
        if profile.server.scheme() != "https" {
            return Ok(());
        }
        let host_port = profile.server_host_port();
        let pins = cfg.pins_for(&host_port);
        if pins.is_empty() {
            return Ok(());
        }
        let sha256 = match self.recently_seen(&profile.name, &host_port) {
            Some(sha) => sha,
            None => match self.probe_certificate(Some(&profile.name)).await {
                Ok(info) => {
                    self.remember_seen(&profile.name, &info, false);
                    info.sha256
                }
                Err(_) => return Ok(()),
            },
        };
        if pins.contains(&sha256) {
            return Ok(());
        }
        Err(Error::PinMismatch {
            host: host_port,
            expected: pins.join(" or "),
            actual: sha256,
        })
    }

    fn remember_seen(&self, tenant: &str, info: &CertificateInfo, pinnable: bool) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let keep_offer = seen
            .get(tenant)
            .is_some_and(|s| s.pinnable && s.sha256 == info.sha256);
        seen.insert(
            tenant.to_string(),
            Seen {
                host_port: info.host_port.clone(),
                sha256: info.sha256.clone(),
                at: Instant::now(),
                pinnable: pinnable || keep_offer,
            },
        );
    }

    fn recently_seen(&self, tenant: &str, host_port: &str) -> Option<String> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(tenant)
            .filter(|s| s.host_port == host_port && s.at.elapsed() < SEEN_FRESH)
            .map(|s| s.sha256.clone())
    }

    /// Fetches the tenant's server certificate for the trust dialog (nothing is pinned yet).
    pub async fn probe_certificate(&self, name: Option<&str>) -> Result<CertificateInfo> {
        let cfg = self.config()?;
        let profile = cfg.resolve(name)?;
        trust::probe(&self.clients()?.http, &profile.server).await
    }

    /// Pins a certificate fingerprint for the tenant's server (`host:port`), replacing the pins
    /// it had: trusting the certificate a server presents now ends the trust in the old one.
    pub fn pin_certificate(&self, name: Option<&str>, sha256: &str) -> Result<()> {
        let pin = validate::sha256_pin(sha256)?;
        let (cfg, ()) = self.store.update(|cfg| {
            let hp = cfg.resolve(name)?.server_host_port();
            cfg.trusted_certificates.insert(hp, vec![pin]);
            Ok(())
        })?;
        if let Some(c) = self.clients.get() {
            apply_trust(&c.http, &cfg);
        }
        Ok(())
    }

    /// Forgets the pins and certificate authorities trusted for the tenant's server
    /// (`host:port`, shared by every tenant on that server); it is then trusted only if the
    /// system's roots vouch for it.
    pub fn remove_trust(&self, name: Option<&str>) -> Result<RemovedTrust> {
        let (cfg, removed) = self.store.update(|cfg| {
            let host_port = cfg.resolve(name)?.server_host_port();
            let pins = cfg
                .trusted_certificates
                .remove(&host_port)
                .unwrap_or_default();
            let ca_sha256 = cfg.cas_for(&host_port);
            cfg.trusted_cas.remove(&host_port);
            let tenants = cfg
                .tenants
                .iter()
                .filter(|t| t.server_host_port() == host_port)
                .map(|t| t.name.clone())
                .collect();
            Ok(RemovedTrust {
                host_port,
                pins,
                ca_sha256,
                tenants,
            })
        })?;
        if let Some(c) = self.clients.get() {
            apply_trust(&c.http, &cfg);
        }
        Ok(removed)
    }

    /// Trusts the certificate authorities in `ca_pem` (PEM text; `file` names it in messages) for
    /// the tenant's server, once its certificate chain verifies against them: saved in the config
    /// (public certificates only), replacing earlier CAs and pins of that `host:port`.
    pub async fn trust_ca(&self, name: Option<&str>, ca_pem: &[u8], file: &str) -> Result<CaTrust> {
        let cas = tls::certificates_in(ca_pem);
        if cas.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            )));
        }
        let server = self.config()?.resolve(name)?.server.clone();
        let server_sha256 =
            trust::verify_against_cas(&self.clients()?.http, &server, &cas, file).await?;
        let host_port = validate::host_port(&server);
        let (cfg, replaced_pins) = self.store.update(|cfg| {
            let pems = cas.iter().map(|c| tls::to_pem(c)).collect();
            cfg.trusted_cas.insert(host_port.clone(), pems);
            Ok(cfg
                .trusted_certificates
                .remove(&host_port)
                .unwrap_or_default())
        })?;
        if let Some(c) = self.clients.get() {
            apply_trust(&c.http, &cfg);
        }
        Ok(CaTrust {
            host_port,
            ca_sha256: cas.iter().map(|c| tls::fingerprint(c)).collect(),
            server_sha256,
            replaced_pins,
        })
    }
}

/// What [`Engine::remove_trust`] forgot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemovedTrust {
    /// `host:port` of the tenant's server, whose trust was removed.
    pub host_port: String,
    /// Pins (SHA-256) that were trusted for it.
    pub pins: Vec<String>,
    /// SHA-256 of the CA certificates that were trusted for it.
    pub ca_sha256: Vec<String>,
    /// Tenants on that server (all affected).
    pub tenants: Vec<String>,
}

/// What [`Engine::trust_ca`] saved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaTrust {
    /// `host:port` the CAs are trusted for.
    pub host_port: String,
    /// SHA-256 (lowercase hex) of each CA certificate saved.
    pub ca_sha256: Vec<String>,
    /// SHA-256 of the server certificate that verified against them.
    pub server_sha256: String,
    /// Pins of that `host:port` that the CAs replaced.
    pub replaced_pins: Vec<String>,
}
