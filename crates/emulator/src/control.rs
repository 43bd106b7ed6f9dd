//! The JSON control API under `/_emulator/`, served by both emulators over the same state.
//! `GET /_emulator` lists the routes and every fault kind.
//!
//! Faults:
//!
//! - `POST /_emulator/fault {"fault": F, "count": N, "server": "ms"|"vbm"}` queues `F` for the
//!   next `N` (default 1) token requests of that server (default `"vbm"`; on `"ms"` the token and
//!   device code endpoints share one queue). `F` is a [`Fault`] in JSON: a string for kinds
//!   without data (`"lost_reply"`, `"proxy_bad_gateway"`, `"server_error"`, …), an object for
//!   the others (`{"throttled":{"retry_after_secs":2}}`, `{"unavailable":{"retry_after_secs":5}}`,
//!   `{"unavailable":{}}` for no `Retry-After`); the text form `"throttled=2"` /
//!   `"unavailable=5"` / `"unavailable"` works too. Answers `{"ok":true}`, or 400 with
//!   `{"error"}` for an unknown fault or server.
//! - `POST /_emulator/restore_portal_app {"registration": R}` with `R` `"public-client"` (the
//!   default), `"spa"` or `"spa-localhost"`: how the Restore Portal's application is registered
//!   at Microsoft ([`crate::PortalAppRegistration`]); 400 for another value.
//! - `POST /_emulator/fault_rate {"rate": P}` (0.0 to 1.0, else 400): from now on each token or
//!   device code request without a queued fault fails with probability `P`, with a random kind.

use crate::options::PortalAppRegistration;
use crate::serve::App;
use crate::types::{Fault, RecordedRequest, Server};
use crate::util::json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json as j;

/// Routes, to be nested under `/_emulator`.
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/", get(index))
        .route("/requests", get(requests))
        .route("/clear", post(clear))
        .route("/device_codes", get(device_codes))
        .route("/approve", post(approve))
        .route("/decline", post(decline))
        .route("/block", post(block))
        .route("/expire", post(expire))
        .route("/revoke_ms_refresh_tokens", post(revoke_ms))
        .route("/ms_token_responses", get(ms_token_responses))
        .route("/tenant_auth", post(tenant_auth))
        .route("/operator_auth", post(operator_auth))
        .route("/restore_portal_app", post(restore_portal_app))
        .route("/latency", post(latency))
        .route("/token_lifetime", post(token_lifetime))
        .route("/revoke_vbm_refresh_tokens", post(revoke_vbm))
        .route("/fault", post(fault))
        .route("/fault_rate", post(fault_rate))
        .route("/mint", post(mint))
        .route("/stats", get(stats))
}

/// Every route, for `GET /_emulator/`.
const ROUTES: &[&str] = &[
    "GET /_emulator/requests",
    "POST /_emulator/clear",
    "GET /_emulator/device_codes",
    "POST /_emulator/approve {\"user_code\"}",
    "POST /_emulator/decline {\"user_code\"}",
    "POST /_emulator/block {\"user_code\",\"aadsts\"}",
    "POST /_emulator/expire {\"user_code\"}",
    "POST /_emulator/revoke_ms_refresh_tokens",
    "GET /_emulator/ms_token_responses",
    "POST /_emulator/tenant_auth {\"enabled\"}",
    "POST /_emulator/operator_auth {\"enabled\"}",
    "POST /_emulator/restore_portal_app {\"registration\": \"public-client\"|\"spa\"|\"spa-localhost\"}",
    "POST /_emulator/latency {\"ms\"}",
    "POST /_emulator/token_lifetime {\"secs\"}",
    "POST /_emulator/revoke_vbm_refresh_tokens",
    "POST /_emulator/fault {\"fault\",\"count\",\"server\"}",
    "POST /_emulator/fault_rate {\"rate\"}",
    "POST /_emulator/mint {\"tenant\",\"version\"}",
    "GET /_emulator/stats",
];

async fn index(State(app): State<App>) -> Response {
    json(
        StatusCode::OK,
        &j!({
            "ms_url": app.shared.ms_url,
            "vbm_url": app.shared.vbm_url,
            "restore_portal_app_id": app.shared.restore_portal_app_id,
            "routes": ROUTES,
            "faults": Fault::ALL,
        }),
    )
}

/// Parses a JSON request body (an empty body counts as `{}`) and hands it to `then`; bad input
/// gets a 400 with the reason.
fn with_body<T: DeserializeOwned>(body: &[u8], then: impl FnOnce(T) -> Response) -> Response {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    match serde_json::from_slice(body) {
        Ok(value) => then(value),
        Err(e) => json(StatusCode::BAD_REQUEST, &j!({"error": e.to_string()})),
    }
}

fn ok(done: bool) -> Response {
    json(StatusCode::OK, &j!({ "ok": done }))
}

/// A recorded request as JSON.
#[derive(Serialize)]
struct RequestView<'a> {
    server: Server,
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a [(String, String)],
    /// The body as text (invalid UTF-8 replaced).
    body: String,
    /// Milliseconds since the emulators started.
    at_ms: f64,
}

