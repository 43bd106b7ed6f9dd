//! The HTTP client of a process: rustls with [`PinningVerifier`], timeouts on every request, no
//! redirects (token endpoints must not be bounced elsewhere), proxies as [`ProxyRules`] say
//! (loopback always direct), and reply bodies read with a size cap. Pins are per `host:port` and a
//! TLS verifier only learns the host, so there is one client per port, built on first use and kept
//! for the life of the process (connections are pooled within it).

use crate::error::{Error, Result};
use crate::proxy::{self, ProxyRules};
use crate::secret::VbmAccessToken;
use crate::tls::{self, PinningVerifier, Pins};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

mod reply;

pub use reply::{describe_non_json, Exchange, Reply};

/// Largest reply body accepted. Token responses are a few KiB; anything bigger is not a token reply.
pub const MAX_BODY: usize = 1024 * 1024;

/// Longest request timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// Timeouts of the client.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Longest wait for a connection to be set up: 10 s by default, never more than `request`. The
    /// certificate probe's whole handshake has this limit too.
    pub connect: Duration,
    /// Longest time for a whole request, reply body included: 30 s by default,
    /// `VBM365_AUTH_HTTP_TIMEOUT` seconds when set.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    /// Defaults, overridable by `VBM365_AUTH_HTTP_TIMEOUT` (seconds, for slow links and tests;
    /// more than 0 and at most one hour).
    pub fn from_env() -> Result<Self> {
        match std::env::var("VBM365_AUTH_HTTP_TIMEOUT") {
            Err(_) => Ok(Timeouts::default()),
            Ok(v) => Timeouts::with_request_secs(&v),
        }
    }

    /// The defaults with a request timeout of `secs` seconds (a decimal number in `(0, 3600]`).
    pub fn with_request_secs(secs: &str) -> Result<Self> {
        let request = crate::failure::parse_seconds(secs, MAX_TIMEOUT)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "VBM365_AUTH_HTTP_TIMEOUT={}: give a number of seconds above 0 and at most {}",
                    secs.trim(),
                    MAX_TIMEOUT.as_secs()
                ))
            })?;
        let d = Timeouts::default();
        Ok(Timeouts {
            request,
            connect: d.connect.min(request),
        })
    }
}

/// Process-wide HTTP client with certificate pins.
#[derive(Debug, Clone)]
pub struct Http {
    /// One client per port (see the module doc).
    clients: Arc<Mutex<HashMap<u16, reqwest::Client>>>,
    pins: Arc<Pins>,
    verifier: Arc<PinningVerifier>,
    timeouts: Timeouts,
    proxy: Arc<ProxyRules>,
}

impl Http {
    /// A client with the proxy settings of the environment.
    pub fn new(timeouts: Timeouts, extra_ca_pem: &[Vec<u8>]) -> Result<Self> {
        Http::with_proxy(timeouts, extra_ca_pem, ProxyRules::from_env())
    }

    /// A client with these proxy settings.
    pub fn with_proxy(
        timeouts: Timeouts,
        extra_ca_pem: &[Vec<u8>],
        proxy: ProxyRules,
    ) -> Result<Self> {
        let pins = Arc::new(Pins::default());
        let verifier = Arc::new(PinningVerifier::new(pins.clone(), extra_ca_pem));
        let http = Http {
            clients: Arc::default(),
            pins,
            verifier,
            timeouts,
            proxy: Arc::new(proxy),
        };
        // Fail now, not at the first request, if this machine cannot set up TLS at all.
        http.build_client(443)?;
        Ok(http)
    }

    fn build_client(&self, port: u16) -> Result<reqwest::Client> {
        let setup = |e: String| Error::Io {
            path: "TLS/HTTP client".into(),
            source: std::io::Error::other(e),
        };
        let tls = rustls::ClientConfig::builder_with_provider(self.verifier.provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(format!("TLS setup failed: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(self.verifier.for_port(port)))
            .with_no_client_auth();
        let rules = self.proxy.clone();
        reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .proxy(reqwest::Proxy::custom(move |url| {
                rules.for_url(url).cloned()
            }))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.timeouts.connect)
            .timeout(self.timeouts.request)
            .pool_idle_timeout(Duration::from_secs(30))
            .tls_info(true)
            .user_agent(concat!("vbm365-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| setup(format!("HTTP client setup failed: {e}")))
    }

    /// The client for `url`'s port.
    fn client(&self, url: &Url) -> Result<reqwest::Client> {
        let port = url.port_or_known_default().unwrap_or(443);
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&port) {
            return Ok(c.clone());
        }
        let c = self.build_client(port)?;
        clients.insert(port, c.clone());
        Ok(c)
    }

    /// The proxy rules requests follow.
    pub fn proxy(&self) -> &ProxyRules {
        &self.proxy
    }

    /// The pins and trusted CAs every port's client checks; a change applies from the next TLS
    /// handshake.
    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    /// The TLS verifier every port's client is made from ([`PinningVerifier::for_port`]).
    pub fn verifier(&self) -> &Arc<PinningVerifier> {
        &self.verifier
    }

    /// The timeouts of every request.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// POSTs an `application/x-www-form-urlencoded` body, optionally with a bearer token.
    pub async fn post_form(
        &self,
        url: &Url,
        fields: &[(&str, &str)],
        bearer: Option<&VbmAccessToken>,
    ) -> Result<Reply> {
        let body = form_body(fields);
        let mut req = self
            .client(url)?
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token.expose());
        }
        self.send(url, req).await
    }

    /// GET with an optional bearer token.
    pub async fn get(&self, url: &Url, bearer: Option<&VbmAccessToken>) -> Result<Reply> {
        let mut req = self
            .client(url)?
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            req = req.bearer_auth(token.expose());
        }
        self.send(url, req).await
    }

