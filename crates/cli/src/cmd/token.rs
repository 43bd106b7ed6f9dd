//! `token [TENANT]`: print a valid access token, refreshing it first when needed. The only command
//! that prints a token.

use crate::output::{outln, print_json, Io};
use std::process::ExitCode;
use std::time::Duration;
use vbm365_auth_core::contract::TokenOutput;
use vbm365_auth_core::{Engine, Result};

pub async fn run(
    engine: &Engine,
    tenant: Option<&str>,
    min_valid: Duration,
    json: bool,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    let t = engine.token(tenant, min_valid).await?;
    if json {
        print_json(
            io,
            &TokenOutput {
                tenant: &t.tenant,
                access_token: t.access_token.expose(),
                token_type: "bearer",
                expires_at: t.expires_at,
            },
        )?;
    } else {
        outln!(io, "{}", t.access_token.expose())?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{at, json_message, message, Fixture, A, B};
    use std::process::ExitCode;
    use vbm365_auth_core::Error;

    async fn signed_in() -> Fixture {
        let f = Fixture::with_tenants(&[A, B]);
        f.store_tokens(A, "access-a", at("2100-01-01T00:00:00Z"))
            .await;
        f.store_tokens(B, "access-b", at("2100-02-03T04:05:06Z"))
            .await;
        f
    }

    #[tokio::test]
    async fn token_prints_exactly_the_token_or_its_json() {
        let f = signed_in().await;
        let cases: &[(&[&str], &str)] = &[
            (&["token"], "access-a\n"),
            (&["token", B], "access-b\n"),
            (&["token", "--min-valid", "0", B], "access-b\n"),
            (
                &["token", "--json"],
                "{\"access_token\":\"access-a\",\"expires_at\":\"2100-01-01T00:00:00Z\",\"tenant\":\"a.onmicrosoft.com\",\"token_type\":\"bearer\"}\n",
            ),
            (
                &["token", "B.onmicrosoft.com", "--json"],
                "{\"access_token\":\"access-b\",\"expires_at\":\"2100-02-03T04:05:06Z\",\"tenant\":\"b.onmicrosoft.com\",\"token_type\":\"bearer\"}\n",
            ),
        ];
        for &(args, stdout) in cases {
            let r = f.run(args).await;
            assert_eq!(r.code, ExitCode::SUCCESS, "{args:?}: {}", r.err);
            assert_eq!(r.out, stdout, "{args:?}");
            assert_eq!(r.err, f.plaintext_warning(), "{args:?}");
        }
    }

    #[tokio::test]
    async fn a_tenant_without_tokens_needs_sign_in() {
        let f = signed_in().await;
        f.add("c.onmicrosoft.com");
        let r = f.run(&["token", "c.onmicrosoft.com", "--json"]).await;
        assert_eq!(r.code, ExitCode::from(4));
        let e = || Error::SignInRequired {
            tenant: "c.onmicrosoft.com".into(),
            reason: "not signed in".into(),
        };
        assert_eq!(
            r.out,
            format!(
                "{{\"error\":{{\"code\":\"sign_in_required\",\"hint\":\"sign in with `vbm365-auth login <TENANT>`\",\"message\":{},\"remedy\":\"sign_in\"}}}}\n",
                json_message(e())
            )
        );
        let warning = f.plaintext_warning();
        assert_eq!(
            r.err,
            format!(
                "{warning}error: {}\nhint: sign in with `vbm365-auth login <TENANT>`\n",
                message(e())
            )
        );
    }

    #[tokio::test]
    async fn an_unknown_tenant_is_a_usage_error_on_stderr() {
        let f = signed_in().await;
        let r = f.run(&["token", "nobody"]).await;
        assert_eq!(r.code, ExitCode::from(2));
        assert_eq!(r.out, "");
        let e = Error::TenantNotFound("nobody".into());
        let warning = f.plaintext_warning();
        assert_eq!(
            r.err,
            format!(
                "{warning}error: {}\nhint: see the saved tenants with `vbm365-auth tenant list`\n",
                message(e)
            )
        );
    }
}
