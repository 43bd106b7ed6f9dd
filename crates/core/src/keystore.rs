//! All access to the OS credential store (Secret Service, Keychain, Credential Manager) goes through
//! here: one namespaced service name, `NoEntry` as `None`, idempotent delete, and every call bounded
//! by a timeout (a locked collection or a missing Secret Service can otherwise hang forever).

use crate::error::{Error, Result};
use crate::secret::Secret;
use std::sync::mpsc;
use std::time::Duration;

/// Service name of every entry this product writes.
pub const SERVICE: &str = "vbm365-auth";

/// A place to keep small secrets by account name.
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// The secret stored for `account`; `None` when there is no entry. The OS keyring fails with
    /// [`Error::KeyringUnavailable`], [`Error::KeyringLocked`] or [`Error::KeyringTimeout`].
    fn get(&self, account: &str) -> Result<Option<Secret>>;
    /// Stores `value` for `account`, replacing what was there; fails as [`KeyStore::get`] does.
    fn set(&self, account: &str, value: &Secret) -> Result<()>;
    /// Deleting a missing entry succeeds.
    fn delete(&self, account: &str) -> Result<()>;
}

/// The OS keyring through the `keyring` crate, each call on its own thread with a timeout.
#[derive(Debug, Clone)]
pub struct OsKeyring {
    timeout: Duration,
}

impl OsKeyring {
    /// Timeout from `VBM365_AUTH_KEYRING_TIMEOUT_MS`, default 10 s (an unlock prompt may be up).
    pub fn from_env() -> Self {
        let ms = std::env::var("VBM365_AUTH_KEYRING_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(10_000);
        OsKeyring {
            timeout: Duration::from_millis(ms.max(1)),
        }
    }

    fn call<T: Send + 'static>(
        &self,
        account: &str,
        op: impl FnOnce(keyring::Entry) -> keyring::Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = mpsc::channel();
        let account = account.to_string();
        // A hung call keeps its thread; the process still answers within the timeout.
        std::thread::Builder::new()
            .name("keyring".into())
            .spawn(move || {
                let r = keyring::Entry::new(SERVICE, &account).and_then(op);
                let _ = tx.send(r);
            })
            .map_err(|e| Error::KeyringUnavailable(format!("cannot start a thread: {e}")))?;
        match rx.recv_timeout(self.timeout) {
            Ok(r) => r.map_err(map_keyring_error),
            Err(_) => Err(Error::KeyringTimeout(self.timeout)),
        }
    }
}

fn map_keyring_error(e: keyring::Error) -> Error {
    match e {
        keyring::Error::NoStorageAccess(inner) => Error::KeyringLocked(inner.to_string()),
        keyring::Error::PlatformFailure(inner) => Error::KeyringUnavailable(inner.to_string()),
        other => Error::KeyringUnavailable(other.to_string()),
    }
}

impl KeyStore for OsKeyring {
    fn get(&self, account: &str) -> Result<Option<Secret>> {
        self.call(account, |e| match e.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(err),
        })
    }

    fn set(&self, account: &str, value: &Secret) -> Result<()> {
        let v = value.clone();
        self.call(account, move |e| e.set_password(v.expose()))
    }

    fn delete(&self, account: &str) -> Result<()> {
        self.call(account, |e| match e.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(err),
        })
    }
}
