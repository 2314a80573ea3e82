//! One HTTP/1.1 `POST` of a remote-write body, over a new TCP connection,
//! with a deadline (hyper's client connection on tokio).
//!
//! A new connection per request keeps the state small and the failure
//! modes simple (a receiver restarted between pushes is just a new
//! connection); at one request per interval per batch that costs a
//! handshake every few seconds, which is nothing next to the body.
//! Only `http://` URLs: TLS is left to a local proxy or sidecar (see
//! `docs/SERVE.md`), so that the tool carries no TLS stack.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where to send: `http://HOST[:PORT][/PATH]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address (brackets kept for IPv6).
    pub host: String,
    /// TCP port (80 unless given).
    pub port: u16,
    /// Path and query (`/` unless given).
    pub path: String,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// `https://`: this build speaks plain HTTP only.
    Https,
    /// Not `http://...`.
    Scheme,
    /// No host, or user info (`user@host`), or a bad port.
    Authority,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Https => f.write_str(
                "https:// is not supported: push speaks plain HTTP; put a TLS proxy (stunnel, envoy, nginx) on this host in front of the receiver",
            ),
            Self::Scheme => f.write_str("the URL must start with http://"),
            Self::Authority => f.write_str(
                "the URL must name a host, optionally with a port (http://HOST[:PORT]/PATH), without user info",
            ),
        }
    }
}

impl std::error::Error for UrlError {}

impl Endpoint {
    /// Parses `http://HOST[:PORT][/PATH]`.
    ///
    /// # Errors
    /// [`UrlError`] says what is wrong.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let rest = if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
            rest
        } else if strip_prefix_ignore_case(url, "https://").is_some() {
            return Err(UrlError::Https);
        } else {
            return Err(UrlError::Scheme);
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) if rest.as_bytes()[at] == b'/' => (&rest[..at], &rest[at..]),
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(UrlError::Authority);
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or(UrlError::Authority)?;
            let host = &authority[..end + 2];
            match &v6[end + 1..] {
                "" => (host, 80),
                p => (
                    host,
                    p.strip_prefix(':')
                        .and_then(|p| p.parse().ok())
                        .ok_or(UrlError::Authority)?,
                ),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().map_err(|_| UrlError::Authority)?),
                None => (authority, 80),
            }
        };
        if host.is_empty() || port == 0 || path.chars().any(char::is_control) {
            return Err(UrlError::Authority);
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// `host[:port]` for the `Host` header.
    #[must_use]
    pub fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// What the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The start of the body (at most [`ANSWER_BYTES`]), for the log.
    pub text: String,
}

/// How much of an answer's body is kept.
pub const ANSWER_BYTES: usize = 512;

impl Answer {
    /// Remote write 1.0: 2xx is success; 5xx and 429 may be retried; any
    /// other status means the data is refused and must not be sent again.
    #[must_use]
    pub const fn retryable(&self) -> bool {
        self.status >= 500 || self.status == 429
    }

    /// Whether the receiver took the data.
    #[must_use]
    pub const fn accepted(&self) -> bool {
        self.status >= 200 && self.status < 300
    }
}

/// Why no answer came.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// Name resolution or the TCP connection failed.
    Connect(std::io::Error),
    /// The HTTP exchange failed.
    Http(hyper::Error),
    /// The request could not be built (a bad header).
    Request(hyper::http::Error),
    /// No answer before the deadline.
    Timeout(Duration),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
            Self::Http(e) => write!(f, "HTTP exchange failed: {e}"),
            Self::Request(e) => write!(f, "bad request: {e}"),
            Self::Timeout(t) => write!(f, "no answer within {t:?}"),
        }
    }
}

impl std::error::Error for SendError {}

/// `POST`s `body` to `endpoint` with the remote-write headers and `extra`
/// headers, and waits at most `timeout` for the whole exchange.
///
/// # Errors
/// [`SendError`]; a status other than 2xx is an [`Answer`], not an error.
pub async fn post(
    endpoint: &Endpoint,
    body: Vec<u8>,
    extra: &[(String, String)],
    timeout: Duration,
) -> Result<Answer, SendError> {
    match tokio::time::timeout(timeout, exchange(endpoint, body, extra)).await {
        Ok(result) => result,
        Err(_) => Err(SendError::Timeout(timeout)),
    }
}

async fn exchange(
    endpoint: &Endpoint,
    body: Vec<u8>,
    extra: &[(String, String)],
) -> Result<Answer, SendError> {
    let host = endpoint.host.trim_start_matches('[').trim_end_matches(']');
    let stream = TcpStream::connect((host, endpoint.port))
        .await
        .map_err(SendError::Connect)?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(SendError::Http)?;
    let driver = tokio::spawn(connection);
    let mut request = Request::post(endpoint.path.as_str())
        .header("host", endpoint.host_header())
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .header("user-agent", concat!("mmdump/", env!("CARGO_PKG_VERSION")));
    for (name, value) in extra {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(SendError::Request)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(SendError::Http)?;
    let status = response.status().as_u16();
    // Keep the start of the body only: a receiver's error text is short,
    // and a hostile one must not make this process buffer without bound.
    let mut text = Vec::new();
    let mut body = response.into_body();
    while text.len() < ANSWER_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let room = ANSWER_BYTES - text.len();
                    text.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    driver.abort();
    Ok(Answer {
        status,
        text: String::from_utf8_lossy(&text).trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_host_port_and_path() {
        let e = Endpoint::parse("http://127.0.0.1:9090/api/v1/write").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("127.0.0.1", 9090, "/api/v1/write")
        );
        assert_eq!(e.host_header(), "127.0.0.1:9090");
        let e = Endpoint::parse("HTTP://mimir/api/v1/push?x=1").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("mimir", 80, "/api/v1/push?x=1")
        );
        assert_eq!(e.host_header(), "mimir");
        let e = Endpoint::parse("http://[::1]:8428").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("[::1]", 8428, "/")
        );
    }

    #[test]
    fn bad_urls_say_why() {
        assert_eq!(Endpoint::parse("https://x/"), Err(UrlError::Https));
        assert_eq!(Endpoint::parse("ftp://x/"), Err(UrlError::Scheme));
        assert_eq!(Endpoint::parse("http:///x"), Err(UrlError::Authority));
        assert_eq!(Endpoint::parse("http://u:p@x/"), Err(UrlError::Authority));
        assert_eq!(Endpoint::parse("http://x:0/"), Err(UrlError::Authority));
        assert_eq!(Endpoint::parse("http://x:99999/"), Err(UrlError::Authority));
        assert_eq!(Endpoint::parse("http://[::1/"), Err(UrlError::Authority));
    }

    #[test]
    fn statuses_sort_into_accepted_retryable_and_refused() {
        let a = |status| Answer {
            status,
            text: String::new(),
        };
        assert!(a(204).accepted() && !a(204).retryable());
        assert!(a(503).retryable() && a(429).retryable());
        assert!(!a(400).retryable() && !a(400).accepted());
    }
}
