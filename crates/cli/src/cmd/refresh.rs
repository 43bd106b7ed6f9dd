//! `refresh [TENANT] | --all`: refresh tokens now.

use crate::output::{self, errln, print_json, relative, Io, EXIT_FAILURE, EXIT_SIGN_IN_REQUIRED};
use std::process::ExitCode;
use vbm365_auth_core::contract::{RefreshRow, TokenExpiry};
use vbm365_auth_core::{Engine, Error, Result};

pub async fn run(
    engine: &Engine,
    tenant: Option<&str>,
    all: bool,
    json: bool,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    if all {
        return refresh_all(engine, json, io).await;
    }
    let t = engine.refresh(tenant).await?;
    if json {
        print_json(
            io,
            &TokenExpiry {
                tenant: t.tenant.clone(),
                expires_at: t.expires_at,
            },
        )?;
    }
    errln!(
        io,
        "Refreshed {}; the access token expires {}",
        t.tenant,
        relative(t.expires_at)
    );
    Ok(ExitCode::SUCCESS)
}

/// Every tenant; the exit code is the worst outcome (failure, then sign-in required).
async fn refresh_all(engine: &Engine, json: bool, io: &mut Io<'_>) -> Result<ExitCode> {
    let results = engine.refresh_all(None).await?;
    let (mut ok, mut sign_in, mut failed) = (0usize, 0usize, 0usize);
    let mut rows = Vec::with_capacity(results.len());
    for (name, r) in &results {
        match r {
            Ok(t) => {
                ok += 1;
                rows.push(RefreshRow {
                    tenant: name.clone(),
                    ok: true,
                    expires_at: Some(t.expires_at),
                    error: None,
                });
            }
            Err(e) => {
                if matches!(e, Error::SignInRequired { .. }) {
                    sign_in += 1
                } else {
                    failed += 1
                }
                errln!(io, "{name}: {e}");
                rows.push(RefreshRow {
                    tenant: name.clone(),
                    ok: false,
                    expires_at: None,
                    error: Some(output::error_body(e)),
                });
            }
        }
    }
    if json {
        print_json(io, &rows)?;
    }
    errln!(
        io,
        "Refreshed {ok} tenant(s); {sign_in} need sign-in; {failed} failed"
    );
    Ok(if failed > 0 {
        ExitCode::from(EXIT_FAILURE)
    } else if sign_in > 0 {
        ExitCode::from(EXIT_SIGN_IN_REQUIRED)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{json_message, message, Fixture, A, B};
    use crate::output::relative;
    use std::process::ExitCode;
    use vbm365_auth_core::Error;
    use vbm365_emulator::{EmulatorOptions, Emulators};

    fn expiry(row: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
        row["expires_at"].as_str().unwrap().parse().unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refresh_one_prints_the_new_expiry() {
        let emu = Emulators::start(EmulatorOptions::default()).await.unwrap();
        let f = Fixture::with_tenants(&[]);
        f.signed_in_on(&emu, A).await;
        let r = f.run(&["refresh", "--json"]).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        let row: serde_json::Value = serde_json::from_str(&r.out).unwrap();
        let exp = row["expires_at"].as_str().unwrap();
        assert_eq!(
            r.out,
            format!("{{\"expires_at\":\"{exp}\",\"tenant\":\"{A}\"}}\n")
        );
        let warning = f.plaintext_warning();
        let shown = relative(expiry(&row));
        assert_eq!(
            r.err,
            format!("{warning}Refreshed {A}; the access token expires {shown}\n")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refresh_all_reports_each_tenant_and_exits_with_the_worst_outcome() {
        let emu = Emulators::start(EmulatorOptions::default()).await.unwrap();
        let f = Fixture::with_tenants(&[]);
        f.signed_in_on(&emu, A).await;
        f.add(B);
        f.needs_sign_in(B, "revoked").await;
        f.add("c.onmicrosoft.com"); // signed out: nothing to refresh
        let r = f.run(&["refresh", "--all", "--json"]).await;
        assert_eq!(r.code, ExitCode::from(4), "{}", r.err);
        let rows: serde_json::Value = serde_json::from_str(&r.out).unwrap();
        let exp = rows[1]["expires_at"].as_str().unwrap();
        let revoked = || Error::SignInRequired {
            tenant: B.into(),
            reason: "revoked".into(),
        };
        assert_eq!(
            r.out,
            format!(
                "[{{\"code\":\"sign_in_required\",\"hint\":\"sign in with `vbm365-auth login <TENANT>`\",\"message\":{},\"ok\":false,\"remedy\":\"sign_in\",\"tenant\":\"{B}\"}},\
                 {{\"expires_at\":\"{exp}\",\"ok\":true,\"tenant\":\"{A}\"}}]\n",
                json_message(revoked())
            )
        );
        assert_eq!(
            r.err,
            format!(
                "{}{B}: {}\nRefreshed 1 tenant(s); 1 need sign-in; 0 failed\n",
                f.plaintext_warning(),
                message(revoked())
            )
        );
    }
}
