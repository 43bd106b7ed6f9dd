//! The verifier of every TLS connection: the pin of a `host:port` if it has one, else WebPKI
//! validation against the system roots plus the CAs trusted for it, loaded on first need.

use super::{certificates_in, fingerprint, key, PinMismatch, Pins};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use std::sync::{Arc, OnceLock};

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
