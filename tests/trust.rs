//! Certificate trust through the app's IPC (mock runtime, no display) against the local
//! emulators: `pin_certificate` takes only the fingerprint the app itself just probed for that
//! tenant's server, once; `remove_trust` forgets the server's pins and CAs; the probe tells a
//! server a trusted CA vouches for, so the window offers no pin for it.

mod ipc;

use ipc::{app, call, refused_by_acl};
use serde_json::{json, Value};
use vbm365_emulator::{EmulatorOptions, Emulators};

const TENANT: &str = "contoso.onmicrosoft.com";
const OTHER: &str = "fabrikam.onmicrosoft.com";

/// Emulators on a runtime of their own (the IPC calls below block the test thread).
fn emulators(ca_issued: bool) -> (tokio::runtime::Runtime, Emulators) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let emu = rt
        .block_on(Emulators::start(EmulatorOptions {
            ca_issued,
            ..EmulatorOptions::default()
        }))
        .expect("emulators");
    (rt, emu)
}

fn form(name: &str, server: &str, emu: &Emulators) -> Value {
    json!({"form": {"name": name, "server": server, "api_version": "v8", "authority": emu.ms_url()}})
}

/// `trusted_certificates` of the config on disk.
fn pins_on_disk(dir: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(dir.join("config.json")).expect("config");
    let cfg: Value = serde_json::from_str(&text).expect("json");
    cfg.get("trusted_certificates")
        .cloned()
        .unwrap_or_else(|| json!({}))
}

fn row<'a>(snapshot: &'a Value, name: &str) -> &'a Value {
    snapshot["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {snapshot}"))
}

fn host_port(emu: &Emulators) -> String {
    emu.vbm_url().trim_start_matches("https://").to_string()
}

fn assert_not_probed(r: Result<Value, Value>, what: &str) {
    let e = r.expect_err(what);
    assert!(
        !refused_by_acl(&e),
        "{what}: refused by the ACL, not the command: {e}"
    );
    assert_eq!(e["code"], "certificate_not_probed", "{what}: {e}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing was trusted")),
        "{what}: {e}"
    );
}

/// Bug caught: `pin_certificate` pinning whatever fingerprint the page sends (a script in the page
/// could make the app trust a certificate of its choosing, never shown to the user), pinning
/// without a probe, reusing a probe, or using a probe of another tenant or of the server the
/// tenant had before an edit.
#[test]
fn pin_certificate_takes_only_the_fingerprint_just_probed_for_that_tenant() {
    let (_rt, emu) = emulators(false);
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, w) = app(dir.path());
    let real = emu.cert_sha256();
    let invented = "ab".repeat(32);
    call(&w, "add_tenant", form(TENANT, &emu.vbm_url(), &emu)).expect("add");
    call(&w, "add_tenant", form(OTHER, "https://127.0.0.1:1", &emu)).expect("add other");

    // Without a probe: neither an invented nor the right fingerprint.
    assert_not_probed(
        call(
            &w,
            "pin_certificate",
            json!({"name": TENANT, "sha256": invented}),
        ),
        "invented, no probe",
    );
    assert_not_probed(
        call(
            &w,
            "pin_certificate",
            json!({"name": TENANT, "sha256": real}),
        ),
        "right fingerprint, but not probed",
    );
    assert_eq!(pins_on_disk(dir.path()), json!({}));

    // Probed: the page sends another fingerprint than the one the server presented.
    let info = call(&w, "probe_certificate", json!({"name": TENANT})).expect("probe");
    assert_eq!(info["sha256"], real.as_str(), "{info}");
    assert_eq!(info["host_port"], host_port(&emu).as_str(), "{info}");
    assert_eq!(
        (
            &info["pinned"],
            &info["system_trusted"],
            &info["ca_trusted"]
        ),
        (&json!(false), &json!(false), &json!(false)),
        "{info}"
    );
    assert_not_probed(
        call(
            &w,
            "pin_certificate",
            json!({"name": TENANT, "sha256": invented}),
        ),
        "invented after a probe",
    );
    assert_eq!(pins_on_disk(dir.path()), json!({}));
    // That attempt used the probe up: the right fingerprint now needs a new probe.
    assert_not_probed(
        call(
            &w,
            "pin_certificate",
            json!({"name": TENANT, "sha256": real}),
        ),
        "probe used by the refused attempt",
    );

    // A probe of this tenant's server is no probe of another tenant's server.
    call(&w, "probe_certificate", json!({"name": TENANT})).expect("probe");
    assert_not_probed(
        call(
            &w,
            "pin_certificate",
            json!({"name": OTHER, "sha256": real}),
        ),
        "another tenant's probe",
    );
    // Nor of the server the tenant was moved to after the probe.
    let port: u16 = host_port(&emu).rsplit_once(':').unwrap().1.parse().unwrap();
    let moved_to = format!("https://127.0.0.1:{}", port.checked_add(1).unwrap_or(1));
    call(&w, "update_tenant", form(TENANT, &moved_to, &emu)).expect("move");
    assert_not_probed(
        call(
            &w,
            "pin_certificate",
            json!({"name": TENANT, "sha256": real}),
        ),
        "probe of the tenant's former server",
    );
    call(&w, "update_tenant", form(TENANT, &emu.vbm_url(), &emu)).expect("move back");
    assert_eq!(pins_on_disk(dir.path()), json!({}));

    // What the app probed, as the window sends it: pinned, for the server's host:port only.
    let info = call(&w, "probe_certificate", json!({"name": TENANT})).expect("probe");
    call(
        &w,
        "pin_certificate",
        json!({"name": TENANT, "sha256": info["sha256"]}),
    )
    .expect("the probed fingerprint is pinned");
    assert_eq!(pins_on_disk(dir.path()), json!({ host_port(&emu): [real] }));
    let s = call(&w, "get_state", json!({})).expect("state");
    assert_eq!(row(&s, TENANT)["trusted"], true, "{s}");
    assert_eq!(row(&s, OTHER)["trusted"], false, "{s}");
    let again = call(&w, "probe_certificate", json!({"name": TENANT})).expect("probe");
    assert_eq!(again["pinned"], true, "{again}");
    // Used once: the same fingerprint again needs a new probe (the one just made is fresh).
    call(
        &w,
        "pin_certificate",
        json!({"name": TENANT, "sha256": real}),
    )
    .expect("fresh probe");
    assert_not_probed(
        call(
            &w,
            "pin_certificate",
            json!({"name": TENANT, "sha256": real}),
        ),
        "probe used up",
    );
}

