//! `env [--shell …]`: the commands that set what a script needs (server, API version, token,
//! expiry) for one shell, quoted for that shell; and `token --format header`, the token as an
//! HTTP header for `curl -H @-`. Like `token`, these print a token, on stdout only.

use crate::cli::EnvShell;
use crate::output::{outln, Io};
use std::process::ExitCode;
use std::time::Duration;
use vbm365_auth_core::{validate, Engine, Error, Result};

pub async fn run(
    engine: &Engine,
    tenant: Option<&str>,
    shell: Option<EnvShell>,
    min_valid: Duration,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    let shell = shell.unwrap_or_else(default_shell);
    let t = engine.token(tenant, min_valid).await?;
    let cfg = engine.config()?;
    let p = cfg.resolve(Some(&t.tenant))?;
    let server = p.server.as_str().trim_end_matches('/').to_string();
    let vars = [
        ("VBM365_TENANT", p.name.clone()),
        ("VBM365_SERVER", server.clone()),
        ("VBM365_API_VERSION", p.api_version.to_string()),
        ("VBM365_API_URL", format!("{server}/{}", p.api_version)),
        ("VBM365_ACCESS_TOKEN", t.access_token.expose().to_string()),
        (
            "VBM365_TOKEN_EXPIRES_AT",
            t.expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    ];
    // Every line is checked before any is printed: half an environment is worse than none.
    let lines = vars
        .iter()
        .map(|(k, v)| assignment(shell, k, v))
        .collect::<Result<Vec<_>>>()?;
    for l in lines {
        outln!(io, "{l}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `token --format header`.
pub async fn header(
    engine: &Engine,
    tenant: Option<&str>,
    min_valid: Duration,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    let t = engine.token(tenant, min_valid).await?;
    // The core takes only b64tokens from a server; a token stored by an older build is checked
    // here all the same, since a CR/LF in it would add headers to what `curl -H @-` sends.
    if !validate::is_b64token(t.access_token.expose()) {
        return Err(Error::InvalidInput(format!(
            "the stored token of {} has characters a bearer token cannot have; sign in again",
            t.tenant
        )));
    }
    outln!(io, "Authorization: Bearer {}", t.access_token.expose())?;
    Ok(ExitCode::SUCCESS)
}

/// The shell of `$SHELL` (bash unless it names zsh or fish); PowerShell on Windows.
fn default_shell() -> EnvShell {
    if cfg!(windows) {
        return EnvShell::Powershell;
    }
    let shell = std::env::var("SHELL").unwrap_or_default();
    match shell.rsplit('/').next().unwrap_or_default() {
        "zsh" => EnvShell::Zsh,
        "fish" => EnvShell::Fish,
        _ => EnvShell::Bash,
    }
}

/// One variable assignment, the value quoted so that the shell takes it literally.
///
/// Values must be printable ASCII (tenant names, server URLs, b64tokens and times always are);
/// anything else is refused for every shell: a control character can end the line or drive the
/// terminal, and non-ASCII text can turn into a quote when the shell decodes the output with
/// another code page (Windows-1252 reads bytes 0x91 and 0x92 of UTF-8 text as U+2018 and U+2019,
/// which PowerShell takes as single quotes).
pub fn assignment(shell: EnvShell, name: &str, value: &str) -> Result<String> {
    if let Some(c) = value.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(Error::InvalidInput(format!(
            "{name} holds a character a shell line cannot carry safely (U+{:04X}); nothing was printed",
            c as u32
        )));
    }
    Ok(match shell {
        EnvShell::Bash | EnvShell::Zsh => {
            format!("export {name}='{}'", value.replace('\'', r"'\''"))
        }
        EnvShell::Fish => format!(
            "set -gx {name} '{}'",
            value.replace('\\', r"\\").replace('\'', r"\'")
        ),
        EnvShell::Powershell => format!("$Env:{name} = '{}'", powershell_quoted(value)),
        EnvShell::Cmd => {
            // cmd has no quoting that survives %, ! and " everywhere: such values are refused.
            // Inside the quotes of `set "NAME=value"`, & | < > ( ) are literal.
            if let Some(c) = value.chars().find(|c| matches!(c, '"' | '%' | '!' | '^')) {
                return Err(Error::InvalidInput(format!(
                    "{name} holds '{c}', which cmd cannot take literally; use --shell powershell"
                )));
            }
            format!("set \"{name}={value}\"")
        }
    })
}

/// `value` for the inside of a PowerShell single-quoted string: every character PowerShell takes
/// as a single quote (ASCII `'` and the typographic U+2018 to U+201B) doubled.
fn powershell_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}'..='\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{at, Fixture, A, B, SERVER};
    use super::*;

    #[test]
    fn values_are_quoted_for_each_shell() {
        let v = r"it's $HOME \n";
        let cases = [
            (EnvShell::Bash, r"export X='it'\''s $HOME \n'"),
            (EnvShell::Zsh, r"export X='it'\''s $HOME \n'"),
            (EnvShell::Fish, r"set -gx X 'it\'s $HOME \\n'"),
            (EnvShell::Powershell, r"$Env:X = 'it''s $HOME \n'"),
        ];
        for (shell, want) in cases {
            assert_eq!(assignment(shell, "X", v).unwrap(), want, "{shell:?}");
        }
        assert_eq!(
            assignment(EnvShell::Cmd, "X", "https://h:4443/v8?a=1&b=(2)|<3>").unwrap(),
            "set \"X=https://h:4443/v8?a=1&b=(2)|<3>\""
        );
        for bad in ["100%", "a\"b", "a!b", "a^b"] {
            let e = assignment(EnvShell::Cmd, "X", bad).unwrap_err().to_string();
            assert!(e.contains("--shell powershell"), "{bad}: {e}");
        }
    }

    /// Bug caught: PowerShell quoting doubled only ASCII `'`, while PowerShell also ends a
    /// single-quoted string at U+2018 to U+201B; and control or non-ASCII characters reached
    /// every shell's line.
    #[test]
    fn no_value_can_end_its_quotes_in_any_shell() {
        assert_eq!(
            powershell_quoted("x\u{2019}; calc; \u{2018}\u{201a}\u{201b}'"),
            "x\u{2019}\u{2019}; calc; \u{2018}\u{2018}\u{201a}\u{201a}\u{201b}\u{201b}''"
        );
        let shells = [
            EnvShell::Bash,
            EnvShell::Zsh,
            EnvShell::Fish,
            EnvShell::Powershell,
            EnvShell::Cmd,
        ];
        for shell in shells {
            for bad in [
                "x\u{2019}; calc; \u{2019}",
                "a\r\nX-Injected: 1",
                "a\nb",
                "\u{1b}[2J",
                "caf\u{e9}",
                "a\0b",
            ] {
                let e = assignment(shell, "VBM365_ACCESS_TOKEN", bad).unwrap_err();
                assert_eq!(e.code(), "invalid_input", "{shell:?} {bad:?}");
                let m = e.to_string();
                assert!(m.contains("VBM365_ACCESS_TOKEN") && m.contains("U+"), "{m}");
                assert!(!m.contains(bad), "the value is never echoed: {m}");
            }
        }
        // Every printable ASCII character comes back literally out of a real bash (Unix).
        #[cfg(unix)]
        {
            let all: String = (' '..='~').collect();
            let line = assignment(EnvShell::Bash, "X", &all).unwrap();
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("{line}; printf '%s' \"$X\""))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), all);
        }
    }

    #[tokio::test]
    async fn env_prints_every_variable_for_the_chosen_shell() {
        let f = Fixture::with_tenants(&[A, B]);
        f.store_tokens(B, "access-b", at("2100-02-03T04:05:06Z"))
            .await;
        let r = f
            .run(&["env", "--tenant", B, "--shell", "powershell"])
            .await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        assert_eq!(
            r.out,
            format!(
                "$Env:VBM365_TENANT = '{B}'\n$Env:VBM365_SERVER = '{SERVER}'\n$Env:VBM365_API_VERSION = 'v8'\n\
                 $Env:VBM365_API_URL = '{SERVER}/v8'\n$Env:VBM365_ACCESS_TOKEN = 'access-b'\n\
                 $Env:VBM365_TOKEN_EXPIRES_AT = '2100-02-03T04:05:06Z'\n"
            )
        );
        let r = f.run(&["token", B, "--format", "header"]).await;
        assert_eq!(r.out, "Authorization: Bearer access-b\n");
        let r = f.run(&["env", "--shell", "bash"]).await;
        assert_eq!(r.code, ExitCode::from(4), "A is not signed in: {}", r.err);
        assert_eq!(r.out, "");
    }
}
