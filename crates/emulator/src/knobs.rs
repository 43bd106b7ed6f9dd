//! What tests can make the VBM365 emulator do besides its usual behaviour: issue crafted tokens
//! (what a hostile server, trusted through its pin, could send), answer every REST request with
//! one canned reply (a redirect to another host, a body with terminal escapes), leave `next` out
//! of its pages' `_links`, and how many users each organization has in
//! `/vN/Organizations/{id}/Users` (paged with a `setId` on every version).

use crate::Emulators;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use std::collections::HashSet;

/// Users of each organization unless [`Emulators::set_vbm_users`] says otherwise.
const DEFAULT_USERS: usize = 3;

/// A reply the VBM365 emulator gives to every REST API request (every path but `/vN/token` and
/// `/vN/token/logout`) while set with [`Emulators::set_vbm_api_reply`]. The request is recorded
/// as usual.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiReply {
    /// HTTP status.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body, sent as it is.
    pub body: Vec<u8>,
}

impl ApiReply {
    /// `status` (e.g. 302) with `Location: location` and an empty body.
    pub fn redirect(status: u16, location: &str) -> ApiReply {
        ApiReply {
            status,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
        }
    }

    /// HTTP 200 with `body` labelled `content_type`.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> ApiReply {
        ApiReply {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub(crate) fn to_response(&self) -> Response {
        let mut res = Response::new(Body::from(self.body.clone()));
        *res.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        for (k, v) in &self.headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                res.headers_mut().append(k, v);
            }
        }
        res
    }
}

/// The state behind the knobs (part of the emulators' shared state).
#[derive(Debug, Clone)]
pub(crate) struct Knobs {
    /// Text every VBM365 token issued starts with; `None`: tokens as the server makes them.
    pub token_prefix: Option<String>,
    /// The canned reply to every REST request.
    pub api_reply: Option<ApiReply>,
    /// Pages carry `_links.self` only (the OpenAPI specification names no links).
    pub links_without_next: bool,
    /// Users of each organization.
    pub users: usize,
    /// `setId`s handed out by `/vN/Organizations/{id}/Users`.
    pub sets: HashSet<String>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            token_prefix: None,
            api_reply: None,
            links_without_next: false,
            users: DEFAULT_USERS,
            sets: HashSet::new(),
        }
    }
}

impl Emulators {
    /// Every VBM365 token pair issued from now on starts with `prefix`, as a hostile server could
    /// make them (e.g. `x’; Start-Process calc; ’` or `x\r\nX-Injected: 1`); the tokens are stored
    /// and accepted as usual. `None` goes back to the server's own tokens.
    pub fn set_vbm_token_prefix(&self, prefix: Option<&str>) {
        self.shared.lock().knobs.token_prefix = prefix.map(str::to_string);
    }

    /// While `Some`, every REST API request to the VBM365 server (every path but `/vN/token` and
    /// `/vN/token/logout`, whatever its token) gets `reply`; `None` ends it.
    pub fn set_vbm_api_reply(&self, reply: Option<ApiReply>) {
        self.shared.lock().knobs.api_reply = reply;
    }

    /// `true`: pages of collections carry `_links.self` only, never `next` (nor `first`, `prev`),
    /// which the OpenAPI specification allows (`RESTLinkHALDictionary` names no links).
    pub fn set_vbm_page_links_without_next(&self, on: bool) {
        self.shared.lock().knobs.links_without_next = on;
    }

    /// How many users each organization has in `/vN/Organizations/{id}/Users` (default 3).
    pub fn set_vbm_users(&self, n: usize) {
        self.shared.lock().knobs.users = n.min(1_000_000);
    }
}
