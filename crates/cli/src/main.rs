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
    let args = cli::Cli::parse();
    output::init_logging();
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
