//! Broken answers of the token endpoints of both emulators, injected by
//! [`crate::Emulators::inject_fault_on`] or drawn at random ([`crate::Emulators::set_fault_rate`]).
//!
//! Answers that come from the server itself are shaped like that server's (Microsoft's OAuth error
//! JSON, VBM365's `RESTExceptionInfo`, a reply of the endpoint that was called); answers from
//! something in front of it look like what such software sends (nginx, Apache, HTTP.sys).
//! [`Fault::LostReply`] is not answered here: the endpoints run the request and then call
//! [`lose`].

use crate::aad::{ms_headers, AadError};
use crate::options::DateFormat;
use crate::serve::ConnectionControl;
use crate::state::Shared;
use crate::types::{Fault, Server};
use crate::util;
use crate::vbm::{vbm_headers, ApiVersion, VbmError};
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

/// Size of the [`Fault::OversizedBody`] answer.
pub(crate) const OVERSIZED_BYTES: usize = 12 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// The endpoint a fault hits (it decides the shape of reply-like bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `POST /{tenant}/oauth2/v2.0/devicecode`.
    MsDeviceCode,
    /// `POST /{tenant}/oauth2/v2.0/token`.
    MsToken,
    /// `POST /vN/token`.
    VbmToken(ApiVersion),
}

impl Endpoint {
    fn server(self) -> Server {
        match self {
            Endpoint::MsDeviceCode | Endpoint::MsToken => Server::Ms,
            Endpoint::VbmToken(_) => Server::Vbm,
        }
    }
}

/// The response for `fault` (for [`Fault::Hang`], [`Fault::CloseConnection`] and
/// [`Fault::LostReply`], none ever comes).
pub(crate) async fn respond(
    fault: Fault,
    endpoint: Endpoint,
    conn: Option<ConnectionControl>,
    shared: &Shared,
) -> Response {
    let server = endpoint.server();
    match fault {
        Fault::Status500Html => util::response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/html; charset=utf-8",
            SERVER_ERROR_PAGE,
            &[],
        ),
        Fault::Status502Empty => {
            util::response(StatusCode::BAD_GATEWAY, "text/html", Body::empty(), &[])
        }
        Fault::TruncatedBody => truncated(endpoint, full_body(endpoint, shared)),
        Fault::OversizedBody => oversized(endpoint, shared),
        Fault::MalformedJson => ok_json(endpoint, malformed(endpoint)),
        Fault::WrongTypes => ok_json(endpoint, wrong_types(endpoint, shared)),
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            util::response(StatusCode::GATEWAY_TIMEOUT, "text/plain", "", &[])
        }
        Fault::CloseConnection | Fault::LostReply => lose(conn).await,
        Fault::Throttled { retry_after_secs } => throttled(server, retry_after_secs, shared),
        Fault::Unavailable { retry_after_secs } => unavailable(server, retry_after_secs, shared),
        Fault::ServerError => server_error(endpoint, shared),
        Fault::ProxyBadGateway => nginx_page(StatusCode::BAD_GATEWAY, &[]),
        Fault::ProxyAuthRequired => util::response(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "text/html; charset=iso-8859-1",
            PROXY_AUTH_PAGE,
            &[
                ("server", "Apache".to_string()),
                ("proxy-authenticate", "Basic realm=\"proxy\"".to_string()),
            ],
        ),
    }
}

/// [`Fault::Throttled`]: Microsoft's own 429, or nginx's in front of VBM365.
fn throttled(server: Server, retry_after_secs: u64, shared: &Shared) -> Response {
    let retry = [("retry-after", retry_after_secs.to_string())];
    match server {
        Server::Ms => AadError::throttled().into_response_with(&shared.ms_url, &retry),
        Server::Vbm => nginx_page(StatusCode::TOO_MANY_REQUESTS, &retry),
    }
}

/// [`Fault::Unavailable`]: Microsoft's own 503, or HTTP.sys's in front of VBM365.
fn unavailable(server: Server, retry_after_secs: Option<u64>, shared: &Shared) -> Response {
    let retry: Vec<(&'static str, String)> = retry_after_secs
        .map(|s| ("retry-after", s.to_string()))
        .into_iter()
        .collect();
    match server {
        Server::Ms => AadError::unavailable().into_response_with(&shared.ms_url, &retry),
        Server::Vbm => {
            let mut headers = vec![("server", "Microsoft-HTTPAPI/2.0".to_string())];
            headers.extend(retry);
            util::response(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/html; charset=us-ascii",
                HTTP_SYS_503_PAGE,
                &headers,
            )
        }
    }
}

/// [`Fault::ServerError`]: the server's own answer to an unhandled error.
fn server_error(endpoint: Endpoint, shared: &Shared) -> Response {
    match endpoint {
        Endpoint::MsDeviceCode | Endpoint::MsToken => {
            AadError::server_error().into_response(&shared.ms_url)
        }
        // ASP.NET's text for an unhandled exception, in the server's documented error schema.
        Endpoint::VbmToken(version) => VbmError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An error has occurred.",
            None,
        )
        .into_response(Some(version)),
    }
}

