//! TLS trust (docs/protocol.md §6): the system roots, SHA-256 pins of self-signed VBM365 server certificates
//! (trust on first use), and certificate authorities the user trusts for one server (a CA file).
//! TLS verification is never switched off: a host with a pin accepts exactly the pinned certificate
//! and nothing else; a host with trusted CAs goes through WebPKI validation against the system roots
//! plus those CAs; any other host through WebPKI validation against the system roots.
//!
//! Pins and CAs are saved and enforced per `host:port`: a pin for `vbm.example:4443` says nothing
//! about `vbm.example:8443`. rustls hands a verifier the server *name* but not the port, so each
//! port gets its own verifier ([`PinningVerifier::for_port`]) and its own HTTP client
//! ([`crate::http::Http`]).

use crate::error::Error;
use rustls::pki_types::CertificateDer;
use rustls::CertificateError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;

mod verifier;

pub use verifier::PinningVerifier;

/// Lowercase hex SHA-256 of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// `aa:bb:…` form for people.
pub fn pretty_fingerprint(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap_or("??").to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

/// The detail carried inside the rustls error when a pinned host shows another certificate.
#[derive(Debug, Clone, thiserror::Error)]
#[error("certificate pin mismatch for {host}")]
pub struct PinMismatch {
    /// `host:port` of the connection, host in lowercase.
    pub host: String,
    /// The pins of that `host:port` (lowercase hex SHA-256).
    pub expected: Vec<String>,
    /// Lowercase hex SHA-256 of the certificate the server presented.
    pub actual: String,
}

/// Pins and trusted CAs by host, shared by the process-wide HTTP client and updated in place from
/// the config (which the user or another process may change at any time).
#[derive(Debug, Default)]
pub struct Pins {
    pins: RwLock<HashMap<String, Vec<String>>>,
    cas: RwLock<HashMap<String, Vec<CertificateDer<'static>>>>,
}

/// `host:port -> values` entries keyed by normalised `host:port` ([`key`]).
fn by_host_port<'a, T>(
    entries: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
    convert: impl Fn(&str) -> Vec<T>,
) -> HashMap<String, Vec<T>> {
    let mut map: HashMap<String, Vec<T>> = HashMap::new();
    for (host_port, values) in entries {
        let (host, port) = split_host_port(host_port);
        let slot = map.entry(key(&host, port)).or_default();
        for v in values {
            slot.extend(convert(v));
        }
    }
    map
}

/// The lookup key of a host and port: lowercase host without IPv6 brackets, `:`, port.
fn key(host: &str, port: u16) -> String {
    format!(
        "{}:{port}",
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    )
}

impl Pins {
    /// Replaces all pins from `host:port -> [hex]` entries.
    pub fn replace<'a>(&self, entries: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>) {
        *self.pins.write().unwrap_or_else(|e| e.into_inner()) =
            by_host_port(entries, |v| vec![v.to_string()]);
    }

    /// Replaces all trusted CAs from `host:port -> [PEM]` entries (as saved by
    /// `Engine::trust_ca`; an entry that does not parse trusts nothing).
    pub fn replace_cas<'a>(
        &self,
        entries: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
    ) {
        *self.cas.write().unwrap_or_else(|e| e.into_inner()) =
            by_host_port(entries, |pem| certificates_in(pem.as_bytes()));
    }

    fn get(&self, host: &str, port: u16) -> Option<Vec<String>> {
        self.pins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key(host, port))
            .cloned()
    }

    /// The CAs trusted for `host:port`, if any.
    pub fn cas(&self, host: &str, port: u16) -> Option<Vec<CertificateDer<'static>>> {
        self.cas
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key(host, port))
            .filter(|v| !v.is_empty())
            .cloned()
    }
}

/// Every certificate in a PEM text (other PEM sections and text around them are skipped).
pub fn certificates_in(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    rustls::pki_types::pem::PemObject::pem_slice_iter(pem)
        .flatten()
        .collect()
}

/// A DER certificate as PEM text.
pub fn to_pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// `host` and port of `host:port` (443 when there is no port), host without IPv6 brackets.
fn split_host_port(host_port: &str) -> (String, u16) {
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p))
            if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') =>
        {
            (h, p.parse().unwrap_or(443))
        }
        _ => (host_port, 443),
    };
    (
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
        port,
    )
}

