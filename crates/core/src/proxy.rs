//! Which proxy a request goes through: the usual environment variables (`HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, lower or upper case), read once, with loopback hosts
//! (`localhost`, 127.0.0.0/8, `::1`) always reached directly. The HTTP client and the certificate
//! probe of `tenant trust` use the same rules, so what is trusted is what requests will meet.

use std::net::IpAddr;
use url::{Host, Url};

/// Proxy settings of the process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyRules {
    https: Option<Url>,
    http: Option<Url>,
    /// `NO_PROXY` entries, lowercase, without leading dots.
    no_proxy: Vec<String>,
    no_proxy_all: bool,
}

fn var(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A proxy address as given: `host:port` alone means `http://host:port`.
fn proxy_url(raw: &str) -> Option<Url> {
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("http://{raw}")
    };
    Url::parse(&with_scheme).ok().filter(|u| u.host().is_some())
}

impl ProxyRules {
    /// From the environment.
    pub fn from_env() -> ProxyRules {
        let all = var(&["all_proxy", "ALL_PROXY"]);
        ProxyRules::new(
            var(&["https_proxy", "HTTPS_PROXY"]).or_else(|| all.clone()),
            var(&["http_proxy", "HTTP_PROXY"]).or(all),
            var(&["no_proxy", "NO_PROXY"]),
        )
    }

    /// From the values of `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`.
    pub fn new(https: Option<String>, http: Option<String>, no_proxy: Option<String>) -> Self {
        let list: Vec<String> = no_proxy
            .unwrap_or_default()
            .split(',')
            .map(|e| {
                e.trim()
                    .trim_start_matches("*.")
                    .trim_start_matches('.')
                    .to_ascii_lowercase()
            })
            .filter(|e| !e.is_empty())
            .collect();
        ProxyRules {
            https: https.as_deref().and_then(proxy_url),
            http: http.as_deref().and_then(proxy_url),
            no_proxy_all: list.iter().any(|e| e == "*"),
            no_proxy: list,
        }
    }

    /// The proxy for a request to `target`, or `None` to connect directly.
    pub fn for_url(&self, target: &Url) -> Option<&Url> {
        let proxy = match target.scheme() {
            "https" => self.https.as_ref(),
            "http" => self.http.as_ref(),
            _ => None,
        }?;
        if self.no_proxy_all || is_loopback(target) {
            return None;
        }
        let host = target
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = target.port_or_known_default();
        let excluded = self.no_proxy.iter().any(|entry| {
            let (name, entry_port) = match entry.rsplit_once(':') {
                Some((n, p)) if p.chars().all(|c| c.is_ascii_digit()) && !n.contains(':') => {
                    (n, p.parse::<u16>().ok())
                }
                _ => (entry.as_str(), None),
            };
            let name = name.trim_start_matches('[').trim_end_matches(']');
            entry_port.is_none_or(|p| Some(p) == port)
                && (host == name || host.ends_with(&format!(".{name}")))
        });
        (!excluded).then_some(proxy)
    }
}

/// `localhost`, 127.0.0.0/8 and `::1`.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A proxy address for messages: scheme, host and port, never the credentials.
pub fn shown(proxy: &Url) -> String {
    proxy.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_is_always_direct_and_no_proxy_is_honoured() {
        let rules = ProxyRules::new(
            Some("proxy.corp:3128".into()),
            Some("http://user:pw@proxy.corp:8080".into()),
            Some(" .internal.example, vbm.example:4443 ,*.svc.local".into()),
        );
        let p = |s: &str| rules.for_url(&u(s)).map(|p| p.to_string());
        assert_eq!(
            p("https://vbm.example:443/"),
            Some("http://proxy.corp:3128/".into())
        );
        assert_eq!(
            p("http://login.example/"),
            Some("http://user:pw@proxy.corp:8080/".into())
        );
        for direct in [
            "https://127.0.0.1:4443/",
            "http://127.9.9.9/",
            "https://[::1]:4443/",
            "https://localhost:4443/",
            "https://a.internal.example/",
            "https://internal.example/",
            "https://vbm.example:4443/",
            "https://x.svc.local/",
        ] {
            assert_eq!(p(direct), None, "{direct}");
        }
        assert_eq!(
            shown(&u("http://user:pw@proxy.corp:8080")),
            "http://proxy.corp:8080"
        );
        let none = ProxyRules::new(Some("http://p:1".into()), None, Some("*".into()));
        assert_eq!(none.for_url(&u("https://vbm.example/")), None);
        assert_eq!(
            ProxyRules::default().for_url(&u("https://vbm.example/")),
            None
        );
    }
}
