//! The VBM365 emulator's certificate (self-signed, or issued by a private CA made at start) and its
//! rustls configuration.

use chrono::{Datelike, Duration as ChronoDuration, Utc};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use sha2::{Digest, Sha256};
use std::io;
use std::sync::Arc;

/// A certificate made at start for `localhost` and `127.0.0.1`, with the server config using it.
pub(crate) struct ServerCert {
    /// DER of the certificate.
    pub der: Vec<u8>,
    /// Lowercase hex SHA-256 of [`Self::der`].
    pub sha256: String,
    /// rustls configuration with the ring provider, offering h2 and http/1.1.
    pub config: Arc<ServerConfig>,
    /// PEM of the CA that issued the certificate, when it is not self-signed.
    pub ca_pem: Option<String>,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("TLS setup: {e}"))
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "VBM365 Auth emulator");
    dn
}

/// Valid from yesterday for a year, like a newly installed server's certificate.
fn validity(params: &mut CertificateParams) {
    let from = Utc::now() - ChronoDuration::days(1);
    let to = from + ChronoDuration::days(366);
    params.not_before = date_time_ymd(from.year(), from.month() as u8, from.day() as u8);
    params.not_after = date_time_ymd(to.year(), to.month() as u8, to.day() as u8);
}

/// Makes a fresh certificate for `localhost` and `127.0.0.1` (self-signed, or issued by a new
/// private CA when `ca_issued`) and a rustls server configuration for it.
pub(crate) fn make(ca_issued: bool) -> io::Result<ServerCert> {
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .map_err(other)?;
    params.distinguished_name = name("Veeam Backup for Microsoft 365 REST API (emulator)");
    validity(&mut params);

    let key = KeyPair::generate().map_err(other)?;
    let (cert, ca_pem) = if ca_issued {
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
        ca.distinguished_name = name("VBM365 Auth emulator private CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut ca);
        let ca_key = KeyPair::generate().map_err(other)?;
        let ca_cert = ca.self_signed(&ca_key).map_err(other)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &ca_cert, &ca_key).map_err(other)?;
        (cert, Some(ca_cert.pem()))
    } else {
        (params.self_signed(&key).map_err(other)?, None)
    };
    let der = cert.der().to_vec();
    let sha256 = hex::encode(Sha256::digest(&der));

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(other)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ServerCert {
        der,
        sha256,
        config: Arc::new(config),
        ca_pem,
    })
}
