//! Local emulators of the two services VBM365 Auth talks to, for integration tests, benchmarks and
//! demos:
//!
//! - the **Microsoft identity platform** (login.microsoftonline.com v2.0): device authorization,
//!   device code, refresh token and authorization code (PKCE) grants, a `/devicelogin` page and an
//!   `/authorize` page for people (approve or decline; plain HTTP), and ID tokens with `oid` and
//!   `tid` when `openid` is asked for;
//! - a **Veeam Backup for Microsoft 365 REST API** server (v6, v7, v8): the JWT bearer and refresh
//!   token grants, logout, `/v8/Health`, `/vN/ServiceInstance` and the read-only resources
//!   `/vN/Organizations`, `/vN/Jobs` (paged on v8), `/vN/Organization`,
//!   `/vN/Organization/LoggedInUser` and `/vN/Organizations/{id}/Users` (paged with a `setId`);
//!   for restore operators `/vN/RestorePortalSettings` and the
//!   `operator` grant, with the Restore Portal on or off and its application registered at
//!   Microsoft as a public client or not ([`PortalAppRegistration`]) (HTTPS with a fresh
//!   self-signed certificate).
//!
//! Both bind `127.0.0.1` and share one state, so the VBM365 emulator accepts exactly the Microsoft
//! token responses the identity emulator issued. Every request is recorded; tests steer the servers
//! through [`Emulators`] methods or the JSON control API under `/_emulator/` on either port
//! (`GET /_emulator` lists its routes).
//!
//! # Faults
//!
//! Each server has its own queue of [`Fault`]s ([`Emulators::inject_fault_on`], control route
//! `POST /_emulator/fault {"fault", "count", "server"}`), and both draw random faults at the rate
//! [`Emulators::set_fault_rate`] sets (`POST /_emulator/fault_rate {"rate"}`). On the Microsoft
//! emulator they hit `POST /{tenant}/oauth2/v2.0/token` and `POST /{tenant}/oauth2/v2.0/devicecode`;
//! on the VBM365 emulator `POST /vN/token`. What a client sees:
//!
//! | Fault | Microsoft | VBM365 |
//! |---|---|---|
//! | `Throttled` | 429, `Retry-After`, OAuth JSON `temporarily_unavailable` AADSTS90055 | 429, `Retry-After`, nginx HTML page |
//! | `Unavailable` | 503, OAuth JSON `temporarily_unavailable` AADSTS90033 (+ `Retry-After`) | 503, HTTP.sys "Service Unavailable" HTML (+ `Retry-After`) |
//! | `ServerError` | 500, OAuth JSON `server_error` AADSTS50000 | 500, `RESTExceptionInfo` JSON `{"message"}` |
//! | `ProxyBadGateway` | 502, nginx HTML page | same |
//! | `ProxyAuthRequired` | 407, `Proxy-Authenticate: Basic realm="proxy"`, Apache HTML page | same |
//! | `LostReply` | request processed, connection dropped, no response | same |
//! | `Status500Html` | 500, ASP.NET HTML error page | same |
//! | `Status502Empty` | 502, empty body | same |
//! | `TruncatedBody`, `OversizedBody`, `MalformedJson`, `WrongTypes` | 200, broken reply shaped like the endpoint's (token or device code) | 200, broken token reply |
//! | `Hang`, `CloseConnection` | no answer / dropped connection, request not processed | same |
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use vbm365_emulator::{EmulatorOptions, Emulators};
//! let emu = Emulators::start(EmulatorOptions::default()).await?;
//! println!("authority {} server {} pin {}", emu.ms_url(), emu.vbm_url(), emu.cert_sha256());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod aad;
mod authorize;
pub mod browser;
mod control;
mod devicelogin;
mod faults;
mod knobs;
mod ms;
mod oidc;
mod options;
mod serve;
mod state;
mod tls;
mod types;
mod util;
mod vbm;

