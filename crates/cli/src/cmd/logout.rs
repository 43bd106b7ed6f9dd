//! `logout [TENANT] | --all`: log out at the server (v7+) and delete the tokens.

use crate::output::{errln, Io};
use std::process::ExitCode;
use vbm365_auth_core::{Engine, Result};

pub async fn run(
    engine: &Engine,
    tenant: Option<&str>,
    all: bool,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    if all {
        engine.logout_all().await?;
        errln!(io, "Signed out of all tenants");
        return Ok(ExitCode::SUCCESS);
    }
    let name = engine.config()?.resolve(tenant)?.name.clone();
    if let Some(w) = engine.logout(Some(&name)).await? {
        errln!(
            io,
            "warning: the server did not confirm the logout ({w}); the local tokens are deleted"
        );
    }
    errln!(io, "Signed out of {name}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{Fixture, A, B};
    use std::process::ExitCode;
    use vbm365_emulator::{EmulatorOptions, Emulators};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn logout_signs_out_one_tenant_or_all() {
        let emu = Emulators::start(EmulatorOptions::default()).await.unwrap();
        let f = Fixture::with_tenants(&[]);
        f.signed_in_on(&emu, A).await;
        f.signed_in_on(&emu, B).await;
        let warning = f.plaintext_warning();
        let cases: &[(&[&str], String, &str)] = &[
            (
                &["logout", "B.onmicrosoft.com"],
                format!("Signed out of {B}\n"),
                "signed_in",
            ),
            (&["logout"], format!("Signed out of {A}\n"), "signed_out"),
            (
                &["logout", "--all"],
                "Signed out of all tenants\n".into(),
                "signed_out",
            ),
        ];
        for (args, stderr, a_state) in cases {
            let r = f.run(args).await;
            assert_eq!(r.code, ExitCode::SUCCESS, "{args:?}: {}", r.err);
            assert_eq!(r.out, "", "{args:?}");
            assert_eq!(r.err, format!("{warning}{stderr}"), "{args:?}");
            let status = f.engine.status().unwrap();
            assert_eq!(status[0].state.as_str(), *a_state, "{args:?}");
            assert_eq!(status[1].state.as_str(), "signed_out", "{args:?}");
        }
    }
}
