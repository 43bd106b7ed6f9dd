//! The loopback listener of the browser sign-in (RFC 8252 §7.3): it binds `127.0.0.1` on a port
//! the system picks, waits for the one redirect that carries the authorization response, answers
//! it with a small page that says the browser tab can be closed, and closes.
//!
//! - Only `GET /` with `state`, `code` or `error` in the query counts as the authorization
//!   response. Anything else (a favicon, a stray request, one that names another host in `Host`,
//!   as a web page rebinding a name to 127.0.0.1 would) gets a 404 or 400 and the wait goes on.
//! - The response must carry the `state` this sign-in sent: one that does not (another sign-in's,
//!   or one forged by a local web page that found the port) is refused with a page saying so and
//!   a warning in the log; nothing it carries is used, and the wait goes on for the real one, so
//!   a forged response cannot end the user's sign-in either.
//! - One authorization response is accepted; then the socket closes, so a second request finds
//!   nothing listening.
//! - The wait ends after `timeout` ([`Error::BrowserSignInTimedOut`]) or when its future is dropped
//!   (cancel); either way the socket closes.
//! - At most `MAX_READING` (16) connections are read at once; the others wait in the system's
//!   backlog until one is done, so idle connections cannot pile up. A failed `accept` (out of
//!   file descriptors, …) is tried again after `ACCEPT_BACKOFF` (100 ms), not at once.
//!
//! Portable: only tokio's TCP types, no platform call.

use crate::error::{Error, Result};
use crate::secret::AuthCode;
use futures::stream::{FuturesUnordered, StreamExt};
use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zeroize::{Zeroize, Zeroizing};

/// Longest request head read (request line and headers); Microsoft's codes are a few KB.
const MAX_HEAD: usize = 32 * 1024;
/// How long one connection may take to send its request head (a browser's idle preconnection
/// is simply dropped then).
const HEAD_WAIT: Duration = Duration::from_secs(30);
/// Connections read at the same time; further ones are accepted when one of these is done.
/// A browser opens a few; more than this is a local program holding connections open.
const MAX_READING: usize = 16;
/// Pause after a failed `accept` before the next one: the failure (no file descriptor left, no
/// memory) does not go away at once, and retrying immediately would spin the CPU.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What the browser brought back from Microsoft.
#[derive(Debug)]
pub enum AuthorizationResponse {
    /// `code`: the user approved.
    Code(AuthCode),
    /// `error` (`access_denied` when the user declined, …) with Microsoft's description.
    Error {
        /// The OAuth `error` as sent.
        error: String,
        /// `error_description`, if any (not yet made safe to show).
        description: Option<String>,
    },
}

/// A listener on `127.0.0.1:<random port>`, waiting for the browser.
#[derive(Debug)]
pub struct Listener {
    socket: TcpListener,
    port: u16,
}

impl Listener {
    /// Binds `127.0.0.1` on a port the system picks.
    pub async fn bind() -> Result<Listener> {
        let socket = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Error::io("the loopback address 127.0.0.1", e))?;
        let port = socket
            .local_addr()
            .map_err(|e| Error::io("the loopback address 127.0.0.1", e))?
            .port();
        Ok(Listener { socket, port })
    }

    /// The port the system picked.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://localhost:<port>`, exactly: the redirect URI Entra ID matches against the
    /// `http://localhost` a public client registers (only the port of a loopback redirect may
    /// vary; a path would not match).
    pub fn redirect_uri(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// Waits for the authorization response whose `state` is `state`, for at most `timeout`.
    /// Consumes the listener: when this returns (or its future is dropped) the socket is closed.
    pub async fn wait(self, state: &str, timeout: Duration) -> Result<AuthorizationResponse> {
        let Listener { socket, port } = self;
        let socket = &socket;
        let accept = move || async move { socket.accept().await.map(|(stream, _)| stream) };
        serve(accept, port, state, timeout).await
    }
}

