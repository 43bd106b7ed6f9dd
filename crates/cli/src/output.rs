//! Printing: errors, JSON, times. Tokens are printed only by `token`, on stdout.

use chrono::{DateTime, Utc};
use serde_json::json;
use std::process::ExitCode;
use vbm365_auth_core::Error;

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_SIGN_IN_REQUIRED: u8 = 4;

/// Logs go to stderr; `VBM365_AUTH_LOG` sets the filter (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VBM365_AUTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

pub fn exit_code_of(e: &Error) -> u8 {
    match e {
        Error::SignInRequired { .. } => EXIT_SIGN_IN_REQUIRED,
        Error::InvalidInput(_)
        | Error::TenantNotFound(_)
        | Error::TenantExists(_)
        | Error::NoActiveTenant => EXIT_USAGE,
        _ => EXIT_FAILURE,
    }
}

pub fn error_json(e: &Error) -> serde_json::Value {
    json!({"error": {"code": e.code(), "message": e.to_string()}})
}

/// Reports an error (stderr; with `--json` also a JSON object on stdout) and gives the exit code.
pub fn fail(e: &Error, json: bool) -> ExitCode {
    eprintln!("error: {e}");
    if json {
        println!("{}", error_json(e));
    }
    ExitCode::from(exit_code_of(e))
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// "in 42 min", "in 3 h 5 min", "2 min ago".
pub fn relative(t: DateTime<Utc>) -> String {
    let secs = (t - Utc::now()).num_seconds();
    let span = |s: i64| {
        let s = s.abs();
        if s < 60 {
            format!("{s} s")
        } else if s < 3600 {
            format!("{} min", s / 60)
        } else {
            format!("{} h {} min", s / 3600, (s % 3600) / 60)
        }
    };
    if secs >= 0 {
        format!("in {}", span(secs))
    } else {
        format!("{} ago", span(secs))
    }
}

pub fn print_json(v: &serde_json::Value) {
    println!("{v}");
}
