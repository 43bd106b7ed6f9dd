//! Tests of the VBM365 client: replies, errors and their classification.

use super::*;

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        content_type: None,
        body: body.as_bytes().to_vec(),
        headers: Default::default(),
    }
}

#[test]
fn dates_in_both_formats() {
    let a = parse_date("Mon, 13 Dec 2021 13:18:43 GMT").unwrap();
    let b = parse_date("2021-12-13T13:18:43Z").unwrap();
    let c = parse_date("2021-12-13T13:18:43.000").unwrap();
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert!(parse_date("yesterday").is_none());
}

fn reply_with(status: u16, content_type: &str, body: &str, retry_after: Option<&str>) -> Reply {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(v) = retry_after {
        headers.insert(reqwest::header::RETRY_AFTER, v.parse().unwrap());
    }
    Reply {
        status,
        content_type: Some(content_type.into()),
        body: body.as_bytes().to_vec(),
        headers,
    }
}

fn server_error_of(r: &Reply) -> Error {
    server_error(r, &[])
}

#[test]
fn server_text_is_made_safe_and_secrets_it_echoes_are_redacted() {
    let rt = "AQAAANCMnd8BFdERjHoAwE_Cl-sBAAAAsecretsecret";
    let body = format!(
        r#"{{"message":"Invalid refresh token {rt}\u001b[2J{}"}}"#,
        "x".repeat(900_000)
    );
    let e = token_reply(reply(400, &body), &[rt]).unwrap_err();
    let m = e.to_string();
    assert!(!m.contains(rt), "secret echoed");
    assert!(m.contains("[redacted]"));
    assert!(!m.chars().any(|c| c.is_control()), "control characters");
    assert!(m.len() < 2000, "{} bytes", m.len());
}

#[test]
fn error_shapes_and_their_classification() {
    use crate::failure::Verdict;
    let e = server_error_of(&reply(
        400,
        r#"{"message":"Invalid refresh token.","errorCode":"ParameterValidationFailure"}"#,
    ));
    assert_eq!(e.code(), "server_rejected");
    assert_eq!(e.verdict(), Verdict::Refused);
    assert!(e.to_string().contains("Invalid refresh token."));
    let e = server_error_of(&reply(
        401,
        r#"{"error":"invalid_grant","error_description":"Token expired"}"#,
    ));
    assert!(e.to_string().contains("Token expired"), "{e}");
    assert_eq!(e.verdict(), Verdict::Refused);
    let e = server_error_of(&reply(502, "<html><title>Bad Gateway</title></html>"));
    assert_eq!(e.code(), "server_error");
    assert!(e.to_string().contains("Bad Gateway"));
    assert!(e.is_transient());
    // A 4xx that is not VBM365's own JSON (a proxy, a WAF, an empty body) refuses nothing.
    for (status, body) in [
        (400, ""),
        (
            403,
            "<html><head><title>403 Forbidden</title></head></html>",
        ),
        (401, "{}"),
        (400, "[1,2]"),
    ] {
        let e = server_error_of(&reply(status, body));
        assert!(e.is_transient(), "{status} {body}: {e:?}");
    }
    let e = server_error_of(&reply(400, ""));
    assert!(e.to_string().contains("empty reply"), "{e}");
    // 429 from a WAF with Retry-After; 503 from HTTP.sys; 407 from a forward proxy.
    let e = server_error_of(&reply_with(
        429,
        "text/html",
        "<title>429 Too Many Requests</title>",
        Some("7"),
    ));
    assert_eq!(e.code(), "throttled");
    assert_eq!(
        e.verdict(),
        Verdict::Transient {
            retry_after: Some(std::time::Duration::from_secs(7))
        }
    );
    let e = server_error_of(&reply_with(407, "text/html", "<title>Proxy</title>", None));
    assert_eq!(e.code(), "proxy_auth_required");
    assert!(e.is_transient());
    // The server's own JSON 404 keeps the tokens but is not worth retrying.
    let e = server_error_of(&reply(404, r#"{"message":"No HTTP resource was found."}"#));
    assert_eq!(e.verdict(), Verdict::Persistent);
}

#[test]
fn token_reply_needs_tokens_and_lifetime() {
    let ok = token_reply(reply(200, r#"{"access_token":"a","refresh_token":"r","token_type":"bearer","expires_in":3600,".issued":"Mon, 13 Dec 2021 13:18:43 GMT"}"#), &[]).unwrap();
    let left = (ok.expires_at - Utc::now()).num_seconds();
    assert!((3590..=3600).contains(&left), "{left}");
    for body in [
        r#"{"access_token":"a","expires_in":3600}"#,
        r#"{"access_token":42,"refresh_token":"r","expires_in":3600}"#,
        r#"{"access_token":"a","refresh_token":"r"}"#,
        r#"{"access_token": 42"#,
        "[]",
    ] {
        let e = token_reply(reply(200, body), &[]).unwrap_err();
        assert_eq!(e.code(), "bad_response", "{body}");
    }
    let fallback = token_reply(
        reply(
            200,
            r#"{"access_token":"a","refresh_token":"r",".expires":"2099-01-01T00:00:00Z"}"#,
        ),
        &[],
    )
    .unwrap();
    assert_eq!(
        fallback.expires_at,
        parse_date("2099-01-01T00:00:00Z").unwrap()
    );
}

/// Bug caught: any non-empty string was taken as a token, so a hostile server could issue one that
/// breaks out of the shell line of `env` (PowerShell's U+2019 quote) or of the header of `token
/// --format header` (CR/LF). Such a reply is a bad response: transient, so no token is dropped.
#[test]
fn tokens_that_are_not_b64tokens_are_a_bad_reply_that_drops_nothing() {
    let hostile = [
        "x\u{2019}; Start-Process calc; \u{2019}",
        "x'; touch /tmp/pwned; '",
        "abc\r\nX-Injected: 1",
        "two words",
    ];
    for token in hostile {
        for (access, refresh) in [(token, "r"), ("a", token)] {
            let body = serde_json::json!({
                "access_token": access, "refresh_token": refresh, "expires_in": 3600
            })
            .to_string();
            let e = token_reply(reply(200, &body), &[]).unwrap_err();
            assert_eq!(e.code(), "bad_response", "{token:?}");
            assert!(
                e.is_transient(),
                "{token:?}: a transient failure keeps every token"
            );
            let m = e.to_string();
            assert!(m.contains("RFC 6750"), "{m}");
            assert!(!m.contains(token), "the token is never echoed: {m}");
        }
    }
    let ok = r#"{"access_token":"eyJ0.x-y_z~1+2/3==","refresh_token":"AQAA_b-c","expires_in":60}"#;
    assert!(token_reply(reply(200, ok), &[]).is_ok());
}
