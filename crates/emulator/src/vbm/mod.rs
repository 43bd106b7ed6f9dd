//! The VBM365 REST API emulator: `/vN/token`, `/vN/token/logout`, `/v8/Health`,
//! `/vN/ServiceInstance` and a few read-only resources ([`resources`]), routed case-insensitively
//! like the real (ASP.NET) server.

mod grants;
mod operator;
mod pair;
mod resources;

pub(crate) use pair::mint;

use crate::serve::{App, ConnectionControl};
use crate::state::{Inner, RefreshStatus, Shared, VbmAccess};
use crate::util;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Extension;
use serde::Serialize;
use std::time::Instant;

/// The JWT bearer grant type.
pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Name of the antiforgery cookie of v7 and v8.
pub(crate) const ANTIFORGERY_COOKIE: &str = ".AspNetCore.Antiforgery.vbm";
/// What the server says when tenant authentication is off.
pub(crate) const TENANT_AUTH_DISABLED: &str = "Tenant authentication is disabled. Enable tenant authentication on the Veeam Backup for Microsoft 365 server to allow organizations to log in.";
const DENIED: &str = "Authorization has been denied for this request.";
const INVALID_REFRESH: &str = "Invalid refresh token.";

/// A REST API version of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiVersion {
    V6,
    V7,
    V8,
}

impl ApiVersion {
    pub fn parse(s: &str) -> Option<ApiVersion> {
        match s.to_ascii_lowercase().as_str() {
            "v6" => Some(ApiVersion::V6),
            "v7" => Some(ApiVersion::V7),
            "v8" => Some(ApiVersion::V8),
            _ => None,
        }
    }

    /// `v6`, `v7` or `v8`: the first segment of the version's paths.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V6 => "v6",
            ApiVersion::V7 => "v7",
            ApiVersion::V8 => "v8",
        }
    }

    /// v7 and v8 tie tokens to an antiforgery cookie unless told not to.
    fn has_antiforgery(self) -> bool {
        self != ApiVersion::V6
    }

    /// The build a server of this version reports.
    fn build(self) -> &'static str {
        match self {
            ApiVersion::V6 => "6.1.0.254",
            ApiVersion::V7 => "7.1.0.2031",
            ApiVersion::V8 => "8.1.2.180",
        }
    }
}

/// A `RESTExceptionInfo` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VbmError {
    status: StatusCode,
    message: String,
    /// v8 `errorCode` (left out on v6 and v7, whose schemas do not have these values).
    code: Option<&'static str>,
}

impl VbmError {
    pub(crate) fn new(
        status: StatusCode,
        message: impl Into<String>,
        code: Option<&'static str>,
    ) -> Self {
        VbmError {
            status,
            message: message.into(),
            code,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, None)
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            message,
            Some("ParameterValidationFailure"),
        )
    }

    fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, DENIED, None)
    }

    fn not_found(uri: &Uri) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("No HTTP resource was found that matches the request URI '{uri}'."),
            Some("ResourceNotFound"),
        )
    }

    fn method_not_allowed(method: &Method) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("The requested resource does not support http method '{method}'."),
            None,
        )
    }

    pub fn into_response(self, version: Option<ApiVersion>) -> Response {
        #[derive(Serialize)]
        struct Info<'a> {
            message: &'a str,
            #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
            error_code: Option<&'a str>,
        }
        let error_code = self.code.filter(|_| version == Some(ApiVersion::V8));
        let mut extra = vbm_headers();
        if self.status == StatusCode::UNAUTHORIZED {
            extra.push(("www-authenticate", "Bearer".to_string()));
        }
        util::response(
            self.status,
            "application/json; charset=utf-8",
            util::to_json(&Info {
                message: &self.message,
                error_code,
            }),
            &extra,
        )
    }
}

/// Headers the server puts on its JSON answers.
pub(crate) fn vbm_headers() -> Vec<(&'static str, String)> {
    vec![
        ("cache-control", "no-cache".to_string()),
        ("pragma", "no-cache".to_string()),
        ("expires", "-1".to_string()),
    ]
}