async fn requests(State(app): State<App>) -> Response {
    let started = app.shared.started;
    let all: Vec<RecordedRequest> = app.shared.requests();
    let views: Vec<RequestView<'_>> = all
        .iter()
        .map(|r| RequestView {
            server: r.server,
            method: &r.method,
            path: &r.path,
            query: r.query.as_deref(),
            headers: &r.headers,
            body: String::from_utf8_lossy(&r.body).into_owned(),
            at_ms: r.at.saturating_duration_since(started).as_secs_f64() * 1000.0,
        })
        .collect();
    json(StatusCode::OK, &views)
}

async fn clear(State(app): State<App>) -> Response {
    app.shared.clear_requests();
    ok(true)
}

async fn device_codes(State(app): State<App>) -> Response {
    json(StatusCode::OK, &app.shared.device_codes())
}

#[derive(Deserialize)]
struct UserCode {
    user_code: String,
}

#[derive(Deserialize)]
struct Block {
    user_code: String,
    aadsts: u32,
}

async fn approve(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: UserCode| ok(app.shared.approve(&b.user_code)))
}

async fn decline(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: UserCode| ok(app.shared.decline(&b.user_code)))
}

async fn expire(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: UserCode| ok(app.shared.expire(&b.user_code)))
}

async fn block(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: Block| {
        ok(app.shared.block(&b.user_code, b.aadsts))
    })
}

async fn revoke_ms(State(app): State<App>) -> Response {
    app.shared.revoke_ms_refresh_tokens();
    ok(true)
}

async fn ms_token_responses(State(app): State<App>) -> Response {
    json(StatusCode::OK, &app.shared.ms_token_responses())
}

#[derive(Deserialize)]
struct Enabled {
    enabled: bool,
}

#[derive(Deserialize)]
struct Millis {
    ms: u64,
}

#[derive(Deserialize)]
struct Secs {
    secs: u64,
}

async fn tenant_auth(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: Enabled| {
        app.shared.set_tenant_auth_enabled(b.enabled);
        ok(true)
    })
}

async fn operator_auth(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: Enabled| {
        app.shared.set_operator_auth_enabled(b.enabled);
        ok(true)
    })
}

#[derive(Deserialize)]
struct Registration {
    registration: PortalAppRegistration,
}

async fn restore_portal_app(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: Registration| {
        app.shared.set_restore_portal_app(b.registration);
        ok(true)
    })
}

async fn latency(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: Millis| {
        app.shared.set_vbm_latency_ms(b.ms);
        ok(true)
    })
}

async fn token_lifetime(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: Secs| {
        app.shared.set_vbm_token_lifetime(b.secs);
        ok(true)
    })
}

async fn revoke_vbm(State(app): State<App>) -> Response {
    app.shared.revoke_vbm_refresh_tokens();
    ok(true)
}

fn one() -> u32 {
    1
}

fn vbm() -> Server {
    Server::Vbm
}

/// `{"fault": F, "count": N, "server": "ms"|"vbm"}`: `F` as [`Fault`]'s JSON
/// (`"lost_reply"`, `{"throttled":{"retry_after_secs":2}}`) or its text form (`"throttled=2"`).
#[derive(Deserialize)]
struct FaultRequest {
    fault: serde_json::Value,
    #[serde(default = "one")]
    count: u32,
    #[serde(default = "vbm")]
    server: Server,
}

/// A fault from its JSON or its text form.
fn parse_fault(value: serde_json::Value) -> Result<Fault, String> {
    match value {
        serde_json::Value::String(s) => s.parse(),
        other => serde_json::from_value(other).map_err(|e| e.to_string()),
    }
}

async fn fault(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: FaultRequest| match parse_fault(b.fault) {
        Ok(fault) => {
            app.shared.inject_fault(b.server, fault, b.count);
            ok(true)
        }
        Err(e) => json(StatusCode::BAD_REQUEST, &j!({ "error": e })),
    })
}

#[derive(Deserialize)]
struct Rate {
    rate: f64,
}

async fn fault_rate(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: Rate| {
        if (0.0..=1.0).contains(&b.rate) {
            app.shared.set_fault_rate(b.rate);
            ok(true)
        } else {
            json(
                StatusCode::BAD_REQUEST,
                &j!({"error": "rate must be between 0.0 and 1.0"}),
            )
        }
    })
}

fn v8() -> String {
    "v8".to_string()
}

#[derive(Deserialize)]
struct Mint {
    tenant: String,
    #[serde(default = "v8")]
    version: String,
}

async fn mint(State(app): State<App>, body: Bytes) -> Response {
    with_body(&body, |b: Mint| {
        if b.tenant.trim().is_empty() {
            json(StatusCode::BAD_REQUEST, &j!({"error": "tenant is empty"}))
        } else if crate::vbm::ApiVersion::parse(&b.version).is_none() {
            json(
                StatusCode::BAD_REQUEST,
                &j!({"error": "version must be v6, v7 or v8"}),
            )
        } else {
            json(
                StatusCode::OK,
                &crate::vbm::mint(&app.shared, &b.tenant, &b.version),
            )
        }
    })
}

async fn stats(State(app): State<App>) -> Response {
    json(StatusCode::OK, &app.shared.stats())
}