/// Drops the connection of the request without any (further) response bytes; never returns.
pub(crate) async fn lose(conn: Option<ConnectionControl>) -> Response {
    if let Some(conn) = conn {
        conn.close();
    }
    // The connection task drops this future together with the connection.
    std::future::pending().await
}

/// An nginx error page (`text/html`, `Server: nginx`), as its reverse proxy sends it.
fn nginx_page(status: StatusCode, extra: &[(&'static str, String)]) -> Response {
    let line = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    );
    let html = format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n\
<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut headers = vec![("server", "nginx".to_string())];
    headers.extend_from_slice(extra);
    util::response(status, "text/html", html, &headers)
}

/// The headers the server puts on a successful JSON reply of `endpoint`.
fn reply_headers(endpoint: Endpoint) -> Vec<(&'static str, String)> {
    match endpoint.server() {
        Server::Ms => ms_headers(&util::uuid_v4(), &util::uuid_v4()).to_vec(),
        Server::Vbm => vbm_headers(),
    }
}

/// HTTP 200 with a JSON-labelled `body`.
fn ok_json(endpoint: Endpoint, body: String) -> Response {
    util::response(
        StatusCode::OK,
        "application/json; charset=utf-8",
        body,
        &reply_headers(endpoint),
    )
}

fn date(t: chrono::DateTime<chrono::Utc>, format: DateFormat) -> String {
    match format {
        DateFormat::Rfc1123 => util::rfc1123(t),
        DateFormat::Iso8601 => util::iso8601(t),
    }
}

/// A JWT-looking Microsoft access token (random content).
fn ms_access_token() -> String {
    format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.{}",
        util::random_b64url(600),
        util::random_b64url(256)
    )
}

/// A whole, valid-looking reply of `endpoint` (nothing is stored: it is never usable).
fn full_body(endpoint: Endpoint, shared: &Shared) -> String {
    match endpoint {
        Endpoint::MsDeviceCode => {
            let user_code = util::user_code();
            let uri = format!("{}/devicelogin", shared.ms_url);
            serde_json::json!({
                "user_code": user_code,
                "device_code": format!("DAQABIQEAAAD{}", util::random_b64url(160)),
                "verification_uri": uri,
                "expires_in": 900,
                "interval": 5,
                "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
            })
            .to_string()
        }
        Endpoint::MsToken => serde_json::json!({
            "token_type": "Bearer",
            "scope": "https://graph.microsoft.com/User.Read",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": ms_access_token(),
            "refresh_token": format!("1.AQ{}", util::random_b64url(540)),
        })
        .to_string(),
        Endpoint::VbmToken(_) => {
            let now = chrono::Utc::now();
            let format = shared.opts.date_format;
            serde_json::json!({
                "access_token": util::random_b64url(420),
                "token_type": "bearer",
                "expires_in": 3600,
                "refresh_token": util::random_b64url(420),
                "userName": "admin@emulator",
                ".issued": date(now, format),
                ".expires": date(now + chrono::Duration::hours(1), format),
            })
            .to_string()
        }
    }
}

/// Cut-off JSON in the shape of `endpoint`'s reply.
fn malformed(endpoint: Endpoint) -> String {
    match endpoint {
        Endpoint::MsDeviceCode => r#"{"user_code": "ABCD"#.to_string(),
        Endpoint::MsToken => {
            r#"{"token_type":"Bearer","expires_in":3599,"access_token": 42"#.to_string()
        }
        Endpoint::VbmToken(_) => r#"{"access_token": 42"#.to_string(),
    }
}

/// A reply of `endpoint` with mistyped members and a required one missing.
fn wrong_types(endpoint: Endpoint, shared: &Shared) -> String {
    match endpoint {
        Endpoint::MsDeviceCode => serde_json::json!({
            "user_code": 123456789,
            "verification_uri": format!("{}/devicelogin", shared.ms_url),
            "expires_in": "900",
            "interval": "5",
        })
        .to_string(),
        Endpoint::MsToken => serde_json::json!({
            "token_type": "Bearer",
            "scope": "https://graph.microsoft.com/User.Read",
            "expires_in": "3599",
            "ext_expires_in": "3599",
            "refresh_token": format!("1.AQ{}", util::random_b64url(540)),
        })
        .to_string(),
        Endpoint::VbmToken(_) => {
            let now = chrono::Utc::now();
            let format = shared.opts.date_format;
            serde_json::json!({
                "access_token": util::random_b64url(300),
                "token_type": "bearer",
                "expires_in": "3600",
                "userName": "admin@emulator",
                ".issued": date(now, format),
                ".expires": date(now + chrono::Duration::hours(1), format),
            })
            .to_string()
        }
    }
}

