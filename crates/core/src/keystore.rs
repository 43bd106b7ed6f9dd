//! All access to the OS credential store (Secret Service, Keychain, Credential Manager) goes through
//! here: one namespaced service name, `NoEntry` as `None`, idempotent delete, and every call bounded
//! by a timeout (a locked collection or a missing Secret Service can otherwise hang forever).

use crate::error::{Error, Result};
use crate::secret::Secret;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Service name of every entry this product writes.
pub const SERVICE: &str = "vbm365-auth";

/// Most characters of a stored value: Windows Credential Manager holds at most 2,560 bytes
/// (`CRED_MAX_CREDENTIAL_BLOB_SIZE`), and the keyring crate stores the value as UTF-16 there. The
/// limit applies on every platform, so a value too long for Windows fails the tests on Linux too.
/// (The vault key, the only value stored, has 44.)
pub const MAX_VALUE_UTF16_UNITS: usize = 1280;

/// Most characters of an account name: Credential Manager's `CRED_MAX_USERNAME_LENGTH` (513) is
/// the smallest of the limits of the three stores. (Vault key accounts have 42.)
pub const MAX_ACCOUNT_CHARS: usize = 513;

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

    /// Runs `op` on a thread of its own and waits at most the timeout for it. A call the Secret
    /// Service client gave up on after its own 2 s ([`secret_service_no_reply`]: a busy or
    /// briefly stalled keyring daemon) is made again while the timeout lasts, so that the
    /// timeout, not the library's, decides when the keyring counts as not answering. Every
    /// operation is safe to repeat: a read, a write of the same value, a delete that accepts a
    /// missing entry.
    fn call<T: Send + 'static>(
        &self,
        account: &str,
        op: impl Fn(keyring::Entry) -> keyring::Result<T> + Send + 'static,
    ) -> Result<T> {
        if account.chars().count() > MAX_ACCOUNT_CHARS {
            return Err(Error::InvalidInput(format!(
                "a keyring account name of {} characters is longer than the OS credential store \
                 accepts (at most {MAX_ACCOUNT_CHARS})",
                account.chars().count()
            )));
        }
        let (tx, rx) = mpsc::channel();
        let account = account.to_string();
        let deadline = Instant::now() + self.timeout;
        // A hung call keeps its thread; the process still answers within the timeout.
        std::thread::Builder::new()
            .name("keyring".into())
            .spawn(move || loop {
                let r = keyring::Entry::new(SERVICE, &account).and_then(&op);
                match r {
                    Err(e) if secret_service_no_reply(&e) && Instant::now() < deadline => {
                        tracing::debug!("the Secret Service did not answer in time: asking again");
                        std::thread::sleep(NO_REPLY_PAUSE);
                    }
                    r => {
                        let _ = tx.send(r);
                        return;
                    }
                }
            })
            .map_err(|e| Error::KeyringUnavailable(format!("cannot start a thread: {e}")))?;
        match rx.recv_timeout(self.timeout) {
            Ok(r) => r.map_err(map_keyring_error),
            Err(_) => Err(Error::KeyringTimeout(self.timeout)),
        }
    }
}

/// Pause before a call the Secret Service did not answer is made again.
const NO_REPLY_PAUSE: Duration = Duration::from_millis(100);

/// Whether the Secret Service client gave up waiting for the keyring daemon's reply
/// (`org.freedesktop.DBus.Error.NoReply`: `dbus-secret-service` waits 2 s for each D-Bus call),
/// as opposed to an answer that refused or failed the call.
#[cfg(target_os = "linux")]
fn secret_service_no_reply(e: &keyring::Error) -> bool {
    let (keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner)) = e
    else {
        return false;
    };
    matches!(
        inner.downcast_ref::<dbus_secret_service::Error>(),
        Some(dbus_secret_service::Error::Dbus(d))
            if d.name() == Some("org.freedesktop.DBus.Error.NoReply")
    )
}

#[cfg(not(target_os = "linux"))]
fn secret_service_no_reply(_: &keyring::Error) -> bool {
    false
}

