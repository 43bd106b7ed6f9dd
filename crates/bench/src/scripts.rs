//! Figures of the scripting commands (issue 12): `vbm365-auth api ServiceInstance` against `curl`
//! sending the same request with the same token and the server's public key pinned
//! (`--pinnedpubkey`), alternated in one run; and `status --json` with 500 tenants.

use super::{fixture, median, ms, time, Row};
use std::process::Command;
use vbm365_emulator::Emulators;

/// `sha256//BASE64` of the certificate's public key, as curl's `--pinnedpubkey` takes it
/// (computed with the openssl command: curl pins keys, this product pins certificates).
fn curl_pin(cert_pem: &std::path::Path) -> String {
    let sh = format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl base64 -A",
        cert_pem.display()
    );
    let out = Command::new("sh")
        .args(["-c", &sh])
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("sha256//{}", String::from_utf8_lossy(&out.stdout).trim())
}

pub(super) async fn rows(emu: &Emulators, cli: &std::path::Path) -> Vec<Row> {
    let mut rows = Vec::new();
    let one = fixture(emu, 1).await;
    let dir = one.dir.path();
    let out = Command::new(cli)
        .arg("token")
        .env("VBM365_AUTH_CONFIG_DIR", dir)
        .output()
        .expect("token");
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let pem = dir.join("server.pem");
    std::fs::write(&pem, vbm365_auth_core::tls::to_pem(&emu.cert_der())).expect("pem");
    let pin = curl_pin(&pem);
    let url = format!("{}/v8/ServiceInstance", emu.vbm_url());
    let auth = format!("Authorization: Bearer {token}");
    let runs = 40;
    let (mut ours, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        floor.push(time(Command::new("curl").args([
            "-sSf",
            "-o",
            "/dev/null",
            "--cacert",
            pem.to_str().unwrap_or_default(),
            "--pinnedpubkey",
            &pin,
            "-H",
            &auth,
            &url,
        ])));
        ours.push(time(
            Command::new(cli)
                .args(["api", "ServiceInstance"])
                .env("VBM365_AUTH_CONFIG_DIR", dir),
        ));
    }
    let (m_ours, m_floor) = (median(&mut ours), median(&mut floor));
    let ratio = m_ours.as_secs_f64() / m_floor.as_secs_f64();
    rows.push(Row {
        what: format!("`vbm365-auth api ServiceInstance` vs pinned curl (median of {runs})"),
        figure: format!("{} vs curl {} = {ratio:.2}x", ms(m_ours), ms(m_floor)),
        target: "<= 1.3x curl".into(),
        verdict: if ratio <= 1.3 { "met" } else { "MISSED" },
    });

    let many = fixture(emu, 500).await;
    rows.push(super::status_json_row(cli, many.dir.path(), 500));
    rows
}
