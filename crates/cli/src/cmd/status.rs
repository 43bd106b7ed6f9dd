//! `status [--json]`: the state of every saved tenant, as a table on stdout or as JSON.

use super::NO_TENANTS;
use crate::output::{errln, outln, print_json, relative, Io};
use std::process::ExitCode;
use vbm365_auth_core::contract::StatusRow;
use vbm365_auth_core::{
    Engine, Result, Role, SignInMethod, TenantProfile, TenantState, TenantStatus,
};

pub fn run(engine: &Engine, json: bool, io: &mut Io<'_>) -> Result<ExitCode> {
    let rows = engine.status()?;
    if json {
        let out: Vec<StatusRow> = rows.iter().map(StatusRow::from).collect();
        print_json(io, &out)?;
    } else if rows.is_empty() {
        errln!(io, "{NO_TENANTS}");
    } else {
        table(&rows, io)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn table(rows: &[TenantStatus], io: &mut Io<'_>) -> Result<()> {
    let width = rows
        .iter()
        .map(|r| r.profile.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    outln!(
        io,
        "  {:width$}  {:16}  {:18}  SERVER",
        "TENANT",
        "STATE",
        "EXPIRES"
    )?;
    for r in rows {
        let expires = match (r.state, r.expires_at) {
            (TenantState::SignedIn | TenantState::Expired, Some(t)) => relative(t),
            _ => "-".into(),
        };
        outln!(
            io,
            "{} {:width$}  {:16}  {:18}  {}{}",
            if r.active { "*" } else { " " },
            r.profile.name,
            r.state.as_str(),
            expires,
            r.profile.server.as_str().trim_end_matches('/'),
            suffix(&r.profile)
        )?;
        if let Some(d) = &r.detail {
            outln!(io, "  {:width$}  ({d})", "")?;
        }
    }
    Ok(())
}

/// What sets a tenant apart from an organization signing in with a device code (the default):
/// `  (restore operator)`, `  (browser sign-in)`, both, or nothing.
pub(crate) fn suffix(t: &TenantProfile) -> String {
    let mut parts = Vec::new();
    if t.role == Role::Operator {
        parts.push("restore operator");
    }
    if t.sign_in_method == SignInMethod::Browser {
        parts.push("browser sign-in");
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("  ({})", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{at, Fixture, A, B, SERVER};
    use chrono::{Duration, Utc};
    use std::process::ExitCode;

    type Time = chrono::DateTime<Utc>;

    /// A signed in (active), B signed out, C needs sign-in, D expired.
    async fn four_states(a_expires: Time, d_expired: Time) -> Fixture {
        let f = Fixture::with_tenants(&[A, B, "c.onmicrosoft.com", "d.onmicrosoft.com"]);
        f.store_tokens(A, "access-a", a_expires).await;
        f.needs_sign_in("c.onmicrosoft.com", "the refresh token was revoked")
            .await;
        f.store_tokens("d.onmicrosoft.com", "access-d", d_expired)
            .await;
        f
    }

    #[tokio::test]
    async fn status_text_is_a_table_with_states_and_expiry() {
        // "2 h 0 min" for 50 s either way.
        let now = Utc::now();
        let f = four_states(
            now + Duration::seconds(2 * 3600 + 50),
            now - Duration::seconds(2 * 3600 + 5),
        )
        .await;
        let r = f.run(&["status"]).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        let expected = format!(
            "  TENANT             STATE             EXPIRES             SERVER\n\
             * a.onmicrosoft.com  signed_in         in 2 h 0 min        {SERVER}\n\
             \x20 b.onmicrosoft.com  signed_out        -                   {SERVER}\n\
             \x20 c.onmicrosoft.com  sign_in_required  -                   {SERVER}\n\
             \x20                    (the refresh token was revoked)\n\
             \x20 d.onmicrosoft.com  expired           2 h 0 min ago       {SERVER}\n"
        );
        assert_eq!(r.out, expected);
        assert_eq!(r.err, f.plaintext_warning());
    }

    #[tokio::test]
    async fn status_json_has_one_object_per_tenant() {
        let f = four_states(at("2100-01-01T00:00:00Z"), at("2001-02-03T04:05:06Z")).await;
        let r = f.run(&["status", "--json"]).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        let row = |t: &str, active: bool, state: &str, exp: &str| {
            format!("{{\"active\":{active},\"expires_at\":{exp},\"role\":\"organization\",\"server\":\"{SERVER}\",\"state\":\"{state}\",\"tenant\":\"{t}\"}}")
        };
        let expected = format!(
            "[{},{},{},{}]\n",
            row(A, true, "signed_in", "\"2100-01-01T00:00:00Z\""),
            row(B, false, "signed_out", "null"),
            row("c.onmicrosoft.com", false, "sign_in_required", "null"),
            row(
                "d.onmicrosoft.com",
                false,
                "expired",
                "\"2001-02-03T04:05:06Z\""
            ),
        );
        assert_eq!(r.out, expected);
        assert_eq!(r.err, f.plaintext_warning());
    }

    #[tokio::test]
    async fn status_without_tenants_says_how_to_add_one() {
        let f = Fixture::with_tenants(&[]);
        for (args, stdout, stderr) in [
            (
                &["status"][..],
                "",
                format!(
                    "{}No tenants saved. Add one: vbm365-auth tenant add <TENANT> --server <URL>\n",
                    f.plaintext_warning()
                ),
            ),
            (&["status", "--json"][..], "[]\n", f.plaintext_warning()),
        ] {
            let r = f.run(args).await;
            assert_eq!(r.code, ExitCode::SUCCESS, "{args:?}");
            assert_eq!(r.out, stdout, "{args:?}");
            assert_eq!(r.err, stderr, "{args:?}");
        }
    }
}
