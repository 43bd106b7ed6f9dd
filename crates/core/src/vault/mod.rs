//! The token vault: every tenant's VBM365 token pair, Microsoft refresh token and expiry times.
//!
//! # Why it is shaped this way
//! - **One key in the keyring, the tokens in an encrypted file.** A VBM365 refresh rotates the
//!   access *and* refresh token together, and the pair must be replaced atomically: with one keyring
//!   entry per token a crash between two writes would keep a new access token beside an already
//!   consumed refresh token. Keyrings have no transactions, but a file can be replaced atomically
//!   (write a temporary file, fsync, rename). So the whole vault is one file, sealed with
//!   AES-256-GCM (a fresh random nonce per write; the header and vault id are authenticated), and the
//!   only keyring entry is its 256-bit key.
//! - **Size limits.** Windows Credential Manager holds at most 2,560 bytes per entry (about 1,280
//!   characters, as `keyring` stores UTF-16) while Microsoft refresh tokens alone can be several KB;
//!   the key is 44 characters of base64 and fits every backend.
//! - **Concurrency.** Writers take a cross-process lock (`locks/vault.lock`) around
//!   read-modify-write, so the app and any number of CLI processes can update different tenants
//!   without losing each other's changes. Readers need no lock: a rename is atomic.
//! - **Plain file on request only.** On a headless host with no Secret Service the user may ask for
//!   `VBM365_AUTH_STORAGE=file` (or the `plaintext_storage` setting): then the same JSON goes to
//!   `secrets.json` with mode 0600, unencrypted, and every command warns about it.

use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock};
use crate::keystore::KeyStore;
use crate::secret::{MsRefreshToken, Secret};
use crate::vbm::VbmTokens;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zeroize::Zeroizing;

pub(crate) mod stored;

const MAGIC: &[u8; 8] = b"VBMVAULT";
const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
/// How long a read trusts the key it read from the keyring (writes always read it again).
const KEY_CACHE_AGE: Duration = Duration::from_secs(2);
/// How long a writer waits for another process's vault write.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Secrets of one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantSecrets {
    /// The VBM365 access/refresh pair.
    pub vbm: Option<VbmTokens>,
    /// Microsoft refresh token for silent re-sign-in ("Remember Microsoft sign-in").
    pub ms_refresh_token: Option<MsRefreshToken>,
    /// Set when refresh and silent re-sign-in both failed: why the user must sign in.
    pub sign_in_required: Option<String>,
    /// Bumped on every change of this entry; lets a process that waited for a lock see that another
    /// process stored new tokens meanwhile.
    pub generation: u64,
}

/// The decrypted vault. Not serializable itself: `stored` is the one place that writes secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VaultData {
    /// Secrets by tenant name, spelled as in the config; a tenant without an entry has no secrets.
    pub tenants: BTreeMap<String, TenantSecrets>,
}

/// Where the vault lives and how it is protected.
#[derive(Debug, Clone)]
pub enum Protection {
    /// Encrypted file, key in the OS credential store.
    Keyring(Arc<dyn KeyStore>),
    /// Plain JSON file with mode 0600 (explicit opt-in).
    PlainFile,
}

/// The token vault of one config directory (see the module doc). Reads take no lock; every write is
/// a read-modify-write under `locks/vault.lock`.
#[derive(Debug)]
pub struct Vault {
    path: PathBuf,
    lock_path: PathBuf,
    account: String,
    vault_id: String,
    protection: Protection,
    /// The key as last read from the keyring, and when.
    key: Mutex<Option<(Zeroizing<[u8; 32]>, std::time::Instant)>>,
}

impl Vault {
    /// The vault in `dir`: `vault.bin` with its key in keyring entry `vault-key/{vault_id}`, or
    /// `secrets.json` for [`Protection::PlainFile`]. Touches no file and no keyring.
    pub fn new(dir: &Path, vault_id: &str, protection: Protection) -> Self {
        let file = match protection {
            Protection::Keyring(_) => "vault.bin",
            Protection::PlainFile => "secrets.json",
        };
        Vault {
            path: dir.join(file),
            lock_path: dir.join("locks").join("vault.lock"),
            account: format!("vault-key/{vault_id}"),
            vault_id: vault_id.to_string(),
            protection,
            key: Mutex::new(None),
        }
    }

    /// The vault file (it may not exist yet).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether secrets go to the unencrypted `secrets.json`.
    pub fn is_plaintext(&self) -> bool {
        matches!(self.protection, Protection::PlainFile)
    }

    /// The current contents. A vault that was never written is empty and needs no keyring access.
    pub fn load(&self) -> Result<VaultData> {
        // A keyring call may take up to its timeout: never on an async worker.
        fsutil::blocking(|| match fsutil::read_optional(&self.path)? {
            None => Ok(VaultData::default()),
            Some(bytes) => self.decode(&bytes),
        })
    }

    /// Read-modify-write under the cross-process vault lock. The closure sees the newest contents.
    pub async fn update<T>(&self, edit: impl FnOnce(&mut VaultData) -> T) -> Result<T> {
        let _lock = FileLock::acquire(&self.lock_path, "the token vault", LOCK_WAIT).await?;
        // Every write reads the key from the keyring again: another process may have deleted it
        // (`logout --all`) or replaced it, and a vault must never be sealed under a key that is no
        // longer there (its tokens would be lost for everyone).
        self.forget_key();
        let mut data = self.load()?;
        let out = edit(&mut data);
        self.store(&data)?;
        Ok(out)
    }

