//! Authenticated requests to a tenant's VBM365 REST API (`vbm365-auth api`): the request goes
//! only to the tenant's own server (relative paths are resolved against it and its API version; an
//! absolute URL must have the same origin), over the process's TLS client with the server's pins
//! or CAs, with a token valid for at least `min_valid`. A 401 forces one refresh and one retry,
//! never more. Paging follows VBM365's `offset`/`limit` pages and their `_links.next`.

use super::*;
use crate::http::{Exchange, Reply};
use crate::text;
use reqwest::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST};
use serde_json::Value;

/// Largest reply body accepted from the REST API (a page of 10,000 items fits).
pub const MAX_API_BODY: usize = 256 * 1024 * 1024;
/// One request of `vbm365-auth api`.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// HTTP method, e.g. `GET` (any case; `GET` when empty).
    pub method: String,
    /// A path (`Organizations`, `/v8/Jobs?limit=5`) or a URL on the tenant's server.
    pub target: String,
    /// Query parameters added to the target's own.
    pub query: Vec<(String, String)>,
    /// Extra request headers (`Authorization` and `Host` are the engine's).
    pub headers: Vec<(String, String)>,
    /// A JSON body.
    pub body: Option<Vec<u8>>,
    /// Follow the pages of a collection and return their items as one JSON array.
    pub paginate: bool,
    /// Refresh first when the token has less than this left.
    pub min_valid: Duration,
}

/// The outcome of [`Engine::api`]: the server's reply (for `paginate`, the last page's status and
/// headers with every page's items as the body).
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// The tenant the request was made for.
    pub tenant: String,
    /// The URL of the (last) request.
    pub url: String,
    /// HTTP status of the (last) reply.
    pub status: u16,
    /// Its headers, in order, values made safe to show.
    pub headers: Vec<(String, String)>,
    /// The body as received, or the JSON array of every page's items.
    pub body: Vec<u8>,
    /// Pages requested (1 without paging).
    pub pages: usize,
    /// The certificate the server presented for the (last) reply (DER), when known.
    pub peer_certificate: Option<Vec<u8>>,
    /// For a reply that is not 2xx: the server's own message (`RESTExceptionInfo`), the token
    /// redacted, or a summary of the body.
    pub error_message: Option<String>,
}

impl ApiResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The state of one `api` call: the token in use and whether the one forced refresh was spent.
pub(super) struct Call<'a> {
    engine: &'a Engine,
    tenant: String,
    token: VbmAccessToken,
    used: Vec<VbmAccessToken>,
    refreshed: bool,
    method: reqwest::Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
}

impl Engine {
    /// Sends `req` to the tenant's VBM365 server with its access token (see the module doc).
    /// An HTTP error is an `Ok` response that is not a success; `Err` is everything else (no
    /// token, sign-in required, TLS refused, network, bad input).
    pub async fn api(&self, name: Option<&str>, req: &ApiRequest) -> Result<ApiResponse> {
        let method = method(&req.method)?;
        let headers = headers(&req.headers, req.body.is_some())?;
        let cfg = self.config()?;
        let profile = cfg.resolve(name)?.clone();
        let url = target_url(&profile, &req.target, &req.query)?;
        // The HTTP client (TLS set-up reads the system's CAs) is built on another thread while
        // the token is read (a keyring call waits on D-Bus): both at once.
        let warm = self.clients.get().is_none().then(|| {
            let timeouts = self.timeouts;
            tokio::task::spawn_blocking(move || Http::new(timeouts, &[]))
        });
        let token = self.token(Some(&profile.name), req.min_valid).await;
        if let Some(w) = warm {
            if let Ok(Ok(http)) = w.await {
                self.adopt(http)?;
            }
        }
        self.api_with(&profile, token?, url, method, headers, req)
            .await
    }

