//! `completions <SHELL>` and `man [COMMAND…]`: generated from the same clap grammar that parses
//! the command line, so they cannot drift from it.

use crate::cli::{Cli, CompletionShell};
use crate::output::Io;
use clap::CommandFactory;
use std::process::ExitCode;
use vbm365_auth_core::{Error, Result};

const BIN: &str = "vbm365-auth";

fn write(io: &mut Io<'_>, bytes: &[u8]) -> Result<()> {
    io.out
        .write_all(bytes)
        .and_then(|()| io.out.flush())
        .map_err(|source| Error::Io {
            path: "stdout".into(),
            source,
        })
}

pub fn completions(shell: CompletionShell, io: &mut Io<'_>) -> Result<ExitCode> {
    use clap_complete::Shell;
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Powershell => Shell::PowerShell,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut buf);
    write(io, &buf)?;
    Ok(ExitCode::SUCCESS)
}

/// The page of `vbm365-auth` or of a command (`man tenant import`: `vbm365-auth-tenant-import(1)`).
pub fn man(command: &[String], io: &mut Io<'_>) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut name = BIN.to_string();
    for part in command {
        let Some(sub) = cmd.find_subcommand(part).cloned() else {
            return Err(Error::InvalidInput(format!(
                "no command '{}' in {name}; see `{name} --help`",
                vbm365_auth_core::text::shown(part, 80)
            )));
        };
        name = format!("{name}-{}", sub.get_name());
        cmd = sub;
    }
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .title(name)
        .render(&mut buf)
        .map_err(|source| Error::Io {
            path: "man page".into(),
            source,
        })?;
    write(io, &buf)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Fixture;
    use std::process::ExitCode;

    #[tokio::test]
    async fn completions_and_man_pages_come_from_the_grammar() {
        let f = Fixture::with_tenants(&[]);
        for (shell, marker) in [
            ("bash", "complete -F _vbm365__auth"),
            ("zsh", "#compdef vbm365-auth"),
            ("fish", "complete -c vbm365-auth"),
            ("powershell", "Register-ArgumentCompleter"),
        ] {
            let r = f.run(&["completions", shell]).await;
            assert_eq!(r.code, ExitCode::SUCCESS, "{shell}");
            assert!(
                r.out.contains(marker),
                "{shell}: {}",
                &r.out[..200.min(r.out.len())]
            );
            // Every command is offered, the new ones too.
            for sub in ["api", "env", "import", "paginate"] {
                assert!(r.out.contains(sub), "{shell} lacks {sub}");
            }
        }
        let r = f.run(&["man"]).await;
        assert!(r.out.starts_with(".ie \\n(.g .ds Aq"), "{}", &r.out[..100]);
        assert!(r.out.contains(".TH vbm365-auth 1"), "{}", &r.out[..300]);
        let r = f.run(&["man", "tenant", "import"]).await;
        assert!(
            r.out.contains(".TH vbm365-auth-tenant-import 1"),
            "{}",
            &r.out[..300]
        );
        assert!(r.out.contains("skip\\-invalid"), "{}", r.out);
        let r = f.run(&["man", "nope"]).await;
        assert_eq!(r.code, ExitCode::from(2));
        assert!(
            r.err.contains("no command 'nope' in vbm365-auth"),
            "{}",
            r.err
        );
    }
}
