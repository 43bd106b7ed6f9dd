//! The Microsoft identity platform emulator: the v2.0 device authorization and token endpoints.
//!
//! Here: what both endpoints share (tenant and client checks, injected faults) and the token
//! endpoint's dispatch on `grant_type`. The device authorization endpoint is in [`devicecode`],
//! the device code and refresh token grants in [`grants`], what a grant issues in [`tokens`].

mod devicecode;
mod grants;
mod tokens;

pub(crate) use devicecode::devicecode;
pub(crate) use tokens::issue_tokens;

use crate::aad::{ms_headers, AadError};
use crate::faults::{self, Endpoint};
use crate::serve::{App, ConnectionControl};
use crate::state::{Inner, Shared};
use crate::types::{Fault, Server};
use crate::util::{self, Fields};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use std::sync::MutexGuard;

/// The device code grant type.
pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn json_ok(body: String) -> Response {
    let trace = util::uuid_v4();
    let correlation = util::uuid_v4();
    util::response(
        StatusCode::OK,
        "application/json; charset=utf-8",
        body,
        &ms_headers(&trace, &correlation),
    )
}

fn tenant_or_error(tenant: Result<Path<String>, PathRejection>) -> Result<String, AadError> {
    match tenant {
        Ok(Path(t)) if !t.trim().is_empty() => Ok(t),
        _ => Err(AadError::new(
            "invalid_tenant",
            90002,
            "Tenant '' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
        )),
    }
}

/// Checks `client_id`: present and shaped like an application id.
pub(crate) fn client_id<'a>(fields: &'a Fields, tenant: &str) -> Result<&'a str, AadError> {
    let id = fields
        .get("client_id")
        .ok_or_else(|| AadError::missing("client_id"))?;
    if util::is_guid(id) {
        Ok(id)
    } else {
        Err(AadError::unknown_client(id, tenant))
    }
}

/// Runs `handle` unless an injected or random fault applies to this request: then the fault's
/// answer, or for [`Fault::LostReply`] the request is handled and its reply dropped.
async fn with_faults(
    shared: &Shared,
    endpoint: Endpoint,
    conn: Option<Extension<ConnectionControl>>,
    handle: impl FnOnce() -> Response,
) -> Response {
    let conn = conn.map(|Extension(c)| c);
    match shared.take_fault(Server::Ms) {
        None => handle(),
        Some(Fault::LostReply) => {
            drop(handle());
            faults::lose(conn).await
        }
        Some(fault) => faults::respond(fault, endpoint, conn, shared).await,
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    State(app): State<App>,
    tenant: Result<Path<String>, PathRejection>,
    conn: Option<Extension<ConnectionControl>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = &app.shared;
    let cross_origin = headers.contains_key(header::ORIGIN);
    let fields = Fields(util::parse_form(&body));
    let grant = fields.get("grant_type").map(str::to_string);
    match grant.as_deref() {
        Some(DEVICE_CODE_GRANT) => shared.lock().count("ms_device_code_polls"),
        Some("refresh_token") => shared.lock().count("ms_refresh"),
        Some("authorization_code") => shared.lock().count("ms_auth_code_redemptions"),
        _ => {}
    }
    with_faults(shared, Endpoint::MsToken, conn, || {
        token_reply(shared, tenant, &fields, grant.as_deref(), cross_origin)
    })
    .await
}

fn token_reply(
    shared: &Shared,
    tenant: Result<Path<String>, PathRejection>,
    fields: &Fields,
    grant: Option<&str>,
    cross_origin: bool,
) -> Response {
    let mut inner = shared.lock();
    let result = tenant_or_error(tenant).and_then(|tenant| match grant {
        None => Err(AadError::missing("grant_type")),
        Some(DEVICE_CODE_GRANT) => grants::redeem_device_code(shared, &mut inner, &tenant, fields),
        Some("refresh_token") => grants::redeem_refresh_token(shared, &mut inner, &tenant, fields),
        Some("authorization_code") => {
            crate::authorize::redeem(shared, &mut inner, &tenant, fields, cross_origin)
        }
        Some(other) => Err(AadError::unsupported_grant(other)),
    });
    match result {
        Ok(body) => {
            inner.count("ms_tokens_issued");
            inner.ms_responses.push(body.clone());
            drop(inner);
            json_ok(body)
        }
        Err(e) => refused(shared, inner, e),
    }
}

/// Microsoft's reply to a request it refuses with `e`, counted as `ms_errors` (the state's lock
/// is let go first).
fn refused(shared: &Shared, mut inner: MutexGuard<'_, Inner>, e: AadError) -> Response {
    inner.count("ms_errors");
    drop(inner);
    e.into_response(&shared.ms_url)
}

/// The signed-in user of a tenant.
pub(crate) fn upn_for(tenant: &str) -> String {
    format!("admin@{}", tenant.to_ascii_lowercase())
}
