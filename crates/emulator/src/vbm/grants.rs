//! `POST /vN/token`: body parsing, latency and faults, and the grants VBM365 Auth uses (JWT
//! bearer with a Microsoft assertion, refresh token; the operator grant is in [`super::operator`]),
//! with antiforgery binding on v7/v8. The pairs they issue are made in [`super::pair`].

use super::operator::OPERATOR_AUTH_DISABLED;
use super::pair::{issue, Issued};
use super::{
    ApiVersion, VbmError, ANTIFORGERY_COOKIE, INVALID_REFRESH, JWT_BEARER_GRANT,
    TENANT_AUTH_DISABLED,
};
use crate::faults::{self, Endpoint};
use crate::serve::ConnectionControl;
use crate::state::{RefreshStatus, Shared};
use crate::types::{Fault, Server};
use crate::util::{self, Fields};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use std::time::{Duration, Instant};

/// The fields of a token request: form or JSON body.
fn token_fields(headers: &HeaderMap, body: &[u8]) -> Result<Fields, VbmError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(util::media_type)
        .unwrap_or_default();
    if content_type == "application/x-www-form-urlencoded" {
        return Ok(Fields(util::parse_form(body)));
    }
    if content_type == "application/json" || content_type.ends_with("+json") {
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            VbmError::validation(format!("The request body is not valid JSON: {e}."))
        })?;
        let serde_json::Value::Object(map) = value else {
            return Err(VbmError::validation(
                "The request body must be a JSON object.",
            ));
        };
        let mut fields = Vec::with_capacity(map.len());
        for (k, v) in map {
            let v = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => {
                    return Err(VbmError::validation(format!(
                        "The JSON value could not be converted to System.String. Path: $.{k}."
                    )))
                }
            };
            fields.push((k, v));
        }
        return Ok(Fields(fields));
    }
    Err(VbmError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "The request entity's media type '{content_type}' is not supported for this resource."
        ),
        None,
    ))
}

/// `POST /vN/token`: latency, injected faults, then the grant.
pub(super) async fn token(
    shared: &Shared,
    version: ApiVersion,
    headers: &HeaderMap,
    body: &[u8],
    conn: Option<ConnectionControl>,
) -> Response {
    let fields = token_fields(headers, body);
    let latency = {
        let mut inner = shared.lock();
        inner.count("vbm_token_requests");
        let grant = fields.as_ref().ok().and_then(|f| f.get("grant_type"));
        inner.count(match grant {
            Some(JWT_BEARER_GRANT) => "vbm_jwt_bearer",
            Some("refresh_token") => "vbm_refresh",
            Some("operator") => "vbm_operator",
            _ => "vbm_other_grant",
        });
        inner.settings.vbm_latency_ms
    };
    let fault = shared.take_fault(Server::Vbm);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    // With a lost reply the grant runs as usual; only its answer never leaves.
    let delivered = match fault {
        None => true,
        Some(Fault::LostReply) => false,
        Some(fault) => {
            return faults::respond(fault, Endpoint::VbmToken(version), conn, shared).await
        }
    };
    let result = fields.and_then(|f| grant(shared, version, headers, &f, delivered));
    let response = match result {
        Ok(res) => {
            shared.lock().count("vbm_tokens_issued");
            res
        }
        Err(e) => {
            shared.lock().count("vbm_token_errors");
            e.into_response(Some(version))
        }
    };
    if delivered {
        response
    } else {
        faults::lose(conn).await
    }
}

fn parse_bool(name: &str, value: Option<&str>) -> Result<bool, VbmError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(false),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(VbmError::validation(format!(
            "The value of the {name} parameter is not valid."
        ))),
    }
}

/// Runs the grant of a token request; `delivered` tells whether its reply will be sent.
fn grant(
    shared: &Shared,
    version: ApiVersion,
    headers: &HeaderMap,
    fields: &Fields,
    delivered: bool,
) -> Result<Response, VbmError> {
    let grant = fields
        .get("grant_type")
        .ok_or_else(|| VbmError::validation("The grant_type parameter is required."))?;
    // v6 has no antiforgery: it ignores the parameter altogether.
    let bind = version.has_antiforgery()
        && !parse_bool(
            "disable_antiforgery_token",
            fields.get("disable_antiforgery_token"),
        )?;
    let issued = match grant {
        JWT_BEARER_GRANT => jwt_bearer(shared, fields, bind)?,
        "refresh_token" => refresh(shared, headers, fields, bind, delivered)?,
        "password" => return Err(VbmError::bad_request("Invalid user name or password.")),
        "operator" => super::operator::operator_grant(shared, fields, bind)?,
        "integration" if version != ApiVersion::V8 => {
            return Err(VbmError::bad_request("Invalid integration token."))
        }
        other => {
            return Err(VbmError::validation(format!(
                "The grant type '{other}' is not supported."
            )))
        }
    };
    Ok(issued.into_response(shared.opts.date_format))
}

