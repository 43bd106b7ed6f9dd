//! `tenant export [TENANT…]` and `tenant import FILE|- [--skip-invalid] [--json]`: tenants moved
//! between machines as JSON (settings and server pins, never a token). The file's format and its
//! checks are the core's ([`Engine::export_tenants`], [`Engine::import_tenants`]).

use crate::output::{errln, print_json, Io, EXIT_FAILURE};
use std::io::Read;
use std::process::ExitCode;
use vbm365_auth_core::{Engine, Error, Result};

pub fn export(engine: &Engine, names: &[String], io: &mut Io<'_>) -> Result<ExitCode> {
    let file = engine.export_tenants(names)?;
    let text =
        serde_json::to_string_pretty(&file).map_err(|e| Error::InvalidInput(e.to_string()))?;
    io.out(format_args!("{text}\n"))?;
    errln!(
        io,
        "Exported {} tenant(s); no tokens are in the file.",
        file.tenants.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn import(
    engine: &Engine,
    file: &str,
    skip_invalid: bool,
    json: bool,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    let (bytes, name) = read(file, io)?;
    let report = engine.import_tenants(&bytes, &name, skip_invalid)?;
    let applied = report.invalid.is_empty() || skip_invalid;
    for bad in &report.invalid {
        let who = bad
            .tenant
            .as_deref()
            .map(|t| format!(" ('{t}')"))
            .unwrap_or_default();
        errln!(io, "{name}: entry {}{who}: {}", bad.entry, bad.message);
    }
    if json {
        print_json(io, &report)?;
    }
    if !applied {
        errln!(
            io,
            "Nothing was imported: {} of {} entries have problems. Fix them, or add the others with --skip-invalid.",
            report.invalid.len(),
            report.invalid.len() + report.added.len() + report.unchanged.len()
        );
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    errln!(
        io,
        "Imported {} tenant(s); {} already saved as they are; {} skipped.",
        report.added.len(),
        report.unchanged.len(),
        report.invalid.len()
    );
    if !report.added.is_empty() {
        errln!(io, "Next: vbm365-auth login <TENANT> for each of them.");
    }
    Ok(ExitCode::SUCCESS)
}

fn read(file: &str, io: &mut Io<'_>) -> Result<(Vec<u8>, String)> {
    let mut bytes = Vec::new();
    let (res, name) = if file == "-" {
        (
            io.input.read_to_end(&mut bytes),
            "standard input".to_string(),
        )
    } else {
        (
            std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes)),
            file.to_string(),
        )
    };
    res.map_err(|source| Error::Io {
        path: name.clone(),
        source,
    })?;
    Ok((bytes, name))
}

#[cfg(test)]
mod tests {
    use super::super::super::testkit::{Fixture, Streams, A, B};
    use std::process::ExitCode;

    #[tokio::test]
    async fn export_then_import_elsewhere_gives_the_same_tenants_and_pins() {
        let from = Fixture::with_tenants(&[A, B]);
        let pin = "ab".repeat(32);
        from.engine.pin_certificate(Some(A), &pin).unwrap();
        let r = from.run(&["tenant", "export"]).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        assert!(!r.out.contains("access_token") && !r.out.contains("refresh_token"));
        let to = Fixture::with_tenants(&[]);
        let r = to
            .run_with(
                &["tenant", "import", "-", "--json"],
                Streams::new(&r.out, false),
            )
            .await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        assert_eq!(
            r.out,
            format!("{{\"added\":[\"{A}\",\"{B}\"],\"invalid\":[],\"unchanged\":[]}}\n")
        );
        assert_eq!(to.tenant_names(), [A, B]);
        let cfg = to.engine.config().unwrap();
        assert_eq!(cfg.pins_for(&cfg.tenants[0].server_host_port()), [pin]);
        assert_eq!(cfg.active_tenant.as_deref(), Some(A));
    }

    #[tokio::test]
    async fn a_file_with_problems_adds_nothing_unless_skipping_and_reports_each() {
        let f = Fixture::with_tenants(&[A]);
        let file = r#"{"format":"vbm365-auth-tenants","version":1,"tenants":[
            {"name":"good.onmicrosoft.com","server":"https://vbm.example.test:4443"},
            {"name":"bad server","server":"http://vbm.example.test"},
            {"name":"good.onmicrosoft.com","server":"https://vbm.example.test:4443"},
            {"name":"x.onmicrosoft.com","server":"https://vbm.example.test:4443","api_version":"v9"},
            {"name":"y.onmicrosoft.com","server":"https://vbm.example.test:4443","colour":"red"},
            {"name":"a.onmicrosoft.com","server":"https://other.example.test"}
        ]}"#;
        let r = f
            .run_with(&["tenant", "import", "-"], Streams::new(file, false))
            .await;
        assert_eq!(r.code, ExitCode::from(1), "{}", r.err);
        let lines: Vec<&str> = r.err.lines().filter(|l| l.contains(": entry ")).collect();
        assert_eq!(lines.len(), 5, "{}", r.err);
        for (line, says) in lines.iter().zip([
            "entry 2 ('bad server')",
            "entry 3 ('good.onmicrosoft.com'): 'good.onmicrosoft.com' is listed twice",
            "entry 4 ('x.onmicrosoft.com'): unknown API version 'v9'",
            "entry 5 ('y.onmicrosoft.com'): not a tenant entry: unknown field `colour`",
            "entry 6 ('a.onmicrosoft.com'): a tenant named 'a.onmicrosoft.com' is already saved",
        ]) {
            assert!(line.contains(says), "{line} / {says}");
        }
        assert!(
            r.err
                .contains("Nothing was imported: 5 of 6 entries have problems"),
            "{}",
            r.err
        );
        assert_eq!(f.tenant_names(), [A]);
        let r = f
            .run_with(
                &["tenant", "import", "-", "--skip-invalid"],
                Streams::new(file, false),
            )
            .await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        assert_eq!(f.tenant_names(), [A, "good.onmicrosoft.com"]);
        assert!(
            r.err
                .contains("Imported 1 tenant(s); 0 already saved as they are; 5 skipped."),
            "{}",
            r.err
        );
        let r = f
            .run_with(&["tenant", "import", "-"], Streams::new("[1,", false))
            .await;
        assert_eq!(r.code, ExitCode::from(2));
        assert!(r.err.contains("standard input: not JSON"), "{}", r.err);
    }
}
