//! Windows: Credential Manager failing, through the real `vbm365-auth.exe` (the counterparts of
//! the Secret Service tests in `faults.rs`, which switch the D-Bus session off).
//!
//! Credential Manager has no switch to turn it off for one process. On Windows it refuses a
//! process without the user's logon session; under Wine (where these tests run, see
//! `scripts/windows/test`) its store can be broken instead: Wine keeps the key that encrypts
//! stored credentials in the registry (`HKCU\Software\Wine\Credential Manager`, `EncryptionKey`),
//! and with that value unreadable every `CredReadW`/`CredWriteW` fails. The tests break it for
//! their CLI runs only and put it back afterwards (also when they fail). The store is shared by
//! the whole Wine prefix, so these tests are a test binary of their own (cargo runs test binaries
//! one after another) and take turns. On Windows itself there is no such key: they say so and
//! pass without checking anything.
#![cfg(windows)]

mod common;

use common::*;
use windows_sys::Win32::System::Registry::{
    RegDeleteKeyValueW, RegGetValueW, RegSetKeyValueW, HKEY_CURRENT_USER, REG_BINARY, REG_SZ,
    RRF_RT_REG_BINARY,
};

const WINE_CREDENTIALS: &str = r"Software\Wine\Credential Manager";
const KEY_VALUE: &str = "EncryptionKey";

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(Some(0)).collect()
}

/// One test at a time may break the store.
static STORE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Wine's credential store made unreadable; put back as it was on drop.
struct BrokenCredentialStore {
    saved: Option<Vec<u8>>,
}

impl BrokenCredentialStore {
    /// `None` outside Wine.
    fn new() -> Option<BrokenCredentialStore> {
        std::env::var_os("WINELOADER")?;
        let (key, value) = (wide(WINE_CREDENTIALS), wide(KEY_VALUE));
        let mut buf = [0u8; 64];
        let mut len = buf.len() as u32;
        // SAFETY: NUL-terminated names, a buffer of `len` bytes; the call writes at most that.
        let read = unsafe {
            RegGetValueW(
                HKEY_CURRENT_USER,
                key.as_ptr(),
                value.as_ptr(),
                RRF_RT_REG_BINARY,
                std::ptr::null_mut(),
                buf.as_mut_ptr().cast(),
                &mut len,
            )
        };
        // No value yet (nothing stored in this prefix so far): Wine makes one when needed.
        let saved = (read == 0).then(|| buf[..len as usize].to_vec());
        let junk = wide("not a key");
        // SAFETY: NUL-terminated names and data of the given size.
        let wrote = unsafe {
            RegSetKeyValueW(
                HKEY_CURRENT_USER,
                key.as_ptr(),
                value.as_ptr(),
                REG_SZ,
                junk.as_ptr().cast(),
                (junk.len() * 2) as u32,
            )
        };
        assert_eq!(wrote, 0, "break Wine's credential store");
        Some(BrokenCredentialStore { saved })
    }
}

impl Drop for BrokenCredentialStore {
    fn drop(&mut self) {
        let (key, value) = (wide(WINE_CREDENTIALS), wide(KEY_VALUE));
        // SAFETY: NUL-terminated names and data of the given size.
        let restored = unsafe {
            match &self.saved {
                Some(bytes) => RegSetKeyValueW(
                    HKEY_CURRENT_USER,
                    key.as_ptr(),
                    value.as_ptr(),
                    REG_BINARY,
                    bytes.as_ptr().cast(),
                    bytes.len() as u32,
                ),
                None => RegDeleteKeyValueW(HKEY_CURRENT_USER, key.as_ptr(), value.as_ptr()),
            }
        };
        assert_eq!(restored, 0, "put Wine's credential store back");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn credential_manager_failing_is_a_clear_error_and_nothing_is_written_in_plaintext() {
    let _turn = STORE.lock().await;
    let mut env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    env.extra_env
        .push(("VBM365_AUTH_KEYRING_TIMEOUT_MS".into(), "5000".into()));
    let files_before = env.all_files_text();
    let Some(broken) = BrokenCredentialStore::new() else {
        eprintln!("not under Wine: Credential Manager cannot be made to fail here");
        return;
    };
    let r = env.run(&["login", "--json", "--no-browser"]);
    drop(broken);
    assert_eq!(r.code, 1, "{r:?}");
    // Found out before the user is asked to approve anything: the only event is the error.
    let events = r.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let ev = &events[0];
    assert_eq!(ev["event"], "error", "{ev}");
    assert_eq!(ev["code"], "keyring_unavailable", "{ev}");
    let hint = ev["hint"].as_str().unwrap();
    assert!(hint.contains("VBM365_AUTH_STORAGE=file"), "{hint}");
    assert!(!hint.contains("Secret Service"), "a Windows hint: {hint}");
    assert!(
        env.emu.requests().is_empty(),
        "nothing sent to either server"
    );
    assert!(!env.config_dir().join("secrets.json").exists());
    assert!(!env.config_dir().join("vault.bin").exists());
    assert_eq!(env.all_files_text(), files_before, "nothing written");
    // With the store back, the same sign-in works.
    let r = env.login(TENANT).await;
    assert_eq!(r.code, 0, "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn credential_manager_failing_after_sign_in_fails_reads_and_keeps_the_tokens() {
    let _turn = STORE.lock().await;
    let env = Env::with_signed_in_tenant().await;
    let token = env.run(&["token"]).ok().stdout;
    let Some(broken) = BrokenCredentialStore::new() else {
        eprintln!("not under Wine: Credential Manager cannot be made to fail here");
        return;
    };
    let r = env.run(&["token"]);
    let st = env.status();
    drop(broken);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("keyring is not available"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains(token.trim()), "no token printed");
    assert_eq!(st[0]["state"], "error", "{st}");
    // Nothing was lost: with the store back, the same token.
    assert_eq!(env.run(&["token"]).ok().stdout, token);
}
