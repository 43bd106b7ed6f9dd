//! The session manager: one engine over config, vault and protocol clients, shared by the CLI and
//! the desktop app. It knows each tenant's state, signs in with the device code, refreshes with
//! single flight (in-process mutex + cross-process file lock), and signs in again silently with the
//! Microsoft refresh token when VBM365 refuses a refresh.

use crate::config::{Config, ConfigStore, TenantProfile};
use crate::error::{Error, Result};
use crate::failure::{self, RetryPolicy, Verdict};
use crate::fsutil::FileLock;
use crate::http::{Http, Timeouts};
use crate::keystore::{KeyStore, OsKeyring};
pub use crate::msid::SignInEvent;
use crate::msid::{self, DeviceAuthorization, IdentityClient, MsTokenResponse};
use crate::secret::Secret;
use crate::tls;
use crate::trust::{self, CertificateInfo};
use crate::validate;
use crate::vault::{Protection, TenantSecrets, Vault, VaultData};
use crate::vbm::{ServiceInstance, VbmClient, VbmTokens};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use url::Url;

/// Refresh locks are spread over this many files (bounded file descriptors for 1,000s of tenants;
/// two tenants sharing a file only serialize, they never refresh twice).
const LOCK_BUCKETS: u64 = 64;
/// How long a refresh waits for another process's refresh of the same tenant.
const REFRESH_LOCK_WAIT: Duration = Duration::from_secs(120);
/// Concurrent token requests of a batch refresh.
const BATCH_CONCURRENCY: usize = 128;

/// Where secrets go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageChoice {
    /// The OS keyring, unless the config asks for a plain file.
    Auto,
    Keyring,
    PlainFile,
}

impl StorageChoice {
    /// `VBM365_AUTH_STORAGE=file|keyring`, else `Auto`.
    pub fn from_env() -> Result<Self> {
        match std::env::var("VBM365_AUTH_STORAGE")
            .ok()
            .as_deref()
            .map(str::trim)
        {
            None | Some("") => Ok(StorageChoice::Auto),
            Some("file") | Some("plain") => Ok(StorageChoice::PlainFile),
            Some("keyring") => Ok(StorageChoice::Keyring),
            Some(other) => Err(Error::InvalidInput(format!(
                "VBM365_AUTH_STORAGE={other}: use 'keyring' or 'file'"
            ))),
        }
    }
}

/// How to open an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub config_dir: PathBuf,
    pub storage: StorageChoice,
    pub timeouts: Timeouts,
    /// How token requests retry transient failures (see [`crate::failure`]).
    pub retry: RetryPolicy,
    /// Replaces the OS keyring (embedding, tests of the vault format).
    pub keystore: Option<Arc<dyn KeyStore>>,
}

impl EngineOptions {
    /// Options from the environment: `VBM365_AUTH_CONFIG_DIR` (or `dir`), `VBM365_AUTH_STORAGE`,
    /// `VBM365_AUTH_HTTP_TIMEOUT`, `VBM365_AUTH_RETRY_BUDGET`.
    pub fn from_env(dir: Option<PathBuf>) -> Result<Self> {
        Ok(EngineOptions {
            config_dir: match dir {
                Some(d) => d,
                None => default_config_dir()?,
            },
            storage: StorageChoice::from_env()?,
            timeouts: Timeouts::from_env()?,
            retry: RetryPolicy::from_env()?,
            keystore: None,
        })
    }
}

/// `$VBM365_AUTH_CONFIG_DIR`, else the platform config dir + `vbm365-auth`.
pub fn default_config_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("VBM365_AUTH_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    dirs::config_dir()
        .map(|d| d.join("vbm365-auth"))
        .ok_or_else(|| {
            Error::InvalidInput(
                "no config directory on this system: set VBM365_AUTH_CONFIG_DIR".into(),
            )
        })
}

/// A tenant's state as shown to people and scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantState {
    SignedIn,
    SignedOut,
    /// The access token expired; the refresh token can still renew it.
    Expired,
    SignInRequired,
    Error,
}

impl TenantState {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantState::SignedIn => "signed_in",
            TenantState::SignedOut => "signed_out",
            TenantState::Expired => "expired",
            TenantState::SignInRequired => "sign_in_required",
            TenantState::Error => "error",
        }
    }
}

/// One row of `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantStatus {
    pub profile: TenantProfile,
    pub active: bool,
    pub state: TenantState,
    pub expires_at: Option<DateTime<Utc>>,
    pub user_name: Option<String>,
    /// Why sign-in is required, or the error.
    pub detail: Option<String>,
}

/// A started device-code sign-in.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    pub profile: TenantProfile,
    pub authorization: DeviceAuthorization,
    /// The verification URI if it is safe to open (docs/protocol.md §1), else the reason it is not.
    pub openable_uri: std::result::Result<Url, String>,
}