pub use knobs::ApiReply;
pub use options::{DateFormat, EmulatorOptions, PortalAppRegistration};
pub use types::{DeviceCodeInfo, DeviceCodeState, Fault, MintedTokens, RecordedRequest, Server};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use serve::App;
use state::Shared;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Running emulators. Dropping the handle (or [`Emulators::shutdown`]) stops both servers and
/// ends their open connections.
pub struct Emulators {
    shared: Arc<Shared>,
    cert_der: Vec<u8>,
    cert_sha256: String,
    ca_pem: Option<String>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Emulators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulators")
            .field("ms_url", &self.shared.ms_url)
            .field("vbm_url", &self.shared.vbm_url)
            .field("cert_sha256", &self.cert_sha256)
            .finish_non_exhaustive()
    }
}

impl Emulators {
    /// Binds both servers on 127.0.0.1 and starts serving on the current Tokio runtime.
    pub async fn start(opts: EmulatorOptions) -> std::io::Result<Emulators> {
        let cert = tls::make(opts.ca_issued)?;
        let ms_listener = TcpListener::bind(("127.0.0.1", opts.ms_port)).await?;
        let vbm_listener = TcpListener::bind(("127.0.0.1", opts.vbm_port)).await?;
        let ms_url = format!("http://127.0.0.1:{}", ms_listener.local_addr()?.port());
        let vbm_url = format!("https://127.0.0.1:{}", vbm_listener.local_addr()?.port());
        let shared = Arc::new(Shared::new(opts, ms_url, vbm_url));

        let ms_router = ms_router(App {
            shared: shared.clone(),
            server: Server::Ms,
        });
        let vbm_router = vbm_router(App {
            shared: shared.clone(),
            server: Server::Vbm,
        });
        let acceptor = tokio_rustls::TlsAcceptor::from(cert.config.clone());
        let tasks = vec![
            serve::spawn(ms_listener, ms_router, None),
            serve::spawn(vbm_listener, vbm_router, Some(acceptor)),
        ];
        Ok(Emulators {
            shared,
            cert_der: cert.der,
            cert_sha256: cert.sha256,
            ca_pem: cert.ca_pem,
            tasks,
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash): the Microsoft "authority".
    pub fn ms_url(&self) -> String {
        self.shared.ms_url.clone()
    }

    /// `https://127.0.0.1:PORT` (no trailing slash): the VBM365 server.
    pub fn vbm_url(&self) -> String {
        self.shared.vbm_url.clone()
    }

    /// Lowercase hex SHA-256 of the VBM365 server's DER certificate (what a pin holds).
    pub fn cert_sha256(&self) -> String {
        self.cert_sha256.clone()
    }

    /// The VBM365 server's certificate (DER).
    pub fn cert_der(&self) -> Vec<u8> {
        self.cert_der.clone()
    }

    /// PEM of the private CA that issued the VBM365 server's certificate
    /// ([`EmulatorOptions::ca_issued`]); `None` when the certificate is self-signed.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// The options the emulators were started with.
    pub fn options(&self) -> &EmulatorOptions {
        &self.shared.opts
    }

    /// Every request both servers received, in arrival order (control API calls excluded).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Forgets the recorded requests and resets [`Emulators::stats`].
    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// Counters per endpoint and grant type since start or the last [`Emulators::clear_requests`].
    /// Counters never hit are absent.
    ///
    /// - Requests (faulted ones included): `ms_devicecode`, `ms_device_code_polls`,
    ///   `ms_refresh`, `ms_auth_code_redemptions`, `ms_authorize_pages`, `ms_authorize_submits`,
    ///   `ms_authorize_errors`, `vbm_token_requests`, `vbm_jwt_bearer`, `vbm_operator`,
    ///   `vbm_restore_portal_settings`, `vbm_refresh`,
    ///   `vbm_other_grant`, `vbm_logout`, `vbm_service_instance`, `vbm_health`,
    ///   `vbm_organizations`, `vbm_jobs`, `vbm_organization`, `vbm_logged_in_user`, `vbm_users`
    ///   (and `vbm_user_sets`: user sets started, one per request without a `setId`).
    /// - Outcomes of processed requests: `ms_tokens_issued`, `ms_errors`, `vbm_tokens_issued`,
    ///   `vbm_token_errors`, `vbm_minted`.
    /// - Faults served: `ms_faults`, `vbm_faults` (all kinds, queued or random), per kind
    ///   `ms_fault_<kind>` / `vbm_fault_<kind>` ([`Fault::kind`], e.g. `vbm_fault_throttled`),
    ///   random ones also in `ms_random_faults` / `vbm_random_faults`, and `lost_replies`
    ///   ([`Fault::LostReply`] on either server).
    /// - `vbm_refresh_token_reused`: a VBM365 refresh token was presented again after the reply
    ///   carrying its successor was sent (a client bug). `vbm_refresh_after_lost_reply`: presented
    ///   again after that reply was dropped by [`Fault::LostReply`] (a legitimate retry, which the
    ///   server still refuses: its refresh tokens are single-use).
    pub fn stats(&self) -> BTreeMap<String, u64> {
        self.shared.stats()
    }

    /// Device codes issued so far, oldest first.
    pub fn device_codes(&self) -> Vec<DeviceCodeInfo> {
        self.shared.device_codes()
    }

    /// Approves a pending device code as a person would on the verification page. `false` when
    /// the code is unknown or not pending.
    pub fn approve(&self, user_code: &str) -> bool {
        self.shared.approve(user_code)
    }

    /// Declines a pending device code. `false` when the code is unknown or not pending.
    pub fn decline(&self, user_code: &str) -> bool {
        self.shared.decline(user_code)
    }

    /// Makes the next polls of a pending or approved code answer `invalid_grant` with this AADSTS
    /// code (e.g. 53003, Conditional Access).
    pub fn block(&self, user_code: &str, aadsts: u32) -> bool {
        self.shared.block(user_code, aadsts)
    }

    /// Makes the next polls of a code answer `expired_token`.
    pub fn expire(&self, user_code: &str) -> bool {
        self.shared.expire(user_code)
    }

    /// Every Microsoft refresh token issued so far becomes invalid (`invalid_grant`).
    pub fn revoke_ms_refresh_tokens(&self) {
        self.shared.revoke_ms_refresh_tokens();
    }

    /// Exact bodies of every successful Microsoft `/token` response, as sent (including those
    /// whose delivery a [`Fault::LostReply`] prevented).
    pub fn ms_token_responses(&self) -> Vec<String> {
        self.shared.ms_token_responses()
    }

    /// Turns the VBM365 server's Restore Portal (restore operator sign-in) on or off.
    pub fn set_operator_auth_enabled(&self, on: bool) {
        self.shared.set_operator_auth_enabled(on);
    }

    /// How the Restore Portal's application is registered at Microsoft from now on: a public
    /// client (the default), or not ([`PortalAppRegistration`] says what each refuses).
    pub fn set_restore_portal_app(&self, registration: PortalAppRegistration) {
        self.shared.set_restore_portal_app(registration);
    }

    /// The Restore Portal's application id (`RestorePortalSettings.applicationId` when enabled).
    pub fn restore_portal_app_id(&self) -> String {
        self.shared.restore_portal_app_id.clone()
    }

    /// The object id and tenant id the identity emulator gives the user it signs in to `tenant`
    /// (`oid`, `tid`): `<oid>.<tid>` is that user's restore operator account.
    pub fn operator_account(&self, tenant: &str) -> String {
        let upn = ms::upn_for(tenant);
        format!("{}.{}", oidc::oid(&upn), oidc::tid(tenant))
    }

    /// Turns tenant authentication of the VBM365 server on or off.
    pub fn set_tenant_auth_enabled(&self, on: bool) {
        self.shared.set_tenant_auth_enabled(on);
    }

    /// Delay added before answering each `/vN/token` request.
    pub fn set_vbm_latency_ms(&self, ms: u64) {
        self.shared.set_vbm_latency_ms(ms);
    }

    /// Lifetime of VBM365 access tokens issued from now on.
    pub fn set_vbm_token_lifetime(&self, secs: u64) {
        self.shared.set_vbm_token_lifetime(secs);
    }

    /// Every VBM365 refresh token issued so far is rejected from now on.
    pub fn revoke_vbm_refresh_tokens(&self) {
        self.shared.revoke_vbm_refresh_tokens();
    }

    /// Every VBM365 access token issued so far answers 401 from now on (their refresh tokens
    /// still work), as after an administrator ended the sessions.
    pub fn revoke_vbm_access_tokens(&self) {
        self.shared.revoke_vbm_access_tokens();
    }

    /// `true`: every VBM365 REST request with a bearer token answers 401, tokens issued later
    /// included (token requests still work); `false` (the default) turns that off.
    pub fn set_vbm_api_rejects_tokens(&self, on: bool) {
        self.shared.set_vbm_api_rejects_tokens(on);
    }

    /// How many backup jobs each organization has in `/vN/Jobs` (default 3).
    pub fn set_vbm_jobs(&self, n: usize) {
        self.shared.set_vbm_jobs(n);
    }

    /// Sets the VBM365 server's clock `secs` seconds off (its `Date` header; default 0).
    pub fn set_vbm_clock_offset_secs(&self, secs: i64) {
        self.shared.set_vbm_clock_offset_secs(secs);
    }

    /// The next `count` VBM365 `/vN/token` requests get `fault` (queued after earlier faults):
    /// the same as `inject_fault_on(Server::Vbm, fault, count)`.
    pub fn inject_fault(&self, fault: Fault, count: u32) {
        self.shared.inject_fault(Server::Vbm, fault, count);
    }

    /// The next `count` token requests of `server` get `fault`, queued after earlier faults of
    /// that server (each server has its own queue). [`Server::Ms`]: `POST
    /// /{tenant}/oauth2/v2.0/token` and `POST /{tenant}/oauth2/v2.0/devicecode` (one queue for
    /// both, in arrival order); [`Server::Vbm`]: `POST /vN/token`. See [`Fault`] for what each
    /// looks like on each server.
    pub fn inject_fault_on(&self, server: Server, fault: Fault, count: u32) {
        self.shared.inject_fault(server, fault, count);
    }

    /// From now on each token or device code request on either server that has no queued fault
    /// fails with probability `rate` (clamped to 0.0..=1.0; NaN counts as 0.0) with a fault drawn
    /// uniformly from every kind in [`Fault::ALL`] (`Hang` included; `Throttled` and
    /// `Unavailable` with a `Retry-After` of 1 or 2 s). 0.0 turns random faults off.
    pub fn set_fault_rate(&self, rate: f64) {
        self.shared.set_fault_rate(rate);
    }

    /// Issues a valid, unbound VBM365 token pair for `tenant` without any sign-in. The tokens
    /// work with every API version, like the real server's; `version` (`v6`, `v7`, `v8`) is
    /// informational.
    pub fn mint_vbm_tokens(&self, tenant: &str, version: &str) -> MintedTokens {
        vbm::mint(&self.shared, tenant, version)
    }

    /// Stops both servers (same as dropping the handle).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Emulators {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Routes of the Microsoft identity platform emulator.
fn ms_router(app: App) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/devicecode", post(ms::devicecode))
        .route("/{tenant}/oauth2/v2.0/token", post(ms::token))
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::show).post(authorize::submit),
        )
        .route(
            "/devicelogin",
            get(devicelogin::show).post(devicelogin::submit),
        )
        .route("/error", get(devicelogin::error_page))
        .nest("/_emulator", control::routes())
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            serve::record,
        ))
        .with_state(app)
}

/// Routes of the VBM365 REST API emulator.
fn vbm_router(app: App) -> Router {
    Router::new()
        .nest("/_emulator", control::routes())
        .fallback(vbm::dispatch)
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            serve::record,
        ))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_can_be_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Emulators>();
        send_sync::<RecordedRequest>();
    }

    #[tokio::test]
    async fn dropping_the_handle_stops_the_servers() {
        let emu = Emulators::start(EmulatorOptions::default())
            .await
            .expect("start");
        let addr = emu.ms_url().trim_start_matches("http://").to_string();
        assert!(tokio::net::TcpStream::connect(&addr).await.is_ok());
        emu.shutdown();
        // Let the aborted accept loop be dropped, which closes the listener.
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(tokio::net::TcpStream::connect(&addr).await.is_err());
    }
}
