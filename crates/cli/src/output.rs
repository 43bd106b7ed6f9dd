//! Printing: the streams a command writes to ([`Io`], injected so that commands can be tested
//! without a process), errors, JSON, times. Tokens are printed only by `token`, on stdout.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use vbm365_auth_core::contract::{ErrorBody, Failure};
use vbm365_auth_core::{Error, Remedy, Result};

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_SIGN_IN_REQUIRED: u8 = 4;

/// The streams of a command: data on `out` (stdout), messages for people on `err` (stderr), answers
/// to prompts from `input` (stdin). `main` hands in the process's own; tests hand in buffers.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub input: &'a mut dyn BufRead,
    /// Whether a person can answer a prompt (stdin is a terminal).
    pub stdin_is_terminal: bool,
}

impl Io<'_> {
    /// Writes data on stdout. A failed write is an error: the data did not arrive.
    pub fn out(&mut self, args: fmt::Arguments<'_>) -> Result<()> {
        self.out.write_fmt(args).map_err(|source| Error::Io {
            path: "stdout".into(),
            source,
        })
    }

    /// Writes a message on stderr, flushed (a prompt ends without a newline). Best effort: a
    /// message that cannot be shown changes no outcome.
    pub fn err(&mut self, args: fmt::Arguments<'_>) {
        let _ = self.err.write_fmt(args);
        let _ = self.err.flush();
    }

    /// One line of input (empty at the end of input).
    pub fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        self.input
            .read_line(&mut line)
            .map_err(|e| Error::InvalidInput(format!("cannot read the answer: {e}")))?;
        Ok(line)
    }
}

