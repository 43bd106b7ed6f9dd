//! `login [TENANT]`: sign in with a Microsoft device code (or in the browser: `--browser`, or the
//! tenant's sign-in method) and exchange it for VBM365 tokens. With `--json`, JSON lines on stdout:
//! `device_code` (or `browser`), then `signed_in` or `error`.

mod browser;

use crate::output::{self, errln, print_json, relative, Io};
use std::process::ExitCode;
use vbm365_auth_core::contract::LoginEvent;
use vbm365_auth_core::session::PendingSignIn;
use vbm365_auth_core::TenantStatus;
use vbm365_auth_core::{browser as launcher, Engine, Error, Result, SignInEvent, SignInMethod};

/// The method `--browser` / `--device-code` ask for; `None`: the tenant's.
pub fn method(browser: bool, device_code: bool) -> Option<SignInMethod> {
    match (browser, device_code) {
        (true, _) => Some(SignInMethod::Browser),
        (_, true) => Some(SignInMethod::DeviceCode),
        _ => None,
    }
}

pub async fn run(
    engine: &Engine,
    tenant: Option<&str>,
    method: Option<SignInMethod>,
    no_browser: bool,
    json: bool,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    let profile = engine.config()?.resolve(tenant)?.clone();
    match method.unwrap_or(profile.sign_in_method) {
        SignInMethod::DeviceCode => {
            with_device_code(engine, &profile.name, no_browser, json, io).await
        }
        SignInMethod::Browser => browser::run(engine, &profile.name, no_browser, json, io).await,
    }
}

/// The device code flow: show the code, open the page, poll.
async fn with_device_code(
    engine: &Engine,
    name: &str,
    no_browser: bool,
    json: bool,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    let name = name.to_string();
    let pending = match engine.begin_sign_in(Some(&name)).await {
        Ok(p) => p,
        Err(e) => return Ok(report(&name, &e, json, io)),
    };
    show_code(&name, &pending, no_browser, json, io)?;
    let done = tokio::select! {
        r = engine.complete_sign_in(&pending, |ev| progress(ev, io)) => r,
        _ = tokio::signal::ctrl_c() => Err(Error::Cancelled),
    };
    match done {
        Ok(st) => signed_in(&name, st, json, io),
        Err(e) => Ok(report(&name, &e, json, io)),
    }
}

/// A failed sign-in: an `error` event with `--json`, the message on stderr.
fn report(name: &str, e: &Error, json: bool, io: &mut Io<'_>) -> ExitCode {
    if json {
        // Already failing: a stdout that cannot take the event changes nothing.
        let event = LoginEvent::Error {
            tenant: name.to_string(),
            error: output::error_body(e),
        };
        let _ = print_json(io, &event);
    }
    errln!(io, "error: {e}");
    if let Some(h) = output::hint(e) {
        errln!(io, "hint: {h}");
    }
    ExitCode::from(output::exit_code_of(e))
}

/// Shows the code and where to enter it, and opens the page unless told not to.
fn show_code(
    name: &str,
    pending: &PendingSignIn,
    no_browser: bool,
    json: bool,
    io: &mut Io<'_>,
) -> Result<()> {
    let auth = &pending.authorization;
    if json {
        print_json(
            io,
            &LoginEvent::DeviceCode {
                tenant: name.to_string(),
                user_code: auth.user_code.clone(),
                verification_uri: auth.verification_uri.clone(),
                expires_in: auth.expires_in,
                message: auth.message.clone(),
            },
        )?;
    }
    errln!(
        io,
        "To sign in to {name}, open {} and enter the code:\n\n    {}\n",
        printable(&auth.verification_uri),
        auth.user_code
    );
    match &pending.openable_uri {
        Ok(url) if !no_browser => {
            if let Err(e) = launcher::open_verification_uri(url) {
                errln!(io, "warning: {e}");
            }
        }
        Ok(_) => {}
        Err(reason) => errln!(io, "warning: {reason}"),
    }
    errln!(
        io,
        "Waiting for approval (expires in {} min; Ctrl-C cancels)…",
        auth.expires_in / 60
    );
    Ok(())
}

