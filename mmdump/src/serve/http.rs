//! HTTP/1.1 with hyper on a small tokio runtime.
//!
//! Each connection is its own task, so a client that sends slowly, reads
//! slowly or holds its connection open only holds its own task. Bounds:
//!
//! - the request head (request line and headers) may be at most
//!   [`Limits::header_bytes`] long: hyper answers `431 Request Header
//!   Fields Too Large` (or `414 URI Too Long`) and closes;
//! - the first must arrive within [`Limits::header_timeout`] of the
//!   connection's start, however slowly it trickles in (a deadline, not a
//!   time between bytes); later ones on a kept-alive connection within
//!   that time of the previous answer (hyper's header read timeout);
//! - a response must be computed within [`Limits::request_timeout`]
//!   (`503` otherwise); the work runs on blocking threads, off the
//!   runtime's workers;
//! - a connection lives at most [`Limits::connection_lifetime`]: then it
//!   is shut down gracefully after its current request, and dropped if
//!   that does not finish within the header timeout (a client that stops
//!   reading its response);
//! - at most [`Limits::max_connections`] connections are open at once.
//!   When one more comes, the oldest connection still waiting for a
//!   request head (a new one, or a kept-alive one between requests) is
//!   dropped to make room; only when every connection is being answered
//!   is the new one answered `503` without reading its request;
//! - one client address may hold at most
//!   [`Limits::pending_per_client`] connections waiting for a head: a new
//!   one beyond drops that client's oldest waiting one.
//!
//! So a Slowloris client (many connections, each trickling a head that
//! never ends) only ever holds connections that the next client's
//! arrival takes from it: a well-formed request gets in at once, whatever
//! the slow ones do, and the memory held is bounded by the connection cap
//! times the head size limit.
//!
//! A handler that panics answers `500`; the server goes on.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{App, Body, Limits, Request, Response};

/// Security headers on every response.
const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    // The dashboard loads nothing but its own script, style and API.
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
];

/// A bound listener, ready to serve.
#[derive(Debug)]
pub struct Server {
    runtime: tokio::runtime::Runtime,
    listener: TcpListener,
    address: SocketAddr,
}

impl Server {
    /// Binds `address` (port 0: any free port).
    pub fn bind(address: SocketAddr) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(16)
            .thread_name("mmdump-serve")
            .enable_io()
            .enable_time()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(address))?;
        let address = listener.local_addr()?;
        Ok(Self {
            runtime,
            listener,
            address,
        })
    }

    /// The address bound (with the port chosen, if 0 was asked for).
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Serves `app` until `stop` is set.
    pub fn run(self, app: Arc<App>, stop: &AtomicBool) -> std::io::Result<()> {
        let limits = app.config().limits;
        let listener = self.listener;
        let result = self.runtime.block_on(async move {
            let registry = Arc::new(Mutex::new(Registry::default()));
            let mut poll = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let (stream, peer) = match accepted {
                            Ok(accepted) => accepted,
                            // Out of file descriptors and the like: wait a
                            // little rather than spin.
                            Err(_) => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            }
                        };
                        let admitted = lock(&registry).admit(peer.ip(), limits);
                        match admitted {
                            Some((id, tracked)) => {
                                let app = Arc::clone(&app);
                                let registry = Arc::clone(&registry);
                                tokio::spawn(async move {
                                    serve_connection(stream, app, limits, &tracked).await;
                                    lock(&registry).live.remove(&id);
                                });
                            }
                            None => refuse(stream),
                        }
                    }
                    _ = poll.tick() => {
                        if stop.load(Ordering::Relaxed) {
                            return Ok::<(), std::io::Error>(());
                        }
                    }
                }
            }
        });
        self.runtime.shutdown_timeout(Duration::from_secs(1));
        result
    }
}