/// The wait of [`Listener::wait`], with the socket's `accept` as a function.
async fn serve<A, F>(
    mut accept: A,
    port: u16,
    state: &str,
    timeout: Duration,
) -> Result<AuthorizationResponse>
where
    A: FnMut() -> F,
    F: Future<Output = std::io::Result<TcpStream>>,
{
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let backoff = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(backoff);
    let mut backing_off = false;
    let mut reading = FuturesUnordered::new();
    loop {
        tokio::select! {
            _ = &mut deadline => {
                return Err(Error::BrowserSignInTimedOut {
                    after: timeout,
                    restore_portal_app: None,
                })
            }
            () = &mut backoff, if backing_off => backing_off = false,
            accepted = accept(), if !backing_off && reading.len() < MAX_READING => match accepted {
                Ok(stream) => reading.push(read_head(stream)),
                Err(e) => {
                    tracing::debug!("the loopback listener could not accept a connection: {e}");
                    backoff
                        .as_mut()
                        .reset(tokio::time::Instant::now() + ACCEPT_BACKOFF);
                    backing_off = true;
                }
            },
            Some(read) = reading.next(), if !reading.is_empty() => {
                let Some((mut stream, mut head)) = read else { continue };
                match judge(&mut head, port, state) {
                    Verdict::Ignore(status, page) => respond(&mut stream, status, page).await,
                    Verdict::Mismatch => {
                        tracing::warn!(
                            "a sign-in response reached the loopback address with a state that is \
                             not this sign-in's; it was refused and not used, and the sign-in \
                             goes on waiting"
                        );
                        respond(&mut stream, "400 Bad Request", Page::Mismatch).await;
                    }
                    Verdict::Accept(answer) => {
                        let page = match answer {
                            AuthorizationResponse::Code(_) => Page::Done,
                            AuthorizationResponse::Error { .. } => Page::NotDone,
                        };
                        respond(&mut stream, "200 OK", page).await;
                        return Ok(answer);
                    }
                }
            }
        }
    }
}

/// A request head as it was read. The redirect's carries the authorization code, so it is wiped
/// once judged ([`judge`]) and again when dropped.
type Head = Zeroizing<Vec<u8>>;

/// Reads a request head (up to the blank line), within [`HEAD_WAIT`] and [`MAX_HEAD`]. The buffer
/// is reserved once, with room for the longest head and one more read, and filled in place: a
/// buffer that grew (or a chunk on the stack) would leave copies of the code in memory nobody
/// wipes.
async fn read_head(mut stream: TcpStream) -> Option<(TcpStream, Head)> {
    let mut buf: Head = Zeroizing::new(Vec::with_capacity(MAX_HEAD + 4096));
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            if buf.len() > MAX_HEAD {
                return false;
            }
            // Reads into the spare capacity only (at least 4 KiB is left), so `buf` never moves.
            match stream.read_buf(&mut *buf).await {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
        }
        true
    };
    let complete = tokio::time::timeout(HEAD_WAIT, read).await.unwrap_or(false);
    complete.then_some((stream, buf))
}