fn progress(ev: SignInEvent, io: &mut Io<'_>) {
    match ev {
        SignInEvent::SlowedDown { interval } => errln!(
            io,
            "The server asked to poll slower: every {} s",
            interval.as_secs()
        ),
        SignInEvent::Retrying {
            reason,
            next_poll_in,
        } => errln!(
            io,
            "warning: {reason}; retrying in {} s",
            next_poll_in.as_secs()
        ),
        SignInEvent::Exchanging => errln!(
            io,
            "Approved. Exchanging the assertion with the VBM365 server…"
        ),
        SignInEvent::Waiting { .. } => {}
    }
}

fn signed_in(name: &str, st: TenantStatus, json: bool, io: &mut Io<'_>) -> Result<ExitCode> {
    if json {
        print_json(
            io,
            &LoginEvent::SignedIn {
                tenant: name.to_string(),
                expires_at: st.expires_at,
            },
        )?;
    }
    let who = st.user_name.map(|u| format!(" as {u}")).unwrap_or_default();
    errln!(
        io,
        "Signed in to {name}{who}; the access token expires {}",
        st.expires_at.map(relative).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// Shows a URI from a server without letting control characters reach the terminal.
fn printable(uri: &str) -> String {
    uri.chars()
        .flat_map(char::escape_default)
        .collect::<String>()
        .replace("\\'", "'")
        .replace("\\\"", "\"")
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{Fixture, A};
    use std::process::ExitCode;
    use std::time::Duration;
    use vbm365_emulator::{EmulatorOptions, Emulators};

    #[test]
    fn printable_escapes_control_characters_only() {
        let cases = [
            (
                "https://microsoft.com/devicelogin",
                "https://microsoft.com/devicelogin",
            ),
            (
                "https://x.test/?a='b'&c=\"d\"",
                "https://x.test/?a='b'&c=\"d\"",
            ),
            ("https://x.test/\u{1b}[2J", "https://x.test/\\u{1b}[2J"),
            ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ];
        for (raw, shown) in cases {
            assert_eq!(super::printable(raw), shown, "{raw:?}");
        }
    }

    /// Approves the first device code as a person would, once there is one; gives its user code.
    async fn approve(emu: &Emulators) -> String {
        loop {
            if let Some(c) = emu.device_codes().first() {
                assert!(emu.approve(&c.user_code));
                return c.user_code.clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `login --json --no-browser` against the emulators while a person approves the code.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn login_json_shows_the_code_then_signs_in() {
        let emu = Emulators::start(EmulatorOptions {
            device_code_interval: Some(1),
            ..EmulatorOptions::default()
        })
        .await
        .unwrap();
        let f = Fixture::with_tenants(&[]);
        f.add_on_emulators(&emu, A).await;
        let args = ["login", "--json", "--no-browser"];
        let (r, code) = tokio::join!(f.run(&args), approve(&emu));
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        let lines: Vec<serde_json::Value> = r
            .out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{}", r.out);
        let uri = format!("{}/devicelogin", emu.ms_url());
        let expected = serde_json::json!({
            "event": "device_code", "tenant": A, "user_code": code, "verification_uri": uri,
            "expires_in": 900, "message": lines[0]["message"].clone(),
        });
        assert_eq!(lines[0], expected);
        assert_eq!(lines[1]["event"], "signed_in");
        assert_eq!(lines[1]["tenant"], A);
        let expires: chrono::DateTime<chrono::Utc> =
            lines[1]["expires_at"].as_str().unwrap().parse().unwrap();
        let (head, tail) = r.err.split_once("; the access token expires ").unwrap();
        assert_eq!(
            head,
            format!(
                "{}To sign in to {A}, open {uri} and enter the code:\n\n    {code}\n\n\
                 Waiting for approval (expires in 15 min; Ctrl-C cancels)…\n\
                 Approved. Exchanging the assertion with the VBM365 server…\n\
                 Signed in to {A} as admin@{A}",
                f.plaintext_warning()
            )
        );
        assert_eq!(tail, format!("{}\n", crate::output::relative(expires)));
    }
}
