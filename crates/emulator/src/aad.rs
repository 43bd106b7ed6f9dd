//! Error answers of the Microsoft identity platform, shaped as login.microsoftonline.com sends them.

use crate::util::{response, to_json, uuid_v4};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

/// An OAuth error with its AADSTS code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AadError {
    pub status: StatusCode,
    /// OAuth `error`, e.g. `authorization_pending`.
    pub error: &'static str,
    pub code: u32,
    /// Text after `AADSTSnnnnn: ` in `error_description`.
    pub text: String,
}

impl AadError {
    pub fn new(error: &'static str, code: u32, text: impl Into<String>) -> AadError {
        AadError {
            status: StatusCode::BAD_REQUEST,
            error,
            code,
            text: text.into(),
        }
    }

    /// `AADSTS900144`: a required body parameter is missing.
    pub fn missing(param: &str) -> AadError {
        AadError::new(
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    pub fn pending() -> AadError {
        AadError::new(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )
    }

    pub fn slow_down(interval: u64) -> AadError {
        AadError::new(
            "slow_down",
            70016,
            format!(
                "OAuth 2.0 device flow error. Polling too frequently: wait at least {interval} seconds between requests."
            ),
        )
    }

    pub fn declined() -> AadError {
        AadError::new(
            "authorization_declined",
            70000,
            "The user has declined to authorize the application. The request was denied.",
        )
    }

    pub fn expired() -> AadError {
        AadError::new(
            "expired_token",
            70019,
            "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
        )
    }

    pub fn bad_verification_code() -> AadError {
        AadError::new(
            "bad_verification_code",
            70018,
            "The provided value for the input parameter 'device_code' is not valid. The device code is unknown or malformed.",
        )
    }

    pub fn already_redeemed() -> AadError {
        AadError::new(
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        )
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> AadError {
        self.status = status;
        self
    }

    /// HTTP 429 when the service throttles: AADSTS90055 (`TenantThrottlingError` in Microsoft's
    /// published list of AADSTS codes).
    pub fn throttled() -> AadError {
        AadError::new(
            "temporarily_unavailable",
            90055,
            "There are too many incoming requests.",
        )
        .with_status(StatusCode::TOO_MANY_REQUESTS)
    }

    /// HTTP 503: AADSTS90033 (`MsodsServiceUnavailable` in Microsoft's published list).
    pub fn unavailable() -> AadError {
        AadError::new(
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        )
        .with_status(StatusCode::SERVICE_UNAVAILABLE)
    }

    /// HTTP 500: AADSTS50000 (`TokenIssuanceError` in Microsoft's published list; the text is the
    /// one login.microsoftonline.com sends with it).
    pub fn server_error() -> AadError {
        AadError::new(
            "server_error",
            50000,
            "There was an error issuing a token or an issue with our sign-in service.",
        )
        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn invalid_grant(text: impl Into<String>) -> AadError {
        AadError::new("invalid_grant", 70000, text)
    }

    /// What a policy block with this AADSTS code says.
    pub fn blocked(aadsts: u32) -> AadError {
        let text = match aadsts {
            53003 => "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
            53000 => "Device is not in required device state: compliant. Conditional Access policy requires a compliant device, and the device is not compliant.",
            50076 => "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
            50105 => "Your administrator has configured the application to block users unless they are specifically granted ('assigned') access to the application.",
            50053 => "Your account is locked because the user tried to sign in too many times with an incorrect user ID or password.",
            50057 => "The user account is disabled.",
            65001 => "The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource.",
            _ => "Access has been blocked by a policy of the tenant.",
        };
        AadError::new("invalid_grant", aadsts, text)
    }

    /// HTTP 401 `invalid_client`, AADSTS7000218: the application does not allow public client
    /// flows, so the token endpoint wants a client secret or assertion, which a desktop app has
    /// not.
    pub fn client_secret_required() -> AadError {
        AadError::new(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
        .with_status(StatusCode::UNAUTHORIZED)
    }

    /// AADSTS9002327: a code issued to a single-page application's redirect, redeemed without an
    /// `Origin` header (not by a web page).
    pub fn spa_code_not_cross_origin() -> AadError {
        AadError::new(
            "invalid_request",
            9002327,
            "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
        )
    }

    /// AADSTS50011: the redirect URI is not one the application registered.
    pub fn redirect_mismatch(redirect_uri: &str, client_id: &str) -> AadError {
        AadError::new(
            "invalid_request",
            50011,
            format!("The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."),
        )
    }

    pub fn unsupported_grant(grant: &str) -> AadError {
        AadError::new(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }

    pub fn unknown_client(client_id: &str, tenant: &str) -> AadError {
        AadError::new(
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    /// The HTTP response, with fresh trace and correlation ids.
    pub fn into_response(self, ms_url: &str) -> Response {
        self.into_response_with(ms_url, &[])
    }

    /// The HTTP response with extra headers (e.g. `retry-after`).
    pub fn into_response_with(self, ms_url: &str, extra: &[(&'static str, String)]) -> Response {
        let now = chrono::Utc::now();
        let timestamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
        let trace_id = uuid_v4();
        let correlation_id = uuid_v4();
        let body = AadErrorBody {
            error: self.error,
            error_description: format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.text
            ),
            error_codes: [self.code],
            timestamp: &timestamp,
            trace_id: &trace_id,
            correlation_id: &correlation_id,
            error_uri: format!("{ms_url}/error?code={}", self.code),
        };
        let mut headers = ms_headers(&trace_id, &correlation_id).to_vec();
        headers.extend_from_slice(extra);
        response(
            self.status,
            "application/json; charset=utf-8",
            to_json(&body),
            &headers,
        )
    }
}

/// Headers Microsoft puts on token endpoint answers.
pub(crate) fn ms_headers(trace_id: &str, correlation_id: &str) -> [(&'static str, String); 4] {
    [
        ("cache-control", "no-store, no-cache".to_string()),
        ("pragma", "no-cache".to_string()),
        ("x-ms-request-id", trace_id.to_string()),
        ("client-request-id", correlation_id.to_string()),
    ]
}

#[derive(Serialize)]
struct AadErrorBody<'a> {
    error: &'a str,
    error_description: String,
    error_codes: [u32; 1],
    timestamp: &'a str,
    trace_id: &'a str,
    correlation_id: &'a str,
    error_uri: String,
}
