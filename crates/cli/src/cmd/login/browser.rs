//! `login --browser` (or a tenant whose sign-in method is the browser): Microsoft's authorize page
//! opens in the default browser; the answer comes back to a one-time listener on 127.0.0.1.

use super::{progress, report, signed_in};
use crate::output::{errln, print_json, Io};
use std::future::Future;
use std::process::ExitCode;
use std::task::Poll;
use vbm365_auth_core::contract::LoginEvent;
use vbm365_auth_core::session::BrowserSignIn;
use vbm365_auth_core::{browser as launcher, Engine, Error, Result};

pub async fn run(
    engine: &Engine,
    name: &str,
    no_browser: bool,
    json: bool,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    let pending = match engine.begin_browser_sign_in(Some(name)).await {
        Ok(p) => p,
        Err(e) => return Ok(report(name, &e, json, io)),
    };
    // Listen for Ctrl-C before the page is shown: one pressed at once must cancel, not kill.
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let early = std::future::poll_fn(|cx| Poll::Ready(ctrl_c.as_mut().poll(cx).is_ready())).await;
    show_page(name, &pending, no_browser, json, io)?;
    let done = tokio::select! {
        r = engine.complete_browser_sign_in(pending, |ev| progress(ev, io)), if !early => r,
        _ = &mut ctrl_c, if !early => Err(Error::Cancelled),
        else => Err(Error::Cancelled),
    };
    match done {
        Ok(st) => signed_in(name, st, json, io),
        Err(e) => Ok(report(name, &e, json, io)),
    }
}

/// Says where to approve the sign-in, and opens the page unless told not to.
fn show_page(
    name: &str,
    pending: &BrowserSignIn,
    no_browser: bool,
    json: bool,
    io: &mut Io<'_>,
) -> Result<()> {
    let url = pending.authorize_url.as_str();
    if json {
        print_json(
            io,
            &LoginEvent::Browser {
                tenant: name.to_string(),
                authorize_url: url.to_string(),
                expires_in: pending.timeout.as_secs(),
            },
        )?;
    }
    let opened = match &pending.openable_uri {
        Ok(page) if !no_browser => match launcher::open_verification_uri(page) {
            Ok(()) => true,
            Err(e) => {
                errln!(io, "warning: {e}");
                false
            }
        },
        Ok(_) => false,
        Err(reason) => {
            errln!(io, "warning: {reason}");
            false
        }
    };
    if opened {
        errln!(
            io,
            "To sign in to {name}, approve the sign-in in the browser window that opened. If none did, open this address in a browser on this computer:\n\n    {}\n",
            super::printable(url)
        );
    } else {
        errln!(
            io,
            "To sign in to {name}, open this address in a browser on this computer and approve the sign-in:\n\n    {}\n",
            super::printable(url)
        );
    }
    errln!(
        io,
        "Waiting for the browser (up to {} min; Ctrl-C cancels)…",
        pending.timeout.as_secs().div_ceil(60)
    );
    Ok(())
}
