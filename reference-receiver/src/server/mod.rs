//! Serving the router on a listener: the accept loop, hyper's connection settings, and the
//! limits that keep any one sender from holding what the others need. `serve` (in `serve.rs`)
//! runs the service's whole lifetime around that loop: stores opened, app built, outbox
//! workers started, and at shutdown everything drained and closed in order.
//!
//! A webhook endpoint is a public socket, so everything a sender can make us hold is bounded:
//!
//! * **connections**: [`connections::Registry`] caps them in all and per peer; at a cap the
//!   connection that has gone longest without a request in flight is closed to make room.
//!   Accept errors (out of file descriptors) back off and close the quietest connection
//!   instead of spinning or ending the loop; the cap is kept below the open-files limit.
//! * **time**: from accept, the TLS handshake and the first request head must be done within
//!   `header_read_timeout_secs` (hyper's own HTTP/1 header timer, which needs the timer set
//!   here, then covers every later head); a connection without a request in flight for
//!   `idle_timeout_secs` is closed; HTTP/2 pings find dead peers.
//! * **HTTP/2**: streams per connection, header list size, and hyper's rapid-reset guards.
//! * **bodies**: [`budget::Budget`] caps the bytes held for bodies in flight, and every body
//!   must arrive within `request_timeout_secs`, on every route (`/api` and `/admin` too).

mod budget;
mod connections;
mod serve;

pub use serve::{serve, shutdown_signal};

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::Router;
use http::header;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::config::{InspectorConfig, ServerConfig};
use budget::{Budget, Metered};
use connections::{Conn, Peer, Registry, RequestGuard};

/// How long the accept loop waits after an error that is not one connection's (such as
/// running out of file descriptors) before it accepts again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The connection-level settings, from `[server]`.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    header_read: Duration,
    idle: Duration,
    body_read: Duration,
    max_connections: usize,
    max_connections_per_peer: usize,
    body_budget: usize,
    body_budget_per_peer: usize,
    largest_body: usize,
    max_header_bytes: usize,
    h2_max_concurrent_streams: u32,
    h2_keep_alive_interval: Duration,
    h2_keep_alive_timeout: Duration,
    h2_max_pending_accept_reset_streams: usize,
    h2_max_local_error_reset_streams: usize,
}

impl Limits {
    /// The limits `[server]` sets; `inspector` decides the largest body a request may hold.
    pub(crate) fn new(server: &ServerConfig, inspector: &InspectorConfig) -> Self {
        Self {
            header_read: Duration::from_secs(server.header_read_timeout_secs),
            idle: Duration::from_secs(server.idle_timeout_secs),
            body_read: Duration::from_secs(server.request_timeout_secs),
            max_connections: server.max_connections,
            max_connections_per_peer: server.max_connections_per_peer,
            body_budget: server.body_budget_bytes,
            body_budget_per_peer: server.body_budget_per_peer_bytes,
            largest_body: server.largest_body(inspector),
            max_header_bytes: server.max_header_bytes,
            h2_max_concurrent_streams: server.h2_max_concurrent_streams,
            h2_keep_alive_interval: Duration::from_secs(server.h2_keep_alive_interval_secs),
            h2_keep_alive_timeout: Duration::from_secs(server.h2_keep_alive_timeout_secs),
            h2_max_pending_accept_reset_streams: server.h2_max_pending_accept_reset_streams,
            h2_max_local_error_reset_streams: server.h2_max_local_error_reset_streams,
        }
    }

    /// hyper's connection builder, with a timer so its timeouts fire at all.
    fn builder(&self) -> auto::Builder<TokioExecutor> {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read)
            .max_buf_size(self.max_header_bytes)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(self.h2_max_concurrent_streams)
            .max_header_list_size(u32::try_from(self.max_header_bytes).unwrap_or(u32::MAX))
            .keep_alive_interval(self.h2_keep_alive_interval)
            .keep_alive_timeout(self.h2_keep_alive_timeout)
            .max_pending_accept_reset_streams(self.h2_max_pending_accept_reset_streams)
            .max_local_error_reset_streams(self.h2_max_local_error_reset_streams);
        builder
    }
}

/// What every connection task shares.
struct Shared {
    router: Router,
    limits: Limits,
    builder: auto::Builder<TokioExecutor>,
    tls: Option<TlsAcceptor>,
    registry: Arc<Registry>,
    budget: Arc<Budget>,
}