/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`: the assertion is a Microsoft token
/// response for the organization in `client_id`.
fn jwt_bearer(shared: &Shared, fields: &Fields, bind: bool) -> Result<Issued, VbmError> {
    let mut inner = shared.lock();
    if !inner.settings.tenant_auth_enabled {
        return Err(VbmError::bad_request(TENANT_AUTH_DISABLED));
    }
    let tenant = fields.get("client_id").ok_or_else(|| {
        VbmError::validation("The client_id parameter is required for the jwt-bearer grant type.")
    })?;
    if let Some(known) = &shared.opts.known_organizations {
        // Organization names are matched case-sensitively, as the real server does.
        if !known.iter().any(|k| k == tenant) {
            return Err(VbmError::bad_request(format!(
                "Organization {tenant} was not found."
            )));
        }
    }
    let assertion = fields.get("assertion").ok_or_else(|| {
        VbmError::validation("The assertion parameter is required for the jwt-bearer grant type.")
    })?;
    let doc: serde_json::Value = serde_json::from_str(assertion).map_err(|_| {
        VbmError::bad_request("Failed to validate the assertion: it is not a valid JSON document.")
    })?;
    let access_token = doc
        .get("access_token")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            VbmError::bad_request("Failed to validate the assertion: it contains no access token.")
        })?;
    let ms = inner.ms_access.get(access_token).ok_or_else(|| {
        VbmError::bad_request(
            "Failed to validate the assertion: the access token was not issued by the Microsoft identity platform.",
        )
    })?;
    if !ms.tenant.eq_ignore_ascii_case(tenant) {
        return Err(VbmError::bad_request(format!(
            "Failed to validate the assertion: the access token was not issued for organization {tenant}."
        )));
    }
    if Instant::now() >= ms.expires_at {
        return Err(VbmError::bad_request(
            "Failed to validate the assertion: the access token has expired.",
        ));
    }
    let user_name = ms.upn.clone();
    Ok(issue(&mut inner, tenant, &user_name, bind))
}

/// The value of a cookie in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `grant_type=refresh_token`: one use per refresh token. A token presented again after the reply
/// with its successor was sent counts as `vbm_refresh_token_reused`; after that reply was lost
/// (`delivered == false` then), as `vbm_refresh_after_lost_reply`.
fn refresh(
    shared: &Shared,
    headers: &HeaderMap,
    fields: &Fields,
    bind: bool,
    delivered: bool,
) -> Result<Issued, VbmError> {
    let token = fields
        .get("refresh_token")
        .ok_or_else(|| VbmError::validation("The refresh_token parameter is required."))?;
    let mut inner = shared.lock();
    let (tenants_on, operators_on) = (
        inner.settings.tenant_auth_enabled,
        inner.settings.operator_auth_enabled,
    );
    let rt = inner
        .vbm_refresh
        .get_mut(token)
        .ok_or_else(|| VbmError::bad_request(INVALID_REFRESH))?;
    if rt.status != RefreshStatus::Active {
        let rotated = rt.rotated;
        match rotated {
            Some(true) => inner.count("vbm_refresh_token_reused"),
            Some(false) => inner.count("vbm_refresh_after_lost_reply"),
            None => {}
        }
        return Err(VbmError::bad_request(INVALID_REFRESH));
    }
    if Instant::now() >= rt.expires_at {
        return Err(VbmError::bad_request("The refresh token has expired."));
    }
    if let Some(expected) = &rt.antiforgery {
        if cookie(headers, ANTIFORGERY_COOKIE) != Some(expected.as_str()) {
            return Err(VbmError::bad_request(
                "The antiforgery token could not be decrypted.",
            ));
        }
    }
    match (rt.operator, tenants_on, operators_on) {
        (false, false, _) => return Err(VbmError::bad_request(TENANT_AUTH_DISABLED)),
        (true, _, false) => return Err(VbmError::bad_request(OPERATOR_AUTH_DISABLED)),
        _ => {}
    }
    rt.status = RefreshStatus::Used;
    rt.rotated = Some(delivered);
    let (tenant, user_name, operator) = (rt.tenant.clone(), rt.user_name.clone(), rt.operator);
    let issued = issue(&mut inner, &tenant, &user_name, bind);
    if let Some(next) = inner.vbm_refresh.get_mut(&issued.refresh_token) {
        next.operator = operator;
    }
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_read_from_all_cookie_headers() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("b=2; .AspNetCore.Antiforgery.vbm=xyz"),
        );
        assert_eq!(cookie(&h, ANTIFORGERY_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "a"), Some("1"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn json_bodies_are_read_like_forms() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        let f = token_fields(
            &h,
            br#"{"grant_type":"refresh_token","disable_antiforgery_token":true,"x":null}"#,
        )
        .expect("valid JSON body");
        assert_eq!(f.get("grant_type"), Some("refresh_token"));
        assert_eq!(f.get("disable_antiforgery_token"), Some("true"));
        assert_eq!(f.get("x"), None);
        assert!(token_fields(&h, br#"{"assertion":{"a":1}}"#).is_err());
        assert!(token_fields(&h, b"{").is_err());
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(
            token_fields(&h, b"").map(|_| ()).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }
}