    /// Takes `http` as the engine's client unless one was set up meanwhile.
    fn adopt(&self, http: Http) -> Result<()> {
        if self.clients.get().is_none() {
            apply_trust(&http, &self.store.load()?);
            let _ = self.clients.set(Clients {
                ms: IdentityClient::new(http.clone()),
                vbm: VbmClient::new(http.clone()),
                http,
            });
        }
        Ok(())
    }

    /// [`Engine::api`] with the tenant, its token and the request's parts already checked.
    pub(super) async fn api_with(
        &self,
        profile: &TenantProfile,
        token: AccessToken,
        url: Url,
        method: reqwest::Method,
        headers: Vec<(HeaderName, HeaderValue)>,
        req: &ApiRequest,
    ) -> Result<ApiResponse> {
        let mut call = Call {
            engine: self,
            tenant: profile.name.clone(),
            used: vec![token.access_token.clone()],
            token: token.access_token,
            refreshed: false,
            method,
            headers,
            body: req.body.clone(),
        };
        if !req.paginate {
            let ex = call.send(&url).await?;
            return Ok(call.response(&url, ex, None, 1));
        }
        super::paging::paginate(&mut call, profile, url).await
    }
}

impl Call<'_> {
    /// One request; on a 401, one forced refresh and one retry for the whole call.
    pub(super) async fn send(&mut self, url: &Url) -> Result<Exchange> {
        let first = self.once(url).await?;
        if first.reply.status != 401 || self.refreshed {
            return Ok(first);
        }
        self.refreshed = true;
        let renewed = self.engine.refresh(Some(&self.tenant)).await?;
        self.token = renewed.access_token;
        self.used.push(self.token.clone());
        self.once(url).await
    }

    async fn once(&self, url: &Url) -> Result<Exchange> {
        let http = &self.engine.clients()?.http;
        let mut b = http
            .builder(self.method.clone(), url)?
            .bearer_auth(self.token.expose());
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        if let Some(body) = &self.body {
            b = b.body(body.clone());
        }
        http.exchange(url, b, MAX_API_BODY).await
    }

    /// The response to hand out: `reply` with `body` in place of its own when given.
    pub(super) fn response(
        &self,
        url: &Url,
        ex: Exchange,
        body: Option<Vec<u8>>,
        pages: usize,
    ) -> ApiResponse {
        let Exchange {
            reply,
            peer_certificate,
        } = ex;
        let secrets: Vec<&str> = self.used.iter().map(|t| t.expose()).collect();
        let ok = (200..300).contains(&reply.status);
        let error_message = (!ok).then(|| error_message(&reply, &secrets));
        ApiResponse {
            tenant: self.tenant.clone(),
            url: url.to_string(),
            status: reply.status,
            headers: reply
                .headers
                .iter()
                .map(|(k, v)| {
                    let v = String::from_utf8_lossy(v.as_bytes());
                    (
                        k.to_string(),
                        text::shown(&text::redact(&v, &secrets), 2000),
                    )
                })
                .collect(),
            error_message,
            body: body.unwrap_or(reply.body),
            pages,
            peer_certificate,
        }
    }
}

/// The server's `RESTExceptionInfo` message (or OAuth-style text), else a summary of the reply.
fn error_message(reply: &Reply, secrets: &[&str]) -> String {
    let own = serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|v| {
            ["message", "error_description", "error"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
        });
    match own {
        Some(m) => text::shown(&text::redact(&m, secrets), text::MAX_SHOWN),
        None => crate::http::describe_non_json(reply),
    }
}

pub(super) fn method(m: &str) -> Result<reqwest::Method> {
    let m = m.trim().to_ascii_uppercase();
    if m.is_empty() {
        return Ok(reqwest::Method::GET);
    }
    if !m.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(Error::InvalidInput(format!(
            "'{}' is not an HTTP method (e.g. GET, POST, PUT, PATCH, DELETE)",
            text::shown(&m, 40)
        )));
    }
    reqwest::Method::from_bytes(m.as_bytes())
        .map_err(|_| Error::InvalidInput(format!("'{m}' is not an HTTP method")))
}