/// Bug caught: "Forget trusted certificate" not reachable from the window (command missing from
/// the handler, the permission manifest or the capability), or forgetting nothing.
#[test]
fn remove_trust_forgets_the_servers_pins_for_every_tenant_on_it() {
    let (_rt, emu) = emulators(false);
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, w) = app(dir.path());
    let real = emu.cert_sha256();
    call(&w, "add_tenant", form(TENANT, &emu.vbm_url(), &emu)).expect("add");
    call(&w, "add_tenant", form(OTHER, &emu.vbm_url(), &emu)).expect("add other");
    call(&w, "probe_certificate", json!({"name": TENANT})).expect("probe");
    call(
        &w,
        "pin_certificate",
        json!({"name": TENANT, "sha256": real}),
    )
    .expect("pin");
    let s = call(&w, "get_state", json!({})).expect("state");
    assert_eq!(
        row(&s, OTHER)["trusted"],
        true,
        "same server, same pin: {s}"
    );

    let removed = call(&w, "remove_trust", json!({"name": OTHER})).expect("remove_trust");
    assert_eq!(removed["host_port"], host_port(&emu).as_str(), "{removed}");
    assert_eq!(removed["pins"], json!([real]), "{removed}");
    assert_eq!(removed["ca_sha256"], json!([]), "{removed}");
    let mut tenants: Vec<String> = removed["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .map(|t| t.as_str().unwrap_or_default().to_string())
        .collect();
    tenants.sort();
    assert_eq!(tenants, [TENANT, OTHER], "{removed}");
    assert_eq!(pins_on_disk(dir.path()), json!({}));
    let s = call(&w, "get_state", json!({})).expect("state");
    assert_eq!(row(&s, TENANT)["trusted"], false, "{s}");
    assert_eq!(row(&s, OTHER)["trusted"], false, "{s}");
    let info = call(&w, "probe_certificate", json!({"name": TENANT})).expect("probe");
    assert_eq!(info["pinned"], false, "{info}");
    assert_eq!(info["pin_mismatch"], false, "{info}");
}

/// Bug caught: the probe not telling a CA-trusted server (`ca_trusted` missing or false), so the
/// window would offer to pin a certificate the user's CA already vouches for, and a pin would
/// then replace the CA's judgement for that server.
#[test]
fn the_probe_tells_a_server_a_trusted_ca_vouches_for() {
    let (rt, emu) = emulators(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, w) = app(dir.path());
    call(&w, "add_tenant", form(TENANT, &emu.vbm_url(), &emu)).expect("add");
    let before = call(&w, "probe_certificate", json!({"name": TENANT})).expect("probe");
    assert_eq!(before["ca_trusted"], false, "{before}");
    assert_eq!(before["system_trusted"], false, "{before}");

    // The CA trusted for this server, as `vbm365-auth tenant trust --ca-file` does it.
    let cli = ipc::engine(dir.path());
    let pem = emu.ca_pem().expect("CA-issued emulator");
    rt.block_on(cli.trust_ca(Some(TENANT), pem.as_bytes(), "corp-ca.pem"))
        .expect("trust CA");

    let after = call(&w, "probe_certificate", json!({"name": TENANT})).expect("probe");
    assert_eq!(after["ca_trusted"], true, "{after}");
    assert_eq!(after["pinned"], false, "{after}");
    assert_eq!(after["pin_mismatch"], false, "{after}");
    let s = call(&w, "get_state", json!({})).expect("state");
    assert_eq!(row(&s, TENANT)["trusted"], true, "{s}");

    // Forgetting it from the window forgets the CA too.
    let removed = call(&w, "remove_trust", json!({"name": TENANT})).expect("remove_trust");
    assert_eq!(
        removed["ca_sha256"].as_array().map(Vec::len),
        Some(1),
        "{removed}"
    );
    let gone = call(&w, "probe_certificate", json!({"name": TENANT})).expect("probe");
    assert_eq!(gone["ca_trusted"], false, "{gone}");
}
