//! Command-line grammar (README, "CLI reference") and the commands, each a thin call into the core engine.

use crate::output::{self, print_json, relative, rfc3339, EXIT_FAILURE, EXIT_SIGN_IN_REQUIRED};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use vbm365_auth_core::config::{AUTHORITY_CHINA, AUTHORITY_GLOBAL, AUTHORITY_US_GOV};
use vbm365_auth_core::{browser, tls, validate};
use vbm365_auth_core::{
    Engine, EngineOptions, Error, Result, SignInEvent, TenantProfile, TenantState,
};

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
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let engine = Engine::open(EngineOptions::from_env(cli.config_dir)?)?;
    if touches_secrets(&cli.command) && engine.uses_plaintext_storage()? {
        eprintln!(
            "warning: tokens are stored UNENCRYPTED in {} (VBM365_AUTH_STORAGE=file)",
            engine.config_dir().join("secrets.json").display()
        );
    }
    match cli.command {
        Command::Tenant(TenantCommand::Add(a)) => tenant_add(&engine, a),
        Command::Tenant(TenantCommand::List { json }) => tenant_list(&engine, json),
        Command::Tenant(TenantCommand::Remove { tenant }) => {
            engine.remove_tenant(&tenant).await?;
            eprintln!("Removed tenant {tenant}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant(TenantCommand::Trust {
            tenant,
            ca_file: Some(file),
            ..
        }) => tenant_trust_ca(&engine, &tenant, &file).await,
        Command::Tenant(TenantCommand::Trust { tenant, yes, .. }) => {
            tenant_trust(&engine, &tenant, yes).await
        }
        Command::Tenant(TenantCommand::Untrust { tenant, json }) => {
            tenant_untrust(&engine, &tenant, json)
        }
        Command::Login {
            tenant,
            no_browser,
            json,
        } => login(&engine, tenant.as_deref(), no_browser, json).await,
        Command::Status { json } => status(&engine, json),
        Command::Token {
            tenant,
            min_valid,
            json,
        } => {
            let t = engine
                .token(tenant.as_deref(), Duration::from_secs(min_valid))
                .await?;
            if json {
                print_json(&json!({
                    "tenant": t.tenant,
                    "access_token": t.access_token.expose(),
                    "token_type": "bearer",
                    "expires_at": rfc3339(t.expires_at),
                }));
            } else {
                println!("{}", t.access_token.expose());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Refresh { tenant, all, json } => {
            refresh(&engine, tenant.as_deref(), all, json).await
        }
        Command::Switch { tenant } => {
            let name = engine.switch(&tenant)?;
            eprintln!("Active tenant: {name}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Logout { tenant, all } => {
            if all {
                engine.logout_all().await?;
                eprintln!("Signed out of all tenants");
            } else {
                let name = engine.config()?.resolve(tenant.as_deref())?.name.clone();
                if let Some(w) = engine.logout(Some(&name)).await? {
                    eprintln!("warning: the server did not confirm the logout ({w}); the local tokens are deleted");
                }
                eprintln!("Signed out of {name}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn touches_secrets(c: &Command) -> bool {
    !matches!(
        c,
        Command::Tenant(
            TenantCommand::Add(_)
                | TenantCommand::List { .. }
                | TenantCommand::Trust { .. }
                | TenantCommand::Untrust { .. }
        ) | Command::Switch { .. }
    )
}

fn authority(raw: &str) -> &str {
    match raw.trim().to_ascii_lowercase().as_str() {
        "global" | "" => AUTHORITY_GLOBAL,
        "us-gov" | "usgov" | "us" => AUTHORITY_US_GOV,
        "china" | "cn" => AUTHORITY_CHINA,
        _ => raw,
    }
}

fn tenant_add(engine: &Engine, a: AddArgs) -> Result<ExitCode> {
    let mut p = TenantProfile::new(&a.tenant, &a.server)?;
    p.api_version = a.api_version.parse()?;
    p.authority = validate::authority_url(authority(&a.authority))?;
    if let Some(c) = a.client_id {
        p.client_id = c;
    }
    if let Some(s) = a.scope {
        p.scope = s;
    }
    p.remember_ms_sign_in = !a.no_remember_ms_sign_in;
    let cfg = engine.add_tenant(p.clone(), a.pin_sha256.as_deref(), a.activate)?;
    eprintln!(
        "Saved tenant {} ({} {}, authority {})",
        p.name,
        p.server.as_str().trim_end_matches('/'),
        p.api_version,
        p.authority.as_str().trim_end_matches('/')
    );
    if cfg.active_tenant.as_deref() == Some(p.name.as_str()) {
        eprintln!("Active tenant: {}", p.name);
    }
    if cfg.pins_for(&p.server_host_port()).is_empty() && p.server.scheme() == "https" {
        eprintln!(
            "If the server uses a self-signed certificate, pin it: vbm365-auth tenant trust {0}\n\
             If your organization's CA issued it: vbm365-auth tenant trust {0} --ca-file <PEM>",
            p.name
        );
    }
    eprintln!("Next: vbm365-auth login {}", p.name);
    Ok(ExitCode::SUCCESS)
}

fn tenant_list(engine: &Engine, json: bool) -> Result<ExitCode> {
    let cfg = engine.config()?;
    if json {
        let rows: Vec<_> = cfg
            .tenants
            .iter()
            .map(|t| {
                json!({
                    "tenant": t.name,
                    "active": cfg.active_tenant.as_deref() == Some(t.name.as_str()),
                    "server": t.server.as_str().trim_end_matches('/'),
                    "api_version": t.api_version.as_str(),
                    "authority": t.authority.as_str().trim_end_matches('/'),
                    "client_id": t.client_id,
                    "scope": t.scope,
                    "remember_ms_sign_in": t.remember_ms_sign_in,
                    "pinned_sha256": cfg.pins_for(&t.server_host_port()),
                    "trusted_ca_sha256": cfg.cas_for(&t.server_host_port()),
                })
            })
            .collect();
        print_json(&json!(rows));
    } else if cfg.tenants.is_empty() {
        eprintln!("No tenants saved. Add one: vbm365-auth tenant add <TENANT> --server <URL>");
    } else {
        for t in &cfg.tenants {
            let mark = if cfg.active_tenant.as_deref() == Some(t.name.as_str()) {
                "*"
            } else {
                " "
            };
            println!(
                "{mark} {}  {}  {}",
                t.name,
                t.server.as_str().trim_end_matches('/'),
                t.api_version
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn tenant_trust(engine: &Engine, tenant: &str, yes: bool) -> Result<ExitCode> {
    let info = engine.probe_certificate(Some(tenant)).await?;
    eprintln!(
        "The server {} presents a certificate with SHA-256 fingerprint",
        info.host_port
    );
    eprintln!("  {}", tls::pretty_fingerprint(&info.sha256));
    if info.system_trusted {
        eprintln!("The system's certificate authorities already trust it; a pin is optional.");
    }
    println!("{}", info.sha256);
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::InvalidInput(
                "compare the fingerprint with the server's certificate, then confirm with --yes"
                    .into(),
            ));
        }
        eprint!("Trust this certificate for {}? [y/N] ", info.host_port);
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| Error::InvalidInput(format!("cannot read the answer: {e}")))?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            eprintln!("Not pinned.");
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
    }
    engine.pin_certificate(Some(tenant), &info.sha256)?;
    eprintln!(
        "Pinned {} for {}",
        tls::pretty_fingerprint(&info.sha256),
        info.host_port
    );
    Ok(ExitCode::SUCCESS)
}

async fn tenant_trust_ca(
    engine: &Engine,
    tenant: &str,
    file: &std::path::Path,
) -> Result<ExitCode> {
    let shown = file.display().to_string();
    let pem = std::fs::read(file)
        .map_err(|e| Error::InvalidInput(format!("cannot read the CA file {shown}: {e}")))?;
    let t = engine.trust_ca(Some(tenant), &pem, &shown).await?;
    eprintln!(
        "The certificate of {} (SHA-256 {}) verifies against {shown}.",
        t.host_port,
        tls::pretty_fingerprint(&t.server_sha256)
    );
    for ca in &t.ca_sha256 {
        eprintln!(
            "Trusted CA for {}: SHA-256 {}",
            t.host_port,
            tls::pretty_fingerprint(ca)
        );
        println!("{ca}");
    }
    if !t.replaced_pins.is_empty() {
        eprintln!(
            "Removed {} certificate pin(s) of {}: the CA now decides.",
            t.replaced_pins.len(),
            t.host_port
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn tenant_untrust(engine: &Engine, tenant: &str, json: bool) -> Result<ExitCode> {
    let r = engine.remove_trust(Some(tenant))?;
    if json {
        print_json(&json!(r));
    }
    if r.pins.is_empty() && r.ca_sha256.is_empty() {
        eprintln!(
            "Nothing was trusted for {} (no pinned certificate, no trusted CA); tenants on it: {}",
            r.host_port,
            r.tenants.join(", ")
        );
        return Ok(ExitCode::SUCCESS);
    }
    for pin in &r.pins {
        eprintln!(
            "Forgot the pinned certificate of {}: SHA-256 {}",
            r.host_port,
            tls::pretty_fingerprint(pin)
        );
    }
    for ca in &r.ca_sha256 {
        eprintln!(
            "Forgot the trusted CA of {}: SHA-256 {}",
            r.host_port,
            tls::pretty_fingerprint(ca)
        );
    }
    eprintln!(
        "Tenants on {} (all affected): {}",
        r.host_port,
        r.tenants.join(", ")
    );
    eprintln!(
        "{} is now trusted only if the system's certificate authorities vouch for it; to trust it \
         again: vbm365-auth tenant trust {tenant}",
        r.host_port
    );
    Ok(ExitCode::SUCCESS)
}

/// Shows a URI from a server without letting control characters reach the terminal.
fn printable(uri: &str) -> String {
    uri.chars()
        .flat_map(char::escape_default)
        .collect::<String>()
        .replace("\\'", "'")
        .replace("\\\"", "\"")
}

async fn login(
    engine: &Engine,
    tenant: Option<&str>,
    no_browser: bool,
    json: bool,
) -> Result<ExitCode> {
    let name = engine.config()?.resolve(tenant)?.name.clone();
    let report = |e: &Error| -> ExitCode {
        if json {
            print_json(
                &json!({"event": "error", "tenant": name, "code": e.code(), "message": e.to_string()}),
            );
        }
        eprintln!("error: {e}");
        ExitCode::from(output::exit_code_of(e))
    };
    let pending = match engine.begin_sign_in(Some(&name)).await {
        Ok(p) => p,
        Err(e) => return Ok(report(&e)),
    };
    let auth = &pending.authorization;
    if json {
        print_json(&json!({
            "event": "device_code",
            "tenant": name,
            "user_code": auth.user_code,
            "verification_uri": auth.verification_uri,
            "expires_in": auth.expires_in,
            "message": auth.message,
        }));
    }
    eprintln!(
        "To sign in to {name}, open {} and enter the code:\n\n    {}\n",
        printable(&auth.verification_uri),
        auth.user_code
    );
    match &pending.openable_uri {
        Ok(url) if !no_browser => {
            if let Err(e) = browser::open_verification_uri(url) {
                eprintln!("warning: {e}");
            }
        }
        Ok(_) => {}
        Err(reason) => eprintln!("warning: {reason}"),
    }
    eprintln!(
        "Waiting for approval (expires in {} min; Ctrl-C cancels)…",
        auth.expires_in / 60
    );
    let done = tokio::select! {
        r = engine.complete_sign_in(&pending, |ev| match ev {
            SignInEvent::SlowedDown { interval } => eprintln!("The server asked to poll slower: every {} s", interval.as_secs()),
            SignInEvent::Retrying { reason, next_poll_in } => eprintln!("warning: {reason}; retrying in {} s", next_poll_in.as_secs()),
            SignInEvent::Exchanging => eprintln!("Approved. Exchanging the assertion with the VBM365 server…"),
            SignInEvent::Waiting { .. } => {}
        }) => r,
        _ = tokio::signal::ctrl_c() => Err(Error::Cancelled),
    };
    match done {
        Ok(st) => {
            let expires = st.expires_at.map(rfc3339);
            if json {
                print_json(&json!({"event": "signed_in", "tenant": name, "expires_at": expires}));
            }
            let who = st.user_name.map(|u| format!(" as {u}")).unwrap_or_default();
            eprintln!(
                "Signed in to {name}{who}; the access token expires {}",
                st.expires_at.map(relative).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(report(&e)),
    }
}

fn status(engine: &Engine, json: bool) -> Result<ExitCode> {
    let rows = engine.status()?;
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|s| {
                json!({
                    "tenant": s.profile.name,
                    "active": s.active,
                    "server": s.profile.server.as_str().trim_end_matches('/'),
                    "state": s.state.as_str(),
                    "expires_at": s.expires_at.map(rfc3339),
                })
            })
            .collect();
        print_json(&json!(out));
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        eprintln!("No tenants saved. Add one: vbm365-auth tenant add <TENANT> --server <URL>");
        return Ok(ExitCode::SUCCESS);
    }
    let width = rows
        .iter()
        .map(|r| r.profile.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "  {:width$}  {:16}  {:18}  SERVER",
        "TENANT", "STATE", "EXPIRES"
    );
    for r in &rows {
        let expires = match (r.state, r.expires_at) {
            (TenantState::SignedIn | TenantState::Expired, Some(t)) => relative(t),
            _ => "-".into(),
        };
        println!(
            "{} {:width$}  {:16}  {:18}  {}",
            if r.active { "*" } else { " " },
            r.profile.name,
            r.state.as_str(),
            expires,
            r.profile.server.as_str().trim_end_matches('/')
        );
        if let Some(d) = &r.detail {
            println!("  {:width$}  ({d})", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn refresh(engine: &Engine, tenant: Option<&str>, all: bool, json: bool) -> Result<ExitCode> {
    if !all {
        let t = engine.refresh(tenant).await?;
        if json {
            print_json(&json!({"tenant": t.tenant, "expires_at": rfc3339(t.expires_at)}));
        }
        eprintln!(
            "Refreshed {}; the access token expires {}",
            t.tenant,
            relative(t.expires_at)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let results = engine.refresh_all(None).await?;
    let (mut ok, mut sign_in, mut failed) = (0usize, 0usize, 0usize);
    let mut rows = Vec::with_capacity(results.len());
    for (name, r) in &results {
        match r {
            Ok(t) => {
                ok += 1;
                rows.push(json!({"tenant": name, "ok": true, "expires_at": rfc3339(t.expires_at)}));
            }
            Err(e) => {
                if matches!(e, Error::SignInRequired { .. }) {
                    sign_in += 1
                } else {
                    failed += 1
                }
                eprintln!("{name}: {e}");
                rows.push(json!({"tenant": name, "ok": false, "code": e.code(), "message": e.to_string()}));
            }
        }
    }
    if json {
        print_json(&json!(rows));
    }
    eprintln!("Refreshed {ok} tenant(s); {sign_in} need sign-in; {failed} failed");
    Ok(if failed > 0 {
        ExitCode::from(EXIT_FAILURE)
    } else if sign_in > 0 {
        ExitCode::from(EXIT_SIGN_IN_REQUIRED)
    } else {
        ExitCode::SUCCESS
    })
}
