//! `tenant …`: add, list, edit, remove, trust or untrust saved tenants; export and import them.

mod add;
mod edit;
mod list;
mod remove;
mod transfer;
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
        TenantCommand::Edit(a) => edit::run(engine, a, io).await,
        TenantCommand::Export { tenants } => transfer::export(engine, &tenants, io),
        TenantCommand::Import {
            file,
            skip_invalid,
            json,
        } => transfer::import(engine, &file, skip_invalid, json, io),
    }
}
