//! `tenant edit <TENANT> [--server …] [--api-version …] [--authority …] [--client-id …]
//! [--scope …] [--[no-]remember-ms-sign-in] [--yes]`: change a saved tenant's settings. A change
//! of the endpoints its tokens belong to signs it out ([`Engine::update_tenant`]); a signed-in
//! tenant is signed out only after a yes (asked on a terminal, `--yes` otherwise).

use crate::cli::EditArgs;
use crate::output::{errln, Io};
use std::process::ExitCode;
use vbm365_auth_core::config::{DEFAULT_CLIENT_ID, DEFAULT_SCOPE};
use vbm365_auth_core::session::{authority, same_endpoints};
use vbm365_auth_core::{validate, Engine, Error, Result, Role, TenantProfile, TenantState};

pub async fn run(engine: &Engine, a: EditArgs, io: &mut Io<'_>) -> Result<ExitCode> {
    let before = engine.config()?.resolve(Some(&a.tenant))?.clone();
    let after = edited(&before, &a)?;
    if after == before {
        errln!(io, "Nothing to change for {}.", before.name);
        return Ok(ExitCode::SUCCESS);
    }
    let endpoints_change = !same_endpoints(&before, &after);
    let has_tokens = engine
        .status()?
        .iter()
        .any(|r| r.profile.name == before.name && r.state != TenantState::SignedOut);
    if endpoints_change && has_tokens && !a.yes && !confirm(&before.name, io)? {
        errln!(io, "Nothing was changed.");
        return Ok(ExitCode::from(crate::output::EXIT_FAILURE));
    }
    let update = engine.update_tenant(after.clone()).await?;
    errln!(
        io,
        "Saved tenant {} ({} {}, authority {})",
        after.name,
        after.server.as_str().trim_end_matches('/'),
        after.api_version,
        after.authority.as_str().trim_end_matches('/')
    );
    if after.role == Role::Operator
        && (after.client_id != before.client_id || after.scope != before.scope)
    {
        errln!(
            io,
            "Client id and scope are back to the defaults: a restore operator signs in to the Restore Portal application the server names"
        );
    }
    if update.signed_out {
        errln!(
            io,
            "{} was signed out (its tokens belonged to the old endpoints). Next: vbm365-auth login {}",
            after.name,
            after.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `before` with the options given applied, checked.
fn edited(before: &TenantProfile, a: &EditArgs) -> Result<TenantProfile> {
    let mut p = before.clone();
    if let Some(s) = &a.server {
        p.server = validate::server_url(s)?;
    }
    if let Some(v) = &a.api_version {
        p.api_version = v.parse()?;
    }
    if let Some(x) = &a.authority {
        p.authority = validate::authority_url(authority(x))?;
    }
    if let Some(c) = &a.client_id {
        p.client_id = c.clone();
    }
    if let Some(s) = &a.scope {
        p.scope = s.clone();
    }
    if a.remember_ms_sign_in {
        p.remember_ms_sign_in = true;
    }
    if a.no_remember_ms_sign_in {
        p.remember_ms_sign_in = false;
    }
    if let Some(r) = &a.role {
        p.role = r.parse()?;
    }
    // A restore operator uses the server's Restore Portal application: a client id and scope of
    // its own (an organization's before, or saved by an earlier build) go back to the defaults
    // unless given here, and then the core refuses them.
    if p.role == Role::Operator && a.client_id.is_none() && a.scope.is_none() {
        p.client_id = DEFAULT_CLIENT_ID.into();
        p.scope = DEFAULT_SCOPE.into();
    }
    if let Some(m) = &a.sign_in_method {
        p.sign_in_method = m.parse()?;
    }
    p.validate()?;
    Ok(p)
}

fn confirm(name: &str, io: &mut Io<'_>) -> Result<bool> {
    if !io.stdin_is_terminal {
        return Err(Error::InvalidInput(format!(
            "this change signs {name} out (its tokens belong to the old endpoints); pass --yes to go ahead"
        )));
    }
    io.err(format_args!(
        "This change signs {name} out (its tokens belong to the old endpoints). Go ahead? [y/N] "
    ));
    let answer = io.read_line()?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

#[cfg(test)]
mod tests {
    use super::super::super::testkit::{at, Fixture, Streams, A, SERVER};
    use std::process::ExitCode;

    #[tokio::test]
    async fn edits_save_and_an_endpoint_change_signs_out_only_after_a_yes() {
        let f = Fixture::with_tenants(&[A]);
        f.store_tokens(A, "access-a", at("2100-01-01T00:00:00Z"))
            .await;
        // Scope only: the tokens stay.
        let r = f
            .run(&["tenant", "edit", A, "--scope", "User.Read offline_access"])
            .await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        assert_eq!(
            f.engine.config().unwrap().tenants[0].scope,
            "User.Read offline_access"
        );
        assert_eq!(f.run(&["token"]).await.out, "access-a\n");
        // A new server without --yes and no terminal: refused, nothing changed.
        let r = f
            .run(&["tenant", "edit", A, "--server", "https://new.example.test"])
            .await;
        assert_eq!(r.code, ExitCode::from(2), "{}", r.err);
        assert!(r.err.contains("pass --yes"), "{}", r.err);
        assert_eq!(
            f.engine.config().unwrap().tenants[0].server.as_str(),
            format!("{SERVER}/")
        );
        // Answered no on a terminal: nothing changed either.
        let args = ["tenant", "edit", A, "--server", "https://new.example.test"];
        let r = f.run_with(&args, Streams::new("n\n", true)).await;
        assert_eq!(r.code, ExitCode::from(1));
        assert_eq!(f.run(&["token"]).await.out, "access-a\n");
        let r = f.run_with(&args, Streams::new("y\n", true)).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        assert!(r.err.contains("was signed out"), "{}", r.err);
        assert_eq!(f.run(&["token"]).await.code, ExitCode::from(4));
        let r = f.run(&["tenant", "edit", A, "--api-version", "v9"]).await;
        assert_eq!(r.code, ExitCode::from(2));
        assert!(r.err.contains("unknown API version"), "{}", r.err);
    }
}
