//! A person's browser, for tests of the browser sign-in: it loads the authorize page the product
//! opened, presses **Approve** or **Decline** on it, and delivers the redirect to the product's
//! loopback listener, each as a plain HTTP/1.1 request over its own connection (what a browser
//! sends; the identity emulator and the loopback listener both speak plain HTTP).
//!
//! ```no_run
//! # async fn demo(authorize_url: &str) -> std::io::Result<()> {
//! use vbm365_emulator::browser;
//! let redirect = browser::choose(authorize_url, true).await?; // http://localhost:PORT?code=…&state=…
//! let page = browser::get(&redirect).await?;                 // the product's "close this tab" page
//! assert_eq!(page.status, 200);
//! # Ok(()) }
//! ```

use std::io::{Error, ErrorKind, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A page as the browser received it.
#[derive(Debug, Clone)]
pub struct Page {
    /// The HTTP status.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Page {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn bad(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidData, what.into())
}

/// `http://host:port/path?query` → (`host:port`, `/path?query`).
fn split(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad(format!("not an http:// URL: {url}")))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path))
}

async fn send(url: &str, method: &str, body: Option<&str>) -> Result<Page> {
    let (authority, path) = split(url)?;
    let connect = authority.replacen("localhost:", "127.0.0.1:", 1);
    let mut stream = TcpStream::connect(&connect).await?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: vbm365-emulator-browser\r\n\
         Accept: text/html\r\nConnection: close\r\n"
    );
    if let Some(b) = body {
        request.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or_default());
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse(&String::from_utf8_lossy(&raw))
}

fn parse(raw: &str) -> Result<Page> {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no end of the reply's head"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Page {
        status,
        headers,
        body: body.to_string(),
    })
}

/// `GET url` (not following redirects).
pub async fn get(url: &str) -> Result<Page> {
    send(url, "GET", None).await
}

/// Submits a form to `url` (not following redirects).
pub async fn post_form(url: &str, fields: &[(&str, &str)]) -> Result<Page> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    send(url, "POST", Some(&body)).await
}

/// The value of a query parameter of `url` (decoded), e.g. the `redirect_uri` of an authorize
/// URL or the `code` of a redirect.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Loads the identity emulator's authorize page at `authorize_url` and presses **Approve**
/// (`approve`) or **Decline**: the `Location` Microsoft redirects the browser to (the product's
/// loopback address with `code` or `error`, and `state`). An error page (no form) is an error
/// carrying its text.
pub async fn choose(authorize_url: &str, approve: bool) -> Result<String> {
    let page = get(authorize_url).await?;
    let flow = page
        .body
        .split("name=\"flow\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .ok_or_else(|| bad(format!("no sign-in form on the page: {}", page.body)))?;
    let action = if approve { "approve" } else { "decline" };
    let target = authorize_url.split('?').next().unwrap_or(authorize_url);
    let answer = post_form(target, &[("flow", flow), ("action", action)]).await?;
    answer
        .header("location")
        .map(str::to_string)
        .ok_or_else(|| bad(format!("no redirect after {action}: {}", answer.body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_target() {
        assert_eq!(
            split("http://localhost:4711?code=a&state=b").unwrap(),
            ("localhost:4711".into(), "/?code=a&state=b".into())
        );
        assert_eq!(
            split("http://127.0.0.1:9/t/oauth2/v2.0/authorize?x=1").unwrap(),
            ("127.0.0.1:9".into(), "/t/oauth2/v2.0/authorize?x=1".into())
        );
        assert!(split("https://x").is_err());
        let p =
            parse("HTTP/1.1 302 Found\r\nLocation: http://localhost:1?code=c\r\n\r\nbye").unwrap();
        assert_eq!(
            (p.status, p.header("LOCATION")),
            (302, Some("http://localhost:1?code=c"))
        );
        assert_eq!(p.body, "bye");
        assert_eq!(
            query_param(
                "http://x/a?redirect_uri=http%3A%2F%2Flocalhost%3A9&s=1",
                "redirect_uri"
            )
            .as_deref(),
            Some("http://localhost:9")
        );
    }
}