    async fn send(&self, url: &Url, req: reqwest::RequestBuilder) -> Result<Reply> {
        Ok(self.exchange(url, req, MAX_BODY).await?.reply)
    }

    /// Any request to `url` (made with [`Http::builder`]): its reply with the body read up to
    /// `max_body` bytes (a longer one is an error), and the certificate the server presented.
    /// With debug logging on, a redacted trace of the request and its reply ([`crate::trace`]).
    pub async fn exchange(
        &self,
        url: &Url,
        req: reqwest::RequestBuilder,
        max_body: usize,
    ) -> Result<Exchange> {
        let (client, req) = req.build_split();
        let req = req.map_err(|e| self.map_err(url, e))?;
        let traced = crate::trace::request(&req);
        let started = std::time::Instant::now();
        let sent = client.execute(req).await;
        crate::trace::reply(traced.as_ref(), &sent, started.elapsed());
        let mut resp = sent.map_err(|e| self.map_err(url, e))?;
        let peer_certificate = resp
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|t| t.peer_certificate())
            .map(<[u8]>::to_vec);
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if resp.content_length().is_some_and(|n| n > max_body as u64) {
            return Err(too_large(url, max_body));
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > max_body {
                        return Err(too_large(url, max_body));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Err(self.map_err(url, e)),
                Err(e) => {
                    return Err(Error::BadResponse {
                        service: service_name(url),
                        detail: format!(
                            "the reply was cut off after {} bytes ({})",
                            body.len(),
                            innermost(&e)
                        ),
                    })
                }
            }
        }
        Ok(Exchange {
            reply: Reply {
                status,
                content_type,
                body,
                headers,
            },
            peer_certificate,
        })
    }

    /// A request to `url` on the client of its port, for [`Http::exchange`].
    pub fn builder(&self, method: reqwest::Method, url: &Url) -> Result<reqwest::RequestBuilder> {
        Ok(self.client(url)?.request(method, url.clone()))
    }

    fn map_err(&self, url: &Url, e: reqwest::Error) -> Error {
        let shown = origin(url);
        if let Some(tls) = tls::classify_tls_failure(&e, url.host_str().unwrap_or_default()) {
            return tls;
        }
        if e.is_timeout() {
            return Error::Timeout {
                url: shown,
                after: self.timeouts.request,
            };
        }
        let detail = match self.proxy.for_url(url) {
            Some(p) if e.is_connect() => {
                format!("through the proxy {}: {}", proxy::shown(p), innermost(&e))
            }
            _ => innermost(&e),
        };
        Error::Network { url: shown, detail }
    }
}

fn too_large(url: &Url, max_body: usize) -> Error {
    Error::BadResponse {
        service: service_name(url),
        detail: format!("the reply is larger than {} KiB", max_body / 1024),
    }
}

/// Scheme, host and port of a URL: what errors show of an address.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A label for error messages, told from the path (both services are reached through here).
fn service_name(url: &Url) -> &'static str {
    if url.path().contains("/oauth2/") {
        "the Microsoft identity platform"
    } else {
        "the VBM365 server"
    }
}

/// The deepest cause's message: "Connection refused (os error 111)" rather than a URL-laden chain.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    if cur
        .downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
    {
        // rustls words this for developers, with a link to its manual.
        return "the server closed the connection before the reply was complete".into();
    }
    cur.to_string()
}

/// `a=b&c=d` with form encoding (spaces as `+`, everything else percent-encoded as needed).
pub fn form_body(fields: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_is_exact() {
        assert_eq!(
            form_body(&[("a", "x y"), ("assertion", r#"{"k":"v&=+"}"#)]),
            "a=x+y&assertion=%7B%22k%22%3A%22v%26%3D%2B%22%7D"
        );
    }
}
