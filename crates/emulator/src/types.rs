//! Plain data types of the public API: recorded requests, device codes, minted tokens, faults.

use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Which emulator received a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Server {
    /// The Microsoft identity platform emulator.
    Ms,
    /// The VBM365 REST API emulator.
    Vbm,
}

/// A request as one of the emulators received it (control API calls under `/_emulator/` are not
/// recorded).
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The emulator that received it.
    pub server: Server,
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path without the query, as sent (still percent-encoded).
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Headers in the order received, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The body, exactly as received.
    pub body: Vec<u8>,
    /// When the request head arrived.
    pub at: Instant,
}

impl RecordedRequest {
    /// The fields of the body: url-decoded `application/x-www-form-urlencoded` pairs, or, for an
    /// `application/json` object body, its members (strings as they are, other values as JSON text).
    pub fn form(&self) -> Vec<(String, String)> {
        let is_json = self
            .header("content-type")
            .is_some_and(|ct| crate::util::media_type(ct).ends_with("json"));
        if is_json {
            if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(&self.body) {
                return map
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (k, v)
                    })
                    .collect();
            }
        }
        crate::util::parse_form(&self.body)
    }

    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Where a device code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum DeviceCodeState {
    /// Waiting for the person to enter the code.
    Pending,
    /// Approved; the next poll gets the tokens.
    Approved,
    /// The person declined.
    Declined,
    /// Blocked (e.g. by Conditional Access) with this AADSTS code.
    Blocked {
        /// The AADSTS error code the poll answers with.
        aadsts: u32,
    },
    /// Past `expires_in`, or expired by the control API.
    Expired,
    /// Approved and the tokens were handed out; the code cannot be used again.
    Redeemed,
}

/// A device code issued by the Microsoft emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceCodeInfo {
    /// The short code a person types (9 uppercase letters and digits).
    pub user_code: String,
    /// The long opaque code the client polls with.
    pub device_code: String,
    /// Tenant from the request path.
    pub tenant: String,
    /// `client_id` it was issued to.
    pub client_id: String,
    /// Requested scope.
    pub scope: String,
    /// When it was issued.
    pub issued_at: chrono::DateTime<chrono::Utc>,
    /// `expires_in` announced for it.
    pub expires_in: u64,
    /// The poll interval currently required, in seconds (grows by 5 on each `slow_down`).
    pub interval: u64,
    /// Where it stands.
    #[serde(flatten)]
    pub state: DeviceCodeState,
}

/// A VBM365 token pair issued directly by [`crate::Emulators::mint_vbm_tokens`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintedTokens {
    /// Bearer token for REST calls.
    pub access_token: String,
    /// Refresh token (not bound to an antiforgery cookie).
    pub refresh_token: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
}

/// A failure the VBM365 emulator can be told to produce on its next `/vN/token` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// HTTP 500 with an HTML error page.
    Status500Html,
    /// HTTP 502 with an empty body.
    Status502Empty,
    /// HTTP 200 whose body stops before its announced `Content-Length`, then the connection drops.
    TruncatedBody,
    /// HTTP 200 with 12 MiB of JSON-looking content (no `Content-Length`).
    OversizedBody,
    /// HTTP 200 with `{"access_token": 42` (cut-off JSON).
    MalformedJson,
    /// HTTP 200 JSON where `expires_in` is a string and `refresh_token` is missing.
    WrongTypes,
    /// Never answers (sleeps for an hour).
    Hang,
    /// Drops the connection without any response.
    CloseConnection,
}

impl Fault {
    /// Every fault, in declaration order.
    pub const ALL: [Fault; 8] = [
        Fault::Status500Html,
        Fault::Status502Empty,
        Fault::TruncatedBody,
        Fault::OversizedBody,
        Fault::MalformedJson,
        Fault::WrongTypes,
        Fault::Hang,
        Fault::CloseConnection,
    ];
}