/// A connection waiting for a request head (new, or kept alive between
/// requests): the accept loop may drop it.
const WAITING: u8 = 0;
/// A connection whose request head arrived, being answered: kept.
const ANSWERING: u8 = 1;
/// A connection whose first head came too late, or that was dropped to
/// make room and then closed: it answers nothing more.
const DROPPED: u8 = 2;
/// A connection the accept loop dropped to make room, whose task has not
/// closed it yet: a complete head already on its way (sent at once by a
/// well-formed client, but not yet read by a busy server) is still
/// answered, once, and the connection closed after; otherwise the task
/// closes it. The registry no longer counts it either way.
const MADE_ROOM: u8 = 3;

/// What the accept loop and a connection's task share about it.
#[derive(Debug)]
struct Tracked {
    /// [`WAITING`], [`ANSWERING`], [`MADE_ROOM`] or [`DROPPED`]. Changed only by
    /// compare-exchange, so a connection is either claimed for an answer
    /// (by its task) or dropped (by the accept loop), never both. The
    /// state carries no other data between the threads, so the orderings
    /// only need the exchange itself to be atomic; AcqRel/Acquire are
    /// used anyway so that whoever wins also sees the loser's earlier
    /// writes (cheap, and nothing to reason about).
    state: AtomicU8,
    /// Whether a request head ever arrived (the first-head deadline is
    /// then over). Only the connection's own task reads and writes it.
    answered_once: AtomicBool,
    /// Wakes the task of a dropped connection, which then closes it.
    drop_now: Notify,
}

