//! `tenant untrust <TENANT>`: forget the pinned certificates and trusted certificate authorities of
//! the tenant's server (its host:port, shared by every tenant on that server).

use crate::output::{errln, print_json, Io};
use std::process::ExitCode;
use vbm365_auth_core::{tls, Engine, Result};

pub fn run(engine: &Engine, tenant: &str, json: bool, io: &mut Io<'_>) -> Result<ExitCode> {
    let r = engine.remove_trust(Some(tenant))?;
    if json {
        print_json(io, &r)?;
    }
    if r.pins.is_empty() && r.ca_sha256.is_empty() {
        errln!(
            io,
            "Nothing was trusted for {} (no pinned certificate, no trusted CA); tenants on it: {}",
            r.host_port,
            r.tenants.join(", ")
        );
        return Ok(ExitCode::SUCCESS);
    }
    for pin in &r.pins {
        errln!(
            io,
            "Forgot the pinned certificate of {}: SHA-256 {}",
            r.host_port,
            tls::pretty_fingerprint(pin)
        );
    }
    for ca in &r.ca_sha256 {
        errln!(
            io,
            "Forgot the trusted CA of {}: SHA-256 {}",
            r.host_port,
            tls::pretty_fingerprint(ca)
        );
    }
    errln!(
        io,
        "Tenants on {} (all affected): {}",
        r.host_port,
        r.tenants.join(", ")
    );
    errln!(
        io,
        "{} is now trusted only if the system's certificate authorities vouch for it; to trust it \
         again: vbm365-auth tenant trust {tenant}",
        r.host_port
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::super::testkit::{json_message, message, Fixture, A, B};
    use std::process::ExitCode;
    use vbm365_auth_core::Error;

    #[tokio::test]
    async fn untrust_forgets_the_pins_of_the_server_for_every_tenant_on_it() {
        let f = Fixture::with_tenants(&[A]);
        let pin = "0123456789abcdef".repeat(4);
        let add = [
            "tenant",
            "add",
            B,
            "--server",
            "https://vbm.example.test:4443",
        ];
        let r = f.run(&[&add[..], &["--pin-sha256", &pin]].concat()).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        let pretty = "01:23:45:67:89:AB:CD:EF:".repeat(4);
        let pretty = pretty.trim_end_matches(':');
        let r = f.run(&["tenant", "untrust", A, "--json"]).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        assert_eq!(
            r.out,
            format!(
                "{{\"ca_sha256\":[],\"host_port\":\"vbm.example.test:4443\",\"pins\":[\"{pin}\"],\
                 \"tenants\":[\"a.onmicrosoft.com\",\"b.onmicrosoft.com\"]}}\n"
            )
        );
        assert_eq!(
            r.err,
            format!(
                "Forgot the pinned certificate of vbm.example.test:4443: SHA-256 {pretty}\n\
                 Tenants on vbm.example.test:4443 (all affected): a.onmicrosoft.com, b.onmicrosoft.com\n\
                 vbm.example.test:4443 is now trusted only if the system's certificate authorities \
                 vouch for it; to trust it again: vbm365-auth tenant trust a.onmicrosoft.com\n"
            )
        );
        // Nothing left: said so, and the JSON has empty lists.
        let r = f.run(&["tenant", "untrust", B]).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        assert_eq!(r.out, "");
        assert_eq!(
            r.err,
            "Nothing was trusted for vbm.example.test:4443 (no pinned certificate, no trusted CA); \
             tenants on it: a.onmicrosoft.com, b.onmicrosoft.com\n"
        );
    }

    #[tokio::test]
    async fn untrust_of_an_unknown_tenant_is_a_usage_error_also_in_json() {
        let f = Fixture::with_tenants(&[A]);
        let r = f.run(&["tenant", "untrust", "nobody", "--json"]).await;
        assert_eq!(r.code, ExitCode::from(2));
        let unknown = || Error::TenantNotFound("nobody".into());
        assert_eq!(
            r.out,
            format!(
                "{{\"error\":{{\"code\":\"tenant_not_found\",\"hint\":\"see the saved tenants with `vbm365-auth tenant list`\",\"message\":{},\"remedy\":\"pick_saved_tenant\"}}}}\n",
                json_message(unknown())
            )
        );
        assert_eq!(
            r.err,
            format!(
                "error: {}\nhint: see the saved tenants with `vbm365-auth tenant list`\n",
                message(unknown())
            )
        );
    }
}
