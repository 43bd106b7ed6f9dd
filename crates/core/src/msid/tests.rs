//! Tests of the Microsoft identity platform client, the device flow and the OAuth errors.

use super::*;
use crate::failure::Verdict;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

fn ok() -> Poll {
    Poll::Done(MsTokenResponse {
        raw: Assertion::new("{}"),
        refresh_token: None,
    })
}

/// Runs the flow against a scripted sequence of outcomes in virtual time and returns the
/// instants (seconds since start) at which each poll happened.
async fn run(
    interval: u64,
    expires: u64,
    script: Vec<Poll>,
) -> (Result<MsTokenResponse>, Vec<u64>) {
    let start = Instant::now();
    let times = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(script.into_iter()));
    let t2 = times.clone();
    let res = poll_device_flow(
        interval,
        expires,
        move || {
            let times = t2.clone();
            let script = script.clone();
            async move {
                times.lock().unwrap().push(start.elapsed().as_secs());
                script.lock().unwrap().next().unwrap_or(Poll::Pending)
            }
        },
        |_| {},
    )
    .await;
    let t = times.lock().unwrap().clone();
    (res, t)
}

#[tokio::test(start_paused = true)]
async fn polls_at_the_interval_and_stops_on_success() {
    let (res, times) = run(5, 900, vec![Poll::Pending, Poll::Pending, ok()]).await;
    assert!(res.is_ok());
    assert_eq!(times, vec![5, 10, 15]);
}

#[tokio::test(start_paused = true)]
async fn slow_down_adds_five_seconds_for_all_later_polls() {
    let (res, times) = run(
        2,
        900,
        vec![
            Poll::Pending,
            Poll::SlowDown,
            Poll::Pending,
            Poll::SlowDown,
            ok(),
        ],
    )
    .await;
    assert!(res.is_ok());
    // 2, +2, then +7, +7, then +12
    assert_eq!(times, vec![2, 4, 11, 18, 30]);
}

#[tokio::test(start_paused = true)]
async fn transient_errors_back_off_with_a_cap_and_reset_after_success() {
    let t = || {
        Poll::Transient(Error::Network {
            url: "x".into(),
            detail: "refused".into(),
        })
    };
    let (res, times) = run(5, 3600, vec![t(), t(), t(), t(), t(), Poll::Pending, ok()]).await;
    assert!(res.is_ok());
    // 5, then waits of 10, 20, 40, 60 (cap), 60 (cap), back to 5 after the pending reply.
    assert_eq!(times, vec![5, 15, 35, 75, 135, 195, 200]);
}

#[tokio::test(start_paused = true)]
async fn throttling_waits_at_least_retry_after_and_keeps_polling() {
    let throttled = |secs| {
        Poll::Transient(Error::ServerFailure {
            service: SERVICE,
            status: 429,
            message: "temporarily_unavailable".into(),
            retry_after: Some(Duration::from_secs(secs)),
            transient: true,
        })
    };
    let (res, times) = run(
        5,
        900,
        vec![throttled(30), throttled(3), Poll::Pending, ok()],
    )
    .await;
    assert!(res.is_ok());
    // 5; Retry-After 30 beats the 10 s backoff; then 20 s backoff beats 3; then the interval.
    assert_eq!(times, vec![5, 35, 55, 60]);
}

