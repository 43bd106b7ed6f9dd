//! Accept loop and per-connection serving (HTTP/1.1 and HTTP/2, optionally over TLS), plus the
//! middleware that records every request.
//!
//! Serving connections here (rather than through a ready-made server) lets a handler drop its own
//! connection without answering, which [`crate::Fault::CloseConnection`] needs.

use crate::state::Shared;
use crate::types::{RecordedRequest, Server};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// Largest request body the emulators read (bigger ones get 413).
const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;
/// Time a client gets to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// State of every handler: the shared state and which server it runs in.
#[derive(Clone)]
pub(crate) struct App {
    pub shared: Arc<Shared>,
    pub server: Server,
}

/// Put in every request's extensions: lets a handler drop the connection it arrived on.
#[derive(Clone)]
pub(crate) struct ConnectionControl(Arc<Notify>);

impl ConnectionControl {
    /// Drops the connection at once, without any (further) response bytes.
    pub fn close(&self) {
        self.0.notify_one();
    }
}

/// Serves `router` on `listener` until the returned task is aborted (which also ends every open
/// connection).
pub(crate) fn spawn(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
) -> JoinHandle<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(4096);
    let builder = Arc::new(builder);
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(connection(
                            stream,
                            router.clone(),
                            tls.clone(),
                            builder.clone(),
                        ));
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, keep serving.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    })
}

async fn connection(
    stream: TcpStream,
    router: Router,
    tls: Option<TlsAcceptor>,
    builder: Arc<Builder<TokioExecutor>>,
) {
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(Notify::new());
    let control = ConnectionControl(kill.clone());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(control.clone());
        let mut router = router.clone();
        async move { router.call(req).await }
    });
    match tls {
        Some(acceptor) => {
            let Ok(Ok(stream)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
            else {
                return;
            };
            until_killed(
                builder.serve_connection(TokioIo::new(stream), service),
                &kill,
            )
            .await;
        }
        None => {
            until_killed(
                builder.serve_connection(TokioIo::new(stream), service),
                &kill,
            )
            .await;
        }
    }
}

/// Runs a connection until it ends or a handler asks to drop it.
async fn until_killed<F: Future>(conn: F, kill: &Notify) {
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
    }
}

/// Middleware: records the request (except the control API) with its whole body.
pub(crate) async fn record(State(app): State<App>, req: Request, next: Next) -> Response {
    let at = Instant::now();
    if req.uri().path().starts_with("/_emulator") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_REQUEST_BODY).await else {
        return crate::util::response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/plain; charset=utf-8",
            "request body too large or unreadable",
            &[],
        );
    };
    app.shared.record(RecordedRequest {
        server: app.server,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: bytes.to_vec(),
        at,
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