enum Verdict {
    /// Not the authorization response: answer and keep waiting.
    Ignore(&'static str, Page),
    /// An authorization response for another sign-in (or a forged one): refused, and the wait
    /// goes on.
    Mismatch,
    Accept(AuthorizationResponse),
}

/// What a request head is to this sign-in. The head is wiped before this returns: the code, if
/// it is the answer, has been copied into its [`AuthCode`] (which wipes itself), and nothing else
/// keeps a copy.
fn judge(head: &mut [u8], port: u16, state: &str) -> Verdict {
    let verdict = match std::str::from_utf8(head) {
        Ok(text) => verdict(text, port, state),
        Err(_) => Verdict::Ignore("400 Bad Request", Page::NotFound),
    };
    head.zeroize();
    verdict
}

fn verdict(head: &str, port: u16, state: &str) -> Verdict {
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let host = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.trim().to_ascii_lowercase());
    let ours = [format!("localhost:{port}"), format!("127.0.0.1:{port}")];
    if !host.is_some_and(|h| ours.contains(&h)) {
        return Verdict::Ignore("400 Bad Request", Page::NotFound);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // Borrowed from the head unless percent-decoding was needed (never for Microsoft's codes).
    let mut fields: Vec<(Cow<'_, str>, Cow<'_, str>)> =
        url::form_urlencoded::parse(query.as_bytes()).collect();
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_ref());
    let is_response = ["state", "code", "error"].iter().any(|k| get(k).is_some());
    if method != "GET" || path != "/" || !is_response {
        return Verdict::Ignore("404 Not Found", Page::NotFound);
    }
    if !get("state").is_some_and(|s| constant_time_eq(s.as_bytes(), state.as_bytes())) {
        return Verdict::Mismatch;
    }
    let error = get("error").map(str::to_string);
    let description = get("error_description").map(str::to_string);
    let code = fields
        .iter()
        .position(|(n, v)| n == "code" && !v.is_empty())
        .map(|at| fields.swap_remove(at).1);
    match (code, error) {
        // The one copy of the code outside the head: straight into its secret type.
        (Some(code), None) => Verdict::Accept(AuthorizationResponse::Code(AuthCode::new(
            code.into_owned(),
        ))),
        (_, Some(error)) => Verdict::Accept(AuthorizationResponse::Error { error, description }),
        (None, None) => Verdict::Accept(AuthorizationResponse::Error {
            error: "invalid_request".into(),
            description: Some("the sign-in response carried neither a code nor an error".into()),
        }),
    }
}

/// Compares without stopping at the first difference (the state is a guess target).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn respond(stream: &mut TcpStream, status: &str, page: Page) {
    let body = page.html();
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nContent-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
         Referrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // The browser may have gone away: the sign-in does not depend on it seeing the page.
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The small page the browser shows: a heading and a sentence, no script, no remote content.
fn page(heading: &str, text: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>VBM365 Auth: {heading}</title><style>body{{font-family:sans-serif;max-width:32em;\
         margin:15vh auto;padding:0 1em;line-height:1.4}}</style></head>\
         <body><h1>{heading}</h1><p id=\"result\">{text}</p></body></html>"
    )
}

/// What the browser tab shows for each outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Done,
    NotDone,
    Mismatch,
    NotFound,
}

