//! Opening the sign-in page. Only a [`Url`] that passed [`crate::validate::verification_uri`] is
//! accepted (see [`crate::session::PendingSignIn::openable_uri`]).
//!
//! The launchers are the `open` crate's, in its order (xdg-open, gio, … on Linux; PowerShell's
//! `Start-Process`, then Explorer on Windows), but they are run here so that a failure can be told
//! to people in words ("the browser launcher xdg-open exited with status 3: …") instead of the
//! crate's debug text (`ExitStatus(unix_wait_status(768))`).
//!
//! `VBM365_AUTH_BROWSER` names a program to run instead, with the address as its one argument (a
//! particular browser on a server, or a script); nothing else is tried then.

use crate::error::{Error, Result};
use std::process::{Command, ExitStatus, Stdio};
use url::Url;

/// Opens the URL in the default browser (xdg-open, gio, … on Linux), or with the program
/// `VBM365_AUTH_BROWSER` names.
pub fn open_verification_uri(url: &Url) -> Result<()> {
    let checked = crate::validate::verification_uri(url.as_str())?;
    launch(launchers(checked.as_str())).map_err(|detail| Error::BrowserUnavailable {
        url: checked.to_string(),
        detail,
    })
}

/// The program in `VBM365_AUTH_BROWSER` when set (not empty), else the system's launchers.
fn launchers(url: &str) -> Vec<Command> {
    match std::env::var_os("VBM365_AUTH_BROWSER").filter(|p| !p.is_empty()) {
        Some(program) => {
            let mut c = Command::new(program);
            c.arg(url);
            vec![c]
        }
        None => open::commands(url),
    }
}

/// Whether a launcher that ran and failed lets the next one be tried. On Linux and the BSDs a
/// failed xdg-open is reliable (the next launcher, e.g. gio, may still work), as the `open` crate
/// has it; elsewhere the one launcher's status is not a dependable failure indication and trying
/// another could open the page twice.
const RETRY_AFTER_FAILURE: bool = cfg!(all(unix, not(target_os = "macos")));

/// Runs the launchers in order until one succeeds. The error is a sentence for people: the first
/// launcher that ran and failed, else why none could be started.
fn launch(commands: Vec<Command>) -> std::result::Result<(), String> {
    let mut failed: Option<String> = None;
    let mut missing: Vec<String> = Vec::new();
    let mut unstartable: Option<String> = None;
    for mut cmd in commands {
        let program = program_name(&cmd);
        let status = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => return Ok(()),
            Ok(s) => {
                failed.get_or_insert_with(|| describe_exit(&program, s));
                if !RETRY_AFTER_FAILURE {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(program),
            Err(e) => {
                unstartable.get_or_insert_with(|| {
                    format!("the browser launcher {program} could not be started: {e}")
                });
            }
        }
    }
    Err(failed.or(unstartable).unwrap_or_else(|| {
        if missing.is_empty() {
            "this system has no browser launcher".to_string()
        } else {
            format!(
                "no browser launcher is installed (looked for {})",
                missing.join(", ")
            )
        }
    }))
}

/// The program of a command as people know it: its file name (`xdg-open`), not its path.
fn program_name(cmd: &Command) -> String {
    let program = std::path::Path::new(cmd.get_program());
    program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// "the browser launcher xdg-open exited with status 3 (…)", or "… was stopped by signal 9".
fn describe_exit(program: &str, status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        let meaning = if program == "xdg-open" {
            xdg_open_meaning(code)
        } else {
            None
        };
        return match meaning {
            Some(m) => format!("the browser launcher {program} exited with status {code}: {m}"),
            None => format!("the browser launcher {program} exited with status {code}"),
        };
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("the browser launcher {program} was stopped by signal {signal}");
        }
    }
    format!("the browser launcher {program} failed")
}