fn map_keyring_error(e: keyring::Error) -> Error {
    match e {
        // Credential Manager has no lock; it refuses access (ERROR_NO_SUCH_LOGON_SESSION) to a
        // process without the user's logon session, e.g. a scheduled task set to "Do not store
        // password" or a service account without a loaded profile.
        #[cfg(windows)]
        keyring::Error::NoStorageAccess(inner) => Error::KeyringUnavailable(format!(
            "Windows Credential Manager cannot be used without the user's logon session \
             (a scheduled task set to \"Do not store password\", or a service): {inner}"
        )),
        #[cfg(not(windows))]
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
        check_value_length(value)?;
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

/// Refuses a value longer than Windows Credential Manager holds ([`MAX_VALUE_UTF16_UNITS`]).
fn check_value_length(value: &Secret) -> Result<()> {
    let units = value.expose().encode_utf16().count();
    if units > MAX_VALUE_UTF16_UNITS {
        return Err(Error::InvalidInput(format!(
            "a secret of {units} characters is longer than the OS credential store holds (at \
             most {MAX_VALUE_UTF16_UNITS}, the limit of Windows Credential Manager)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn only_a_secret_service_call_left_unanswered_is_asked_again() {
        let dbus_error = |name: &str| {
            keyring::Error::PlatformFailure(Box::new(dbus_secret_service::Error::Dbus(
                dbus::Error::new_custom(name, "Did not receive a reply."),
            )))
        };
        assert!(secret_service_no_reply(&dbus_error(
            "org.freedesktop.DBus.Error.NoReply"
        )));
        // An answer, even a failing one, is final.
        assert!(!secret_service_no_reply(&dbus_error(
            "org.freedesktop.DBus.Error.ServiceUnknown"
        )));
        assert!(!secret_service_no_reply(&keyring::Error::NoStorageAccess(
            Box::new(dbus_secret_service::Error::Locked)
        )));
        assert!(!secret_service_no_reply(&keyring::Error::PlatformFailure(
            "Did not receive a reply".into()
        )));
        assert!(!secret_service_no_reply(&keyring::Error::NoEntry));
    }

    #[test]
    fn values_and_accounts_too_long_for_credential_manager_are_refused_before_any_call() {
        // A keyring whose every call would time out at once: a refusal here comes from the
        // length check, not from the OS.
        let ks = OsKeyring {
            timeout: Duration::from_millis(1),
        };
        let too_long = Secret::new("k".repeat(MAX_VALUE_UTF16_UNITS + 1));
        let e = ks.set("vault-key/x", &too_long).unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        assert!(e.to_string().contains("at most 1280"), "{e}");
        assert!(
            !e.to_string().contains("kkkk"),
            "the value is not echoed: {e}"
        );
        // Characters outside the Basic Multilingual Plane take two UTF-16 units each.
        let wide = Secret::new("\u{1F511}".repeat(MAX_VALUE_UTF16_UNITS / 2 + 1));
        assert_eq!(
            ks.set("vault-key/x", &wide).unwrap_err().code(),
            "invalid_input"
        );
        check_value_length(&Secret::new("k".repeat(MAX_VALUE_UTF16_UNITS))).unwrap();

        let account = "a".repeat(MAX_ACCOUNT_CHARS + 1);
        for e in [
            ks.get(&account).unwrap_err(),
            ks.set(&account, &Secret::new("v")).unwrap_err(),
            ks.delete(&account).unwrap_err(),
        ] {
            assert_eq!(e.code(), "invalid_input");
            assert!(e.to_string().contains("at most 513"), "{e}");
        }
    }

    #[cfg(windows)]
    #[test]
    fn no_logon_session_is_unavailable_not_locked_on_windows() {
        let e = map_keyring_error(keyring::Error::NoStorageAccess(
            "Windows ERROR_NO_SUCH_LOGON_SESSION".into(),
        ));
        assert_eq!(e.code(), "keyring_unavailable");
        let text = e.to_string();
        assert!(text.contains("logon session"), "{text}");
        assert!(!text.contains("locked"), "{text}");
    }

    /// The real Credential Manager (Wine's under the cross-built tests): a value at the limit is
    /// stored and read back whole, and deleted again.
    #[cfg(windows)]
    #[test]
    fn credential_manager_holds_a_value_of_the_largest_size() {
        let ks = OsKeyring::from_env();
        let account = format!("test/largest-value/{}", std::process::id());
        let value: String = (0..MAX_VALUE_UTF16_UNITS)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        ks.set(&account, &Secret::new(value.clone())).unwrap();
        assert_eq!(ks.get(&account).unwrap().unwrap().expose(), value);
        ks.delete(&account).unwrap();
        assert!(ks.get(&account).unwrap().is_none());
    }
}
