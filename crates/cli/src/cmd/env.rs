//! `env [--shell …]`: the commands that set what a script needs (server, API version, token,
//! expiry) for one shell, quoted for that shell; and `token --format header`, the token as an
//! HTTP header for `curl -H @-`. Like `token`, these print a token, on stdout only.

use crate::cli::EnvShell;
use crate::output::{outln, Io};
use std::process::ExitCode;
use std::time::Duration;
use vbm365_auth_core::{Engine, Error, Result};

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
pub fn assignment(shell: EnvShell, name: &str, value: &str) -> Result<String> {
    Ok(match shell {
        EnvShell::Bash | EnvShell::Zsh => {
            format!("export {name}='{}'", value.replace('\'', r"'\''"))
        }
        EnvShell::Fish => format!(
            "set -gx {name} '{}'",
            value.replace('\\', r"\\").replace('\'', r"\'")
        ),
        EnvShell::Powershell => format!("$Env:{name} = '{}'", value.replace('\'', "''")),
        EnvShell::Cmd => {
            // cmd has no quoting that survives %, ! and " everywhere: such values are refused.
            if value
                .chars()
                .any(|c| c.is_control() || matches!(c, '"' | '%' | '!' | '^'))
            {
                return Err(Error::InvalidInput(format!(
                    "{name} has characters cmd cannot take literally; use --shell powershell"
                )));
            }
            format!("set \"{name}={value}\"")
        }
    })
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
            assignment(EnvShell::Cmd, "X", "https://h:4443/v8").unwrap(),
            "set \"X=https://h:4443/v8\""
        );
        for bad in ["100%", "a\"b", "a\nb"] {
            assert!(assignment(EnvShell::Cmd, "X", bad).is_err(), "{bad}");
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