/// The request's headers: the caller's (checked), plus `Accept` and, with a body,
/// `Content-Type: application/json` unless given.
pub(super) fn headers(
    given: &[(String, String)],
    has_body: bool,
) -> Result<Vec<(HeaderName, HeaderValue)>> {
    let mut out = Vec::new();
    for (k, v) in given {
        let name = HeaderName::from_bytes(k.trim().as_bytes()).map_err(|_| {
            Error::InvalidInput(format!(
                "'{}' is not a valid header name",
                text::shown(k, 80)
            ))
        })?;
        if name == AUTHORIZATION || name == HOST {
            return Err(Error::InvalidInput(format!(
                "the {name} header is set by vbm365-auth (the tenant's token and server); leave it out"
            )));
        }
        let value = HeaderValue::from_str(v.trim()).map_err(|_| {
            Error::InvalidInput(format!(
                "the value of header '{name}' has characters a header cannot carry"
            ))
        })?;
        out.push((name, value));
    }
    let has = |out: &[(HeaderName, HeaderValue)], n: &HeaderName| out.iter().any(|(k, _)| k == n);
    if !has(&out, &ACCEPT) {
        out.push((ACCEPT, HeaderValue::from_static("application/json")));
    }
    if has_body && !has(&out, &CONTENT_TYPE) {
        out.push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
    }
    Ok(out)
}

