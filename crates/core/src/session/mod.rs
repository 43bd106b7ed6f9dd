//! The session manager: one engine over config, vault and protocol clients, shared by the CLI and
//! the desktop app. It knows each tenant's state, signs in with the device code, refreshes with
//! single flight (in-process mutex + cross-process file lock), and signs in again silently with the
//! Microsoft refresh token when VBM365 refuses a refresh.
//!
//! The engine's methods live by topic: `tenants` (saved tenants), `certs` (their servers' trust),
//! `signin` (device code → assertion → tokens), `refresh` (single flight, renewal, silent
//! re-sign-in, group commit), `signout`, `status` (state and the connection test). This file
//! holds the engine itself, its options and the locks every topic shares.

mod api;
mod browser;
mod certs;
mod check;
mod exchange;
mod paging;
mod refresh;
mod signin;
mod signout;
mod status;
mod tenants;
mod transfer;

pub use crate::contract::{ImportReport, InvalidEntry};
pub use api::{ApiRequest, ApiResponse};
pub use browser::{browser_timeout_from_env, BrowserSignIn, DEFAULT_BROWSER_TIMEOUT};
pub use certs::{CaTrust, RemovedTrust};
pub use check::{CertificateCheck, Problem, TenantCheck, TrustKind};
use signin::remembered;
pub use signin::PendingSignIn;
pub use tenants::same_endpoints;
pub use tenants::TenantUpdate;
pub use transfer::{authority, TenantEntry, TenantFile, TENANT_FILE_FORMAT, TENANT_FILE_VERSION};

use crate::config::{Config, ConfigStore, TenantProfile};
use crate::error::{Error, Result};
use crate::failure::{self, RetryPolicy, Verdict};
use crate::fsutil::FileLock;
use crate::http::{Http, Timeouts};
use crate::keystore::{KeyStore, OsKeyring};
pub use crate::msid::SignInEvent;
use crate::msid::{self, DeviceAuthorization, IdentityClient, MsTokenResponse};
use crate::secret::{MsRefreshToken, VbmAccessToken};
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
/// Where secrets go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageChoice {
    /// The OS keyring, unless the config asks for a plain file.
    Auto,
    /// The OS keyring, whatever the config says (`VBM365_AUTH_STORAGE=keyring`).
    Keyring,
    /// The plain file `secrets.json`, mode 0600, unencrypted (`VBM365_AUTH_STORAGE=file`).
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
    /// Directory of `config.json`, the vault and `locks/`.
    pub config_dir: PathBuf,
    /// Where secrets go.
    pub storage: StorageChoice,
    /// Timeouts of every HTTP request.
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
    /// A VBM365 token pair is stored and its access token has not expired.
    SignedIn,
    /// No VBM365 tokens are stored: never signed in, or signed out.
    SignedOut,
    /// The access token expired; the refresh token can still renew it.
    Expired,
    /// The refresh tokens were refused; only an interactive sign-in helps ([`TenantStatus::detail`]
    /// says why).
    SignInRequired,
    /// The vault could not be read (keyring locked or unavailable, key missing, file corrupt);
    /// [`TenantStatus::detail`] holds the error.
    Error,
}

impl TenantState {
    /// The snake_case name, the same as its serialized form: `signed_in`, `signed_out`, `expired`,
    /// `sign_in_required`, `error`.
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
    /// The saved tenant.
    pub profile: TenantProfile,
    /// Whether it is the active tenant.
    pub active: bool,
    /// Its state when the vault was read.
    pub state: TenantState,
    /// When the stored access token expires (or expired); `None` when no VBM365 tokens are stored
    /// or the vault cannot be read.
    pub expires_at: Option<DateTime<Utc>>,
    /// The user name VBM365 gave with the tokens (`userName`); `None` when it gave none or no
    /// tokens are stored.
    pub user_name: Option<String>,
    /// Why sign-in is required, or the error.
    pub detail: Option<String>,
}

/// A token handed out by [`Engine::token`].
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The tenant's name as saved.
    pub tenant: String,
    /// The bearer token for the VBM365 REST API.
    pub access_token: VbmAccessToken,
    /// The token type the server named, `bearer` when it named none.
    pub token_type: String,
    /// When the access token expires ([`VbmTokens::expires_at`]).
    pub expires_at: DateTime<Utc>,
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
    /// The last certificate each tenant's server presented to a probe, by tenant name.
    seen: Mutex<HashMap<String, certs::Seen>>,
}

impl Engine {
    /// An engine over `opts.config_dir`. Reads no file and opens no connection: the config is read
    /// on every call, the HTTP client and the vault are set up on first use.
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
            seen: Mutex::new(HashMap::new()),
        })
    }

    /// Directory of `config.json`, the vault and `locks/`.
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

fn bucket(name: &str) -> u64 {
    let h = Sha256::digest(name.as_bytes());
    u64::from_le_bytes(h[..8].try_into().unwrap_or_default()) % LOCK_BUCKETS
}

/// Hands the config's pins and trusted CAs to the HTTP client's verifier.
fn apply_trust(http: &Http, cfg: &Config) {
    http.pins().replace(&cfg.trusted_certificates);
    http.pins().replace_cas(&cfg.trusted_cas);
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
