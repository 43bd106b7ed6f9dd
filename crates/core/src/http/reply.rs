//! What a request brings back: the reply with its bounded body, the certificate that came with it,
//! and a safe summary of a reply that is not JSON.

use std::time::Duration;

/// A reply with its body read (bounded). Its `Debug` omits the body, which may hold tokens.
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header as sent; `None` when absent or not visible ASCII.
    pub content_type: Option<String>,
    /// The whole body, at most [`MAX_BODY`](super::MAX_BODY) bytes (a longer one is an error, never cut).
    pub body: Vec<u8>,
    /// Every header of the reply.
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The bounded `Retry-After` of the reply, if it has a readable one.
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self
            .headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?;
        crate::failure::retry_after(v, chrono::Utc::now())
    }

    /// Whether the reply says its body is JSON (`application/json` or `…+json`).
    pub fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|ct| {
            let media = ct.split(';').next().unwrap_or_default().trim();
            media.eq_ignore_ascii_case("application/json")
                || media.to_ascii_lowercase().ends_with("+json")
        })
    }
}

/// What [`Http::exchange`](super::Http::exchange) gives: the reply, and the certificate the server presented on the
/// connection that carried it (DER; `None` when the connection could not tell, e.g. through a
/// proxy tunnel).
#[derive(Debug)]
pub struct Exchange {
    /// The reply.
    pub reply: Reply,
    /// The server's leaf certificate, already verified against the pins or CAs.
    pub peer_certificate: Option<Vec<u8>>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .finish()
    }
}
/// Text for an error reply that is not JSON: the HTML `<title>` if any, else a short summary. Never
/// echoes arbitrary body bytes (they may hold a token).
pub fn describe_non_json(reply: &Reply) -> String {
    if reply.body.is_empty() {
        return "empty reply".to_string();
    }
    let text = String::from_utf8_lossy(&reply.body);
    let lower = text.to_ascii_lowercase();
    if let (Some(a), Some(b)) = (lower.find("<title>"), lower.find("</title>")) {
        if b > a + 7 {
            let title = crate::text::shown(&text[a + 7..b], 120);
            return format!("an HTML page titled \"{title}\"");
        }
    }
    let content_type = reply
        .content_type
        .as_deref()
        .map(|c| crate::text::shown(c, 60))
        .unwrap_or_else(|| "no content type".into());
    format!(
        "a reply of {} bytes that is not JSON ({content_type})",
        reply.body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_error_pages_are_summarised_by_title() {
        let r = Reply {
            status: 502,
            content_type: Some("text/html".into()),
            body: b"<html><head><title>502 Bad\n Gateway</title></head><body>secret?</body></html>"
                .to_vec(),
            headers: Default::default(),
        };
        assert_eq!(
            describe_non_json(&r),
            "an HTML page titled \"502 Bad Gateway\""
        );
        let r = Reply {
            body: b"access_token=abc".to_vec(),
            content_type: None,
            ..r
        };
        let d = describe_non_json(&r);
        assert!(!d.contains("abc"), "{d}");
    }
}
