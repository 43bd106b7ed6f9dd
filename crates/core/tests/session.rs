//! The session manager in one process: sign-in events, in-process single flight, batch refresh.
//! (Cross-process behaviour and the real keyring are covered by the CLI tests.)

use std::sync::{Arc, Mutex};
use std::time::Duration;
use vbm365_auth_core::config::TenantProfile;
use vbm365_auth_core::http::Timeouts;
use vbm365_auth_core::{validate, Engine, EngineOptions, SignInEvent, StorageChoice, TenantState};
use vbm365_emulator::{EmulatorOptions, Emulators, Server};

/// An engine on `dir` with short timeouts: secrets in a plain file, or sealed with a key kept in
/// `keys`.
fn engine_with(
    dir: &std::path::Path,
    keys: Option<Arc<dyn vbm365_auth_core::keystore::KeyStore>>,
) -> Engine {
    Engine::open(EngineOptions {
        config_dir: dir.to_path_buf(),
        storage: if keys.is_some() {
            StorageChoice::Keyring
        } else {
            StorageChoice::PlainFile
        },
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(5),
        },
        retry: vbm365_auth_core::failure::RetryPolicy::default(),
        keystore: keys,
    })
    .unwrap()
}

/// Emulators whose device codes approve themselves at once, polled every second.
async fn approving_emulators() -> Emulators {
    Emulators::start(EmulatorOptions {
        device_code_interval: Some(1),
        auto_approve_after_ms: Some(0),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn engine(dir: &std::path::Path) -> Engine {
    engine_with(dir, None)
}

fn add(engine: &Engine, emu: &Emulators, name: &str) {
    let mut p = TenantProfile::new(name, &emu.vbm_url()).unwrap();
    p.authority = validate::authority_url(&emu.ms_url()).unwrap();
    engine
        .add_tenant(p, Some(&emu.cert_sha256()), false)
        .unwrap();
}

async fn sign_in(engine: &Engine, name: &str) -> Vec<SignInEvent> {
    let pending = engine.begin_sign_in(Some(name)).await.unwrap();
    assert!(pending.openable_uri.is_ok());
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let st = engine
        .complete_sign_in(&pending, move |e| ev.lock().unwrap().push(e))
        .await
        .unwrap();
    assert_eq!(st.state, TenantState::SignedIn);
    let out = events.lock().unwrap().clone();
    out
}

fn refreshes(emu: &Emulators) -> usize {
    emu.requests()
        .iter()
        .filter(|r| {
            r.server == Server::Vbm
                && r.form()
                    .iter()
                    .any(|(k, v)| k == "grant_type" && v == "refresh_token")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_reports_progress_then_stores_tokens() {
    let emu = Emulators::start(EmulatorOptions {
        device_code_interval: Some(1),
        auto_approve_after_ms: Some(1500),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    add(&e, &emu, "a.onmicrosoft.com");
    let events = sign_in(&e, "a.onmicrosoft.com").await;
    assert!(
        matches!(events.first(), Some(SignInEvent::Waiting { .. })),
        "{events:?}"
    );
    assert_eq!(events.last(), Some(&SignInEvent::Exchanging));
    let st = e.status().unwrap();
    assert_eq!(st[0].state, TenantState::SignedIn);
    assert!(st[0].user_name.is_some());
    assert!(e.test_connection(None).await.unwrap().version.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_callers_in_one_process_share_one_refresh() {
    let emu = Emulators::start(EmulatorOptions {
        device_code_interval: Some(1),
        auto_approve_after_ms: Some(0),
        vbm_token_lifetime: 30,
        vbm_latency_ms: 200,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = Arc::new(engine(dir.path()));
    add(&e, &emu, "a.onmicrosoft.com");
    sign_in(&e, "a.onmicrosoft.com").await;
    emu.set_vbm_token_lifetime(3600);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let e = e.clone();
            tokio::spawn(async move {
                e.token(None, Duration::from_secs(60))
                    .await
                    .unwrap()
                    .access_token
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    assert_eq!(refreshes(&emu), 1);
    assert!(tokens.iter().all(|t| t == &tokens[0]));
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_all_skips_signed_out_and_reports_each_tenant() {
    let emu = approving_emulators().await;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    for n in [
        "a.onmicrosoft.com",
        "b.onmicrosoft.com",
        "c.onmicrosoft.com",
    ] {
        add(&e, &emu, n);
    }
    sign_in(&e, "a.onmicrosoft.com").await;
    sign_in(&e, "c.onmicrosoft.com").await;
    emu.clear_requests();
    // Only tokens expiring within the window are refreshed.
    let quiet = e.refresh_all(Some(Duration::from_secs(60))).await.unwrap();
    assert_eq!(quiet.len(), 2);
    assert_eq!(refreshes(&emu), 0);
    let all = e.refresh_all(None).await.unwrap();
    let names: Vec<_> = all.iter().map(|(n, r)| (n.as_str(), r.is_ok())).collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&("a.onmicrosoft.com", true))
            && names.contains(&("c.onmicrosoft.com", true))
    );
    assert_eq!(refreshes(&emu), 2);
    // A refused refresh with a refused Microsoft refresh: that tenant alone needs sign-in.
    emu.revoke_vbm_refresh_tokens();
    emu.revoke_ms_refresh_tokens();
    let after = e.refresh_all(None).await.unwrap();
    assert!(after
        .iter()
        .all(|(_, r)| r.as_ref().unwrap_err().code() == "sign_in_required"));
    let st = e.status().unwrap();
    assert_eq!(
        st.iter()
            .filter(|s| s.state == TenantState::SignInRequired)
            .count(),
        2
    );
    assert_eq!(
        st.iter()
            .filter(|s| s.state == TenantState::SignedOut)
            .count(),
        1
    );
}

/// An in-memory keyring shared by two engines, as the app and a CLI share the OS keyring.
#[derive(Debug, Default)]
struct MemoryKeyring(Mutex<std::collections::HashMap<String, String>>);

impl vbm365_auth_core::keystore::KeyStore for MemoryKeyring {
    fn get(&self, account: &str) -> vbm365_auth_core::Result<Option<vbm365_auth_core::Secret>> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(account)
            .map(|v| vbm365_auth_core::Secret::new(v.clone())))
    }
    fn set(&self, account: &str, value: &vbm365_auth_core::Secret) -> vbm365_auth_core::Result<()> {
        self.0
            .lock()
            .unwrap()
            .insert(account.into(), value.expose().into());
        Ok(())
    }
    fn delete(&self, account: &str) -> vbm365_auth_core::Result<()> {
        self.0.lock().unwrap().remove(account);
        Ok(())
    }
}

fn keyring_engine(dir: &std::path::Path, keys: Arc<MemoryKeyring>) -> Engine {
    engine_with(dir, Some(keys))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_running_process_follows_a_vault_key_that_changed_under_it() {
    let emu = approving_emulators().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(MemoryKeyring::default());
    let app = keyring_engine(dir.path(), keys.clone());
    let cli = keyring_engine(dir.path(), keys.clone());
    add(&app, &emu, "a.onmicrosoft.com");
    sign_in(&app, "a.onmicrosoft.com").await;
    assert_eq!(app.status().unwrap()[0].state, TenantState::SignedIn);
    // Another process signs out of everything (vault and key deleted) and in again (new key).
    cli.logout_all().await.unwrap();
    sign_in(&cli, "a.onmicrosoft.com").await;
    // The long-running one reads the new vault, refreshes, and its write is readable by others.
    assert_eq!(app.status().unwrap()[0].state, TenantState::SignedIn);
    app.refresh(None).await.unwrap();
    assert_eq!(cli.status().unwrap()[0].state, TenantState::SignedIn);
    // The key deleted outright (not by this product): the next write finds out at once and seals
    // nothing; reads find out within the key cache's age, and the state says so.
    let bytes = std::fs::read(dir.path().join("vault.bin")).unwrap();
    keys.0.lock().unwrap().clear();
    assert_eq!(
        app.refresh(None).await.unwrap_err().code(),
        "vault_key_missing"
    );
    assert_eq!(std::fs::read(dir.path().join("vault.bin")).unwrap(), bytes);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let st = app.status().unwrap();
    assert_eq!(st[0].state, TenantState::Error, "{st:?}");
    // And after `logout --all`, its next write does not revive the deleted key.
    cli.logout_all().await.unwrap();
    assert_eq!(
        app.refresh(None).await.unwrap_err().code(),
        "sign_in_required"
    );
    assert!(!dir.path().join("vault.bin").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_belong_to_the_endpoints_that_issued_them() {
    let emu = approving_emulators().await;
    let other = Emulators::start(EmulatorOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    add(&e, &emu, "a.onmicrosoft.com");
    sign_in(&e, "a.onmicrosoft.com").await;
    let profile = e.config().unwrap().tenants[0].clone();

    // Scope and "remember" say nothing about where tokens go: they are kept.
    let mut same_place = profile.clone();
    same_place.remember_ms_sign_in = false;
    same_place.scope = "User.Read offline_access".into();
    assert!(!e.update_tenant(same_place).await.unwrap().signed_out);
    assert_eq!(e.status().unwrap()[0].state, TenantState::SignedIn);

    // Another server: signed out, and nothing is sent to the new server.
    let mut moved = profile.clone();
    moved.server = validate::server_url(&other.vbm_url()).unwrap();
    let update = e.update_tenant(moved).await.unwrap();
    assert!(update.signed_out);
    assert_eq!(e.status().unwrap()[0].state, TenantState::SignedOut);
    assert_eq!(
        e.refresh(None).await.unwrap_err().code(),
        "sign_in_required"
    );
    assert!(other.requests().is_empty(), "{:?}", other.requests());

    // Another authority or client id likewise.
    let mut back = e.config().unwrap().tenants[0].clone();
    back.server = profile.server.clone();
    e.update_tenant(back).await.unwrap();
    sign_in(&e, "a.onmicrosoft.com").await;
    let mut other_client = e.config().unwrap().tenants[0].clone();
    other_client.client_id = "11111111-2222-3333-4444-555555555555".into();
    assert!(e.update_tenant(other_client).await.unwrap().signed_out);
    assert_eq!(e.status().unwrap()[0].state, TenantState::SignedOut);
}

/// A keyring whose next `get` blocks until another task of the runtime lets it go: it shows that
/// keyring calls do not hold the async worker they were made on.
#[derive(Debug, Default)]
struct GatedKeyring {
    keys: MemoryKeyring,
    gate: Mutex<
        Option<(
            tokio::sync::oneshot::Sender<()>,
            std::sync::mpsc::Receiver<()>,
        )>,
    >,
}

impl vbm365_auth_core::keystore::KeyStore for GatedKeyring {
    fn get(&self, account: &str) -> vbm365_auth_core::Result<Option<vbm365_auth_core::Secret>> {
        if let Some((entered, release)) = self.gate.lock().unwrap().take() {
            let _ = entered.send(());
            release
                .recv_timeout(Duration::from_secs(10))
                .expect("no other task ran while the keyring call blocked");
        }
        self.keys.get(account)
    }
    fn set(&self, account: &str, value: &vbm365_auth_core::Secret) -> vbm365_auth_core::Result<()> {
        self.keys.set(account, value)
    }
    fn delete(&self, account: &str) -> vbm365_auth_core::Result<()> {
        self.keys.delete(account)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_blocking_keyring_call_does_not_stall_the_runtime() {
    let emu = approving_emulators().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(GatedKeyring::default());
    let e = Arc::new(engine_with(dir.path(), Some(keys.clone())));
    add(&e, &emu, "a.onmicrosoft.com");
    sign_in(&e, "a.onmicrosoft.com").await;
    // Wait for the key cache to age out, so the next read asks the keyring.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    *keys.gate.lock().unwrap() = Some((entered_tx, release_rx));
    // Runs only if the one worker is not held by the blocked keyring call.
    let releaser = tokio::spawn(async move {
        entered_rx.await.unwrap();
        release_tx.send(()).unwrap();
    });
    // On the runtime's one worker (the test body itself runs on another thread).
    let engine = e.clone();
    let token = tokio::spawn(async move { engine.token(None, Duration::from_secs(60)).await })
        .await
        .expect("the token task ran to the end")
        .unwrap();
    assert_eq!(token.tenant, "a.onmicrosoft.com");
    releaser.await.unwrap();
}
