//! Validation of user input and of URLs that come from servers (docs/protocol.md §1 and §6).

use crate::error::{Error, Result};
use std::net::IpAddr;
use url::{Host, Url};

/// A tenant name: a domain such as `contoso.onmicrosoft.com` or a directory (tenant) GUID.
/// Returned trimmed, with its case kept: VBM365 matches the organization name case-sensitively, so
/// it is sent exactly as typed (names are compared case-insensitively on this side).
pub fn tenant_name(raw: &str) -> Result<String> {
    let name = raw.trim().to_string();
    let bad =
        |why: &str| Error::InvalidInput(format!("invalid tenant name '{}': {why}", raw.trim()));
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.len() > 253 {
        return Err(bad("longer than 253 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(bad(
            "use letters, digits, '.' and '-' only (e.g. contoso.onmicrosoft.com)",
        ));
    }
    if name.starts_with(['.', '-']) || name.ends_with(['.', '-']) || name.contains("..") {
        return Err(bad("not a domain name (e.g. contoso.onmicrosoft.com)"));
    }
    Ok(name)
}

/// True for 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn base_url(kind: &str, raw: &str) -> Result<Url> {
    let raw = raw.trim();
    let url = Url::parse(raw)
        .map_err(|e| Error::InvalidInput(format!("invalid {kind} URL '{raw}': {e}")))?;
    let bad = |why: &str| Error::InvalidInput(format!("invalid {kind} URL '{raw}': {why}"));
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(bad("use https (http is accepted only for localhost)")),
        _ => return Err(bad("use an https:// URL")),
    }
    if url.host().is_none() {
        return Err(bad("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("user names and passwords do not belong in the URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("remove the query and fragment"));
    }
    Ok(url)
}

/// The VBM365 server base URL: `https://host[:port]` (no path, query or credentials).
pub fn server_url(raw: &str) -> Result<Url> {
    let mut url = base_url("server", raw)?;
    let path = url.path().trim_end_matches('/');
    if !path.is_empty() {
        return Err(Error::InvalidInput(format!(
            "invalid server URL '{}': give the server only (e.g. https://vbm.example.local:4443), without the '{path}' path",
            raw.trim()
        )));
    }
    url.set_path("/");
    Ok(url)
}

/// A Microsoft identity platform authority, e.g. `https://login.microsoftonline.com`.
pub fn authority_url(raw: &str) -> Result<Url> {
    let mut url = base_url("authority", raw)?;
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{path}/"));
    Ok(url)
}

/// A client id: 1 to 200 visible ASCII characters (no spaces); [`Error::InvalidInput`] otherwise.
pub fn client_id(raw: &str) -> Result<()> {
    if raw.is_empty() || raw.len() > 200 || !raw.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::InvalidInput(format!(
            "invalid client id '{raw}': expected an application id such as 04b07795-8ddb-461a-bbee-02f9e1bf7b46"
        )));
    }
    Ok(())
}

/// A scope: not blank, no control characters; [`Error::InvalidInput`] otherwise.
pub fn scope(raw: &str) -> Result<()> {
    if raw.trim().is_empty() || raw.chars().any(|c| c.is_control()) {
        return Err(Error::InvalidInput(
            "invalid scope: give space-separated permissions, e.g. 'Directory.AccessAsUser.All User.ReadWrite.All offline_access'".into(),
        ));
    }
    Ok(())
}

/// A SHA-256 certificate fingerprint: 64 hex digits, colons and spaces allowed. Lowercase hex out.
pub fn sha256_pin(raw: &str) -> Result<String> {
    let hex: String = raw
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::InvalidInput(format!(
            "invalid SHA-256 fingerprint '{raw}': expected 64 hex digits"
        )));
    }
    Ok(hex)
}

/// Whether `token` is an RFC 6750 §2.1 `b64token` (`[A-Za-z0-9._~+/-]+=*`), the only form a
/// bearer token takes. Anything else (quotes, spaces, CR/LF, non-ASCII) could break out of the
/// `Authorization` header or the shell line it is printed into, so a token reply carrying it is
/// refused.
pub fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// `host:port` with the scheme's default port filled in.
pub fn host_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(443);
    format!("{host}:{port}")
}

