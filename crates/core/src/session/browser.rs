//! Sign-in in the browser (authorization code + PKCE, loopback redirect): for tenants whose
//! Conditional Access blocks the device code. Microsoft's reply is the same token document, so
//! everything after it (exchange, storage, the remembered Microsoft refresh token) is the
//! device-code sign-in's ([`Engine::finish_sign_in`]).

use super::*;
use crate::authcode::{self, Pkce};
use crate::loopback::Listener;
use crate::secret::CodeVerifier;

/// How long a browser sign-in waits for the redirect unless `VBM365_AUTH_BROWSER_TIMEOUT` says
/// otherwise: as long as a Microsoft device code lives.
pub const DEFAULT_BROWSER_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// A started browser sign-in: the loopback listener is bound and the authorize URL made; nothing
/// was sent yet. Dropping it closes the listener.
#[derive(Debug)]
pub struct BrowserSignIn {
    /// The tenant as saved when the sign-in began.
    pub profile: TenantProfile,
    /// The page to open: Microsoft's authorize endpoint with this sign-in's parameters (no
    /// secret: it carries the PKCE challenge, not the verifier).
    pub authorize_url: Url,
    /// The authorize URL if it may be opened (the rules of the verification URI,
    /// docs/protocol.md §1), else why not: then it is only shown.
    pub openable_uri: std::result::Result<Url, String>,
    /// How long the listener waits for the redirect.
    pub timeout: Duration,
    microsoft: TenantProfile,
    listener: Listener,
    redirect_uri: String,
    state: String,
    verifier: CodeVerifier,
}

impl BrowserSignIn {
    /// The loopback redirect URI (`http://localhost:<port>`).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}

/// `VBM365_AUTH_BROWSER_TIMEOUT`: seconds a browser sign-in waits (1 to 86400), else the default.
pub fn browser_timeout_from_env() -> Result<Duration> {
    match std::env::var("VBM365_AUTH_BROWSER_TIMEOUT") {
        Err(_) => Ok(DEFAULT_BROWSER_TIMEOUT),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(secs @ 1..=86_400) => Ok(Duration::from_secs(secs)),
            _ => Err(Error::InvalidInput(format!(
                "VBM365_AUTH_BROWSER_TIMEOUT={v}: give seconds from 1 to 86400"
            ))),
        },
    }
}

impl Engine {
    /// Step 1 of the browser sign-in: binds the loopback listener and makes the authorize URL
    /// (for a restore operator, after reading the server's Restore Portal settings). The face
    /// opens [`BrowserSignIn::openable_uri`] and then calls [`Engine::complete_browser_sign_in`].
    pub async fn begin_browser_sign_in(&self, name: Option<&str>) -> Result<BrowserSignIn> {
        let timeout = browser_timeout_from_env()?;
        let cfg = self.config()?;
        let profile = cfg.resolve(name)?.clone();
        self.vault(&cfg).check_writable()?;
        let microsoft = self
            .microsoft_profile(self.clients()?, &profile)
            .await
            .result?;
        let listener = Listener::bind().await?;
        let redirect_uri = listener.redirect_uri();
        let pkce = Pkce::new();
        let state = authcode::new_state();
        let authorize_url =
            authcode::authorize_url(&microsoft, &redirect_uri, &state, &pkce.challenge)?;
        let openable_uri =
            validate::verification_uri(authorize_url.as_str()).map_err(|e| e.to_string());
        Ok(BrowserSignIn {
            profile,
            authorize_url,
            openable_uri,
            timeout,
            microsoft,
            listener,
            redirect_uri,
            state,
            verifier: pkce.verifier,
        })
    }

    /// Waits for the redirect (its `state` checked; one request accepted; the listener closed
    /// after it), redeems the code with the PKCE verifier, exchanges Microsoft's reply with VBM365
    /// and stores the tokens. Dropping the future cancels the sign-in and closes the listener.
    pub async fn complete_browser_sign_in(
        &self,
        pending: BrowserSignIn,
        on_event: impl FnMut(SignInEvent),
    ) -> Result<TenantStatus> {
        let BrowserSignIn {
            profile,
            microsoft,
            listener,
            redirect_uri,
            state,
            verifier,
            timeout,
            ..
        } = pending;
        let answer = listener
            .wait(&state, timeout)
            .await
            .map_err(|e| exchange::browser_timeout(&profile, &microsoft, e))?;
        let code = authcode::code_of(answer)
            .map_err(|e| exchange::microsoft_refusal(&profile, &microsoft, e))?;
        let http = &self.clients()?.http;
        // The code is single use: a retry after a lost reply is refused (invalid_grant), which
        // ends the sign-in with Microsoft's words; throttling and outages before it are retried.
        let ms_token = failure::retry(&self.retry, || {
            authcode::redeem(http, &microsoft, &code, &redirect_uri, &verifier)
        })
        .await
        .result
        .map_err(|e| exchange::microsoft_refusal(&profile, &microsoft, e))?;
        self.finish_sign_in(&profile, &microsoft, ms_token, on_event)
            .await
    }
}