/// Progress of the truncated body stream.
enum Stage {
    Part(Bytes),
    Fail,
    Done,
}

/// Announces the whole of `full` but sends only its first third, then fails the body.
fn truncated(endpoint: Endpoint, full: String) -> Response {
    let announced = full.len();
    let sent = Bytes::from(full.into_bytes()).slice(..announced / 3);
    // Send the head and the first part, give it time to reach the client, then fail the body,
    // which makes the server drop the connection mid-body.
    let stream = futures::stream::unfold(Stage::Part(sent), |stage| async move {
        match stage {
            Stage::Part(part) => Some((Ok::<Bytes, std::io::Error>(part), Stage::Fail)),
            Stage::Fail => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let err = std::io::Error::other("body truncated on purpose");
                Some((Err(err), Stage::Done))
            }
            Stage::Done => None,
        }
    });
    let mut res = util::response(
        StatusCode::OK,
        "application/json; charset=utf-8",
        Body::from_stream(stream),
        &reply_headers(endpoint),
    );
    res.headers_mut().insert(
        axum::http::header::CONTENT_LENGTH,
        HeaderValue::from(announced),
    );
    res
}

/// 12 MiB shaped like a reply of `endpoint` with one enormous member, streamed without
/// `Content-Length`.
fn oversized(endpoint: Endpoint, shared: &Shared) -> Response {
    static FILLER: OnceLock<Bytes> = OnceLock::new();
    let filler = FILLER
        .get_or_init(|| Bytes::from(vec![b'A'; CHUNK]))
        .clone();
    let (head, tail) = match endpoint {
        Endpoint::MsDeviceCode => (
            r#"{"user_code":"ABCDEFGHJ","device_code":""#.to_string(),
            format!(
                r#"","verification_uri":"{}/devicelogin","expires_in":900,"interval":5}}"#,
                shared.ms_url
            ),
        ),
        Endpoint::MsToken => (
            r#"{"token_type":"Bearer","scope":"https://graph.microsoft.com/User.Read","expires_in":3599,"ext_expires_in":3599,"access_token":""#.to_string(),
            r#"","refresh_token":"x"}"#.to_string(),
        ),
        Endpoint::VbmToken(_) => (
            r#"{"access_token":""#.to_string(),
            r#"","token_type":"bearer","expires_in":3600,"refresh_token":"x"}"#.to_string(),
        ),
    };
    let chunks = OVERSIZED_BYTES / CHUNK;
    let parts = std::iter::once(Bytes::from(head))
        .chain(std::iter::repeat_n(filler, chunks))
        .chain(std::iter::once(Bytes::from(tail)))
        .map(Ok::<Bytes, Infallible>);
    util::response(
        StatusCode::OK,
        "application/json; charset=utf-8",
        Body::from_stream(futures::stream::iter(parts)),
        &reply_headers(endpoint),
    )
}

const SERVER_ERROR_PAGE: &str = "<!DOCTYPE html>\r\n<html>\r\n<head>\r\n<title>Runtime Error</title>\r\n\
<meta name=\"viewport\" content=\"width=device-width\" />\r\n</head>\r\n\
<body bgcolor=\"white\">\r\n<span><H1>Server Error in '/' Application.<hr width=100% size=1 color=silver></H1>\r\n\
<h2> <i>Runtime Error</i> </h2></span>\r\n\
<b> Description: </b>An application error occurred on the server. The current custom error settings for this \
application prevent the details of the application error from being viewed remotely (for security reasons).\r\n\
</body>\r\n</html>\r\n";

/// What HTTP.sys answers on Windows when the application behind a URL is not running.
const HTTP_SYS_503_PAGE: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n\
<HTML><HEAD><TITLE>Service Unavailable</TITLE>\r\n\
<META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; charset=us-ascii\"></HEAD>\r\n\
<BODY><h2>Service Unavailable</h2>\r\n\
<hr><p>HTTP Error 503. The service is unavailable.</p>\r\n\
</BODY></HTML>\r\n";

/// Apache httpd's default page for a 407 of its forward proxy.
const PROXY_AUTH_PAGE: &str = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n\
<html><head>\n<title>407 Proxy Authentication Required</title>\n</head><body>\n\
<h1>Proxy Authentication Required</h1>\n\
<p>This server could not verify that you\nare authorized to access the document\nrequested.  \
Either you supplied the wrong\ncredentials (e.g., bad password), or your\nbrowser doesn't \
understand how to supply\nthe credentials required.</p>\n</body></html>\n";
