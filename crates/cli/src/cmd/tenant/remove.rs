//! `tenant remove <TENANT>`: sign out of a tenant and forget it.

use crate::output::{errln, Io};
use std::process::ExitCode;
use vbm365_auth_core::{Engine, Result};

pub async fn run(engine: &Engine, tenant: &str, io: &mut Io<'_>) -> Result<ExitCode> {
    engine.remove_tenant(tenant).await?;
    errln!(io, "Removed tenant {tenant}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::super::testkit::{Fixture, A, B};
    use std::process::ExitCode;

    #[tokio::test]
    async fn remove_forgets_the_tenant_and_names_it_as_given() {
        let f = Fixture::with_tenants(&[A, B]);
        let r = f.run(&["tenant", "remove", "A.onmicrosoft.com"]).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        assert_eq!(r.out, "");
        assert_eq!(
            r.err,
            format!(
                "{}Removed tenant A.onmicrosoft.com\n",
                f.plaintext_warning()
            )
        );
        assert_eq!(f.active(), None);
        assert_eq!(f.tenant_names(), [B]);
    }
}