impl Tracked {
    fn claim(&self, from: u8, to: u8) -> bool {
        self.state
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

#[derive(Debug)]
struct Entry {
    peer: IpAddr,
    tracked: Arc<Tracked>,
}

/// The open connections, oldest first (ids count up).
#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    live: BTreeMap<u64, Entry>,
}

impl Registry {
    /// Makes room for a connection from `peer` and registers it; `None`
    /// when every connection is being answered (the cap is reached and
    /// none can be dropped). Linear in the connections open, which the
    /// cap bounds.
    fn admit(&mut self, peer: IpAddr, limits: Limits) -> Option<(u64, Arc<Tracked>)> {
        let waiting_from_peer = self
            .live
            .values()
            .filter(|e| e.peer == peer && e.tracked.state.load(Ordering::Acquire) == WAITING)
            .count();
        if waiting_from_peer >= limits.pending_per_client.max(1) {
            self.drop_oldest_waiting(Some(peer));
        }
        if self.live.len() >= limits.max_connections && !self.drop_oldest_waiting(None) {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let tracked = Arc::new(Tracked {
            state: AtomicU8::new(WAITING),
            answered_once: AtomicBool::new(false),
            drop_now: Notify::new(),
        });
        self.live.insert(
            id,
            Entry {
                peer,
                tracked: Arc::clone(&tracked),
            },
        );
        Some((id, tracked))
    }

    /// Drops the oldest connection (of `peer`, if given) still waiting
    /// for a request head; whether there was one.
    fn drop_oldest_waiting(&mut self, peer: Option<IpAddr>) -> bool {
        let victim = self
            .live
            .iter()
            .find(|(_, e)| peer.is_none_or(|p| e.peer == p) && e.tracked.claim(WAITING, MADE_ROOM))
            .map(|(&id, _)| id);
        let Some(entry) = victim.and_then(|id| self.live.remove(&id)) else {
            return false;
        };
        // Stored as a permit if the task is not waiting for it yet.
        entry.tracked.drop_now.notify_one();
        true
    }
}

/// The registry, even if a task panicked while holding it (its map is
/// never left half-changed: every change is one insert or remove).
fn lock(registry: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    registry.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Answers a connection over the limit with 503, without reading it.
fn refuse(stream: TcpStream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
        content-length: 21\r\nconnection: close\r\n\r\ntoo many connections\n";
    // Best effort: a fresh socket's send buffer takes this whole.
    let _ = stream.try_write(BUSY);
}

async fn serve_connection(
    stream: TcpStream,
    app: Arc<App>,
    limits: Limits,
    tracked: &Arc<Tracked>,
) {
    let started = Instant::now();
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(stream);
    let service_tracked = Arc::clone(tracked);
    let service = service_fn(move |request| {
        let app = Arc::clone(&app);
        let tracked = Arc::clone(&service_tracked);
        async move {
            // A complete head: claim the connection. One the accept loop
            // dropped a moment ago to make room is answered all the same
            // (its head was complete: it is no Slowloris), then closed.
            let made_room = !tracked.claim(WAITING, ANSWERING);
            if made_room && !tracked.claim(MADE_ROOM, ANSWERING) {
                let mut response = to_hyper(
                    Response::error(503, "connection dropped to make room", false),
                    false,
                );
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return Ok::<_, Infallible>(response);
            }
            // Relaxed: only this connection's task uses the flag.
            tracked.answered_once.store(true, Ordering::Relaxed);
            let mut response = handle(app, request, limits.request_timeout).await;
            if made_room {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            } else {
                // Waiting for the next head of a kept-alive connection.
                tracked.claim(ANSWERING, WAITING);
            }
            Ok(response)
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.header_bytes.max(8192))
        .max_headers(100)
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let first_head = tokio::time::sleep_until(started + limits.header_timeout);
    tokio::pin!(first_head);
    let mut first_head_pending = true;
    let lifetime = tokio::time::sleep_until(started + limits.connection_lifetime);
    tokio::pin!(lifetime);
    loop {
        tokio::select! {
            // The connection first: a head already received is parsed (and
            // its connection claimed) before a drop is acted on.
            biased;
            _ = connection.as_mut() => return,
            () = tracked.drop_now.notified() => {
                // Dropped to make room: close it, unless its head arrived
                // meanwhile and it is being answered.
                if tracked.claim(MADE_ROOM, DROPPED) {
                    return;
                }
            }
            () = first_head.as_mut(), if first_head_pending => {
                first_head_pending = false;
                // No complete head since the connection's start: close it
                // (unless it is being answered right now).
                if !tracked.answered_once.load(Ordering::Relaxed)
                    && tracked.claim(WAITING, DROPPED)
                {
                    return;
                }
            }
            () = lifetime.as_mut() => {
                connection.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(limits.header_timeout, connection).await;
                return;
            }
        }
    }
}

fn header_text(
    request: &hyper::Request<hyper::body::Incoming>,
    name: header::HeaderName,
) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn handle(
    app: Arc<App>,
    request: hyper::Request<hyper::body::Incoming>,
    timeout: Duration,
) -> hyper::Response<Full<Bytes>> {
    let has_body = request.headers().contains_key(header::TRANSFER_ENCODING)
        || header_text(&request, header::CONTENT_LENGTH).is_some_and(|length| length.trim() != "0");
    let head = Request {
        method: request.method().as_str().to_owned(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        accept: header_text(&request, header::ACCEPT),
        // Every Host header (bounded by the header count limit); one that
        // is not text becomes one that fails to parse.
        hosts: request
            .headers()
            .get_all(header::HOST)
            .iter()
            .map(|value| value.to_str().unwrap_or("\u{fffd}").to_owned())
            .collect(),
        target_authority: request.uri().authority().map(|a| a.as_str().to_owned()),
        requires_host: !matches!(
            request.version(),
            hyper::Version::HTTP_09 | hyper::Version::HTTP_10
        ),
        has_body,
    };
    let is_head = request.method() == hyper::Method::HEAD;
    let api = head.path.starts_with("/api/");
    let work = tokio::task::spawn_blocking(move || app.respond(&head));
    let response = match tokio::time::timeout(timeout, work).await {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => Response::error(500, "the request failed inside the server", api),
        Err(_) => Response::error(503, "the answer took too long", api),
    };
    to_hyper(response, is_head)
}

fn to_hyper(response: Response, is_head: bool) -> hyper::Response<Full<Bytes>> {
    let length = response.body.as_bytes().len();
    let body = if is_head {
        Bytes::new()
    } else {
        match response.body {
            Body::Static(bytes) => Bytes::from_static(bytes),
            Body::Owned(bytes) => Bytes::from(bytes),
        }
    };
    let mut out = hyper::Response::new(Full::new(body));
    *out.status_mut() = hyper::StatusCode::from_u16(response.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(response.content_type),
    );
    if is_head {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    for (name, value) in response.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    out
}
