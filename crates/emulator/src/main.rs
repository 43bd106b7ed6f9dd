//! `vbm365-emulator`: runs the Microsoft identity platform and VBM365 REST emulators on
//! 127.0.0.1 until SIGINT/SIGTERM. Prints one JSON line with the URLs on stdout.

use clap::Parser;
use std::io::Write;
use vbm365_emulator::{
    DateFormat, EmulatorOptions, Emulators, Fault, PortalAppRegistration, Server,
};

/// Local emulators of the Microsoft identity platform (device code flow) and of a VBM365 REST
/// API server, for tests and demos.
#[derive(Debug, Parser)]
#[command(name = "vbm365-emulator", version, about)]
struct Args {
    /// Port of the Microsoft identity emulator (HTTP); 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    ms_port: u16,
    /// Port of the VBM365 REST emulator (HTTPS); 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    vbm_port: u16,
    /// `interval` of device code responses, in seconds.
    #[arg(long, default_value_t = 5, conflicts_with = "no_interval")]
    interval: u64,
    /// Leave `interval` out of device code responses (clients must assume 5 s).
    #[arg(long)]
    no_interval: bool,
    /// Leave `message` out of device code responses.
    #[arg(long)]
    no_message: bool,
    /// `expires_in` of device code responses, in seconds.
    #[arg(long, default_value_t = 900)]
    expires_in: u64,
    /// Lifetime of VBM365 access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
    /// Lifetime of Microsoft access tokens, in seconds.
    #[arg(long, default_value_t = 3599)]
    ms_token_lifetime: u64,
    /// Delay added before answering each VBM365 /vN/token request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Device codes approve themselves this many milliseconds after they were issued.
    #[arg(long)]
    auto_approve_after_ms: Option<u64>,
    /// Start with tenant authentication disabled on the VBM365 server.
    #[arg(long)]
    tenant_auth_disabled: bool,
    /// Start with the VBM365 server's Restore Portal enabled, so that restore operators can
    /// sign in (RestorePortalSettings, grant_type=operator).
    #[arg(long)]
    restore_portal: bool,
    /// How the Restore Portal's application is registered at Microsoft: public-client (device
    /// code and browser sign-in work), spa (only the portal's own redirect, public client flows
    /// off: AADSTS7000218 for the device code, AADSTS50011 for the browser) or spa-localhost
    /// (http://localhost as a single-page application redirect: AADSTS9002327 when the code is
    /// redeemed; AADSTS7000218 for the device code).
    #[arg(long, value_name = "KIND", default_value = "public-client")]
    restore_portal_app: PortalAppRegistration,
    /// Format of `.issued` / `.expires`: rfc1123 or iso8601.
    #[arg(long, default_value = "rfc1123")]
    date_format: DateFormat,
    /// Only these organizations are known to the VBM365 server (repeatable; matched
    /// case-sensitively; default: any).
    #[arg(long = "known-organization", value_name = "TENANT")]
    known_organizations: Vec<String>,
    /// Issue the VBM365 server's certificate from a private CA made at start (instead of a
    /// self-signed one) and write that CA's certificate (PEM) to this file.
    #[arg(long, value_name = "PATH")]
    write_ca: Option<std::path::PathBuf>,
    /// Fail this share (0.0 to 1.0) of the token and device code requests on both servers with
    /// a random fault of any kind.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_rate)]
    fault_rate: f64,
    /// Make the next token request of --fault-server (on ms: token or device code request) fail
    /// with this fault (repeatable: each applies once, in order). KIND: status500_html, status502_empty, truncated_body, oversized_body,
    /// malformed_json, wrong_types, hang, close_connection, throttled[=SECS] (Retry-After,
    /// default 1), unavailable[=SECS] (Retry-After, default none), server_error,
    /// proxy_bad_gateway, proxy_auth_required, lost_reply.
    #[arg(long = "fault", value_name = "KIND")]
    faults: Vec<Fault>,
    /// Server the --fault faults apply to: vbm (POST /vN/token) or ms (POST .../token and
    /// .../devicecode).
    #[arg(long, value_name = "SERVER", default_value = "vbm")]
    fault_server: Server,
}

/// A probability from 0.0 to 1.0.
fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("'{s}' is not a number from 0.0 to 1.0")),
    }
}

impl Args {
    fn options(&self) -> EmulatorOptions {
        EmulatorOptions {
            ms_port: self.ms_port,
            vbm_port: self.vbm_port,
            device_code_interval: (!self.no_interval).then_some(self.interval),
            device_code_expires_in: self.expires_in,
            include_message: !self.no_message,
            verification_uri: None,
            ms_token_lifetime: self.ms_token_lifetime,
            vbm_token_lifetime: self.token_lifetime,
            vbm_latency_ms: self.latency_ms,
            auto_approve_after_ms: self.auto_approve_after_ms,
            tenant_auth_enabled: !self.tenant_auth_disabled,
            operator_auth_enabled: self.restore_portal,
            restore_portal_app: self.restore_portal_app,
            date_format: self.date_format,
            known_organizations: (!self.known_organizations.is_empty())
                .then(|| self.known_organizations.clone()),
            ca_issued: self.write_ca.is_some(),
            fault_rate: self.fault_rate,
        }
    }
}

/// The one line printed on stdout at start.
#[derive(serde::Serialize)]
struct Started {
    ms_url: String,
    vbm_url: String,
    cert_sha256: String,
    control: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    let emu = match Emulators::start(args.options()).await {
        Ok(emu) => emu,
        Err(e) => {
            eprintln!("error: cannot start the emulators: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for fault in &args.faults {
        emu.inject_fault_on(args.fault_server, *fault, 1);
    }
    if let (Some(path), Some(pem)) = (&args.write_ca, emu.ca_pem()) {
        if let Err(e) = std::fs::write(path, pem) {
            eprintln!(
                "error: cannot write the CA certificate to {}: {e}",
                path.display()
            );
            return std::process::ExitCode::FAILURE;
        }
    }
    let line = serde_json::to_string(&Started {
        ms_url: emu.ms_url(),
        vbm_url: emu.vbm_url(),
        cert_sha256: emu.cert_sha256(),
        control: format!("{}/_emulator", emu.ms_url()),
    })
    .unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return std::process::ExitCode::FAILURE;
    }
    drop(stdout);
    eprintln!(
        "Microsoft identity emulator: {ms}  (authority; sign-in page {ms}/devicelogin)\n\
         VBM365 REST emulator:        {vbm}  ({issuer}; SHA-256 {pin})\n\
         Control API:                 {ms}/_emulator  (e.g. curl -s {ms}/_emulator/device_codes)\n\
         Press Ctrl+C to stop.",
        ms = emu.ms_url(),
        vbm = emu.vbm_url(),
        pin = emu.cert_sha256(),
        issuer = match &args.write_ca {
            Some(path) => format!("issued by the CA in {}", path.display()),
            None => "self-signed".into(),
        },
    );
    wait_for_signal().await;
    emu.shutdown();
    std::process::ExitCode::SUCCESS
}

/// Waits for SIGINT (Ctrl+C) or, on Unix, SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
