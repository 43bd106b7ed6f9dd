//! `vbm365-auth`: the command-line face of VBM365 Auth (README, "CLI reference"). Human output goes to stderr, data
//! to stdout. Exit codes: 0 success, 1 failure, 2 usage error, 4 sign-in required.

mod cli;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    output::init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let json = args.command.wants_json();
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(e) => output::fail(&e, json),
    }
}
