//! `POST /{tenant}/oauth2/v2.0/devicecode`: the device authorization endpoint (RFC 8628 §3.1–3.2).

use super::{client_id, json_ok, tenant_or_error, with_faults};
use crate::aad::AadError;
use crate::faults::Endpoint;
use crate::serve::{App, ConnectionControl};
use crate::state::{DeviceCode, Shared};
use crate::types::DeviceCodeState;
use crate::util::{self, Fields};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Poll interval assumed when the device code response leaves `interval` out (RFC 8628).
const DEFAULT_INTERVAL: u64 = 5;

#[derive(Serialize)]
struct DeviceCodeBody<'a> {
    user_code: &'a str,
    device_code: &'a str,
    verification_uri: &'a str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(crate) async fn devicecode(
    State(app): State<App>,
    tenant: Result<Path<String>, PathRejection>,
    conn: Option<Extension<ConnectionControl>>,
    body: Bytes,
) -> Response {
    let shared = &app.shared;
    shared.lock().count("ms_devicecode");
    with_faults(shared, Endpoint::MsDeviceCode, conn, || {
        devicecode_reply(shared, tenant, &body)
    })
    .await
}

fn devicecode_reply(
    shared: &Shared,
    tenant: Result<Path<String>, PathRejection>,
    body: &[u8],
) -> Response {
    let result = tenant_or_error(tenant).and_then(|tenant| {
        let fields = Fields(util::parse_form(body));
        let client_id = client_id(&fields, &tenant)?.to_string();
        let scope = fields
            .get("scope")
            .ok_or_else(|| AadError::missing("scope"))?
            .to_string();
        Ok(issue_device_code(shared, tenant, client_id, scope))
    });
    let mut inner = shared.lock();
    match result {
        Ok(dc) => {
            let opts = &shared.opts;
            let verification_uri = opts
                .verification_uri
                .clone()
                .unwrap_or_else(|| format!("{}/devicelogin", shared.ms_url));
            let message = opts.include_message.then(|| {
                format!(
                    "To sign in, use a web browser to open the page {verification_uri} and enter the code {} to authenticate.",
                    dc.user_code
                )
            });
            let body = util::to_json(&DeviceCodeBody {
                user_code: &dc.user_code,
                device_code: &dc.device_code,
                verification_uri: &verification_uri,
                expires_in: dc.expires_in,
                interval: opts.device_code_interval,
                message,
            });
            inner.device_codes.push(dc);
            drop(inner);
            json_ok(body)
        }
        Err(e) => super::refused(shared, inner, e),
    }
}

fn issue_device_code(
    shared: &Shared,
    tenant: String,
    client_id: String,
    scope: String,
) -> DeviceCode {
    let now = Instant::now();
    let opts = &shared.opts;
    DeviceCode {
        user_code: util::user_code(),
        device_code: format!("DAQABIQEAAAD{}", util::random_b64url(160)),
        tenant,
        client_id,
        scope,
        issued_at: chrono::Utc::now(),
        expires_in: opts.device_code_expires_in,
        expires_at: now + Duration::from_secs(opts.device_code_expires_in),
        interval: opts.device_code_interval.unwrap_or(DEFAULT_INTERVAL),
        last_poll: None,
        auto_approve_at: opts
            .auto_approve_after_ms
            .map(|ms| now + Duration::from_millis(ms)),
        state: DeviceCodeState::Pending,
    }
}