/// The URL of `target` on the tenant's server: a path relative to the server and its API version
/// (`Jobs` → `/v8/Jobs`, `/v7/Jobs` as given), or a URL of the same origin; plus `query`.
pub fn target_url(
    profile: &TenantProfile,
    target: &str,
    query: &[(String, String)],
) -> Result<Url> {
    let target = target.trim();
    if target.is_empty() || target.chars().any(|c| c.is_control() || c == ' ') {
        return Err(Error::InvalidInput(
            "give the API path (e.g. Organizations or /v8/Jobs) or a URL on the tenant's server, without spaces".into(),
        ));
    }
    let mut url = if target.contains("://") {
        let u = Url::parse(target).map_err(|e| {
            Error::InvalidInput(format!("'{}' is not a URL: {e}", text::shown(target, 200)))
        })?;
        same_origin(profile, u)?
    } else {
        let path = target.trim_start_matches('/');
        let first = path.split(['/', '?']).next().unwrap_or_default();
        let versioned = first.len() > 1
            && first[..1].eq_ignore_ascii_case("v")
            && first[1..].bytes().all(|b| b.is_ascii_digit());
        let path = if versioned {
            path.to_string()
        } else {
            format!("{}/{path}", profile.api_version.as_str())
        };
        profile
            .server
            .join(&path)
            .map_err(|e| Error::InvalidInput(format!("bad API path '{path}': {e}")))?
    };
    url.set_fragment(None);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

/// `u` if it is on the tenant's server (scheme, host and port); the token goes nowhere else.
pub(super) fn same_origin(profile: &TenantProfile, u: Url) -> Result<Url> {
    if u.origin() == profile.server.origin() {
        return Ok(u);
    }
    Err(Error::InvalidInput(format!(
        "{} is not on the server of tenant '{}' ({}); vbm365-auth sends its token only there",
        crate::http::origin(&u),
        profile.name,
        crate::http::origin(&profile.server)
    )))
}

#[cfg(test)]
mod tests {
    use super::super::paging::next_page;
    use super::*;
    use crate::config::ApiVersion;

    fn profile(server: &str, v: ApiVersion) -> TenantProfile {
        let mut p = TenantProfile::new("a.onmicrosoft.com", server).unwrap();
        p.api_version = v;
        p
    }

    #[test]
    fn targets_resolve_on_the_tenants_server_only() {
        let p = profile("https://vbm.example:4443", ApiVersion::V8);
        let q = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        let cases = [
            (
                "Organizations",
                vec![],
                "https://vbm.example:4443/v8/Organizations",
            ),
            (
                "/Jobs?limit=5",
                q("offset", "10"),
                "https://vbm.example:4443/v8/Jobs?limit=5&offset=10",
            ),
            ("/v7/Jobs", vec![], "https://vbm.example:4443/v7/Jobs"),
            (
                "V6/ServiceInstance",
                vec![],
                "https://vbm.example:4443/V6/ServiceInstance",
            ),
            (
                "https://VBM.example:4443/v8/Jobs#x",
                vec![],
                "https://vbm.example:4443/v8/Jobs",
            ),
            ("vm/x", vec![], "https://vbm.example:4443/v8/vm/x"),
        ];
        for (target, query, want) in cases {
            assert_eq!(
                target_url(&p, target, &query).unwrap().as_str(),
                want,
                "{target}"
            );
        }
        for bad in [
            "https://evil.example:4443/v8/Jobs",
            "https://vbm.example:4444/v8/Jobs",
            "http://vbm.example:4443/v8/Jobs",
            "",
            "Jobs x",
            "Jobs\n?x=1",
        ] {
            let e = target_url(&p, bad, &[]).unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{bad:?}");
        }
        let e = target_url(&p, "https://evil.example/v8/Jobs", &[]).unwrap_err();
        assert!(e.to_string().contains("sends its token only there"), "{e}");
    }

    #[test]
    fn methods_and_headers_are_checked() {
        assert_eq!(method("").unwrap(), reqwest::Method::GET);
        assert_eq!(method("patch").unwrap(), reqwest::Method::PATCH);
        assert!(method("GET /x").is_err());
        let h = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        for bad in [
            h("Authorization", "Bearer x"),
            h("host", "x"),
            h("bad name", "x"),
            h("X-A", "a\nb"),
        ] {
            assert_eq!(
                headers(&bad, false).unwrap_err().code(),
                "invalid_input",
                "{bad:?}"
            );
        }
        let out = headers(&h("Accept", "text/csv"), true).unwrap();
        let names: Vec<_> = out
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            ["accept: text/csv", "content-type: application/json"]
        );
    }

    #[test]
    fn the_next_page_comes_from_links_or_from_a_full_page() {
        let p = profile("https://vbm.example:4443", ApiVersion::V8);
        let url = Url::parse("https://vbm.example:4443/v8/Jobs?limit=2").unwrap();
        let page = |v: Value| v.as_object().unwrap().clone();
        let linked = page(serde_json::json!({"offset":0,"limit":2,"results":[1,2],
            "_links":{"self":{"href":"/v8/Jobs?offset=0&limit=2"},"next":{"href":"/v8/Jobs?offset=2&limit=2"}}}));
        assert_eq!(
            next_page(&p, &url, &linked).unwrap().unwrap().as_str(),
            "https://vbm.example:4443/v8/Jobs?offset=2&limit=2"
        );
        let last = page(
            serde_json::json!({"offset":2,"limit":2,"results":[3],"_links":{"self":{"href":"/v8/Jobs"}}}),
        );
        assert_eq!(next_page(&p, &url, &last).unwrap(), None);
        let bare = page(serde_json::json!({"offset":0,"limit":2,"results":[1,2]}));
        assert_eq!(
            next_page(&p, &url, &bare).unwrap().unwrap().as_str(),
            "https://vbm.example:4443/v8/Jobs?offset=2&limit=2"
        );
        let short = page(serde_json::json!({"offset":0,"limit":2,"results":[1]}));
        assert_eq!(next_page(&p, &url, &short).unwrap(), None);
        let elsewhere = page(serde_json::json!({"offset":0,"limit":2,"results":[1,2],
            "_links":{"next":{"href":"https://evil.example/v8/Jobs?offset=2"}}}));
        assert_eq!(
            next_page(&p, &url, &elsewhere).unwrap_err().code(),
            "invalid_input"
        );
    }
}
