//! Broken answers of the VBM365 token endpoint, injected by [`crate::Emulators::inject_fault`].

use crate::options::DateFormat;
use crate::serve::ConnectionControl;
use crate::types::Fault;
use crate::util;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

/// Size of the [`Fault::OversizedBody`] answer.
pub(crate) const OVERSIZED_BYTES: usize = 12 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// The response for `fault` (for [`Fault::Hang`] and [`Fault::CloseConnection`], none ever comes).
pub(crate) async fn respond(
    fault: Fault,
    conn: Option<ConnectionControl>,
    format: DateFormat,
) -> Response {
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
        Fault::TruncatedBody => truncated(format),
        Fault::OversizedBody => oversized(),
        Fault::MalformedJson => util::response(
            StatusCode::OK,
            "application/json; charset=utf-8",
            r#"{"access_token": 42"#,
            &[],
        ),
        Fault::WrongTypes => {
            let now = chrono::Utc::now();
            let body = serde_json::json!({
                "access_token": util::random_b64url(300),
                "token_type": "bearer",
                "expires_in": "3600",
                "userName": "admin@emulator",
                ".issued": date(now, format),
                ".expires": date(now + chrono::Duration::hours(1), format),
            });
            util::response(
                StatusCode::OK,
                "application/json; charset=utf-8",
                body.to_string(),
                &[],
            )
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            util::response(StatusCode::GATEWAY_TIMEOUT, "text/plain", "", &[])
        }
        Fault::CloseConnection => {
            if let Some(conn) = conn {
                conn.close();
            }
            // The connection task drops this future together with the connection.
            std::future::pending().await
        }
    }
}

fn date(t: chrono::DateTime<chrono::Utc>, format: DateFormat) -> String {
    match format {
        DateFormat::Rfc1123 => util::rfc1123(t),
        DateFormat::Iso8601 => util::iso8601(t),
    }
}

/// Progress of the truncated body stream.
enum Stage {
    Part(Bytes),
    Fail,
    Done,
}

/// A whole, valid-looking token response; only its first third is ever sent.
fn truncated(format: DateFormat) -> Response {
    let now = chrono::Utc::now();
    let full = serde_json::json!({
        "access_token": util::random_b64url(420),
        "token_type": "bearer",
        "expires_in": 3600,
        "refresh_token": util::random_b64url(420),
        "userName": "admin@emulator",
        ".issued": date(now, format),
        ".expires": date(now + chrono::Duration::hours(1), format),
    })
    .to_string();
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
        &[],
    );
    res.headers_mut().insert(
        axum::http::header::CONTENT_LENGTH,
        HeaderValue::from(announced),
    );
    res
}

/// 12 MiB shaped like a token response with an enormous access token, streamed without
/// `Content-Length`.
fn oversized() -> Response {
    static FILLER: OnceLock<Bytes> = OnceLock::new();
    let filler = FILLER
        .get_or_init(|| Bytes::from(vec![b'A'; CHUNK]))
        .clone();
    let head = Bytes::from_static(br#"{"access_token":""#);
    let tail =
        Bytes::from_static(br#"","token_type":"bearer","expires_in":3600,"refresh_token":"x"}"#);
    let chunks = OVERSIZED_BYTES / CHUNK;
    let parts = std::iter::once(head)
        .chain(std::iter::repeat_n(filler, chunks))
        .chain(std::iter::once(tail))
        .map(Ok::<Bytes, Infallible>);
    util::response(
        StatusCode::OK,
        "application/json; charset=utf-8",
        Body::from_stream(futures::stream::iter(parts)),
        &[],
    )
}

const SERVER_ERROR_PAGE: &str = "<!DOCTYPE html>\r\n<html>\r\n<head>\r\n<title>Runtime Error</title>\r\n\
<meta name=\"viewport\" content=\"width=device-width\" />\r\n</head>\r\n\
<body bgcolor=\"white\">\r\n<span><H1>Server Error in '/' Application.<hr width=100% size=1 color=silver></H1>\r\n\
<h2> <i>Runtime Error</i> </h2></span>\r\n\
<b> Description: </b>An application error occurred on the server. The current custom error settings for this \
application prevent the details of the application error from being viewed remotely (for security reasons).\r\n\
</body>\r\n</html>\r\n";