/// Finds a TLS failure in an error chain (reqwest → hyper → io::Error → rustls::Error) and turns it
/// into the product error. `None` when the failure was not about certificates.
pub(crate) fn classify_tls_failure(
    err: &(dyn std::error::Error + 'static),
    host: &str,
) -> Option<Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<rustls::Error>() {
            return tls_to_error(t, host);
        }
        // io::Error::source() skips the error it wraps, so step into it explicitly.
        cur = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn tls_to_error(t: &rustls::Error, host: &str) -> Option<Error> {
    match t {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            if let Some(pm) = other.0.downcast_ref::<PinMismatch>() {
                return Some(Error::PinMismatch {
                    host: pm.host.clone(),
                    expected: pm.expected.join(" or "),
                    actual: pm.actual.clone(),
                });
            }
            Some(Error::UntrustedCertificate {
                host: host.to_string(),
                detail: other.to_string(),
            })
        }
        rustls::Error::InvalidCertificate(c) => Some(Error::UntrustedCertificate {
            host: host.to_string(),
            detail: format!("{c:?}"),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::OtherError;
    use std::sync::Arc;

    #[test]
    fn host_ports_are_split_and_normalised() {
        assert_eq!(
            split_host_port("VBM.example:4443"),
            ("vbm.example".into(), 4443)
        );
        assert_eq!(split_host_port("[::1]:4443"), ("::1".into(), 4443));
        assert_eq!(split_host_port("127.0.0.1:1"), ("127.0.0.1".into(), 1));
        assert_eq!(split_host_port("vbm.example"), ("vbm.example".into(), 443));
    }

    #[test]
    fn pins_apply_to_their_host_and_port_only() {
        let pins = Arc::new(Pins::default());
        let entries: std::collections::BTreeMap<String, Vec<String>> =
            [("vbm.example:4443".to_string(), vec!["aa".to_string()])].into();
        pins.replace(&entries);
        assert_eq!(pins.get("VBM.example", 4443), Some(vec!["aa".to_string()]));
        assert_eq!(pins.get("vbm.example", 8443), None);
        assert_eq!(pins.get("other.example", 4443), None);
    }

    #[test]
    fn pem_written_for_the_config_reads_back_as_the_same_certificate() {
        let der: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        let pem = to_pem(&der);
        assert!(pem.lines().all(|l| l.len() <= 64), "{pem}");
        let text = format!("a comment\n{pem}{pem}");
        let back = certificates_in(text.as_bytes());
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].as_ref(), der.as_slice());
        assert!(certificates_in(b"no PEM here").is_empty());
    }

    #[test]
    fn trusted_cas_apply_per_host_and_a_bad_entry_trusts_nothing() {
        let pins = Pins::default();
        let pem = to_pem(b"not really DER but PEM-framed");
        let entries: std::collections::BTreeMap<String, Vec<String>> = [
            ("vbm.example:4443".to_string(), vec![pem.clone()]),
            ("other.example:443".to_string(), vec!["garbage".to_string()]),
        ]
        .into();
        pins.replace_cas(&entries);
        assert_eq!(pins.cas("vbm.example", 4443).map(|v| v.len()), Some(1));
        assert_eq!(pins.cas("vbm.example", 443), None);
        assert_eq!(pins.cas("other.example", 443), None);
        assert_eq!(pins.cas("unknown.example", 4443), None);
    }

    #[test]
    fn pretty_fingerprint_groups_bytes() {
        assert_eq!(pretty_fingerprint("ab01ff"), "AB:01:FF");
    }

    #[test]
    fn pin_mismatch_is_found_through_io_error_wrapping() {
        let pm = PinMismatch {
            host: "h".into(),
            expected: vec!["aa".into()],
            actual: "bb".into(),
        };
        let tls =
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(pm))));
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        // Connectors wrap it once more.
        let outer = std::io::Error::other(io);
        let e = classify_tls_failure(&outer, "h").unwrap();
        assert_eq!(e.code(), "certificate_pin_mismatch");
        let m = e.to_string();
        assert!(m.contains("aa") && m.contains("bb"), "{m}");
        let unknown = std::io::Error::other(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(
            classify_tls_failure(&unknown, "h").unwrap().code(),
            "certificate_untrusted"
        );
        let plain = std::io::Error::other("connection reset");
        assert!(classify_tls_failure(&plain, "h").is_none());
    }
}
