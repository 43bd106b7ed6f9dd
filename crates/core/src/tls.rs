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
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

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

/// The system roots plus the extra CAs, and the WebPKI verifier over them: loaded when a
/// connection first needs them, because reading the system's CA store (a few hundred certificates
/// in PEM) is the largest part of a short CLI run, and a pinned host never needs it.
#[derive(Debug)]
struct SystemTrust {
    extra_ca_pem: Vec<Vec<u8>>,
    loaded: OnceLock<(Arc<RootCertStore>, Option<Arc<WebPkiServerVerifier>>)>,
}

impl SystemTrust {
    fn get(
        &self,
        provider: &Arc<CryptoProvider>,
    ) -> &(Arc<RootCertStore>, Option<Arc<WebPkiServerVerifier>>) {
        self.loaded.get_or_init(|| {
            let mut roots = RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
            for pem in &self.extra_ca_pem {
                for cert in certificates_in(pem) {
                    let _ = roots.add(cert);
                }
            }
            let roots = Arc::new(roots);
            // With no roots at all (a bare container) only pinned hosts can be reached.
            let webpki =
                WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .build()
                    .ok();
            (roots, webpki)
        })
    }
}

/// The verifier of every TLS connection the product makes.
#[derive(Debug, Clone)]
pub struct PinningVerifier {
    pins: Arc<Pins>,
    system: Arc<SystemTrust>,
    provider: Arc<CryptoProvider>,
    /// The port of the connections this verifier checks (pins are per `host:port`).
    port: u16,
}

impl PinningVerifier {
    /// `extra_ca_pem`: PEM bundles trusted for every host in addition to the system roots.
    pub fn new(pins: Arc<Pins>, extra_ca_pem: &[Vec<u8>]) -> Self {
        PinningVerifier {
            pins,
            system: Arc::new(SystemTrust {
                extra_ca_pem: extra_ca_pem.to_vec(),
                loaded: OnceLock::new(),
            }),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            port: 443,
        }
    }

    /// The same trust, for connections to `port`.
    pub fn for_port(&self, port: u16) -> PinningVerifier {
        PinningVerifier {
            port,
            ..self.clone()
        }
    }

    /// The pins and CAs this verifier reads (shared with every port's verifier).
    pub fn pins(&self) -> &Arc<Pins> {
        &self.pins
    }

    /// The crypto provider (ring) of every TLS connection the product makes.
    pub fn provider(&self) -> Arc<CryptoProvider> {
        self.provider.clone()
    }

    /// A WebPKI verifier trusting the system roots plus `cas`.
    fn with_cas(
        &self,
        cas: &[CertificateDer<'static>],
    ) -> Result<Arc<WebPkiServerVerifier>, rustls::Error> {
        let mut roots = (*self.system.get(&self.provider).0).clone();
        for ca in cas {
            roots.add(ca.clone()).map_err(|e| {
                rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
            })?;
        }
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(format!("cannot verify with these CAs: {e}")))
    }

    /// Whether the system roots plus `cas` vouch for this chain, for `Engine::trust_ca`.
    pub fn cas_trust(
        &self,
        cas: &[CertificateDer<'static>],
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
    ) -> Result<(), rustls::Error> {
        self.with_cas(cas)?
            .verify_server_cert(end_entity, intermediates, server_name, &[], UnixTime::now())
            .map(|_| ())
    }

    /// Whether the system (WebPKI) roots vouch for this chain, for the trust dialog.
    pub fn system_trusts(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
    ) -> Result<(), rustls::Error> {
        match &self.system.get(&self.provider).1 {
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
        if let Some(pins) = self.pins.get(&host, self.port) {
            let actual = fingerprint(end_entity);
            if pins.contains(&actual) {
                return Ok(ServerCertVerified::assertion());
            }
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(PinMismatch {
                    host: key(&host, self.port),
                    expected: pins,
                    actual,
                })),
            )));
        }
        if let Some(cas) = self.pins.cas(&host, self.port) {
            return self.with_cas(&cas)?.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            );
        }
        match &self.system.get(&self.provider).1 {
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
