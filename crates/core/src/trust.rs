//! Trust on first use: fetch a server's certificate to show its SHA-256 fingerprint to the user,
//! who then pins it; or check that the server's chain verifies against a certificate authority the
//! user gives before trusting that CA for it. The probe completes a TLS handshake and closes the
//! connection without sending a single byte of application data, so nothing is ever exchanged
//! with an unverified server (through a proxy, only the `CONNECT` request the proxy needs). The
//! probe goes through the same proxy as real requests ([`crate::proxy`]).

use crate::error::{Error, Result};
use crate::http::Http;
use crate::tls::fingerprint;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

/// What the probe saw.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateInfo {
    /// `host:port` the pin is saved under.
    pub host_port: String,
    /// Lowercase hex SHA-256 of the leaf certificate (DER).
    pub sha256: String,
    /// True when the system roots already vouch for the certificate (no pin needed).
    pub system_trusted: bool,
    /// True when a certificate authority the user trusts for this `host:port` vouches for it
    /// (no pin needed either).
    pub ca_trusted: bool,
}

/// Records the chain instead of judging it; the caller judges with the real verifier afterwards.
#[derive(Debug)]
struct Capture {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.chain.lock().unwrap_or_else(|e| e.into_inner()) = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The certificate chain a server presented, with the name it was asked for.
struct Presented {
    name: ServerName<'static>,
    chain: Vec<CertificateDer<'static>>,
}

impl Presented {
    fn leaf(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }
}

/// Connects to `server` (https) and returns its certificate fingerprint.
pub async fn probe(http: &Http, server: &Url) -> Result<CertificateInfo> {
    let p = fetch_chain(http, server).await?;
    let system_trusted = http
        .verifier()
        .system_trusts(p.leaf(), &p.chain[1..], &p.name)
        .is_ok();
    let host = server.host_str().unwrap_or_default();
    let port = server.port_or_known_default().unwrap_or(443);
    let ca_trusted = http.pins().cas(host, port).is_some_and(|cas| {
        http.verifier()
            .cas_trust(&cas, p.leaf(), &p.chain[1..], &p.name)
            .is_ok()
    });
    Ok(CertificateInfo {
        host_port: crate::validate::host_port(server),
        sha256: fingerprint(p.leaf()),
        system_trusted,
        ca_trusted,
    })
}

/// Connects to `server` (https) and checks that its chain verifies against the system roots plus
/// `cas` (`file` names them in the error). Returns the leaf's fingerprint.
pub async fn verify_against_cas(
    http: &Http,
    server: &Url,
    cas: &[CertificateDer<'static>],
    file: &str,
) -> Result<String> {
    let p = fetch_chain(http, server).await?;
    http.verifier()
        .cas_trust(cas, p.leaf(), &p.chain[1..], &p.name)
        .map_err(|e| Error::NotIssuedByCa {
            host: crate::validate::host_port(server),
            file: file.to_string(),
            detail: match e {
                rustls::Error::InvalidCertificate(c) => format!("{c:?}"),
                other => other.to_string(),
            },
        })?;
    Ok(fingerprint(p.leaf()))
}

/// Opens a tunnel to `host:port` through an HTTP proxy (`CONNECT`, RFC 9110 §9.3.6), with basic
/// credentials when the proxy URL carries them.
async fn tunnel(proxy: &Url, host: &str, port: u16) -> std::io::Result<tokio::net::TcpStream> {
    let proxy_host = proxy
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let proxy_port = proxy.port_or_known_default().unwrap_or(8080);
    let mut tcp = tokio::net::TcpStream::connect((proxy_host.as_str(), proxy_port)).await?;
    let mut request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if !proxy.username().is_empty() {
        use base64::Engine as _;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = decode(proxy.username());
        let pass = decode(proxy.password().unwrap_or_default());
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        request.push_str(&format!("Proxy-Authorization: Basic {creds}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await?;
    // Read the proxy's answer head byte by byte: nothing past it may be consumed (the TLS
    // handshake follows on the same stream).
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(std::io::Error::other("the proxy's answer is too long"));
        }
        let mut byte = [0u8; 1];
        if tcp.read(&mut byte).await? == 0 {
            return Err(std::io::Error::other("the proxy closed the connection"));
        }
        head.push(byte[0]);
    }
    let status_line = String::from_utf8_lossy(&head);
    let status_line = status_line.lines().next().unwrap_or_default();
    let status = status_line.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        return Err(std::io::Error::other(format!(
            "the proxy refused the tunnel ({})",
            crate::text::shown(status_line, 120)
        )));
    }
    Ok(tcp)
}

async fn fetch_chain(http: &Http, server: &Url) -> Result<Presented> {
    let host = server
        .host_str()
        .ok_or_else(|| Error::InvalidInput("the server URL has no host".into()))?;
    let port = server.port_or_known_default().unwrap_or(443);
    let origin = crate::http::origin(server);
    if server.scheme() != "https" {
        return Err(Error::InvalidInput(format!(
            "{origin} does not use TLS: there is no certificate to trust"
        )));
    }
    let (config, capture) = capturing_config(http)?;
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(bare_host.to_string())
        .map_err(|e| Error::InvalidInput(format!("bad host name {host}: {e}")))?;
    let timeout = http.timeouts().connect;
    let net = |detail: String| Error::Network {
        url: origin.clone(),
        detail,
    };
    let handshake = async {
        let tcp = connect(http, server, host, port).await.map_err(&net)?;
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name.clone(), tcp)
            .await
            .map_err(|e| net(format!("TLS handshake failed: {e}")))?;
        let _ = tls.shutdown().await;
        Ok::<_, Error>(())
    };
    tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| Error::Timeout {
            url: origin.clone(),
            after: timeout,
        })??;
    let chain = capture
        .chain
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if chain.is_empty() {
        return Err(net("the server sent no certificate".into()));
    }
    Ok(Presented { name, chain })
}

/// A TLS client configuration that records the chain the server presents instead of judging it.
fn capturing_config(http: &Http) -> Result<(rustls::ClientConfig, Arc<Capture>)> {
    let provider = http.verifier().provider();
    let capture = Arc::new(Capture {
        chain: Mutex::new(Vec::new()),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // Not the user's input: this machine cannot set up TLS (as in `Http::new`).
        .map_err(|e| Error::Io {
            path: "TLS client".into(),
            source: std::io::Error::other(format!("TLS setup failed: {e}")),
        })?
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    Ok((config, capture))
}

/// A TCP connection to the server: directly, or through the proxy its URL is routed to.
async fn connect(
    http: &Http,
    server: &Url,
    host: &str,
    port: u16,
) -> std::result::Result<tokio::net::TcpStream, String> {
    match http.proxy().for_url(server) {
        None => {
            let bare_host = host.trim_start_matches('[').trim_end_matches(']');
            tokio::net::TcpStream::connect((bare_host, port))
                .await
                .map_err(|e| e.to_string())
        }
        Some(p) => tunnel(p, host, port)
            .await
            .map_err(|e| format!("through the proxy {}: {e}", crate::proxy::shown(p))),
    }
}
