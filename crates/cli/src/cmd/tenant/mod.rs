//! `tenant …`: add, list, remove, trust or untrust saved tenants.

mod add;
mod list;
mod remove;
mod trust;
mod untrust;

use crate::cli::TenantCommand;
use crate::output::Io;
use std::process::ExitCode;
use vbm365_auth_core::{Engine, Result};

pub async fn run(engine: &Engine, command: TenantCommand, io: &mut Io<'_>) -> Result<ExitCode> {
    match command {
        TenantCommand::Add(a) => add::run(engine, a, io),
        TenantCommand::List { json } => list::run(engine, json, io),
        TenantCommand::Remove { tenant } => remove::run(engine, &tenant, io).await,
        TenantCommand::Trust {
            tenant,
            ca_file: Some(file),
            ..
        } => trust::trust_ca(engine, &tenant, &file, io).await,
        TenantCommand::Trust { tenant, yes, .. } => trust::pin(engine, &tenant, yes, io).await,
        TenantCommand::Untrust { tenant, json } => untrust::run(engine, &tenant, json, io),
    }
}
