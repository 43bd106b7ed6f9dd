//! TLS trust: system roots (plus optional CA files), and SHA-256 pins of self-signed VBM365 server
//! certificates (trust on first use, SPEC §6). TLS verification is never switched off: a host with a
//! pin accepts exactly the pinned certificate and nothing else; a host without one goes through
//! normal WebPKI validation.
//!
//! rustls hands a verifier the server *name* but not the port, so pins are enforced per host: pins
//! saved for `host:4443` and `host:8443` both apply to `host`.

use crate::error::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

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
    pub host: String,
    pub expected: Vec<String>,
    pub actual: String,
}

/// Pins by host, shared by the process-wide HTTP client and updated in place when the user trusts a
/// certificate.
#[derive(Debug, Default)]
pub struct Pins(RwLock<HashMap<String, Vec<String>>>);

impl Pins {
    /// Replaces all pins from `host:port -> [hex]` entries.
    pub fn replace<'a>(&self, entries: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>) {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (host_port, pins) in entries {
            map.entry(host_of(host_port))
                .or_default()
                .extend(pins.iter().cloned());
        }
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = map;
    }

    fn get(&self, host: &str) -> Option<Vec<String>> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
            .cloned()
    }
}

/// `host` part of `host:port`, without IPv6 brackets.
fn host_of(host_port: &str) -> String {
    let host = match host_port.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host_port,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// The verifier of every TLS connection the product makes.
#[derive(Debug)]
pub struct PinningVerifier {
    pins: Arc<Pins>,
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl PinningVerifier {
    /// `extra_ca_pem`: PEM bundles trusted in addition to the system roots.
    pub fn new(pins: Arc<Pins>, extra_ca_pem: &[Vec<u8>]) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        for pem in extra_ca_pem {
            for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pem).flatten() {
                let cert: CertificateDer<'static> = cert;
                let _ = roots.add(cert);
            }
        }
        // With no roots at all (a bare container) only pinned hosts can be reached.
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .ok();
        PinningVerifier {
            pins,
            webpki,
            provider,
        }
    }

    pub fn provider(&self) -> Arc<CryptoProvider> {
        self.provider.clone()
    }

    /// Whether the system (WebPKI) roots vouch for this chain, for the trust dialog.
    pub fn system_trusts(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
    ) -> Result<(), rustls::Error> {
        match &self.webpki {
            Some(v) => v
                .verify_server_cert(end_entity, intermediates, server_name, &[], UnixTime::now())
                .map(|_| ()),
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let host = server_name.to_str().to_ascii_lowercase();
        if let Some(pins) = self.pins.get(&host) {
            let actual = fingerprint(end_entity);
            if pins.contains(&actual) {
                return Ok(ServerCertVerified::assertion());
            }
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(PinMismatch {
                    host,
                    expected: pins,
                    actual,
                })),
            )));
        }
        match &self.webpki {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
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

    #[test]
    fn host_of_strips_port_and_brackets() {
        assert_eq!(host_of("vbm.example:4443"), "vbm.example");
        assert_eq!(host_of("[::1]:4443"), "::1");
        assert_eq!(host_of("127.0.0.1:1"), "127.0.0.1");
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
