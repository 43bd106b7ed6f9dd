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

/// A failure either emulator can be told to produce on its token endpoints
/// ([`crate::Emulators::inject_fault_on`]) or draws at random ([`crate::Emulators::set_fault_rate`]).
///
/// On the Microsoft emulator faults apply to `POST /{tenant}/oauth2/v2.0/token` and
/// `POST /{tenant}/oauth2/v2.0/devicecode`; on the VBM365 emulator to `POST /vN/token`. Bodies
/// that are shaped like a reply (truncated, oversized, malformed, mistyped) are shaped like that
/// endpoint's reply. Faults that come from something in front of the server (a reverse proxy, a
/// forward proxy, HTTP.sys) look the same on both servers.
///
/// In JSON (control API, `serde`) a fault without data is a string, e.g. `"lost_reply"`; one with
/// data is an object with one member, e.g. `{"throttled":{"retry_after_secs":2}}` or
/// `{"unavailable":{}}` (no `Retry-After`). The [`std::str::FromStr`] form (the binary's
/// `--fault`, and also accepted by the control API) is the name alone, or `throttled=SECS` /
/// `unavailable=SECS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// HTTP 500 with an ASP.NET "Server Error in '/' Application" HTML page.
    Status500Html,
    /// HTTP 502 with an empty body.
    Status502Empty,
    /// HTTP 200 whose body stops before its announced `Content-Length`, then the connection drops.
    TruncatedBody,
    /// HTTP 200 with 12 MiB of JSON-looking content (no `Content-Length`).
    OversizedBody,
    /// HTTP 200 with cut-off JSON (`{"access_token": 42` on VBM365).
    MalformedJson,
    /// HTTP 200 JSON with mistyped members and a required one missing (VBM365: `expires_in` is a
    /// string and `refresh_token` is missing; Microsoft token: `access_token` is missing and
    /// `expires_in` is a string; Microsoft device code: `user_code` is a number, `device_code`
    /// missing).
    WrongTypes,
    /// Never answers (sleeps for an hour).
    Hang,
    /// Drops the connection without any response; the request is not processed.
    CloseConnection,
    /// HTTP 429 with `Retry-After: <retry_after_secs>`. Microsoft: its OAuth error JSON,
    /// `temporarily_unavailable` with AADSTS90055. VBM365 (whose API documents no 429): a
    /// `text/html` "429 Too Many Requests" page from an nginx reverse proxy in front of it.
    Throttled {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
    },
    /// HTTP 503, with `Retry-After` when `retry_after_secs` is set. Microsoft: its OAuth error
    /// JSON, `temporarily_unavailable` with AADSTS90033. VBM365: the HTTP.sys "Service
    /// Unavailable" page Windows sends while the service is down.
    Unavailable {
        /// Value of the `Retry-After` header, in seconds; `None` leaves the header out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// HTTP 500 from the server itself. Microsoft: OAuth error JSON `server_error` with
    /// AADSTS50000. VBM365: a `RESTExceptionInfo` JSON body (`{"message": …}`).
    ServerError,
    /// HTTP 502 with an nginx "502 Bad Gateway" HTML page (a reverse proxy that cannot reach the
    /// server).
    ProxyBadGateway,
    /// HTTP 407 with `Proxy-Authenticate: Basic realm="proxy"` and an Apache-style HTML page (a
    /// forward proxy that wants credentials). Over HTTPS a real forward proxy answers the
    /// `CONNECT` before TLS; this 407 inside TLS is what a TLS-inspecting proxy sends.
    ProxyAuthRequired,
    /// The request is processed as usual (a device code is issued or redeemed, a refresh token
    /// rotated, tokens stored), then the connection is dropped before any response byte.
    LostReply,
}

impl Fault {
    /// Every fault kind once, in declaration order (`Throttled` with 1 s, `Unavailable` without
    /// `Retry-After`).
    pub const ALL: [Fault; 14] = [
        Fault::Status500Html,
        Fault::Status502Empty,
        Fault::TruncatedBody,
        Fault::OversizedBody,
        Fault::MalformedJson,
        Fault::WrongTypes,
        Fault::Hang,
        Fault::CloseConnection,
        Fault::Throttled {
            retry_after_secs: 1,
        },
        Fault::Unavailable {
            retry_after_secs: None,
        },
        Fault::ServerError,
        Fault::ProxyBadGateway,
        Fault::ProxyAuthRequired,
        Fault::LostReply,
    ];

