//! `tenant add <TENANT> --server <URL>`: save a tenant.

use crate::cli::AddArgs;
use crate::output::{errln, Io};
use std::process::ExitCode;
use vbm365_auth_core::config::{AUTHORITY_CHINA, AUTHORITY_GLOBAL, AUTHORITY_US_GOV};
use vbm365_auth_core::{validate, Engine, Result, Role, SignInMethod, TenantProfile};

pub fn run(engine: &Engine, a: AddArgs, io: &mut Io<'_>) -> Result<ExitCode> {
    let mut p = TenantProfile::new(&a.tenant, &a.server)?;
    p.api_version = a.api_version.parse()?;
    p.authority = validate::authority_url(authority(&a.authority))?;
    p.role = a.role.parse()?;
    p.sign_in_method = a.sign_in_method.parse()?;
    if let Some(c) = a.client_id {
        p.client_id = c;
    }
    if let Some(s) = a.scope {
        p.scope = s;
    }
    p.remember_ms_sign_in = !a.no_remember_ms_sign_in;
    let cfg = engine.add_tenant(p.clone(), a.pin_sha256.as_deref(), a.activate)?;
    errln!(
        io,
        "Saved tenant {} ({} {}, authority {})",
        p.name,
        p.server.as_str().trim_end_matches('/'),
        p.api_version,
        p.authority.as_str().trim_end_matches('/')
    );
    if p.role == Role::Operator {
        errln!(
            io,
            "Role: restore operator (signs in to the Restore Portal application the server names)"
        );
    }
    if p.sign_in_method == SignInMethod::Browser {
        errln!(io, "Sign-in method: browser");
    }
    if cfg.active_tenant.as_deref() == Some(p.name.as_str()) {
        errln!(io, "Active tenant: {}", p.name);
    }
    if cfg.pins_for(&p.server_host_port()).is_empty() && p.server.scheme() == "https" {
        errln!(
            io,
            "If the server uses a self-signed certificate, pin it: vbm365-auth tenant trust {0}\n\
             If your organization's CA issued it: vbm365-auth tenant trust {0} --ca-file <PEM>",
            p.name
        );
    }
    errln!(io, "Next: vbm365-auth login {}", p.name);
    Ok(ExitCode::SUCCESS)
}