impl Page {
    fn html(self) -> String {
        const CLOSE: &str = "You can close this browser tab.";
        match self {
            Page::Done => page(
                "Sign-in received",
                &format!("VBM365 Auth has what it needs and finishes the sign-in. {CLOSE}"),
            ),
            Page::NotDone => page(
                "Sign-in not completed",
                &format!("Microsoft did not complete the sign-in; VBM365 Auth shows why. {CLOSE}"),
            ),
            Page::Mismatch => page(
                "Response refused",
                &format!(
                    "This response was not for the sign-in VBM365 Auth is waiting for, so it was \
                     not used. The sign-in goes on: approve it on the page VBM365 Auth opened. \
                     {CLOSE}"
                ),
            ),
            Page::NotFound => page("Not found", "Nothing here."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(target: &str, host: &str) -> String {
        format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: text/html\r\n\r\n")
    }

    fn judged(head: &str, port: u16, state: &str) -> Verdict {
        judge(&mut head.as_bytes().to_vec(), port, state)
    }

    /// Bug caught: the request head that carried the authorization code stayed in ordinary
    /// memory after the code was taken into its secret type.
    #[test]
    fn the_head_is_wiped_once_the_code_is_taken() {
        let mut buf = head("/?code=C0DE-SECRET&state=s1", "localhost:4711").into_bytes();
        let len = buf.len();
        let v = judge(&mut buf, 4711, "s1");
        assert!(
            matches!(v, Verdict::Accept(AuthorizationResponse::Code(c)) if c.expose() == "C0DE-SECRET")
        );
        // Whatever the verdict, nothing of the head is left.
        for target in [
            "/?code=C0DE-SECRET&state=other",
            "/favicon.ico?code=C0DE-SECRET",
        ] {
            let mut other = head(target, "localhost:4711").into_bytes();
            judge(&mut other, 4711, "s1");
            assert!(other.iter().all(|&b| b == 0), "{target}");
        }
        assert_eq!(buf.len(), len, "wiped in place");
        assert!(
            buf.iter().all(|&b| b == 0),
            "{}",
            String::from_utf8_lossy(&buf)
        );
    }

    #[test]
    fn only_the_redirect_with_our_state_is_accepted() {
        let ok = |v: Verdict| matches!(v, Verdict::Accept(AuthorizationResponse::Code(c)) if c.expose() == "C0DE");
        assert!(ok(judged(
            &head("/?code=C0DE&state=s1", "localhost:4711"),
            4711,
            "s1"
        )));
        assert!(ok(judged(
            &head("/?state=s1&code=C0DE", "127.0.0.1:4711"),
            4711,
            "s1"
        )));
        assert!(matches!(
            judged(
                &head("/?code=C0DE&state=other", "localhost:4711"),
                4711,
                "s1"
            ),
            Verdict::Mismatch
        ));
        assert!(matches!(
            judged(&head("/?code=C0DE", "localhost:4711"), 4711, "s1"),
            Verdict::Mismatch
        ));
        // Another host (DNS rebinding), another path, a favicon: not for us, the wait goes on.
        for (target, host) in [
            ("/?code=C0DE&state=s1", "evil.example:4711"),
            ("/?code=C0DE&state=s1", "localhost:9"),
            ("/callback?code=C0DE&state=s1", "localhost:4711"),
            ("/favicon.ico", "localhost:4711"),
            ("/", "localhost:4711"),
        ] {
            assert!(
                matches!(judged(&head(target, host), 4711, "s1"), Verdict::Ignore(..)),
                "{target} {host}"
            );
        }
    }

    #[test]
    fn an_error_redirect_is_an_answer() {
        let v = judged(
            &head(
                "/?error=access_denied&error_description=AADSTS65004%3A+User+declined&state=s1",
                "localhost:1",
            ),
            1,
            "s1",
        );
        match v {
            Verdict::Accept(AuthorizationResponse::Error { error, description }) => {
                assert_eq!(error, "access_denied");
                assert_eq!(description.as_deref(), Some("AADSTS65004: User declined"));
            }
            _ => panic!("not an error answer"),
        }
    }

    #[test]
    fn pages_have_no_script_and_say_the_tab_can_be_closed() {
        for page in [Page::Done, Page::NotDone, Page::Mismatch] {
            let html = page.html();
            assert!(html.contains("You can close this browser tab."), "{html}");
            assert!(
                !html.contains("<script") && !html.contains("http"),
                "{html}"
            );
        }
    }

    #[tokio::test]
    async fn one_answer_then_the_socket_is_closed() {
        let l = Listener::bind().await.unwrap();
        let port = l.port();
        assert!(l.redirect_uri().starts_with("http://localhost:"));
        let waiting = tokio::spawn(l.wait("s1", Duration::from_secs(30)));
        let send = |target: &'static str| async move {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
            s.write_all(head(target, &format!("localhost:{port}")).as_bytes())
                .await?;
            let mut reply = String::new();
            s.read_to_string(&mut reply).await?;
            Ok::<_, std::io::Error>(reply)
        };
        let stray = send("/favicon.ico").await.unwrap();
        assert!(stray.starts_with("HTTP/1.1 404"), "{stray}");
        let done = send("/?code=abc&state=s1").await.unwrap();
        assert!(done.starts_with("HTTP/1.1 200"), "{done}");
        assert!(done.contains("You can close this browser tab."));
        let answer = waiting.await.unwrap().unwrap();
        assert!(matches!(answer, AuthorizationResponse::Code(c) if c.expose() == "abc"));
        let again = TcpStream::connect(("127.0.0.1", port)).await;
        assert!(again.is_err(), "the listener is closed after one answer");
    }

    /// Bug caught: a failing `accept` (no file descriptor left) retried at once, spinning the CPU
    /// until the timeout.
    #[tokio::test(start_paused = true)]
    async fn a_failing_accept_is_tried_again_after_a_pause() {
        use std::sync::{Arc, Mutex};
        let tries: Arc<Mutex<Vec<tokio::time::Instant>>> = Arc::default();
        let seen = Arc::clone(&tries);
        let accept = move || {
            let seen = Arc::clone(&seen);
            async move {
                let stop = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(tokio::time::Instant::now());
                    seen.len() >= 20
                };
                if stop {
                    std::future::pending::<()>().await;
                }
                Err::<TcpStream, _>(std::io::Error::from_raw_os_error(24))
            }
        };
        let e = serve(accept, 1, "s1", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "browser_sign_in_timeout");
        let tries = tries.lock().unwrap();
        assert!(tries.len() >= 5, "{} tries in a second", tries.len());
        for pair in tries.windows(2) {
            assert!(pair[1] - pair[0] >= ACCEPT_BACKOFF, "{tries:?}");
        }
    }

    /// Bug caught: every local connection read at once, however many stay idle (each holds a
    /// buffer, a descriptor and a timer until it gives up).
    #[tokio::test]
    async fn connections_beyond_the_limit_wait_until_one_is_done() {
        let l = Listener::bind().await.unwrap();
        let port = l.port();
        let waiting = tokio::spawn(l.wait("s1", Duration::from_secs(600)));
        let mut idle = Vec::new();
        for _ in 0..MAX_READING {
            idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        }
        let mut browser = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        browser
            .write_all(head("/?code=abc&state=s1", &format!("localhost:{port}")).as_bytes())
            .await
            .unwrap();
        let mut reply = String::new();
        let early = tokio::time::timeout(
            Duration::from_millis(500),
            browser.read_to_string(&mut reply),
        )
        .await;
        assert!(
            early.is_err() && !waiting.is_finished(),
            "a connection past the limit was read: {reply}"
        );
        // One idle connection goes away: the redirect gets its turn.
        drop(idle.pop());
        browser.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        let answer = waiting.await.unwrap().unwrap();
        assert!(matches!(answer, AuthorizationResponse::Code(c) if c.expose() == "abc"));
    }

    /// Bug caught: any local web page that found the port could end the user's sign-in with
    /// `http://localhost:PORT/?state=x`.
    #[tokio::test]
    async fn a_response_with_another_state_is_refused_and_the_wait_goes_on() {
        let l = Listener::bind().await.unwrap();
        let port = l.port();
        let waiting = tokio::spawn(l.wait("s1", Duration::from_secs(600)));
        for forged in [
            "/?state=x",
            "/?code=stolen&state=guess",
            "/?error=access_denied",
        ] {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            s.write_all(head(forged, &format!("localhost:{port}")).as_bytes())
                .await
                .unwrap();
            let mut reply = String::new();
            s.read_to_string(&mut reply).await.unwrap();
            assert!(reply.starts_with("HTTP/1.1 400"), "{forged}: {reply}");
            assert!(reply.contains("was not for the sign-in"), "{reply}");
        }
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(head("/?code=abc&state=s1", &format!("localhost:{port}")).as_bytes())
            .await
            .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        let answer = waiting.await.unwrap().unwrap();
        assert!(matches!(answer, AuthorizationResponse::Code(c) if c.expose() == "abc"));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_timeout() {
        let l = Listener::bind().await.unwrap();
        let e = l.wait("s1", Duration::from_secs(600)).await.unwrap_err();
        assert_eq!(e.code(), "browser_sign_in_timeout");
    }
}
