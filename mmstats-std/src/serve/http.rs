//! HTTP/1.1 with hyper on a small tokio runtime.
//!
//! Each connection is its own task, so a client that sends slowly, reads
//! slowly or holds its connection open only holds its own task. Bounds:
//!
//! - the request head (request line and headers) may be at most
//!   [`Limits::header_bytes`] long: hyper answers `431 Request Header
//!   Fields Too Large` (or `414 URI Too Long`) and closes;
//! - it must arrive within [`Limits::header_timeout`] (hyper's header read
//!   timeout, on every request of a kept-alive connection);
//! - a response must be computed within [`Limits::request_timeout`]
//!   (`503` otherwise); the work runs on blocking threads, off the
//!   runtime's workers;
//! - a connection lives at most [`Limits::connection_lifetime`]: then it
//!   is shut down gracefully after its current request, and dropped if
//!   that does not finish within the header timeout (a client that stops
//!   reading its response);
//! - at most [`Limits::max_connections`] connections are served at once;
//!   one more is answered `503` without reading its request, and closed.
//!
//! A handler that panics answers `500`; the server goes on.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

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
            let slots = Arc::new(Semaphore::new(limits.max_connections));
            let mut poll = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let (stream, _peer) = match accepted {
                            Ok(accepted) => accepted,
                            // Out of file descriptors and the like: wait a
                            // little rather than spin.
                            Err(_) => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            }
                        };
                        match Arc::clone(&slots).try_acquire_owned() {
                            Ok(permit) => {
                                let app = Arc::clone(&app);
                                tokio::spawn(async move {
                                    serve_connection(stream, app, limits).await;
                                    drop(permit);
                                });
                            }
                            Err(_) => refuse(stream),
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

/// Answers a connection over the limit with 503, without reading it.
fn refuse(stream: TcpStream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
        content-length: 21\r\nconnection: close\r\n\r\ntoo many connections\n";
    // Best effort: a fresh socket's send buffer takes this whole.
    let _ = stream.try_write(BUSY);
}

async fn serve_connection(stream: TcpStream, app: Arc<App>, limits: Limits) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(stream);
    let service = service_fn(move |request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Infallible>(handle(app, request, limits.request_timeout).await) }
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
    tokio::select! {
        _ = connection.as_mut() => {}
        () = tokio::time::sleep(limits.connection_lifetime) => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(limits.header_timeout, connection).await;
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
        host: header_text(&request, header::HOST)
            .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned())),
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
