//! The redacted HTTP trace (`--debug`, `VBM365_AUTH_LOG=debug`): for every request the product
//! makes, its method, URL, headers, then the reply's status, time taken and headers, as `debug`
//! events of this module. Secrets never appear: credential headers keep only their scheme,
//! query values whose names suggest a secret are replaced, bodies are not logged at all (only
//! their size), and nothing is even formatted unless debug logging is on.

use std::time::Duration;
use tracing::Level;

/// Shown in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// Headers that carry credentials or session state.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "www-authenticate",
];

/// Parts of header or query parameter names that suggest a secret value.
const SECRET_WORDS: [&str; 8] = [
    "token",
    "secret",
    "password",
    "assertion",
    "code",
    "key",
    "signature",
    "session",
];

fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_HEADERS.contains(&name.as_str()) || SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// A header value as the trace shows it: a credential keeps only its scheme (`Bearer [redacted]`),
/// `WWW-Authenticate` only its scheme too (it may carry error text).
pub fn header_value(name: &str, value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    if !secret_name(name) {
        return crate::text::shown(&text, 200);
    }
    match text.split_once(' ') {
        Some((scheme, _))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            format!("{scheme} {REDACTED}")
        }
        _ => REDACTED.to_string(),
    }
}

/// A URL as the trace shows it: no user info, and the values of query parameters whose names
/// suggest a secret replaced.
pub fn url(u: &url::Url) -> String {
    let mut u = u.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_name(&k) {
                    REDACTED.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

fn headers(h: &reqwest::header::HeaderMap) -> String {
    h.iter()
        .map(|(k, v)| format!("{k}: {}", header_value(k.as_str(), v.as_bytes())))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A request being traced: what the reply's line repeats.
#[derive(Debug)]
pub struct Traced {
    method: String,
    url: String,
}

/// Logs a request about to be sent; `None` (and no work) unless debug logging is on.
pub fn request(req: &reqwest::Request) -> Option<Traced> {
    if !tracing::enabled!(target: "vbm365_auth_core::trace", Level::DEBUG) {
        return None;
    }
    let t = Traced {
        method: req.method().to_string(),
        url: url(req.url()),
    };
    let body = req
        .body()
        .and_then(|b| b.as_bytes())
        .map(|b| format!(" (body: {} bytes, not shown)", b.len()))
        .unwrap_or_default();
    tracing::debug!(
        target: "vbm365_auth_core::trace",
        "> {} {}{body} | {}",
        t.method,
        t.url,
        headers(req.headers())
    );
    Some(t)
}

/// Logs the outcome of a traced request.
pub fn reply(
    traced: Option<&Traced>,
    sent: &Result<reqwest::Response, reqwest::Error>,
    took: Duration,
) {
    let Some(t) = traced else { return };
    let ms = took.as_secs_f64() * 1000.0;
    match sent {
        Ok(r) => tracing::debug!(
            target: "vbm365_auth_core::trace",
            "< {} {} {} in {ms:.1} ms | {}",
            r.status().as_u16(),
            t.method,
            t.url,
            headers(r.headers())
        ),
        Err(e) => tracing::debug!(
            target: "vbm365_auth_core::trace",
            "< failed {} {} after {ms:.1} ms: {}",
            t.method,
            t.url,
            if e.is_timeout() { "timeout" } else if e.is_connect() { "connection failed" } else { "request failed" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_keep_only_their_scheme() {
        assert_eq!(
            header_value("Authorization", b"Bearer eyJsecret.x.y"),
            "Bearer [redacted]"
        );
        assert_eq!(header_value("cookie", b"a=b; c=d"), REDACTED);
        assert_eq!(
            header_value("Set-Cookie", b".AspNetCore.Antiforgery=xyz; path=/"),
            REDACTED
        );
        assert_eq!(header_value("X-Api-Key", b"k123"), REDACTED);
        assert_eq!(
            header_value("content-type", b"application/json"),
            "application/json"
        );
    }

    #[test]
    fn secret_query_values_and_user_info_are_removed() {
        let u = url::Url::parse(
            "https://me:pw@vbm.example:4443/v8/Jobs?offset=30&access_token=abc&code=xyz&limit=30",
        )
        .unwrap();
        let shown = url(&u);
        assert_eq!(
            shown,
            "https://vbm.example:4443/v8/Jobs?offset=30&access_token=%5Bredacted%5D&code=%5Bredacted%5D&limit=30"
        );
        assert!(!shown.contains("abc") && !shown.contains("xyz") && !shown.contains("pw"));
    }
}
