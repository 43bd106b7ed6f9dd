//! `vbm365-auth`: the command-line face of VBM365 Auth (README, "CLI reference"). Human output goes to stderr, data
//! to stdout. Exit codes: 0 success, 1 failure, 2 usage error, 4 sign-in required.

mod cli;
mod cmd;
mod output;

use clap::Parser;
use output::{errln, Io};
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = cli::Cli::parse();
    if args.debug || std::env::var("VBM365_AUTH_LOG").is_ok_and(|v| v.trim() == "debug") {
        init_trace_logging();
    } else {
        output::init_logging();
    }
    if let cli::Command::Api(a) = &mut args.command {
        a.pretty = std::io::stdout().is_terminal();
    }
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut io = Io {
        out: &mut stdout,
        err: &mut stderr,
        input: &mut input,
        stdin_is_terminal: stdin.is_terminal(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!(io, "error: cannot start the async runtime: {e}");
            return ExitCode::from(output::EXIT_FAILURE);
        }
    };
    let json = args.command.wants_json();
    match runtime.block_on(cmd::run(args, &mut io)) {
        Ok(code) => code,
        Err(e) => output::fail(&mut io, &e, json),
    }
}

/// `--debug` or `VBM365_AUTH_LOG=debug`: this product's debug events, the redacted HTTP trace
/// among them (`vbm365_auth_core::trace`), and only warnings of the libraries underneath.
fn init_trace_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "warn,vbm365_auth_core=debug,vbm365_auth=debug",
        ))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .try_init();
}
