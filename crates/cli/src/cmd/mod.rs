//! The commands, one module each, every one a thin call into the core engine that writes to the
//! injected [`Io`] and gives the exit code. An `Err` is reported by the caller ([`crate::output::fail`]).

mod api;
mod check;
mod docs;
mod env;
mod login;
mod logout;
mod refresh;
mod status;
mod switch;
mod tenant;
#[cfg(test)]
mod testkit;
mod token;

use crate::cli::{Cli, Command, TokenFormat, TENANT_ENV};
use crate::output::{errln, Io};
use std::process::ExitCode;
use std::time::Duration;
use vbm365_auth_core::{Engine, EngineOptions, Error, Result};

/// What `status` and `tenant list` say when no tenant is saved.
const NO_TENANTS: &str =
    "No tenants saved. Add one: vbm365-auth tenant add <TENANT> --server <URL>";

/// Opens the engine (options from the environment and `--config-dir`) and runs the command.
pub async fn run(cli: Cli, io: &mut Io<'_>) -> Result<ExitCode> {
    match cli.command {
        Command::Completions { shell } => return docs::completions(shell, io),
        Command::Man { ref command } => return docs::man(command, io),
        _ => {}
    }
    let engine = Engine::open(EngineOptions::from_env(cli.config_dir)?)?;
    execute(&engine, cli.command, io).await
}

/// Runs one command on an open engine (warning first when its tokens are stored unencrypted).
pub async fn execute(engine: &Engine, command: Command, io: &mut Io<'_>) -> Result<ExitCode> {
    if command.touches_secrets() {
        warn_if_plaintext(engine, io)?;
    }
    let pick = |named: Option<String>| chosen(engine, named);
    match command {
        Command::Tenant(c) => tenant::run(engine, c, io).await,
        Command::Login {
            tenant,
            browser,
            device_code,
            no_browser,
            json,
        } => {
            let method = login::method(browser, device_code);
            let tenant = pick(tenant)?;
            login::run(engine, tenant.as_deref(), method, no_browser, json, io).await
        }
        Command::Status {
            json,
            check: true,
            tenant,
        } => check::run(engine, pick(tenant)?.as_deref(), json, io).await,
        Command::Status { json, .. } => status::run(engine, json, io),
        Command::Token {
            tenant,
            min_valid,
            json,
            format,
        } => {
            let tenant = pick(tenant)?;
            let min_valid = Duration::from_secs(min_valid);
            match (format, json) {
                (TokenFormat::Header, false) => {
                    env::header(engine, tenant.as_deref(), min_valid, io).await
                }
                (format, json) => {
                    let json = json || format == TokenFormat::Json;
                    token::run(engine, tenant.as_deref(), min_valid, json, io).await
                }
            }
        }
        Command::Api(a) => api::run(engine, pick(a.tenant.clone())?.as_deref(), a, io).await,
        Command::Env {
            tenant,
            shell,
            min_valid,
        } => {
            let min_valid = Duration::from_secs(min_valid);
            env::run(engine, pick(tenant)?.as_deref(), shell, min_valid, io).await
        }
        Command::Completions { shell } => docs::completions(shell, io),
        Command::Man { command } => docs::man(&command, io),
        Command::Refresh { tenant, all, json } => {
            let tenant = if all { None } else { pick(tenant)? };
            refresh::run(engine, tenant.as_deref(), all, json, io).await
        }
        Command::Switch { tenant } => switch::run(engine, &tenant, io),
        Command::Logout { tenant, all } => {
            let tenant = if all { None } else { pick(tenant)? };
            logout::run(engine, tenant.as_deref(), all, io).await
        }
    }
}

/// Warns (stderr) when tokens are kept in a plain file.
fn warn_if_plaintext(engine: &Engine, io: &mut Io<'_>) -> Result<()> {
    if engine.uses_plaintext_storage()? {
        errln!(
            io,
            "warning: tokens are stored UNENCRYPTED in {} (VBM365_AUTH_STORAGE=file)",
            engine.config_dir().join("secrets.json").display()
        );
    }
    Ok(())
}

/// The tenant a command works on: the one named, else the one `VBM365_AUTH_TENANT` selects for
/// this shell (which must be saved), else `None`: the active one.
fn chosen(engine: &Engine, named: Option<String>) -> Result<Option<String>> {
    if named.is_some() {
        return Ok(named);
    }
    let Some(from_env) = std::env::var(TENANT_ENV)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if engine.config()?.tenant(&from_env).is_none() {
        return Err(Error::InvalidInput(format!(
            "{TENANT_ENV}={} names no saved tenant; unset it, or see the saved tenants with `vbm365-auth tenant list`",
            vbm365_auth_core::text::shown(&from_env, 200)
        )));
    }
    Ok(Some(from_env))
}