#[test]
fn error_replies_are_classified_by_status_and_error_not_by_text() {
    let reply = |status: u16, body: &str, retry_after: Option<&str>| {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(v) = retry_after {
            headers.insert(reqwest::header::RETRY_AFTER, v.parse().unwrap());
        }
        Reply {
            status,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
            headers,
        }
    };
    let e = identity_error(&reply(
        503,
        r#"{"error":"temporarily_unavailable","error_description":"AADSTS90033: A transient error has occurred.\r\nTrace ID: x"}"#,
        Some("4"),
    ));
    assert_eq!(
        e.verdict(),
        Verdict::Transient {
            retry_after: Some(Duration::from_secs(4))
        }
    );
    assert!(!e.to_string().contains("Trace ID"), "{e}");
    // `temporarily_unavailable` with a 400 is still transient; so is a 429 with any error.
    assert!(
        identity_error(&reply(400, r#"{"error":"temporarily_unavailable"}"#, None)).is_transient()
    );
    assert!(identity_error(&reply(429, r#"{"error":"invalid_request"}"#, None)).is_transient());
    assert!(identity_error(&reply(500, r#"{"error":"server_error"}"#, None)).is_transient());
    // A proxy's page is not Microsoft's answer.
    assert!(
        identity_error(&reply(403, "<html><title>Blocked</title></html>", None)).is_transient()
    );
    assert!(identity_error(&reply(400, "", None)).is_transient());
    let e = identity_error(&reply(
        400,
        r#"{"error":"invalid_grant","error_codes":[50173]}"#,
        None,
    ));
    assert_eq!(e.verdict(), Verdict::Refused);
    let e = identity_error(&reply(400, r#"{"error":"interaction_required"}"#, None));
    assert_eq!(e.verdict(), Verdict::Refused);
    let e = identity_error(&reply(400, r#"{"error":"invalid_client"}"#, None));
    assert_eq!(e.verdict(), Verdict::Persistent);
}

#[test]
fn hostile_numbers_in_a_device_code_reply_are_clamped() {
    let reply = |body: &str| Reply {
        status: 200,
        content_type: Some("application/json".into()),
        body: body.as_bytes().to_vec(),
        headers: Default::default(),
    };
    let a = device_authorization(&reply(
        r#"{"device_code":"d","user_code":"U\u001b[31mX","verification_uri":"https://x","expires_in":1e30,"interval":"99999999999999999999"}"#,
    ))
    .unwrap();
    assert_eq!(a.expires_in, MAX_DEVICE_CODE_LIFETIME);
    assert_eq!(
        a.interval, DEFAULT_INTERVAL,
        "an unreadable interval means the default"
    );
    assert_eq!(a.user_code, "U[31mX");
    let a = device_authorization(&reply(
        r#"{"device_code":"d","user_code":"U","verification_uri":"https://x","expires_in":"900","interval":1e18}"#,
    ))
    .unwrap();
    assert_eq!((a.expires_in, a.interval), (900, MAX_INTERVAL));
    // The clamped values run through the polling clock without overflow.
    let _ = tokio::time::Instant::now() + Duration::from_secs(MAX_DEVICE_CODE_LIFETIME);
}

#[tokio::test(start_paused = true)]
async fn stops_when_expires_in_runs_out() {
    let (res, times) = run(5, 12, vec![]).await;
    assert_eq!(res.unwrap_err().code(), "device_code_expired");
    assert_eq!(times, vec![5, 10]);
}

#[tokio::test(start_paused = true)]
async fn fatal_errors_stop_at_once() {
    let declined = Error::Identity {
        error: OAuthError::AuthorizationDeclined,
        aadsts: Some(70000),
        description: None,
    };
    let (res, times) = run(1, 900, vec![Poll::Pending, Poll::Fatal(declined)]).await;
    assert_eq!(res.unwrap_err().code(), "sign_in_declined");
    assert_eq!(times, vec![1, 2]);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_cancels_polling() {
    let count = Arc::new(Mutex::new(0));
    let c2 = count.clone();
    let task = tokio::spawn(poll_device_flow(
        1,
        900,
        move || {
            let c = c2.clone();
            async move {
                *c.lock().unwrap() += 1;
                Poll::Pending
            }
        },
        |_| {},
    ));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    task.abort();
    let _ = task.await;
    let seen = *count.lock().unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(seen, 3);
    assert_eq!(*count.lock().unwrap(), 3, "no poll after cancel");
}

#[test]
fn aadsts_code_is_read_from_the_description() {
    assert_eq!(
        aadsts_in("AADSTS53003: Access has been blocked"),
        Some(53003)
    );
    assert_eq!(aadsts_in("nothing"), None);
}