/// What xdg-open's documented exit codes mean (xdg-open(1), "EXIT CODES").
fn xdg_open_meaning(code: i32) -> Option<&'static str> {
    match code {
        1 => Some("it did not accept the address"),
        2 => Some("the address could not be found"),
        3 => Some("no browser or other tool it needs was found"),
        4 => Some("opening the page failed"),
        _ => None,
    }
}

#[cfg(all(test, unix, not(target_os = "macos")))]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    /// The words of every failure are for people: no Rust debug text such as
    /// `ExitStatus(unix_wait_status(768))` or a quoted command line.
    fn assert_readable(text: &str) {
        for debug in ["ExitStatus", "unix_wait_status", "Os {", "\""] {
            assert!(!text.contains(debug), "{debug} in: {text}");
        }
    }

    #[test]
    fn exit_statuses_are_worded_for_people() {
        // 768 is how a wait status of exit code 3 looks (3 << 8): xdg-open found no browser.
        let text = describe_exit("xdg-open", ExitStatus::from_raw(768));
        assert_eq!(
            text,
            "the browser launcher xdg-open exited with status 3: no browser or other tool it \
             needs was found"
        );
        assert_readable(&text);
        assert_eq!(
            describe_exit("gio", ExitStatus::from_raw(2 << 8)),
            "the browser launcher gio exited with status 2"
        );
        assert_eq!(
            describe_exit("xdg-open", ExitStatus::from_raw(9)),
            "the browser launcher xdg-open was stopped by signal 9"
        );
    }

    #[test]
    fn the_first_launcher_that_ran_and_failed_is_reported() {
        let missing = Command::new("/nonexistent/vbm365-no-such-launcher");
        let err = launch(vec![missing, sh("exit 3"), sh("exit 4")]).unwrap_err();
        assert_eq!(err, "the browser launcher sh exited with status 3");
        assert_readable(&err);
        let err = launch(vec![Command::new("/nonexistent/xdg-open")]).unwrap_err();
        assert_eq!(
            err,
            "no browser launcher is installed (looked for xdg-open)"
        );
    }

    #[test]
    fn a_later_launcher_may_still_open_the_page() {
        assert_eq!(launch(vec![sh("exit 3"), sh("exit 0")]), Ok(()));
        assert_eq!(launch(vec![sh("exit 0"), sh("exit 3")]), Ok(()));
    }

    #[test]
    fn the_launchers_are_the_open_crates() {
        let programs: Vec<String> = open::commands("https://login.microsoft.com/device")
            .iter()
            .map(program_name)
            .collect();
        assert!(programs.iter().any(|p| p == "xdg-open"), "{programs:?}");
    }
}

/// The same behaviour on Windows, with `cmd.exe` as the launcher that runs and fails.
#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    fn cmd(script: &str) -> Command {
        let mut c = Command::new("cmd.exe");
        c.args(["/d", "/c", script]);
        c
    }

    #[test]
    fn a_failed_launcher_is_worded_and_no_other_is_tried() {
        // After a launcher that ran and failed, Windows tries no other (it may have opened the
        // page anyway): the second one, which would succeed, is not run.
        let err = launch(vec![cmd("exit 3"), cmd("exit 0")]).unwrap_err();
        assert_eq!(err, "the browser launcher cmd.exe exited with status 3");
        let err = launch(vec![Command::new(r"C:\nonexistent\powershell.exe")]).unwrap_err();
        assert_eq!(
            err,
            "no browser launcher is installed (looked for powershell.exe)"
        );
        // A missing launcher lets the next one run.
        assert_eq!(
            launch(vec![
                Command::new(r"C:\nonexistent\powershell.exe"),
                cmd("exit 0")
            ]),
            Ok(())
        );
    }

    #[test]
    fn the_launchers_are_the_open_crates() {
        let programs: Vec<String> = open::commands("https://login.microsoft.com/device")
            .iter()
            .map(program_name)
            .collect();
        assert!(
            programs.iter().any(|p| p == "powershell.exe"),
            "{programs:?}"
        );
        assert!(programs.iter().any(|p| p == "explorer.exe"), "{programs:?}");
    }
}