/// Every request to the VBM365 server that is not under `/_emulator/`.
pub(crate) async fn dispatch(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    conn: Option<Extension<ConnectionControl>>,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/').to_ascii_lowercase();
    let mut segments = path.split('/').skip(1);
    let Some(version) = segments.next().and_then(ApiVersion::parse) else {
        app.shared.lock().count("vbm_not_found");
        return VbmError::not_found(&uri).into_response(None);
    };
    let rest: Vec<&str> = segments.collect();
    if !matches!(rest.as_slice(), ["token"] | ["token", "logout"]) {
        let canned = app.shared.lock().knobs.api_reply.clone();
        if let Some(reply) = canned {
            return reply.to_response();
        }
    }
    let allowed = match (rest.as_slice(), version) {
        (["token"], _) => Method::POST,
        (["token", "logout"], ApiVersion::V7 | ApiVersion::V8) => Method::POST,
        (["health"], ApiVersion::V8) => Method::GET,
        (["serviceinstance"], _) => Method::GET,
        (["restoreportalsettings"], _) => Method::GET,
        (r, _) if resources::Resource::at(r).is_some() => Method::GET,
        _ => {
            app.shared.lock().count("vbm_not_found");
            return VbmError::not_found(&uri).into_response(Some(version));
        }
    };
    if method != allowed {
        return VbmError::method_not_allowed(&method).into_response(Some(version));
    }
    let shared = &app.shared;
    match rest.as_slice() {
        ["token"] => {
            grants::token(shared, version, &headers, &body, conn.map(|Extension(c)| c)).await
        }
        ["token", "logout"] => logout(shared, version, &headers),
        ["health"] => health(shared),
        ["serviceinstance"] => service_instance(shared, version, &headers),
        ["restoreportalsettings"] => operator::settings(shared, version),
        r => match resources::Resource::at(r) {
            Some(resource) => resources::get(shared, version, resource, &uri, &headers),
            None => VbmError::not_found(&uri).into_response(Some(version)),
        },
    }
}

/// The bearer token of the request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The access token of the request if it is valid now.
fn authorized<'a>(inner: &'a mut Inner, headers: &HeaderMap) -> Option<&'a mut VbmAccess> {
    let token = bearer(headers)?;
    let access = inner.vbm_access.get_mut(token)?;
    (!access.revoked && Instant::now() < access.expires_at).then_some(access)
}

/// `POST /v7|v8/token/logout`: revokes the bearer token and the refresh token issued with it.
fn logout(shared: &Shared, version: ApiVersion, headers: &HeaderMap) -> Response {
    let mut inner = shared.lock();
    inner.count("vbm_logout");
    let Some(access) = authorized(&mut inner, headers) else {
        drop(inner);
        return VbmError::unauthorized().into_response(Some(version));
    };
    access.revoked = true;
    let refresh_token = access.refresh_token.clone();
    if let Some(rt) = inner.vbm_refresh.get_mut(&refresh_token) {
        rt.status = RefreshStatus::Revoked;
    }
    drop(inner);
    let status = match version {
        ApiVersion::V8 => StatusCode::NO_CONTENT,
        _ => StatusCode::OK,
    };
    let mut res = Response::new(axum::body::Body::empty());
    *res.status_mut() = status;
    res
}

/// `GET /v8/Health` (anonymous).
fn health(shared: &Shared) -> Response {
    shared.lock().count("vbm_health");
    let report = serde_json::json!({
        "status": "Healthy",
        "entries": {
            "NatsServer": {"status": "Healthy", "description": "The NATS server is available."},
            "ConfigurationDatabase": {"status": "Healthy", "description": "The PostgreSQL configuration database is available."}
        }
    });
    util::response(
        StatusCode::OK,
        "application/json; charset=utf-8",
        report.to_string(),
        &vbm_headers(),
    )
}

/// `GET /vN/ServiceInstance` (needs a valid bearer token).
fn service_instance(shared: &Shared, version: ApiVersion, headers: &HeaderMap) -> Response {
    let mut inner = shared.lock();
    inner.count("vbm_service_instance");
    let rejects = inner.settings.vbm_api_rejects_tokens;
    if authorized(&mut inner, headers).is_none() || rejects {
        drop(inner);
        return VbmError::unauthorized().into_response(Some(version));
    }
    drop(inner);
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Instance<'a> {
        installation_id: &'a str,
        version: &'a str,
    }
    util::response(
        StatusCode::OK,
        "application/json; charset=utf-8",
        util::to_json(&Instance {
            installation_id: &shared.installation_id,
            version: version.build(),
        }),
        &resources::with_date(shared, vbm_headers()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_tokens_are_read_from_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  tok "),
        );
        assert_eq!(bearer(&h), Some("tok"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.remove(header::AUTHORIZATION);
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn versions_parse_ignoring_case() {
        assert_eq!(ApiVersion::parse("V8"), Some(ApiVersion::V8));
        assert_eq!(ApiVersion::parse("v6"), Some(ApiVersion::V6));
        assert_eq!(ApiVersion::parse("v9"), None);
    }
}
