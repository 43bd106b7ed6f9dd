//! Certificate trust per server `host:port`: `tenant untrust` forgets pins and CAs (and a request
//! to the server then fails before anything is sent), `tenant trust` replaces the pin instead of
//! adding one, and a pin saved for another port of the same host trusts nothing here.

mod common;

use common::{Env, TENANT};
use serde_json::Value;
use vbm365_emulator::Server;

const OTHER: &str = "fabrikam.onmicrosoft.com";

/// `host:port` of the emulator's VBM365 server, as pins are saved under it.
fn host_port(env: &Env) -> String {
    env.emu
        .vbm_url()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

fn write_config(env: &Env, cfg: &Value) {
    std::fs::write(
        env.config_dir().join("config.json"),
        serde_json::to_string_pretty(cfg).unwrap(),
    )
    .unwrap();
}

/// The pins saved for each `host:port`.
fn pins(env: &Env) -> serde_json::Map<String, Value> {
    env.config_json()["trusted_certificates"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// A refresh of `TENANT` fails as untrusted and not one request reaches the VBM365 server (the
/// TLS handshake is refused before a token could be sent).
fn assert_refresh_refused_untrusted(env: &Env) {
    env.emu.clear_requests();
    let r = env.run(&["refresh", TENANT, "--json"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["error"]["code"], "certificate_untrusted", "{r:?}");
    assert!(
        r.stderr.contains("tenant trust"),
        "says how to trust it: {}",
        r.stderr
    );
    assert!(
        env.emu.requests().iter().all(|q| q.server != Server::Vbm),
        "a request reached the untrusted server: {:?}",
        env.emu.requests()
    );
    assert!(env.vbm_token_requests().is_empty());
}

/// Bug caught: `untrust` that forgets nothing (or another `host:port`), that misreports what it
/// forgot, or a pin still honoured after it was removed; and `tenant trust` not restoring trust.
#[tokio::test(flavor = "multi_thread")]
async fn untrust_forgets_the_pin_of_the_server_and_trust_brings_it_back() {
    let env = Env::with_signed_in_tenant().await;
    // A second tenant on the same server (sharing its pin), and a pin of an unrelated server.
    env.add_tenant_with(OTHER, &[]);
    let unrelated = "cd".repeat(32);
    let mut cfg = env.config_json();
    cfg["trusted_certificates"]["vbm.elsewhere.example:443"] = serde_json::json!([unrelated]);
    write_config(&env, &cfg);
    let hp = host_port(&env);
    let real = env.emu.cert_sha256();
    env.run(&["refresh", TENANT]).ok();

    let r = env.run(&["tenant", "untrust", TENANT, "--json"]).ok();
    let out = r.json();
    assert_eq!(out["host_port"], hp.as_str(), "{out}");
    assert_eq!(out["pins"], serde_json::json!([real]), "{out}");
    assert_eq!(out["ca_sha256"], serde_json::json!([]), "{out}");
    let mut tenants: Vec<&str> = out["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tenants.sort_unstable();
    assert_eq!(tenants, [TENANT, OTHER], "{out}");
    // The human text names the server, the fingerprint and every tenant affected.
    let pretty = vbm365_auth_core::tls::pretty_fingerprint(&real);
    for needle in [hp.as_str(), pretty.as_str(), TENANT, OTHER] {
        assert!(r.stderr.contains(needle), "{needle} missing: {}", r.stderr);
    }
    let left = pins(&env);
    assert!(!left.contains_key(&hp), "{left:?}");
    assert_eq!(
        left["vbm.elsewhere.example:443"],
        serde_json::json!([unrelated]),
        "another server's pin is kept"
    );
    let list = env.run(&["tenant", "list", "--json"]).ok().json();
    for row in list.as_array().unwrap() {
        assert_eq!(row["pinned_sha256"], serde_json::json!([]), "{row}");
    }

    assert_refresh_refused_untrusted(&env);
    // The tokens survive: only the trust was forgotten.
    let status = env.status();
    let row = status
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tenant"] == TENANT)
        .unwrap()
        .clone();
    assert_ne!(row["state"], "signed_out", "{row}");

    // Untrusting again forgets nothing more and says so.
    let again = env.run(&["tenant", "untrust", TENANT]).ok();
    assert!(again.stderr.contains("Nothing was trusted"), "{again:?}");

    env.run(&["tenant", "trust", TENANT, "--yes"]).ok();
    assert_eq!(pins(&env)[&hp], serde_json::json!([real]));
    env.emu.clear_requests();
    env.run(&["refresh", TENANT]).ok();
    assert_eq!(env.vbm_token_requests().len(), 1, "trusted again");
}

/// Bug caught: `untrust` leaving the certificate authority trusted for the server (only pins
/// removed).
#[tokio::test(flavor = "multi_thread")]
async fn untrust_forgets_a_trusted_ca_too() {
    let env = Env::ca_issued().await;
    env.add_tenant_with(TENANT, &[]);
    let files = tempfile::tempdir().unwrap();
    let ca = files.path().join("corp-ca.pem");
    let ca_pem = env.emu.ca_pem().expect("CA-issued emulator");
    std::fs::write(&ca, &ca_pem).unwrap();
    let trusted = env
        .run(&["tenant", "trust", TENANT, "--ca-file", ca.to_str().unwrap()])
        .ok();
    let ca_sha256 = trusted.stdout.trim().to_string();
    env.login(TENANT).await.ok();

    let r = env.run(&["tenant", "untrust", TENANT, "--json"]).ok();
    let out = r.json();
    assert_eq!(out["ca_sha256"], serde_json::json!([ca_sha256]), "{out}");
    assert_eq!(out["pins"], serde_json::json!([]), "{out}");
    let pretty = vbm365_auth_core::tls::pretty_fingerprint(&ca_sha256);
    assert!(r.stderr.contains(&pretty), "{}", r.stderr);
    let list = env.run(&["tenant", "list", "--json"]).ok().json();
    assert_eq!(list[0]["trusted_ca_sha256"], serde_json::json!([]));
    assert!(
        !std::fs::read_to_string(env.config_dir().join("config.json"))
            .unwrap()
            .contains("BEGIN CERTIFICATE"),
        "the CA certificate is gone from the config"
    );
    assert_refresh_refused_untrusted(&env);
}

/// Bug caught: re-trusting adds the new pin beside the old one (the old certificate stays
/// trusted, and the list grows with every re-trust).
#[tokio::test(flavor = "multi_thread")]
async fn trusting_a_changed_certificate_twice_leaves_exactly_one_pin() {
    let env = Env::with_signed_in_tenant().await;
    let hp = host_port(&env);
    let real = env.emu.cert_sha256();
    // As if the server's certificate had changed since it was pinned: the saved pin is another.
    let bogus = "ab".repeat(32);
    let mut cfg = env.config_json();
    cfg["trusted_certificates"][&hp] = serde_json::json!([bogus]);
    write_config(&env, &cfg);
    let r = env.run(&["refresh", TENANT, "--json"]);
    assert_eq!(
        r.json()["error"]["code"],
        "certificate_pin_mismatch",
        "{r:?}"
    );

    for _ in 0..2 {
        let r = env.run(&["tenant", "trust", TENANT, "--yes"]).ok();
        assert_eq!(r.stdout.trim(), real);
        assert_eq!(
            pins(&env)[&hp],
            serde_json::json!([real]),
            "one pin, the presented one"
        );
    }
    let all = pins(&env);
    assert_eq!(all.len(), 1, "{all:?}");
    let list = env.run(&["tenant", "list", "--json"]).ok().json();
    assert_eq!(list[0]["pinned_sha256"], serde_json::json!([real]));
    env.emu.clear_requests();
    env.run(&["refresh", TENANT]).ok();
    assert_eq!(env.vbm_token_requests().len(), 1);
}

/// Bug caught: pins matched by host only (or any pin accepted whatever its `host:port`), so a
/// certificate trusted for one port would be trusted for every service of that host.
#[tokio::test(flavor = "multi_thread")]
async fn a_pin_saved_for_another_port_of_the_host_does_not_trust_this_one() {
    let env = Env::with_signed_in_tenant().await;
    let hp = host_port(&env);
    let (host, port) = hp.rsplit_once(':').unwrap();
    let port: u16 = port.parse().unwrap();
    let other = format!("{host}:{}", if port == 65535 { 1 } else { port + 1 });
    let real = env.emu.cert_sha256();
    // The very same (right) fingerprint, saved under the other port only.
    let mut cfg = env.config_json();
    cfg["trusted_certificates"] = serde_json::json!({ other.clone(): [real] });
    write_config(&env, &cfg);
    let list = env.run(&["tenant", "list", "--json"]).ok().json();
    assert_eq!(list[0]["pinned_sha256"], serde_json::json!([]), "{list}");

    assert_refresh_refused_untrusted(&env);

    // Control: the same pin under the server's own host:port is honoured.
    cfg["trusted_certificates"] = serde_json::json!({ hp: [real] });
    write_config(&env, &cfg);
    env.run(&["refresh", TENANT]).ok();
}

/// Bug caught: "never widens a server's trust" looked at pins only: `tenant add --pin-sha256` or
/// an import with a pin for a server trusted through a CA added the pin, and since pins are
/// checked before CAs, every tenant on that `host:port` silently moved from the CA to the pin.
#[tokio::test(flavor = "multi_thread")]
async fn a_pin_never_takes_the_place_of_a_trusted_ca() {
    let env = Env::ca_issued().await;
    env.add_tenant_with(TENANT, &[]);
    let files = tempfile::tempdir().unwrap();
    let ca = files.path().join("corp-ca.pem");
    std::fs::write(&ca, env.emu.ca_pem().expect("CA-issued emulator")).unwrap();
    let ca_sha256 = env
        .run(&["tenant", "trust", TENANT, "--ca-file", ca.to_str().unwrap()])
        .ok()
        .stdout
        .trim()
        .to_string();
    let before = env.config_json();
    // Even the certificate the server really presents: the pin would still replace the CA.
    for pin in [env.emu.cert_sha256(), "ab".repeat(32)] {
        let r = env.try_add_tenant(OTHER, &["--pin-sha256", &pin]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr
                .contains("trusted through the certificate authority")
                && r.stderr.contains(&ca_sha256)
                && r.stderr.contains(&pin),
            "{}",
            r.stderr
        );
        let file = files.path().join("tenants.json");
        let entry = format!(
            r#"[{{"name":"{OTHER}","server":"{}","pins":["{pin}"]}}]"#,
            env.emu.vbm_url()
        );
        std::fs::write(&file, entry).unwrap();
        let r = env.run(&["tenant", "import", file.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("entry 1") && r.stderr.contains(&ca_sha256),
            "{}",
            r.stderr
        );
        assert_eq!(env.config_json(), before, "nothing saved");
    }
    // Without a pin the new tenant is trusted through the CA like the first.
    env.add_tenant_with(OTHER, &[]);
    assert!(pins(&env).is_empty(), "{:?}", pins(&env));
    env.login(OTHER).await.ok();
}
