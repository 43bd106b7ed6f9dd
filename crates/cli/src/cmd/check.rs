//! `status --check [--tenant T] [--json]`: what each signed-in tenant's server says
//! ([`Engine::check`]), one block per tenant with a fix for every problem; exit 1 when a check
//! failed.

use super::NO_TENANTS;
use crate::output::{errln, outln, print_json, relative, Io, EXIT_FAILURE};
use std::process::ExitCode;
use vbm365_auth_core::contract::{check_code, CheckRow};
use vbm365_auth_core::session::{Problem, TenantCheck, TrustKind};
use vbm365_auth_core::{Engine, Remedy, Result};

pub async fn run(
    engine: &Engine,
    tenant: Option<&str>,
    json: bool,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    let checks = engine.check(tenant).await?;
    if json {
        let rows: Vec<CheckRow> = checks.iter().map(row_json).collect();
        print_json(io, &rows)?;
    } else if checks.is_empty() {
        errln!(io, "{NO_TENANTS}");
    }
    if !json {
        for c in &checks {
            block(c, io)?;
        }
    }
    let failed = checks.iter().filter(|c| !c.passed()).count();
    if failed > 0 {
        errln!(
            io,
            "{failed} of {} tenant(s) failed the check",
            checks.len()
        );
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    Ok(ExitCode::SUCCESS)
}

/// What to do about a problem, as a command or an action.
pub fn fix(c: &TenantCheck, p: &Problem) -> Option<String> {
    let t = &c.profile.name;
    let renew = match c.certificate.as_ref().map(|c| c.trust) {
        Some(TrustKind::Pin) => format!(
            "renew the server's certificate, then pin the new one with `vbm365-auth tenant trust {t}`"
        ),
        _ => "renew the server's certificate".into(),
    };
    Some(match (p.code.as_str(), p.remedy) {
        (check_code::CLOCK_SKEW, _) => {
            "synchronize the clocks of this computer and of the VBM365 server (NTP)".into()
        }
        (check_code::CERTIFICATE_EXPIRED | check_code::CERTIFICATE_EXPIRING, _) => renew,
        (_, Some(Remedy::SignIn)) => format!("sign in with `vbm365-auth login {t}`"),
        (_, Some(Remedy::TrustServerCertificate)) => format!(
            "check the certificate and pin it with `vbm365-auth tenant trust {t}`, or trust its CA with `--ca-file <PEM>`"
        ),
        (_, Some(Remedy::ReviewChangedCertificate)) => format!(
            "find out why the certificate changed; if it was renewed on purpose, pin it with `vbm365-auth tenant trust {t}`"
        ),
        (_, Some(Remedy::CheckConnection)) => {
            "check the server address, that the server runs, the network and any proxy".into()
        }
        (_, Some(Remedy::RetryLater)) => "try again later".into(),
        (_, Some(Remedy::CheckServerSetup)) => {
            "check the organization's set-up on the VBM365 server".into()
        }
        _ => return None,
    })
}

/// The contract's row, with the CLI's wording of each fix.
fn row_json(c: &TenantCheck) -> CheckRow {
    let mut row = CheckRow::from(c);
    for (shown, p) in row.problems.iter_mut().zip(&c.problems) {
        shown.hint = fix(c, p);
    }
    row
}

fn block(c: &TenantCheck, io: &mut Io<'_>) -> Result<()> {
    let active = if c.active { " (active)" } else { "" };
    let verdict = match (&c.skipped, c.passed()) {
        (Some(why), _) => format!("skipped ({why})"),
        (None, true) => "OK".into(),
        (None, false) => "FAILED".into(),
    };
    outln!(io, "{}{active}: {verdict}", c.profile.name)?;
    if c.skipped.is_some() {
        return Ok(());
    }
    let server = c.profile.server.as_str().trim_end_matches('/');
    let version = c.server_version.as_deref().unwrap_or("?");
    outln!(
        io,
        "  server       {server} ({}), version {version}",
        c.profile.api_version
    )?;
    if let Some(u) = &c.user {
        let org = c.organization.as_deref().unwrap_or("?");
        outln!(io, "  signed in    {u} (organization {org})")?;
    }
    if let Some(t) = c.token_expires_at {
        outln!(
            io,
            "  token        valid until {} ({})",
            vbm365_auth_core::contract::rfc3339(t),
            relative(t)
        )?;
    }
    if let Some(k) = &c.certificate {
        let how = match k.trust {
            TrustKind::Pin => "pinned",
            TrustKind::Ca => "issued by a trusted CA",
            TrustKind::System => "trusted by the system",
        };
        let days = k
            .days_left
            .map(|d| format!(", expires in {d} days"))
            .unwrap_or_default();
        outln!(io, "  certificate  {how}{days}")?;
    }
    if let Some(s) = c.clock_skew_secs {
        let way = if s >= 0 { "ahead" } else { "behind" };
        outln!(io, "  clock        server {} s {way}", s.abs())?;
    }
    for p in &c.problems {
        let label = if p.fatal { "problem" } else { "warning" };
        outln!(io, "  {label:<12} {}", p.message)?;
        if let Some(h) = fix(c, p) {
            outln!(io, "  {:<12} {h}", "fix")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{Fixture, A, B};
    use std::process::ExitCode;
    use vbm365_emulator::{EmulatorOptions, Emulators};

    #[tokio::test]
    async fn a_working_tenant_passes_and_a_skewed_clock_fails_with_a_fix() {
        let emu = Emulators::start(EmulatorOptions::default()).await.unwrap();
        let f = Fixture::with_tenants(&[]);
        f.signed_in_on(&emu, A).await;
        f.add_on_emulators(&emu, B).await;
        let r = f.run(&["status", "--check"]).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}\n{}", r.out, r.err);
        assert!(
            r.out.starts_with("a.onmicrosoft.com (active): OK\n"),
            "{}",
            r.out
        );
        assert!(r.out.contains("version 8.1.2.180"), "{}", r.out);
        assert!(
            r.out
                .contains("signed in    admin@a.onmicrosoft.com (organization a.onmicrosoft.com)"),
            "{}",
            r.out
        );
        assert!(
            r.out.contains("certificate  pinned, expires in 36"),
            "{}",
            r.out
        );
        assert!(
            r.out.contains("b.onmicrosoft.com: skipped (not signed in)"),
            "{}",
            r.out
        );

        emu.set_vbm_clock_offset_secs(-900);
        let r = f.run(&["status", "--check", "--tenant", A, "--json"]).await;
        assert_eq!(r.code, ExitCode::from(1), "{}", r.err);
        let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
        let row = &v[0];
        assert_eq!(row["ok"], false);
        let skew = row["clock_skew_seconds"].as_i64().unwrap();
        assert!((-905..=-895).contains(&skew), "{skew}");
        assert_eq!(row["problems"][0]["code"], "clock_skew");
        assert!(row["problems"][0]["hint"].as_str().unwrap().contains("NTP"));
        assert_eq!(row["certificate"]["trust"], "pin");
        assert_eq!(v.as_array().unwrap().len(), 1);
    }
}
