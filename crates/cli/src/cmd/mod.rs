//! The commands, one module each, every one a thin call into the core engine that writes to the
//! injected [`Io`] and gives the exit code. An `Err` is reported by the caller ([`crate::output::fail`]).

mod login;
mod logout;
mod refresh;
mod status;
mod switch;
mod tenant;
#[cfg(test)]
mod testkit;
mod token;

use crate::cli::{Cli, Command};
use crate::output::{errln, Io};
use std::process::ExitCode;
use std::time::Duration;
use vbm365_auth_core::{Engine, EngineOptions, Result};

/// What `status` and `tenant list` say when no tenant is saved.
const NO_TENANTS: &str =
    "No tenants saved. Add one: vbm365-auth tenant add <TENANT> --server <URL>";

/// Opens the engine (options from the environment and `--config-dir`) and runs the command.
pub async fn run(cli: Cli, io: &mut Io<'_>) -> Result<ExitCode> {
    let engine = Engine::open(EngineOptions::from_env(cli.config_dir)?)?;
    execute(&engine, cli.command, io).await
}

/// Runs one command on an open engine (warning first when its tokens are stored unencrypted).
pub async fn execute(engine: &Engine, command: Command, io: &mut Io<'_>) -> Result<ExitCode> {
    if command.touches_secrets() && engine.uses_plaintext_storage()? {
        errln!(
            io,
            "warning: tokens are stored UNENCRYPTED in {} (VBM365_AUTH_STORAGE=file)",
            engine.config_dir().join("secrets.json").display()
        );
    }
    match command {
        Command::Tenant(c) => tenant::run(engine, c, io).await,
        Command::Login {
            tenant,
            no_browser,
            json,
        } => login::run(engine, tenant.as_deref(), no_browser, json, io).await,
        Command::Status { json } => status::run(engine, json, io),
        Command::Token {
            tenant,
            min_valid,
            json,
        } => {
            token::run(
                engine,
                tenant.as_deref(),
                Duration::from_secs(min_valid),
                json,
                io,
            )
            .await
        }
        Command::Refresh { tenant, all, json } => {
            refresh::run(engine, tenant.as_deref(), all, json, io).await
        }
        Command::Switch { tenant } => switch::run(engine, &tenant, io),
        Command::Logout { tenant, all } => logout::run(engine, tenant.as_deref(), all, io).await,
    }
}