/// The verification URI from a device-code response, if it is safe to open in a browser: an
/// absolute `https` URL (`http` only on loopback) with no user info and no control characters.
/// Anything else is returned as an error and must only be shown as text.
pub fn verification_uri(raw: &str) -> Result<Url> {
    let bad = |why: &str| {
        Error::InvalidInput(format!(
            "the sign-in page address is not safe to open ({why}); it is shown as text only"
        ))
    };
    if raw.chars().any(|c| c.is_control()) {
        return Err(bad("it contains control characters"));
    }
    if raw.trim() != raw || raw.contains(' ') {
        return Err(bad("it contains spaces"));
    }
    let url = Url::parse(raw).map_err(|_| bad("it is not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        _ => return Err(bad("it is not an https URL")),
    }
    if url.host().is_none() {
        return Err(bad("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it carries user information"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names() {
        assert_eq!(
            tenant_name(" Contoso.OnMicrosoft.com ").unwrap(),
            "Contoso.OnMicrosoft.com"
        );
        assert!(tenant_name("72f988bf-86f1-41af-91ab-2d7cd011db47").is_ok());
        for bad in ["", "a b", "a/b", ".x", "x..y", "x-", "contoso.com?x=1"] {
            assert_eq!(
                tenant_name(bad).unwrap_err().code(),
                "invalid_input",
                "{bad}"
            );
        }
    }

    #[test]
    fn server_urls() {
        assert_eq!(
            server_url("https://vbm:4443").unwrap().as_str(),
            "https://vbm:4443/"
        );
        assert_eq!(
            server_url("https://vbm:4443/").unwrap().as_str(),
            "https://vbm:4443/"
        );
        assert!(server_url("http://127.0.0.1:8080").is_ok());
        assert!(server_url("http://localhost:8080").is_ok());
        assert!(server_url("http://[::1]:8080").is_ok());
        let e = server_url("http://vbm.example:4443")
            .unwrap_err()
            .to_string();
        assert!(e.contains("https"), "{e}");
        assert!(server_url("https://user:pw@vbm").is_err());
        assert!(server_url("https://vbm/v8")
            .unwrap_err()
            .to_string()
            .contains("/v8"));
        assert!(server_url("ftp://vbm").is_err());
        assert!(server_url("vbm.example").is_err());
    }

    #[test]
    fn authority_keeps_a_path_with_trailing_slash() {
        assert_eq!(
            authority_url("https://login.microsoftonline.com")
                .unwrap()
                .as_str(),
            "https://login.microsoftonline.com/"
        );
        assert_eq!(
            authority_url("http://127.0.0.1:9/ms").unwrap().as_str(),
            "http://127.0.0.1:9/ms/"
        );
    }

    #[test]
    fn verification_uris() {
        assert!(verification_uri("https://microsoft.com/devicelogin").is_ok());
        assert!(verification_uri("http://127.0.0.1:8080/devicelogin").is_ok());
        for bad in [
            "http://microsoft.com/devicelogin",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "https://user:pw@microsoft.com/devicelogin",
            "https://microsoft.com/device\nlogin",
            "https://microsoft.com/devicelogin\u{7}",
            "/devicelogin",
            "https://microsoft.com/x y",
            "ms-settings:privacy",
        ] {
            assert!(verification_uri(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn bearer_tokens_are_b64tokens() {
        for good in [
            "a",
            "AQAAANCMnd8BFdERjHoAwE_Cl-sBAAAA",
            "eyJ0.eXA.x-y_z~1+2/3==",
            "Zm9v=",
        ] {
            assert!(is_b64token(good), "{good}");
        }
        for bad in [
            "",
            "==",
            "x\u{2019}; calc; \u{2019}",
            "x'; calc; '",
            "abc\r\nX-Injected: 1",
            "a b",
            "a=b",
            "tok\u{e9}n",
            "\"quoted\"",
            "a;b",
            "$(id)",
            "a%20",
        ] {
            assert!(!is_b64token(bad), "{bad:?}");
        }
    }

    #[test]
    fn pins() {
        let h = "AB:".repeat(31) + "AB";
        assert_eq!(sha256_pin(&h).unwrap(), "ab".repeat(32));
        assert!(sha256_pin("abcd").is_err());
    }
}