/// Serves `router` on `listener` (over TLS with `tls`) until `shutdown` resolves, then stops
/// accepting and gives open connections up to `grace` to finish their requests.
pub(crate) async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> anyhow::Result<()> {
    let max = connections::fit_to_fd_limit(limits.max_connections);
    let shared = Arc::new(Shared {
        router,
        builder: limits.builder(),
        tls,
        registry: Arc::new(Registry::new(max, limits.max_connections_per_peer)),
        budget: Arc::new(Budget::new(
            limits.body_budget,
            limits.body_budget_per_peer,
            limits.largest_body,
        )),
        limits,
    });
    tracing::debug!(
        max_connections = shared.registry.max(),
        "connection limits in force"
    );
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tasks = JoinSet::new();
    let mut last_warned: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            // Reap finished connections, so the set holds only open ones.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, addr)) => match shared.registry.admit(Peer::of(addr.ip())) {
                Ok(ticket) => {
                    let shared = Arc::clone(&shared);
                    let stopping = stopping.clone();
                    tasks.spawn(async move {
                        connection(shared, stream, addr, &ticket.conn, stopping).await;
                        drop(ticket);
                    });
                }
                Err(_) => {
                    metrics::counter!("server_connections_refused_total").increment(1);
                    tracing::debug!(peer = %addr, "connection refused: every slot has a request in flight");
                }
            },
            // The peer gave up before we took it: nothing of ours is wrong.
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                // Out of file descriptors (or similar): free one, wait, try again; never spin.
                shared.registry.shed_quietest();
                if last_warned.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(error = %e, "cannot accept connections; backing off");
                    last_warned = Some(Instant::now());
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    // Refuse new connections at once rather than letting them wait in the backlog.
    drop(listener);
    stop.send_replace(true);
    let drained =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            open = tasks.len(),
            "closing connections still open after the shutdown grace"
        );
        tasks.shutdown().await;
    }
    Ok(())
}

/// Errors of one connection, not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// Runs one connection: the TLS handshake if any, then hyper, closed when it gives us nothing
/// for too long, when it is shed, or gracefully when the server stops.
async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    conn: &Arc<Conn>,
    mut stopping: watch::Receiver<bool>,
) {
    let opened = tokio::time::Instant::now();
    let _ = stream.set_nodelay(true);
    let Some(tls) = shared.tls.clone() else {
        return drive(&shared, stream, peer, conn, stopping, opened).await;
    };
    // The handshake is part of reaching the first request head, so it shares its deadline.
    let handshake = tokio::time::timeout_at(opened + shared.limits.header_read, tls.accept(stream));
    tokio::select! {
        handshaken = handshake => match handshaken {
            Ok(Ok(stream)) => drive(&shared, stream, peer, conn, stopping, opened).await,
            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        },
        () = conn.changed() => {}
        _ = stopping.changed() => {}
    }
}

async fn drive<I>(
    shared: &Arc<Shared>,
    io: I,
    peer: SocketAddr,
    conn: &Arc<Conn>,
    mut stopping: watch::Receiver<bool>,
    opened: tokio::time::Instant,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let (shared, conn) = (Arc::clone(shared), Arc::clone(conn));
        hyper::service::service_fn(move |request| {
            let (shared, conn) = (Arc::clone(&shared), Arc::clone(&conn));
            async move { Ok::<_, Infallible>(respond(&shared, &conn, peer, request).await) }
        })
    };
    let connection = shared.builder.serve_connection(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    let epoch = shared.registry.epoch();
    let mut closing = false;
    loop {
        let quiet = conn.quiet_deadline(
            epoch,
            opened.into_std(),
            shared.limits.header_read,
            shared.limits.idle,
        );
        let wait_quiet = async {
            match quiet {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = conn.changed() => {
                if conn.is_shed() && !conn.is_busy() {
                    return;
                }
                if conn.is_shed() && !closing {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            // It has given us nothing for too long (no request head yet, or idle).
            () = wait_quiet => {
                if !conn.is_busy() {
                    return;
                }
            }
            _ = stopping.changed(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// Answers one request: reserve its body's budget, run the router with a metered body, and
/// keep the connection counted busy until the response has been sent.
async fn respond(
    shared: &Shared,
    conn: &Arc<Conn>,
    peer: SocketAddr,
    request: http::Request<Incoming>,
) -> Response {
    let guard = conn.request(shared.registry.epoch());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(reservation) = shared.budget.reserve(Peer::of(peer.ip()), declared) else {
        metrics::counter!("server_bodies_over_budget_total").increment(1);
        return guarded(budget::over_budget(), guard);
    };
    let deadline = tokio::time::Instant::now() + shared.limits.body_read;
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    let body = Body::new(Metered::new(
        Body::new(body),
        Arc::clone(&reservation),
        deadline,
    ));
    let request = http::Request::from_parts(parts, body);
    let response = match shared.router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    // The route saw only "the body failed"; the real reason decides the answer.
    let response = match reservation.answer_instead() {
        Some(instead) if !response.status().is_success() => instead,
        _ => response,
    };
    guarded(response, guard)
}

/// `response`, with the connection counted busy until its body has been sent.
fn guarded(response: Response, guard: RequestGuard) -> Response {
    response.map(|body| {
        Body::new(Guarded {
            body,
            _guard: guard,
        })
    })
}

/// A response body that holds its request's guard.
struct Guarded {
    body: Body,
    _guard: RequestGuard,
}

impl http_body::Body for Guarded {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
