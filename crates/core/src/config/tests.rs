//! Tests of `config.json`: loading, validation, versions, locking.

use super::*;

#[test]
fn missing_file_is_default_and_update_persists() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path());
    assert!(store.load().unwrap().tenants.is_empty());
    store
        .update(|c| {
            c.tenants.push(
                TenantProfile::new("Contoso.onmicrosoft.com", "https://vbm.example:4443").unwrap(),
            );
            Ok(())
        })
        .unwrap();
    let cfg = store.load().unwrap();
    assert_eq!(cfg.tenants[0].name, "Contoso.onmicrosoft.com");
    assert!(cfg.tenant("contoso.ONMICROSOFT.com").is_some());
    assert_eq!(cfg.version, CONFIG_VERSION);
    assert!(cfg.tenant("CONTOSO.onmicrosoft.com").is_some());
}

#[test]
fn failed_edit_leaves_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path());
    store
        .update(|c| {
            c.active_tenant = Some("a".into());
            Ok(())
        })
        .unwrap();
    let before = std::fs::read(store.path()).unwrap();
    let err = store
        .update(|c| -> Result<()> {
            c.active_tenant = Some("b".into());
            Err(Error::InvalidInput("no".into()))
        })
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert_eq!(std::fs::read(store.path()).unwrap(), before);
}

#[test]
fn newer_format_is_refused_and_garbage_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path());
    std::fs::write(store.path(), br#"{"version": 99, "vault_id": "x"}"#).unwrap();
    let e = store.load().unwrap_err();
    assert_eq!(e.code(), "config_corrupt");
    assert!(e.to_string().contains("newer"), "{e}");
    std::fs::write(store.path(), b"{\"version\": 1, \"vau").unwrap();
    assert_eq!(store.load().unwrap_err().code(), "config_corrupt");
}

#[test]
fn hand_edited_tenants_are_checked_like_tenant_add() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path());
    let good = serde_json::to_value(
        TenantProfile::new("contoso.onmicrosoft.com", "https://vbm.example:4443").unwrap(),
    )
    .unwrap();
    for (field, value, words) in [
        ("name", "../../x", "invalid tenant name"),
        ("server", "http://0.0.0.0/", "use https"),
        ("authority", "ftp://login.example/", "https"),
    ] {
        let mut t = good.clone();
        t[field] = value.into();
        let cfg = serde_json::json!({"version": 1, "vault_id": "ab", "tenants": [t]});
        let bytes = serde_json::to_vec(&cfg).unwrap();
        std::fs::write(store.path(), &bytes).unwrap();
        let e = store.load().unwrap_err();
        assert_eq!(e.code(), "config_corrupt", "{field}");
        assert!(e.to_string().contains(words), "{field}: {e}");
        // Nothing was rewritten.
        assert_eq!(std::fs::read(store.path()).unwrap(), bytes);
    }
    let twice =
        serde_json::json!({"version": 1, "vault_id": "ab", "tenants": [good.clone(), good]});
    std::fs::write(store.path(), serde_json::to_vec(&twice).unwrap()).unwrap();
    assert!(store
        .load()
        .unwrap_err()
        .to_string()
        .contains("listed twice"));
}

#[test]
fn version_zero_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path());
    std::fs::write(store.path(), br#"{"version": 0, "vault_id": ""}"#).unwrap();
    let c = store.load().unwrap();
    assert_eq!(c.version, CONFIG_VERSION);
    assert_eq!(c.vault_id.len(), 32);
}

/// Bug caught: only `tenant add` refused a client id or scope for a restore operator; `tenant
/// edit`, an import and the window saved them (and never used them).
#[test]
fn a_restore_operator_has_no_client_id_or_scope_of_its_own() {
    let mut p = TenantProfile::new("contoso.onmicrosoft.com", "https://vbm.example:4443").unwrap();
    p.role = Role::Operator;
    p.validate().unwrap();
    for (client_id, scope) in [("my-app", DEFAULT_SCOPE), (DEFAULT_CLIENT_ID, "User.Read")] {
        let mut q = p.clone();
        q.client_id = client_id.into();
        q.scope = scope.into();
        let e = q.validate().unwrap_err();
        assert_eq!(e.to_string(), OPERATOR_OWN_APP);
        // A file an earlier build wrote so still loads: the values are unused, and one stale
        // value must not make every tenant unusable.
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        let cfg = serde_json::json!({"version": 1, "vault_id": "ab", "tenants": [q.clone()]});
        std::fs::write(store.path(), serde_json::to_vec(&cfg).unwrap()).unwrap();
        assert_eq!(store.load().unwrap().tenants, vec![q.clone()]);
        q.role = Role::Organization;
        q.validate().unwrap();
    }
}
