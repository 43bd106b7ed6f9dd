//! Command-line grammar (README, "CLI reference"). The commands themselves live in [`crate::cmd`].

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Sign in to Veeam Backup for Microsoft 365 REST API servers with modern app-only authentication
/// and keep the tokens fresh.
#[derive(Debug, Parser)]
#[command(name = "vbm365-auth", version, about, long_about = None)]
pub struct Cli {
    /// Config directory shared with the desktop app.
    #[arg(
        long,
        global = true,
        env = "VBM365_AUTH_CONFIG_DIR",
        value_name = "DIR"
    )]
    pub config_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, list, remove or trust saved tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Sign in with a Microsoft device code and exchange it for VBM365 tokens.
    Login {
        /// Tenant (default: the active one).
        tenant: Option<String>,
        /// Do not open the sign-in page in a browser.
        #[arg(long)]
        no_browser: bool,
        /// JSON lines on stdout: device_code, then signed_in or error.
        #[arg(long)]
        json: bool,
    },
    /// State of every saved tenant.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print a valid access token (refreshing it first when needed).
    Token {
        tenant: Option<String>,
        /// Refresh first when the token expires within this many seconds (at most 10 years).
        #[arg(long, value_name = "SECONDS", default_value_t = 300,
              value_parser = clap::value_parser!(u64).range(0..=315_360_000))]
        min_valid: u64,
        #[arg(long)]
        json: bool,
    },
    /// Refresh the tokens of a tenant (default: the active one) or of all tenants now.
    Refresh {
        #[arg(conflicts_with = "all")]
        tenant: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Make a tenant the active one.
    Switch { tenant: String },
    /// Sign out: log out at the server (v7+) and delete the tenant's tokens.
    Logout {
        #[arg(conflicts_with = "all")]
        tenant: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Save a tenant.
    Add(AddArgs),
    /// List saved tenants.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Sign out of a tenant and forget it.
    Remove { tenant: String },
    /// Connect to the tenant's server, show its certificate's SHA-256 fingerprint and pin it; or,
    /// with --ca-file, trust the certificate authority that issued it.
    Trust {
        tenant: String,
        /// Pin without asking.
        #[arg(long)]
        yes: bool,
        /// Trust the certificate authorities in this PEM file for the server instead of pinning
        /// its certificate (checked first: the server's certificate must verify against them).
        #[arg(long, value_name = "PEM")]
        ca_file: Option<std::path::PathBuf>,
    },
    /// Forget the pinned certificates and trusted certificate authorities of the tenant's server
    /// (its host:port, shared by every tenant on that server).
    Untrust {
        tenant: String,
        /// JSON on stdout: {"host_port","pins","ca_sha256","tenants"}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Organization name, e.g. contoso.onmicrosoft.com.
    pub tenant: String,
    /// VBM365 REST API server, e.g. https://vbm.example.local:4443.
    #[arg(long, value_name = "URL")]
    pub server: String,
    #[arg(long, value_name = "v6|v7|v8", default_value = "v8")]
    pub api_version: String,
    /// Microsoft authority: global, us-gov, china or a URL.
    #[arg(long, value_name = "URL", default_value = "global")]
    pub authority: String,
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    #[arg(long, value_name = "SCOPES")]
    pub scope: Option<String>,
    /// Trust the server certificate with this SHA-256 fingerprint.
    #[arg(long, value_name = "HEX")]
    pub pin_sha256: Option<String>,
    /// Make it the active tenant.
    #[arg(long)]
    pub activate: bool,
    /// Do not keep the Microsoft refresh token (no silent re-sign-in).
    #[arg(long)]
    pub no_remember_ms_sign_in: bool,
}

impl Command {
    /// Whether errors are also reported as JSON on stdout.
    pub fn wants_json(&self) -> bool {
        match self {
            Command::Login { json, .. }
            | Command::Status { json }
            | Command::Token { json, .. }
            | Command::Refresh { json, .. } => *json,
            Command::Tenant(TenantCommand::List { json })
            | Command::Tenant(TenantCommand::Untrust { json, .. }) => *json,
            _ => false,
        }
    }

    /// Whether the command reads or writes tokens (`run` warns when they are stored unencrypted).
    pub fn touches_secrets(&self) -> bool {
        !matches!(
            self,
            Command::Tenant(
                TenantCommand::Add(_)
                    | TenantCommand::List { .. }
                    | TenantCommand::Trust { .. }
                    | TenantCommand::Untrust { .. }
            ) | Command::Switch { .. }
        )
    }
}