/// `outln!(io, "...", args)`: a line of data on stdout; gives `Result<()>`.
macro_rules! outln {
    ($io:expr, $($arg:tt)*) => {
        $io.out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `errln!(io, "...", args)`: a line for people on stderr.
macro_rules! errln {
    ($io:expr, $($arg:tt)*) => {
        $io.err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, outln};

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

/// The CLI's words for an error's [`Remedy`]: what to run or do next. The core's messages only
/// say what went wrong; the window words the same remedies as buttons.
pub fn hint(e: &Error) -> Option<String> {
    Some(match e.remedy()? {
        Remedy::PickSavedTenant => "see the saved tenants with `vbm365-auth tenant list`".into(),
        Remedy::ChooseActiveTenant => {
            "name a tenant, or choose the active one with `vbm365-auth switch <TENANT>`".into()
        }
        Remedy::TrustServerCertificate => "check the certificate and pin it with `vbm365-auth tenant trust <TENANT>`, or trust the authority that issued it with `vbm365-auth tenant trust <TENANT> --ca-file <PEM>`".into(),
        Remedy::ReviewChangedCertificate => "if the server's certificate was renewed on purpose, pin the new one with `vbm365-auth tenant trust <TENANT>`".into(),
        Remedy::SignIn => "sign in with `vbm365-auth login <TENANT>`".into(),
        Remedy::FixRestorePortalApp => "in Microsoft Entra ID, the Restore Portal's app registration (the application named above) must allow public client flows (Authentication > Advanced settings > \"Allow public client flows\": Yes) and have the redirect URI http://localhost under \"Mobile and desktop applications\"; see \"The Restore Portal's app registration\" in the README".into(),
        Remedy::UseBrowserSignIn => "the browser sign-in may be allowed: `vbm365-auth login --browser <TENANT>` (to make it the tenant's method: `vbm365-auth tenant edit <TENANT> --sign-in-method browser`)".into(),
        #[cfg(not(windows))]
        Remedy::StartKeyring => "start a Secret Service (e.g. gnome-keyring), or set VBM365_AUTH_STORAGE=file to keep secrets in a plain file (mode 0600)".into(),
        #[cfg(windows)]
        Remedy::StartKeyring => "run it in your own logon session (a scheduled task: not with \"Do not store password\"), or set VBM365_AUTH_STORAGE=file to keep secrets in a plain file".into(),
        Remedy::UnlockKeyring => {
            "unlock it (e.g. log in to the desktop session) and try again".into()
        }
        Remedy::ResetVault => {
            "`vbm365-auth logout --all` clears the unreadable vault; then sign in again".into()
        }
        Remedy::FixPermissions => match e {
            Error::UnsafeFile { path, .. } => format!("run `chmod go-w '{path}'`"),
            _ => return None,
        },
        // The message already lists the causes, says to try later, or names what to fix.
        _ => return None,
    })
}

/// The error as the JSON contract has it, with the CLI's hint.
pub fn error_body(e: &Error) -> ErrorBody {
    ErrorBody {
        hint: hint(e),
        ..ErrorBody::from(e)
    }
}

/// Reports an error (stderr; with `--json` also a JSON object on stdout) and gives the exit code.
pub fn fail(io: &mut Io<'_>, e: &Error, json: bool) -> ExitCode {
    errln!(io, "error: {e}");
    if let Some(h) = hint(e) {
        errln!(io, "hint: {h}");
    }
    if json {
        // Already failing: a stdout that cannot take the report changes nothing.
        let _ = print_json(
            io,
            &Failure {
                error: error_body(e),
            },
        );
    }
    ExitCode::from(exit_code_of(e))
}

/// One JSON document (a shape of [`vbm365_auth_core::contract`]) on a line of stdout, its keys in
/// sorted order (stable output whatever order the fields are declared in).
pub fn print_json<T: Serialize + ?Sized>(io: &mut Io<'_>, v: &T) -> Result<()> {
    let value = serde_json::to_value(v).map_err(|e| Error::InvalidInput(e.to_string()))?;
    outln!(io, "{value}")
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{self, Cursor};

    /// A stream whose reader went away.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn data_that_cannot_be_written_is_an_error_a_message_is_not() {
        let (mut out, mut err, mut input) = (Closed, Closed, Cursor::new(Vec::new()));
        let mut io = Io {
            out: &mut out,
            err: &mut err,
            input: &mut input,
            stdin_is_terminal: false,
        };
        let e = outln!(io, "token").unwrap_err();
        assert_eq!(e.to_string(), "stdout: broken pipe");
        assert_eq!(exit_code_of(&e), EXIT_FAILURE);
        errln!(io, "a message nobody sees");
        assert_eq!(io.read_line().unwrap(), "");
    }

    #[test]
    fn fail_reports_on_stderr_and_with_json_also_on_stdout() {
        let sign_in = Error::SignInRequired {
            tenant: "a".into(),
            reason: "revoked".into(),
        };
        // (error, --json, exit code, stdout with "MESSAGE" for the error's message as JSON)
        let choose = "name a tenant, or choose the active one with `vbm365-auth switch <TENANT>`";
        let login = "sign in with `vbm365-auth login <TENANT>`";
        let cases = [
            (Error::NoActiveTenant, false, EXIT_USAGE, "", Some(choose)),
            (
                Error::TenantExists("a".into()),
                true,
                EXIT_USAGE,
                "{\"error\":{\"code\":\"tenant_exists\",\"message\":MESSAGE}}\n",
                None,
            ),
            (
                sign_in,
                true,
                EXIT_SIGN_IN_REQUIRED,
                "{\"error\":{\"code\":\"sign_in_required\",\"hint\":\"sign in with `vbm365-auth login <TENANT>`\",\"message\":MESSAGE,\"remedy\":\"sign_in\"}}\n",
                Some(login),
            ),
            (Error::Cancelled, false, EXIT_FAILURE, "", None),
        ];
        for (e, json, code, stdout, hint) in cases {
            let stdout = stdout.replace("MESSAGE", &serde_json::to_string(&e.to_string()).unwrap());
            let (mut out, mut err, mut input) = (Vec::new(), Vec::new(), Cursor::new(Vec::new()));
            let mut io = Io {
                out: &mut out,
                err: &mut err,
                input: &mut input,
                stdin_is_terminal: false,
            };
            assert_eq!(fail(&mut io, &e, json), ExitCode::from(code), "{e:?}");
            assert_eq!(String::from_utf8(out).unwrap(), stdout, "{e:?}");
            let hint = hint.map(|h| format!("hint: {h}\n")).unwrap_or_default();
            assert_eq!(
                String::from_utf8(err).unwrap(),
                format!("error: {e}\n{hint}"),
                "{e:?}"
            );
        }
    }

    #[test]
    fn relative_times_read_naturally() {
        let now = Utc::now();
        let cases = [
            (30, "in 30 s"),
            (42 * 60 + 30, "in 42 min"),
            (3 * 3600 + 5 * 60 + 30, "in 3 h 5 min"),
            (-(2 * 60 + 30), "2 min ago"),
        ];
        for (secs, shown) in cases {
            // 0.9 s of slack for the clock moving on while this runs.
            let t = now + chrono::Duration::seconds(secs) + chrono::Duration::milliseconds(900);
            assert_eq!(relative(t), shown, "{secs}");
        }
        assert_eq!(
            vbm365_auth_core::contract::rfc3339("2100-01-02T03:04:05.678Z".parse().unwrap()),
            "2100-01-02T03:04:05Z"
        );
    }
}
