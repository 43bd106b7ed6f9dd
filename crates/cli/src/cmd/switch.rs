//! `switch <TENANT>`: make a tenant the active one.

use crate::output::{errln, Io};
use std::process::ExitCode;
use vbm365_auth_core::{Engine, Result};

pub fn run(engine: &Engine, tenant: &str, io: &mut Io<'_>) -> Result<ExitCode> {
    let name = engine.switch(tenant)?;
    errln!(io, "Active tenant: {name}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{message, Fixture, A, B};
    use std::process::ExitCode;
    use vbm365_auth_core::Error;

    #[tokio::test]
    async fn switch_prints_the_saved_name_and_changes_the_active_tenant() {
        let unknown = format!(
            "error: {}\nhint: see the saved tenants with `vbm365-auth tenant list`\n",
            message(Error::TenantNotFound("nobody.onmicrosoft.com".into()))
        );
        // (argument, exit code, stderr, active tenant afterwards)
        let cases: &[(&str, u8, &str, &str)] = &[
            (B, 0, "Active tenant: b.onmicrosoft.com\n", B),
            (
                "B.ONMICROSOFT.COM",
                0,
                "Active tenant: b.onmicrosoft.com\n",
                B,
            ),
            (A, 0, "Active tenant: a.onmicrosoft.com\n", A),
            ("nobody.onmicrosoft.com", 2, &unknown, A),
        ];
        for &(arg, code, stderr, active) in cases {
            let f = Fixture::with_tenants(&[A, B]);
            let r = f.run(&["switch", arg]).await;
            assert_eq!(r.code, ExitCode::from(code), "switch {arg}: {}", r.err);
            assert_eq!(r.out, "", "switch {arg}");
            assert_eq!(r.err, stderr, "switch {arg}");
            assert_eq!(f.active().as_deref(), Some(active), "switch {arg}");
        }
    }
}
