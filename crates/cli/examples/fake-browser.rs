//! A stand-in browser for the CLI's tests where no shell script can stand in (Windows): the tests
//! point `VBM365_AUTH_BROWSER` here. It appends the address it was given, on a line of its own, to
//! the file named by `VBM365_TEST_OPENED_LOG` and exits 0. `cargo test` builds it with the tests.
//!
//! ```text
//! VBM365_AUTH_BROWSER=…/examples/fake-browser VBM365_TEST_OPENED_LOG=opened.log vbm365-auth login
//! ```

use std::io::Write;

fn main() {
    let log = std::env::var_os("VBM365_TEST_OPENED_LOG").unwrap_or_else(|| {
        eprintln!("fake-browser: set VBM365_TEST_OPENED_LOG to the file to record into");
        std::process::exit(2);
    });
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url] = args.as_slice() else {
        eprintln!("fake-browser: expected one address, got {args:?}");
        std::process::exit(2);
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap_or_else(|e| panic!("fake-browser: {}: {e}", log.to_string_lossy()));
    writeln!(file, "{url}").expect("fake-browser: write the log");
}
