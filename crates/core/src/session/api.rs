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

/// Largest reply body accepted from the REST API, per request (a page of 10,000 items fits); the
/// pages `--paginate` gathers are bounded together by [`super::paging::MAX_PAGINATED_BYTES`].
pub const MAX_API_BODY: usize = 64 * 1024 * 1024;
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
    /// When `token` expires (the renewed one's expiry after the forced refresh).
    expires_at: DateTime<Utc>,
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
        let mut call = Call::new(self, profile, token, method, headers, req.body.clone());
        if !req.paginate {
            let ex = call.send(&url).await?;
            return Ok(call.response(&url, ex, None, 1));
        }
        super::paging::paginate(&mut call, profile, url).await
    }
}

impl<'a> Call<'a> {
    /// A call for `profile` starting with `token`.
    pub(super) fn new(
        engine: &'a Engine,
        profile: &TenantProfile,
        token: AccessToken,
        method: reqwest::Method,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Option<Vec<u8>>,
    ) -> Self {
        Call {
            engine,
            tenant: profile.name.clone(),
            used: vec![token.access_token.clone()],
            token: token.access_token,
            expires_at: token.expires_at,
            refreshed: false,
            method,
            headers,
            body,
        }
    }

    /// A call of `GET`s accepting JSON, for several requests that share one token and one forced
    /// refresh (`status --check`).
    pub(super) fn gets(engine: &'a Engine, profile: &TenantProfile, token: AccessToken) -> Self {
        let accept = (ACCEPT, HeaderValue::from_static("application/json"));
        Call::new(
            engine,
            profile,
            token,
            reqwest::Method::GET,
            vec![accept],
            None,
        )
    }

    /// When the token in use expires.
    pub(super) fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// One request; on a 401, one forced refresh and one retry for the whole call.
    pub(super) async fn send(&mut self, url: &Url) -> Result<Exchange> {
        let first = self.once(url).await?;
        if first.reply.status != 401 || self.refreshed {
            return Ok(first);
        }
        self.refreshed = true;
        let renewed = self.engine.refresh(Some(&self.tenant)).await?;
        self.token = renewed.access_token;
        self.expires_at = renewed.expires_at;
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

/// The server's `RESTExceptionInfo` message (or OAuth-style text), else a summary of the reply;
/// for a redirect, where it points (redirects are never followed: the token goes to the tenant's
/// server only).
fn error_message(reply: &Reply, secrets: &[&str]) -> String {
    if (300..400).contains(&reply.status) {
        let to = reply
            .headers
            .get(reqwest::header::LOCATION)
            .map(|v| {
                text::shown(
                    &text::redact(&String::from_utf8_lossy(v.as_bytes()), secrets),
                    200,
                )
            })
            .unwrap_or_else(|| "nowhere (no Location)".into());
        return format!(
            "a redirect to {to}, which vbm365-auth does not follow (it sends the tenant's token to the tenant's server only)"
        );
    }
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
        // `v` and digits only (`v8`, `V6`); checked by characters, as a path may begin with any.
        let versioned = first
            .strip_prefix(['v', 'V'])
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
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
mod tests;
