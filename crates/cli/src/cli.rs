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
    /// Print a redacted trace of every HTTP request on stderr (method, URL, status, time,
    /// headers without secrets); the same as VBM365_AUTH_LOG=debug.
    #[arg(long, global = true)]
    pub debug: bool,
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
        /// Sign in in the browser (authorization code with PKCE, answered on 127.0.0.1) instead of
        /// the tenant's method: for tenants whose Conditional Access blocks device codes.
        #[arg(long, conflicts_with = "device_code")]
        browser: bool,
        /// Sign in with a device code instead of the tenant's method.
        #[arg(long)]
        device_code: bool,
        /// Do not open the sign-in page in a browser (show its address only).
        #[arg(long)]
        no_browser: bool,
        /// JSON lines on stdout: device_code (or browser), then signed_in or error.
        #[arg(long)]
        json: bool,
    },
    /// State of every saved tenant; with --check, ask each signed-in tenant's server whether
    /// everything works.
    Status {
        #[arg(long)]
        json: bool,
        /// Call each signed-in tenant's server: version, signed-in user, certificate trust and
        /// expiry, clock skew; exit 1 when a check fails.
        #[arg(long)]
        check: bool,
        /// Check only this tenant (with --check).
        #[arg(long, requires = "check")]
        tenant: Option<String>,
    },
    /// Print a valid access token (refreshing it first when needed).
    Token {
        tenant: Option<String>,
        /// Refresh first when the token expires within this many seconds (at most 10 years).
        #[arg(long, value_name = "SECONDS", default_value_t = 300,
              value_parser = clap::value_parser!(u64).range(0..=315_360_000))]
        min_valid: u64,
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// token: the bare token; header: `Authorization: Bearer …` (for `curl -H @-`); json: as
        /// --json.
        #[arg(long, value_enum, default_value = "token")]
        format: TokenFormat,
    },
    /// Call the tenant's VBM365 REST API with its token (refreshed when needed), verifying the
    /// server with the tenant's pins or CAs.
    Api(ApiArgs),
    /// Print shell commands that set VBM365_SERVER, VBM365_API_VERSION, VBM365_API_URL,
    /// VBM365_TENANT, VBM365_ACCESS_TOKEN and VBM365_TOKEN_EXPIRES_AT.
    Env {
        /// Tenant (default: VBM365_AUTH_TENANT, else the active one).
        #[arg(long)]
        tenant: Option<String>,
        /// The shell the commands are for (default: from $SHELL; PowerShell on Windows).
        #[arg(long, value_enum)]
        shell: Option<EnvShell>,
        /// Refresh first when the token expires within this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 300,
              value_parser = clap::value_parser!(u64).range(0..=315_360_000))]
        min_valid: u64,
    },
    /// Print a completion script for a shell.
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the manual page (roff) of vbm365-auth or of one of its commands.
    Man {
        /// A command, e.g. `api` or `tenant import`.
        command: Vec<String>,
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
    /// Change a saved tenant's settings. Changing its server, API version, authority or client id
    /// signs it out (its tokens belong to the old endpoints).
    Edit(EditArgs),
    /// Print saved tenants as JSON (settings and server pins; never a token).
    Export {
        /// Tenants to export (default: all).
        tenants: Vec<String>,
    },
    /// Add the tenants of a file written by `tenant export`; every entry is checked and nothing
    /// is added when one has a problem, unless --skip-invalid.
    Import {
        /// The file, or - for standard input.
        file: String,
        /// Add the valid entries and report the others.
        #[arg(long)]
        skip_invalid: bool,
        /// JSON on stdout: {"added","unchanged","invalid":[{"entry","tenant","code","message"}]}.
        #[arg(long)]
        json: bool,
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
    /// Who signs in: the organization (modern app-only authentication) or a restore operator
    /// (Restore Portal; its Microsoft application comes from the server).
    #[arg(
        long,
        value_name = "organization|operator",
        default_value = "organization"
    )]
    pub role: String,
    /// How `login` signs in by default: device-code, or browser (for tenants whose Conditional
    /// Access blocks device codes).
    #[arg(
        long,
        value_name = "device-code|browser",
        default_value = "device-code"
    )]
    pub sign_in_method: String,
}