    /// The kind's snake_case name, as in JSON and in the `{ms,vbm}_fault_<kind>` statistics,
    /// e.g. `throttled`, `lost_reply`.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Status500Html => "status500_html",
            Fault::Status502Empty => "status502_empty",
            Fault::TruncatedBody => "truncated_body",
            Fault::OversizedBody => "oversized_body",
            Fault::MalformedJson => "malformed_json",
            Fault::WrongTypes => "wrong_types",
            Fault::Hang => "hang",
            Fault::CloseConnection => "close_connection",
            Fault::Throttled { .. } => "throttled",
            Fault::Unavailable { .. } => "unavailable",
            Fault::ServerError => "server_error",
            Fault::ProxyBadGateway => "proxy_bad_gateway",
            Fault::ProxyAuthRequired => "proxy_auth_required",
            Fault::LostReply => "lost_reply",
        }
    }
}

impl std::str::FromStr for Fault {
    type Err = String;

    /// `KIND` (e.g. `lost_reply`; `-` may stand for `_`) or `throttled=SECS` / `unavailable=SECS`.
    /// `throttled` alone means 1 s; `unavailable` alone sends no `Retry-After`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        let (name, value) = match s.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (s.as_str(), None),
        };
        let secs = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("'{v}' is not a number of seconds"))
        };
        let fault = match (name, value) {
            ("throttled", v) => Fault::Throttled {
                retry_after_secs: v.map(secs).transpose()?.unwrap_or(1),
            },
            ("unavailable", v) => Fault::Unavailable {
                retry_after_secs: v.map(secs).transpose()?,
            },
            (name, None) => *Fault::ALL
                .iter()
                .find(|f| f.kind() == name)
                .ok_or_else(|| unknown_fault(name))?,
            (name, Some(_)) => {
                return Err(if Fault::ALL.iter().any(|f| f.kind() == name) {
                    format!("fault '{name}' takes no value")
                } else {
                    unknown_fault(name)
                })
            }
        };
        Ok(fault)
    }
}

fn unknown_fault(name: &str) -> String {
    let kinds: Vec<&str> = Fault::ALL.iter().map(Fault::kind).collect();
    format!(
        "unknown fault '{name}' (expected one of: {}; throttled and unavailable take =SECS)",
        kinds.join(", ")
    )
}

impl std::str::FromStr for Server {
    type Err = String;

    /// `ms` or `vbm` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ms" => Ok(Server::Ms),
            "vbm" => Ok(Server::Vbm),
            other => Err(format!("unknown server '{other}' (expected ms or vbm)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_in_json_and_as_text() {
        for fault in Fault::ALL {
            let v = serde_json::to_value(fault).expect("serializes");
            let back: Fault = serde_json::from_value(v.clone()).expect("deserializes");
            assert_eq!(back, fault, "{v}");
            assert_eq!(fault.kind().parse::<Fault>(), Ok(fault));
        }
        assert_eq!(
            serde_json::to_string(&Fault::Throttled {
                retry_after_secs: 2
            })
            .expect("JSON"),
            r#"{"throttled":{"retry_after_secs":2}}"#
        );
        assert_eq!(
            serde_json::to_string(&Fault::LostReply).expect("JSON"),
            r#""lost_reply""#
        );
        assert_eq!(
            serde_json::from_str::<Fault>(r#"{"unavailable":{}}"#).expect("JSON"),
            Fault::Unavailable {
                retry_after_secs: None
            }
        );
        assert_eq!(
            "unavailable=3".parse::<Fault>(),
            Ok(Fault::Unavailable {
                retry_after_secs: Some(3)
            })
        );
        assert_eq!(
            "Proxy-Bad-Gateway".parse::<Fault>(),
            Ok(Fault::ProxyBadGateway)
        );
        assert!("throttled=soon".parse::<Fault>().is_err());
        assert!("hang=1".parse::<Fault>().is_err());
        assert!("meteor_strike"
            .parse::<Fault>()
            .is_err_and(|e| e.contains("lost_reply")));
        assert_eq!("VBM".parse::<Server>(), Ok(Server::Vbm));
        assert!("both".parse::<Server>().is_err());
    }
}