    /// Deletes the vault file and its key (sign out of everything).
    pub async fn destroy(&self) -> Result<()> {
        let _lock = FileLock::acquire(&self.lock_path, "the token vault", LOCK_WAIT).await?;
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&self.path, e)),
        }
        if let Protection::Keyring(ks) = &self.protection {
            fsutil::blocking(|| ks.delete(&self.account))?;
        }
        self.forget_key();
        Ok(())
    }

    /// Checks at once that the vault can be read and written (the keyring answers, the key
    /// matches the file), before a sign-in asks the user for anything.
    pub fn check_writable(&self) -> Result<()> {
        if self.path.exists() {
            return self.load().map(|_| ());
        }
        if let Protection::Keyring(ks) = &self.protection {
            fsutil::blocking(|| ks.get(&self.account))?;
        }
        Ok(())
    }

    fn forget_key(&self) {
        *self.key.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn store(&self, data: &VaultData) -> Result<()> {
        fsutil::blocking(|| self.store_now(data))
    }

    fn store_now(&self, data: &VaultData) -> Result<()> {
        let json = Zeroizing::new(stored::to_json(data).map_err(|e| self.corrupt(e.to_string()))?);
        let bytes = match &self.protection {
            Protection::PlainFile => json.to_vec(),
            Protection::Keyring(_) => {
                let key = self.key(true)?;
                seal(&key, &self.vault_id, &json)?
            }
        };
        fsutil::write_atomic(&self.path, &bytes)
    }

    fn decode(&self, bytes: &[u8]) -> Result<VaultData> {
        let json = match &self.protection {
            Protection::PlainFile => Zeroizing::new(bytes.to_vec()),
            Protection::Keyring(_) => {
                let key = self.key(false)?;
                match open(&key, &self.vault_id, bytes) {
                    Ok(json) => json,
                    Err(_) => {
                        // The key may have changed under this process (another one signed out of
                        // everything and in again): read it from the keyring once more.
                        self.forget_key();
                        let key = self.key(false)?;
                        open(&key, &self.vault_id, bytes).map_err(|d| self.corrupt(d))?
                    }
                }
            }
        };
        stored::from_json(&json).map_err(|e| self.corrupt(e.to_string()))
    }

    fn corrupt(&self, detail: String) -> Error {
        Error::VaultCorrupt {
            path: self.path.display().to_string(),
            detail,
        }
    }

    /// The vault key, from the in-process cache or the keyring; `create` makes one when the keyring
    /// has none (first write).
    fn key(&self, create: bool) -> Result<Zeroizing<[u8; 32]>> {
        let Protection::Keyring(ks) = &self.protection else {
            unreachable!("plain files have no key")
        };
        let mut cached = self.key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, at)) = cached.as_ref() {
            // Reads trust a recent lookup; a key deleted meanwhile is noticed within this time.
            if at.elapsed() < KEY_CACHE_AGE {
                return Ok(k.clone());
            }
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let key = match ks.get(&self.account)? {
            Some(s) => {
                let raw = Zeroizing::new(b64.decode(s.expose()).map_err(|_| {
                    self.corrupt("the vault key in the keyring is not valid base64".into())
                })?);
                let arr: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
                    self.corrupt("the vault key in the keyring has the wrong length".into())
                })?;
                Zeroizing::new(arr)
            }
            None if create && !self.path.exists() => {
                let k = Zeroizing::new(rand::random::<[u8; 32]>());
                ks.set(&self.account, &Secret::new(b64.encode(*k)))?;
                k
            }
            None => return Err(Error::VaultKeyMissing),
        };
        *cached = Some((key.clone(), std::time::Instant::now()));
        Ok(key)
    }
}

fn aad(vault_id: &str) -> Vec<u8> {
    let mut a = MAGIC.to_vec();
    a.push(FORMAT);
    a.extend_from_slice(vault_id.as_bytes());
    a
}

fn seal(key: &[u8; 32], vault_id: &str, plain: &[u8]) -> Result<Vec<u8>> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce_bytes: [u8; NONCE_LEN] = rand::random();
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce_bytes),
            Payload {
                msg: plain,
                aad: &aad(vault_id),
            },
        )
        .map_err(|_| Error::VaultCorrupt {
            path: String::new(),
            detail: "encryption failed".into(),
        })?;
    let mut out = Vec::with_capacity(MAGIC.len() + 1 + NONCE_LEN + ct.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open(
    key: &[u8; 32],
    vault_id: &str,
    bytes: &[u8],
) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    let head = MAGIC.len() + 1;
    if bytes.len() < head + NONCE_LEN + 16 || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a vbm365-auth vault file".into());
    }
    if bytes[MAGIC.len()] != FORMAT {
        return Err(format!("unknown vault format {}", bytes[MAGIC.len()]));
    }
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = Nonce::from_slice(&bytes[head..head + NONCE_LEN]);
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: &bytes[head + NONCE_LEN..],
                aad: &aad(vault_id),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| {
            "it does not decrypt with the key in the keyring (wrong key or damaged file)".into()
        })
}

#[cfg(test)]
pub(crate) mod tests;