/// A token handed out by [`Engine::token`].
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub tenant: String,
    pub access_token: Secret,
    pub token_type: String,
    pub expires_at: DateTime<Utc>,
}

/// What a renewal produced, before it is stored.
enum Renewal {
    Renewed {
        tokens: VbmTokens,
        ms_refresh: Option<Option<Secret>>,
    },
    /// The VBM365 tokens are dead. `ms_refresh`: a Microsoft refresh token rotated on the way,
    /// kept (a later refresh or sign-in can still use it).
    SignInRequired {
        reason: String,
        ms_refresh: Option<Secret>,
    },
    /// Nothing says the tokens are dead (network, certificate, garbled reply): keep them, and keep
    /// a Microsoft refresh token rotated on the way.
    Failed {
        error: Error,
        attempts: u32,
        ms_refresh: Option<Secret>,
    },
}

/// The protocol clients over the process's one HTTP client.
#[derive(Debug)]
struct Clients {
    http: Http,
    ms: IdentityClient,
    vbm: VbmClient,
}

/// The engine.
#[derive(Debug)]
pub struct Engine {
    dir: PathBuf,
    store: ConfigStore,
    storage: StorageChoice,
    keystore: Option<Arc<dyn KeyStore>>,
    timeouts: Timeouts,
    retry: RetryPolicy,
    /// Built on first network use: `token` with a valid stored token never pays for TLS setup.
    clients: OnceLock<Clients>,
    vault: OnceLock<Vault>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Engine {
    pub fn open(opts: EngineOptions) -> Result<Engine> {
        let store = ConfigStore::new(&opts.config_dir);
        Ok(Engine {
            timeouts: opts.timeouts,
            retry: opts.retry,
            clients: OnceLock::new(),
            store,
            dir: opts.config_dir,
            storage: opts.storage,
            keystore: opts.keystore,
            vault: OnceLock::new(),
            flights: Mutex::new(HashMap::new()),
        })
    }

    pub fn config_dir(&self) -> &Path {
        &self.dir
    }

    /// The config as it is on disk now (another process may have changed it); pins are applied to
    /// the HTTP client.
    pub fn config(&self) -> Result<Config> {
        let cfg = self.store.load()?;
        if let Some(c) = self.clients.get() {
            apply_trust(&c.http, &cfg);
        }
        Ok(cfg)
    }

    fn clients(&self) -> Result<&Clients> {
        if let Some(c) = self.clients.get() {
            return Ok(c);
        }
        let http = Http::new(self.timeouts, &[])?;
        apply_trust(&http, &self.store.load()?);
        let _ = self.clients.set(Clients {
            ms: IdentityClient::new(http.clone()),
            vbm: VbmClient::new(http.clone()),
            http,
        });
        self.clients
            .get()
            .ok_or_else(|| Error::InvalidInput("HTTP client setup failed".into()))
    }

    /// Whether secrets go to a plain file (callers warn the user).
    pub fn uses_plaintext_storage(&self) -> Result<bool> {
        let cfg = self.config()?;
        Ok(self.plaintext(&cfg))
    }

    fn plaintext(&self, cfg: &Config) -> bool {
        match self.storage {
            StorageChoice::PlainFile => true,
            StorageChoice::Keyring => false,
            StorageChoice::Auto => cfg.settings.plaintext_storage,
        }
    }

    fn vault(&self, cfg: &Config) -> &Vault {
        self.vault.get_or_init(|| {
            let protection = if self.plaintext(cfg) {
                Protection::PlainFile
            } else {
                Protection::Keyring(
                    self.keystore
                        .clone()
                        .unwrap_or_else(|| Arc::new(OsKeyring::from_env())),
                )
            };
            Vault::new(&self.dir, &cfg.vault_id, protection)
        })
    }

    // ----- tenants -------------------------------------------------------------------------

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
                check_pin_not_widened(cfg, &host_port, &pin)?;
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

    /// Makes a tenant the active one.
    pub fn switch(&self, name: &str) -> Result<String> {
        let (_, chosen) = self.store.update(|cfg| {
            let name = cfg.resolve(Some(name))?.name.clone();
            cfg.active_tenant = Some(name.clone());
            Ok(name)
        })?;
        Ok(chosen)
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

    // ----- state ---------------------------------------------------------------------------

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

    // ----- sign-in -------------------------------------------------------------------------

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

    // ----- tokens --------------------------------------------------------------------------

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
        let mut out = Vec::new();
        let mut jobs = Vec::new();
        for profile in cfg.tenants.iter().filter(|t| locked.contains(&t.name)) {
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
        // Renewals run concurrently; a committer stores whatever has finished in one vault write
        // (group commit), so 1,000 tenants cost a few dozen writes, not 1,000.
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
        out.extend(stored?);
        Ok(out)
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
        ms_rt: &Secret,
    ) -> Renewal {
        let tried = failure::retry(&self.retry, || clients.ms.refresh(profile, ms_rt)).await;
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
        let tried = failure::retry(&self.retry, || {
            clients.vbm.exchange_assertion(profile, &ms_token.raw)
        })
        .await;
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

    // ----- sign-out and server calls -------------------------------------------------------

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

    // ----- locks ---------------------------------------------------------------------------

    fn flight(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.flights
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// Takes the cross-process refresh locks of these tenants (in a fixed order: no deadlock).
    async fn refresh_lock(&self, names: &[&str]) -> Result<Vec<FileLock>> {
        let mut buckets: Vec<u64> = names.iter().map(|n| bucket(n)).collect();
        buckets.sort_unstable();
        buckets.dedup();
        let mut held = Vec::with_capacity(buckets.len());
        for b in buckets {
            let path = self.dir.join("locks").join(format!("refresh-{b:02}.lock"));
            held.push(FileLock::acquire(&path, "a token refresh", REFRESH_LOCK_WAIT).await?);
        }
        Ok(held)
    }
}

/// What [`Engine::remove_trust`] forgot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemovedTrust {
    pub host_port: String,
    /// Pins (SHA-256) that were trusted for it.
    pub pins: Vec<String>,
    /// SHA-256 of the CA certificates that were trusted for it.
    pub ca_sha256: Vec<String>,
    /// Tenants on that server (all affected).
    pub tenants: Vec<String>,
}

/// What [`Engine::update_tenant`] did.
#[derive(Debug, Clone)]
pub struct TenantUpdate {
    pub config: Config,
    /// The endpoints changed and the tenant's tokens were deleted.
    pub signed_out: bool,
}

/// Whether two profiles send tokens to the same places (tokens are bound to their issuers).
fn same_endpoints(a: &TenantProfile, b: &TenantProfile) -> bool {
    a.name == b.name
        && a.server == b.server
        && a.api_version == b.api_version
        && a.authority == b.authority
        && a.client_id == b.client_id
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

fn bucket(name: &str) -> u64 {
    let h = Sha256::digest(name.as_bytes());
    u64::from_le_bytes(h[..8].try_into().unwrap_or_default()) % LOCK_BUCKETS
}

/// Hands the config's pins and trusted CAs to the HTTP client's verifier.
fn apply_trust(http: &Http, cfg: &Config) {
    http.pins().replace(&cfg.trusted_certificates);
    http.pins().replace_cas(&cfg.trusted_cas);
}

/// A pin given with a new tenant must not widen what the server is trusted with: if the server
/// already has other pins, the certificate the user named is not the only one that would carry
/// this tenant's tokens, so the pin is refused (naming the trusted ones) instead of added.
fn check_pin_not_widened(cfg: &Config, host_port: &str, pin: &str) -> Result<()> {
    let existing = cfg.pins_for(host_port);
    if existing.is_empty() || existing.iter().any(|p| p == pin) {
        return Ok(());
    }
    Err(Error::InvalidInput(format!(
        "the server {host_port} already trusts the certificate(s) with SHA-256 {}, not the pin you gave ({pin}); adding it would let either certificate carry this tenant's tokens. Add the tenant without a pin to use the trusted certificate, or first check which certificate the server presents now and pin that one (`vbm365-auth tenant trust <TENANT>`)",
        existing.join(", ")
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

fn remembered(profile: &TenantProfile, t: &MsTokenResponse) -> Option<Secret> {
    profile
        .remember_ms_sign_in
        .then(|| t.refresh_token.clone())
        .flatten()
}

fn valid_for(t: &VbmTokens, d: Duration) -> bool {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| Utc::now().checked_add_signed(d))
        .is_some_and(|until| t.expires_at > until)
}

fn state_of(s: &TenantSecrets, now: DateTime<Utc>) -> TenantState {
    if s.sign_in_required.is_some() {
        return TenantState::SignInRequired;
    }
    match &s.vbm {
        None => TenantState::SignedOut,
        Some(t) if t.expires_at > now => TenantState::SignedIn,
        Some(_) => TenantState::Expired,
    }
}

fn access(profile: &TenantProfile, t: &VbmTokens) -> AccessToken {
    AccessToken {
        tenant: profile.name.clone(),
        access_token: t.access_token.clone(),
        token_type: t.token_type.clone(),
        expires_at: t.expires_at,
    }
}

fn sign_in_required(profile: &TenantProfile, reason: &str) -> Error {
    Error::SignInRequired {
        tenant: profile.name.clone(),
        reason: reason.to_string(),
    }
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