/// The authority named by `--authority`: a cloud's short name, or a URL as it is.
fn authority(raw: &str) -> &str {
    match raw.trim().to_ascii_lowercase().as_str() {
        "global" | "" => AUTHORITY_GLOBAL,
        "us-gov" | "usgov" | "us" => AUTHORITY_US_GOV,
        "china" | "cn" => AUTHORITY_CHINA,
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testkit::{message, Fixture, A, B, SERVER};
    use std::process::ExitCode;
    use vbm365_auth_core::{validate, Error};

    const TRUST_HINT: &str = "If the server uses a self-signed certificate, pin it: vbm365-auth tenant trust b.onmicrosoft.com\n\
        If your organization's CA issued it: vbm365-auth tenant trust b.onmicrosoft.com --ca-file <PEM>\n";

    #[tokio::test]
    async fn add_reports_what_was_saved_and_what_to_do_next() {
        let pin = "AB:".repeat(31) + "AB";
        // (arguments after `tenant add b.onmicrosoft.com`, stderr without the final "Next:" line)
        let cases: Vec<(Vec<&str>, String)> = vec![
            (
                vec!["--server", SERVER],
                format!("Saved tenant b.onmicrosoft.com ({SERVER} v8, authority https://login.microsoftonline.com)\n{TRUST_HINT}"),
            ),
            (
                vec!["--server", "https://vbm2.example.test/", "--api-version", "v7", "--authority", "US-Gov", "--activate"],
                format!("Saved tenant b.onmicrosoft.com (https://vbm2.example.test v7, authority https://login.microsoftonline.us)\n\
                         Active tenant: b.onmicrosoft.com\n{TRUST_HINT}"),
            ),
            (
                vec!["--server", "https://vbm2.example.test:4443", "--authority", "china", "--pin-sha256", &pin],
                "Saved tenant b.onmicrosoft.com (https://vbm2.example.test:4443 v8, authority https://login.partner.microsoftonline.cn)\n".into(),
            ),
            (
                vec!["--server", "http://localhost:4080", "--authority", "https://login.example.test/tenant/", "--api-version", "v6"],
                "Saved tenant b.onmicrosoft.com (http://localhost:4080 v6, authority https://login.example.test/tenant)\n".into(),
            ),
            (
                vec!["--server", "http://localhost:4080", "--role", "operator", "--sign-in-method", "browser"],
                "Saved tenant b.onmicrosoft.com (http://localhost:4080 v8, authority https://login.microsoftonline.com)\n\
                 Role: restore operator (signs in to the Restore Portal application the server names)\n\
                 Sign-in method: browser\n".into(),
            ),
        ];
        for (extra, stderr) in cases {
            let f = Fixture::with_tenants(&[A]);
            let mut args = vec!["tenant", "add", B];
            args.extend_from_slice(&extra);
            let r = f.run(&args).await;
            assert_eq!(r.code, ExitCode::SUCCESS, "{args:?}: {}", r.err);
            assert_eq!(r.out, "", "{args:?}");
            assert_eq!(
                r.err,
                format!("{stderr}Next: vbm365-auth login b.onmicrosoft.com\n"),
                "{args:?}"
            );
            assert_eq!(f.tenant_names(), [A, B], "{args:?}");
        }
    }

    #[tokio::test]
    async fn the_first_tenant_becomes_the_active_one() {
        let f = Fixture::with_tenants(&[]);
        let r = f
            .run(&[
                "tenant",
                "add",
                B,
                "--server",
                SERVER,
                "--no-remember-ms-sign-in",
            ])
            .await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        assert_eq!(
            r.err,
            format!(
                "Saved tenant b.onmicrosoft.com ({SERVER} v8, authority https://login.microsoftonline.com)\n\
                 Active tenant: b.onmicrosoft.com\n{TRUST_HINT}Next: vbm365-auth login b.onmicrosoft.com\n"
            )
        );
        assert_eq!(f.active().as_deref(), Some(B));
        assert!(!f.engine.config().unwrap().tenants[0].remember_ms_sign_in);
    }

    #[tokio::test]
    async fn refusals_are_usage_errors_and_save_nothing() {
        let exists = message(Error::TenantExists(A.into()));
        let bad_pin = message(validate::sha256_pin("abc").unwrap_err());
        let cases: &[(&[&str], &str)] = &[
            (
                &["tenant", "add", "A.onmicrosoft.com", "--server", SERVER],
                &exists,
            ),
            (
                &[
                    "tenant",
                    "add",
                    B,
                    "--server",
                    SERVER,
                    "--pin-sha256",
                    "abc",
                ],
                &bad_pin,
            ),
        ];
        let operator_app = vbm365_auth_core::config::OPERATOR_OWN_APP;
        let bad_role = message("admin".parse::<vbm365_auth_core::Role>().unwrap_err());
        let bad_method = message(
            "popup"
                .parse::<vbm365_auth_core::SignInMethod>()
                .unwrap_err(),
        );
        let more: &[(&[&str], &str)] = &[
            (
                &[
                    "tenant",
                    "add",
                    B,
                    "--server",
                    SERVER,
                    "--role",
                    "operator",
                    "--client-id",
                    "x",
                ],
                operator_app,
            ),
            (
                &["tenant", "add", B, "--server", SERVER, "--role", "admin"],
                &bad_role,
            ),
            (
                &[
                    "tenant",
                    "add",
                    B,
                    "--server",
                    SERVER,
                    "--sign-in-method",
                    "popup",
                ],
                &bad_method,
            ),
        ];
        for &(args, stderr) in cases.iter().chain(more) {
            let f = Fixture::with_tenants(&[A]);
            let r = f.run(args).await;
            assert_eq!(r.code, ExitCode::from(2), "{args:?}");
            assert_eq!(r.out, "", "{args:?}");
            assert_eq!(r.err, format!("error: {stderr}\n"), "{args:?}");
            assert_eq!(f.tenant_names(), [A], "{args:?}");
        }
    }
}