/// The environment variable that selects the tenant for one shell.
pub const TENANT_ENV: &str = "VBM365_AUTH_TENANT";

/// `token --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TokenFormat {
    Token,
    Header,
    Json,
}

/// `env --shell`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EnvShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Cmd,
}

/// `completions <SHELL>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// An API path relative to the tenant's server and API version (`Organizations` is
    /// `/v8/Organizations`), a path with its version (`/v7/Jobs`), or a URL on that server.
    pub path: String,
    /// Tenant (default: VBM365_AUTH_TENANT, else the active one).
    #[arg(long)]
    pub tenant: Option<String>,
    /// HTTP method (default: GET, or POST when fields are given without --input).
    #[arg(short = 'X', long, value_name = "METHOD")]
    pub method: Option<String>,
    /// A string field: in the query for GET, else in the JSON body.
    #[arg(short = 'f', long = "raw-field", value_name = "KEY=VALUE")]
    pub raw_fields: Vec<String>,
    /// A typed field: true, false, null and numbers as JSON, @FILE for a file's text, else a
    /// string.
    #[arg(short = 'F', long = "field", value_name = "KEY=VALUE")]
    pub fields: Vec<String>,
    /// A JSON body from a file, or - for standard input (fields then go in the query).
    #[arg(long, value_name = "FILE")]
    pub input: Option<String>,
    /// An extra request header.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Print the status line and the response headers before the body.
    #[arg(short = 'i', long = "include")]
    pub include: bool,
    /// Follow VBM365's pages (offset/limit and _links.next) and print every item in one JSON
    /// array.
    #[arg(long)]
    pub paginate: bool,
    /// Refresh first when the token expires within this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(0..=315_360_000))]
    pub min_valid: u64,
    /// Whether stdout is a terminal (JSON is then indented); set by `main`.
    #[arg(skip)]
    pub pretty: bool,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The tenant to change (its name cannot change).
    pub tenant: String,
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    #[arg(long, value_name = "v6|v7|v8")]
    pub api_version: Option<String>,
    /// Microsoft authority: global, us-gov, china or a URL.
    #[arg(long, value_name = "URL")]
    pub authority: Option<String>,
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    #[arg(long, value_name = "SCOPES")]
    pub scope: Option<String>,
    /// Keep the Microsoft refresh token (silent re-sign-in).
    #[arg(long, overrides_with = "no_remember_ms_sign_in")]
    pub remember_ms_sign_in: bool,
    /// Do not keep the Microsoft refresh token.
    #[arg(long)]
    pub no_remember_ms_sign_in: bool,
    /// organization or operator (a change of role signs the tenant out).
    #[arg(long, value_name = "organization|operator")]
    pub role: Option<String>,
    /// device-code or browser: how `login` signs in by default.
    #[arg(long, value_name = "device-code|browser")]
    pub sign_in_method: Option<String>,
    /// Sign the tenant out without asking when the change requires it.
    #[arg(long)]
    pub yes: bool,
}

impl Command {
    /// Whether errors are also reported as JSON on stdout.
    pub fn wants_json(&self) -> bool {
        match self {
            Command::Login { json, .. }
            | Command::Status { json, .. }
            | Command::Refresh { json, .. } => *json,
            Command::Token { json, format, .. } => *json || *format == TokenFormat::Json,
            Command::Tenant(TenantCommand::List { json })
            | Command::Tenant(TenantCommand::Untrust { json, .. })
            | Command::Tenant(TenantCommand::Import { json, .. }) => *json,
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
                    | TenantCommand::Export { .. }
                    | TenantCommand::Import { .. }
            ) | Command::Switch { .. }
                | Command::Completions { .. }
                | Command::Man { .. }
        )
    }
}
