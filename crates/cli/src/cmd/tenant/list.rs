//! `tenant list [--json]`: the saved tenants, the active one marked.

use super::super::status::suffix;
use super::super::NO_TENANTS;
use crate::output::{errln, outln, print_json, Io};
use std::process::ExitCode;
use vbm365_auth_core::contract::TenantRow;
use vbm365_auth_core::{Config, Engine, Result, TenantProfile};

pub fn run(engine: &Engine, json: bool, io: &mut Io<'_>) -> Result<ExitCode> {
    let cfg = engine.config()?;
    if json {
        let rows: Vec<TenantRow> = cfg
            .tenants
            .iter()
            .map(|t| TenantRow::new(&cfg, t))
            .collect();
        print_json(io, &rows)?;
    } else if cfg.tenants.is_empty() {
        errln!(io, "{NO_TENANTS}");
    } else {
        for t in &cfg.tenants {
            let mark = if is_active(&cfg, t) { "*" } else { " " };
            outln!(
                io,
                "{mark} {}  {}  {}{}",
                t.name,
                t.server.as_str().trim_end_matches('/'),
                t.api_version,
                suffix(t)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn is_active(cfg: &Config, t: &TenantProfile) -> bool {
    cfg.active_tenant.as_deref() == Some(t.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::super::super::testkit::{Fixture, A, B, SERVER};
    use std::process::ExitCode;

    async fn two_tenants() -> Fixture {
        let f = Fixture::with_tenants(&[A]);
        let pin = "0123456789abcdef".repeat(4);
        let r = f
            .run(&[
                "tenant",
                "add",
                B,
                "--server",
                "https://vbm2.example.test",
                "--api-version",
                "v7",
                "--client-id",
                "my-app",
                "--scope",
                "a b",
                "--no-remember-ms-sign-in",
                "--sign-in-method",
                "browser",
                "--pin-sha256",
                &pin,
                "--activate",
            ])
            .await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        f
    }

    #[tokio::test]
    async fn list_prints_one_line_per_tenant_on_stdout() {
        let f = two_tenants().await;
        let r = f.run(&["tenant", "list"]).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        assert_eq!(
            r.out,
            format!(
                "  a.onmicrosoft.com  {SERVER}  v8\n\
                 * b.onmicrosoft.com  https://vbm2.example.test  v7  (browser sign-in)\n"
            )
        );
        assert_eq!(r.err, "");
    }

    #[tokio::test]
    async fn list_json_has_every_setting_and_the_trust() {
        let f = two_tenants().await;
        let r = f.run(&["tenant", "list", "--json"]).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        let a = format!(
            "{{\"active\":false,\"api_version\":\"v8\",\"authority\":\"https://login.microsoftonline.com\",\
             \"client_id\":\"04b07795-8ddb-461a-bbee-02f9e1bf7b46\",\"pinned_sha256\":[],\
             \"remember_ms_sign_in\":true,\"role\":\"organization\",\
             \"scope\":\"Directory.AccessAsUser.All User.ReadWrite.All offline_access\",\
             \"server\":\"{SERVER}\",\"sign_in_method\":\"device_code\",\"tenant\":\"a.onmicrosoft.com\",\
             \"trusted_ca_sha256\":[]}}"
        );
        let b = format!(
            "{{\"active\":true,\"api_version\":\"v7\",\"authority\":\"https://login.microsoftonline.com\",\
             \"client_id\":\"my-app\",\"pinned_sha256\":[\"{}\"],\"remember_ms_sign_in\":false,\
             \"role\":\"organization\",\"scope\":\"a b\",\"server\":\"https://vbm2.example.test\",\
             \"sign_in_method\":\"browser\",\"tenant\":\"b.onmicrosoft.com\",\
             \"trusted_ca_sha256\":[]}}",
            "0123456789abcdef".repeat(4)
        );
        assert_eq!(r.out, format!("[{a},{b}]\n"));
        assert_eq!(r.err, "");
    }

    #[tokio::test]
    async fn an_empty_list_says_how_to_add_a_tenant() {
        let f = Fixture::with_tenants(&[]);
        let cases: &[(&[&str], &str, &str)] = &[
            (
                &["tenant", "list"],
                "",
                "No tenants saved. Add one: vbm365-auth tenant add <TENANT> --server <URL>\n",
            ),
            (&["tenant", "list", "--json"], "[]\n", ""),
        ];
        for &(args, stdout, stderr) in cases {
            let r = f.run(args).await;
            assert_eq!(r.code, ExitCode::SUCCESS, "{args:?}");
            assert_eq!(r.out, stdout, "{args:?}");
            assert_eq!(r.err, stderr, "{args:?}");
        }
    }
}
