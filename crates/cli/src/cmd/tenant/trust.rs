//! `tenant trust <TENANT>`: show the server certificate's SHA-256 fingerprint and pin it (after a
//! person confirms, or with `--yes`); with `--ca-file`, trust the certificate authority that issued
//! it instead.

use crate::output::{errln, outln, Io, EXIT_FAILURE};
use std::path::Path;
use std::process::ExitCode;
use vbm365_auth_core::{tls, Engine, Error, Result};

pub async fn pin(engine: &Engine, tenant: &str, yes: bool, io: &mut Io<'_>) -> Result<ExitCode> {
    let info = engine.probe_certificate(Some(tenant)).await?;
    errln!(
        io,
        "The server {} presents a certificate with SHA-256 fingerprint",
        info.host_port
    );
    errln!(io, "  {}", tls::pretty_fingerprint(&info.sha256));
    if info.system_trusted {
        errln!(
            io,
            "The system's certificate authorities already trust it; a pin is optional."
        );
    }
    outln!(io, "{}", info.sha256)?;
    if !yes && !confirmed(&info.host_port, io)? {
        errln!(io, "Not pinned.");
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    engine.pin_certificate(Some(tenant), &info.sha256)?;
    errln!(
        io,
        "Pinned {} for {}",
        tls::pretty_fingerprint(&info.sha256),
        info.host_port
    );
    Ok(ExitCode::SUCCESS)
}

/// Asks a person; without one (stdin is not a terminal) `--yes` is required.
fn confirmed(host_port: &str, io: &mut Io<'_>) -> Result<bool> {
    if !io.stdin_is_terminal {
        return Err(Error::InvalidInput(
            "compare the fingerprint with the server's certificate, then confirm with --yes".into(),
        ));
    }
    io.err(format_args!(
        "Trust this certificate for {host_port}? [y/N] "
    ));
    let answer = io.read_line()?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

pub async fn trust_ca(
    engine: &Engine,
    tenant: &str,
    file: &Path,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    let shown = file.display().to_string();
    let pem = std::fs::read(file)
        .map_err(|e| Error::InvalidInput(format!("cannot read the CA file {shown}: {e}")))?;
    let t = engine.trust_ca(Some(tenant), &pem, &shown).await?;
    errln!(
        io,
        "The certificate of {} (SHA-256 {}) verifies against {shown}.",
        t.host_port,
        tls::pretty_fingerprint(&t.server_sha256)
    );
    for ca in &t.ca_sha256 {
        errln!(
            io,
            "Trusted CA for {}: SHA-256 {}",
            t.host_port,
            tls::pretty_fingerprint(ca)
        );
        outln!(io, "{ca}")?;
    }
    if !t.replaced_pins.is_empty() {
        errln!(
            io,
            "Removed {} certificate pin(s) of {}: the CA now decides.",
            t.replaced_pins.len(),
            t.host_port
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::super::testkit::{Fixture, Streams, A};
    use std::process::ExitCode;
    use vbm365_emulator::{EmulatorOptions, Emulators};

    /// (stdin, whether it is a terminal, `--yes`, exit code, what stderr ends with, pinned)
    type Case = (&'static str, bool, bool, u8, &'static str, bool);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn trust_pins_only_what_a_person_or_yes_confirms() {
        let emu = Emulators::start(EmulatorOptions::default()).await.unwrap();
        let sha = emu.cert_sha256();
        let pretty = vbm365_auth_core::tls::pretty_fingerprint(&sha);
        let host_port = emu.vbm_url().trim_start_matches("https://").to_string();
        let shown = format!(
            "The server {host_port} presents a certificate with SHA-256 fingerprint\n  {pretty}\n"
        );
        let prompt = format!("Trust this certificate for {host_port}? [y/N] ");
        let pinned = format!("Pinned {pretty} for {host_port}\n");
        let cases: &[Case] = &[
            ("y\n", true, false, 0, "PROMPT+PINNED", true),
            (" YES \n", true, false, 0, "PROMPT+PINNED", true),
            ("n\n", true, false, 1, "PROMPT+Not pinned.\n", false),
            ("\n", true, false, 1, "PROMPT+Not pinned.\n", false),
            ("", true, false, 1, "PROMPT+Not pinned.\n", false),
            ("y\n", false, false, 2, "error: compare the fingerprint with the server's certificate, then confirm with --yes\n", false),
            ("", false, true, 0, "PINNED", true),
        ];
        for &(input, terminal, yes, code, tail, is_pinned) in cases {
            let f = Fixture::with_tenants(&[]);
            f.add_on(A, &emu.vbm_url());
            let mut args = vec!["tenant", "trust", A];
            if yes {
                args.push("--yes");
            }
            let r = f.run_with(&args, Streams::new(input, terminal)).await;
            let tail = tail.replace("PROMPT+", &prompt).replace("PINNED", &pinned);
            let case = format!("{input:?} terminal={terminal} yes={yes}");
            assert_eq!(r.code, ExitCode::from(code), "{case}: {}", r.err);
            assert_eq!(r.out, format!("{sha}\n"), "{case}");
            assert_eq!(r.err, format!("{shown}{tail}"), "{case}");
            let cfg = f.engine.config().unwrap();
            let pins: &[String] = if is_pinned {
                std::slice::from_ref(&sha)
            } else {
                &[]
            };
            assert_eq!(cfg.pins_for(&host_port), pins, "{case}");
        }
    }
}
