use super::*;
use std::collections::HashMap;

/// In-memory stand-in for the OS keyring, for unit tests of the vault format only (the CLI tests
/// use the real Secret Service).
#[derive(Debug, Default)]
pub struct MemoryKeyStore(pub Mutex<HashMap<String, String>>);

impl KeyStore for MemoryKeyStore {
    fn get(&self, a: &str) -> Result<Option<Secret>> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(a)
            .map(|v| Secret::new(v.clone())))
    }
    fn set(&self, a: &str, v: &Secret) -> Result<()> {
        self.0.lock().unwrap().insert(a.into(), v.expose().into());
        Ok(())
    }
    fn delete(&self, a: &str) -> Result<()> {
        self.0.lock().unwrap().remove(a);
        Ok(())
    }
}

fn sample() -> TenantSecrets {
    TenantSecrets {
        ms_refresh_token: Some(MsRefreshToken::new("SENTINEL-MS-RT")),
        generation: 1,
        ..Default::default()
    }
}

#[tokio::test]
async fn encrypted_round_trip_with_fresh_nonce_and_no_plaintext_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let ks = Arc::new(MemoryKeyStore::default());
    let v = Vault::new(dir.path(), "id1", Protection::Keyring(ks.clone()));
    assert_eq!(v.load().unwrap(), VaultData::default());
    assert!(
        ks.0.lock().unwrap().is_empty(),
        "reading an absent vault must not create a key"
    );
    v.update(|d| {
        d.tenants.insert("t".into(), sample());
    })
    .await
    .unwrap();
    let first = std::fs::read(v.path()).unwrap();
    v.update(|_| ()).await.unwrap();
    let second = std::fs::read(v.path()).unwrap();
    assert_ne!(first, second, "a new nonce per write");
    assert!(!String::from_utf8_lossy(&second).contains("SENTINEL"));
    // A second handle (another process) reads it through the keyring key.
    let v2 = Vault::new(dir.path(), "id1", Protection::Keyring(ks.clone()));
    assert_eq!(v2.load().unwrap().tenants["t"], sample());
    assert_eq!(ks.0.lock().unwrap().values().next().unwrap().len(), 44);
}

#[tokio::test]
async fn missing_key_and_tampering_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ks = Arc::new(MemoryKeyStore::default());
    let v = Vault::new(dir.path(), "id1", Protection::Keyring(ks.clone()));
    v.update(|d| {
        d.tenants.insert("t".into(), sample());
    })
    .await
    .unwrap();
    let mut bytes = std::fs::read(v.path()).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(v.path(), &bytes).unwrap();
    let v2 = Vault::new(dir.path(), "id1", Protection::Keyring(ks.clone()));
    assert_eq!(v2.load().unwrap_err().code(), "vault_corrupt");
    ks.0.lock().unwrap().clear();
    let v3 = Vault::new(dir.path(), "id1", Protection::Keyring(ks.clone()));
    assert_eq!(v3.load().unwrap_err().code(), "vault_key_missing");
    // Writing must not silently replace a vault it cannot read.
    assert_eq!(
        v3.update(|_| ()).await.unwrap_err().code(),
        "vault_key_missing"
    );
    // A different vault id (another config dir) cannot open it either.
    let other = Vault::new(dir.path(), "id2", Protection::Keyring(ks));
    assert!(other.load().is_err());
    v3.destroy().await.unwrap();
    assert!(!v3.path().exists());
}

#[tokio::test]
async fn plain_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let v = Vault::new(dir.path(), "id", Protection::PlainFile);
    v.update(|d| {
        d.tenants.insert("t".into(), sample());
    })
    .await
    .unwrap();
    assert!(v.path().ends_with("secrets.json"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(v.path()).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(v.load().unwrap().tenants["t"], sample());
}
