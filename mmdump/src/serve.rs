//! `mmdump serve`: every stats file on the host as a Prometheus scrape
//! target, a JSON API, and a live dashboard, over HTTP.
//!
//! | path | what |
//! |---|---|
//! | `/` | the dashboard (HTML, CSS and script embedded in the binary) |
//! | `/metrics` | Prometheus text, or OpenMetrics when the `Accept` header asks ([`metrics`]) |
//! | `/api/v1/stats` | the `mmdump --json` document (schema 1), filtered by the same parameters |
//! | `/api/v1/live` | the last `mmdump watch --json` frame: values and rates, once a second |
//! | `/api/v1/series`, `/api/v1/history` | recorded trend history (with `--record` or `--history`) |
//! | `/chart.svg`, `/chart.png` | a chart of recorded history, as `mmdump trend` draws it |
//! | `/timeline` | the last seconds of spans per thread, from the event rings (HTML with inline SVG) |
//! | `/healthz` | `ok` |
//!
//! **Read-only.** Only `GET` and `HEAD` are served; no endpoint writes,
//! creates or deletes anything. Files are found once per request by
//! [`crate::dump::discover`] in the configured inputs (default: the stats
//! directory); request parameters only select among the files and fields
//! found ([`query`]) and never reach the file system as a path. A file
//! that cannot be read is an error entry in the answer.
//!
//! **Bounded.** Request heads are limited in size (431 beyond), must
//! arrive within a time limit counted from the connection's start, each
//! connection lives a bounded time, and the number of connections is
//! capped. At the cap, the oldest connection still waiting for a request
//! head is dropped to let a new one in (503 only when every connection
//! is being answered), and one client address may hold only so many
//! connections without a complete head, so slow clients (Slowloris)
//! cannot keep a well-formed request out ([`http`]).
//!
//! **Local by default.** The server binds `127.0.0.1:9459`. The `Host` is
//! checked as RFC 9112 says: more than one `Host` header, none on
//! HTTP/1.1, or one that is not `name[:port]` is answered `400`; an
//! absolute-form target (`GET http://name/path`) names the host itself
//! and wins over `Host`. While bound to a loopback address, only requests
//! to `localhost`, `127.0.0.1`, `[::1]` or the address listened on (with
//! no port, or the port listened on) or to a name given with
//! `--allow-host` are answered; any other (`evil.localhost`,
//! `localhost.evil`, another port) gets `421 Misdirected Request`, so a
//! web page cannot reach the server through DNS rebinding.

pub mod api;
pub mod dashboard;
pub mod http;
pub mod live;
pub mod metrics;
pub mod prometheus;
pub mod query;

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::dump::aggregate::AggregateMode;
use crate::dump::select::Selection;

use self::live::LiveView;
use self::metrics::{Exporter, MetricsOptions};
use self::prometheus::Format;
use self::query::{FILTER_KEYS, Params, QueryError};

/// The default address: loopback only, Prometheus' port for mmstats.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9459";

/// Bounds on what a client may make the server do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line and headers), in bytes.
    pub header_bytes: usize,
    /// Time a client has to send a request head.
    pub header_timeout: Duration,
    /// Time a response may take to compute.
    pub request_timeout: Duration,
    /// Longest a connection is kept (then closed after its current
    /// request).
    pub connection_lifetime: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections one client address may hold while they wait for a
    /// request head (a new one beyond drops that client's oldest).
    pub pending_per_client: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_bytes: 16 << 10,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(120),
            max_connections: 256,
            pending_per_client: 32,
        }
    }
}

/// Everything `mmdump serve` serves.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Files, directories or wildcards (default: the stats directory).
    pub inputs: Vec<PathBuf>,
    /// Filters applied to everything served.
    pub selection: Selection,
    /// How fields become metrics (and the dashboard's rule for gauges).
    pub metrics: MetricsOptions,
    /// A trend database to serve history from.
    pub history: Option<PathBuf>,
    /// Request bounds.
    pub limits: Limits,
    /// Host names accepted besides loopback ones, when bound to loopback.
    pub allowed_hosts: Vec<String>,
}

/// A request, as the routes see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The path, not decoded (`/api/v1/stats`).
    pub path: String,
    /// The query string after `?`, if any.
    pub query: Option<String>,
    /// The `Accept` header.
    pub accept: Option<String>,
    /// Every `Host` header, in the order sent (more than one is refused).
    pub hosts: Vec<String>,
    /// The authority of an absolute-form target (`GET http://name/path`).
    pub target_authority: Option<String>,
    /// Whether the request is HTTP/1.1 or later, which must send `Host`.
    pub requires_host: bool,
    /// Whether the request has a body (`Content-Length` > 0 or chunked).
    pub has_body: bool,
}

/// A response body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Embedded bytes.
    Static(&'static [u8]),
    /// Computed bytes.
    Owned(Vec<u8>),
}

impl Body {
    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Static(bytes) => bytes,
            Self::Owned(bytes) => bytes,
        }
    }
}

/// A response, before HTTP framing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: Body,
}

impl Response {
    /// A response with `body`.
    #[must_use]
    pub fn new(status: u16, content_type: &'static str, body: Body) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body,
        }
    }

    /// A JSON response.
    #[must_use]
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        let mut body = value.to_string().into_bytes();
        body.push(b'\n');
        Self::new(status, "application/json", Body::Owned(body))
    }

    /// An error: `{"error": message}` for the API, text elsewhere.
    #[must_use]
    pub fn error(status: u16, message: &str, api: bool) -> Self {
        if api {
            Self::json(
                status,
                &serde_json::json!({ "error": message, "status": status }),
            )
        } else {
            Self::new(
                status,
                "text/plain; charset=utf-8",
                Body::Owned(format!("{status} {message}\n").into_bytes()),
            )
        }
    }
}

/// The server's state: what every request reads.
#[derive(Debug)]
pub struct App {
    config: ServeConfig,
    exporter: Exporter,
    live: LiveView,
    started: Instant,
}

impl App {
    /// The state for `config`; `live` is fed by a [`live::Sampler`].
    #[must_use]
    pub fn new(config: ServeConfig, live: LiveView) -> Self {
        let exporter = Exporter::new(
            config.inputs.clone(),
            config.selection.clone(),
            config.metrics.clone(),
        );
        Self {
            config,
            exporter,
            live,
            started: Instant::now(),
        }
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &ServeConfig {
        &self.config
    }

    /// Checks the request's host (see the module docs): the target's
    /// authority if the target is absolute-form, else the `Host` header.
    fn check_host(&self, request: &Request) -> Result<(), HostRefusal> {
        if request.hosts.len() > 1 {
            return Err(HostRefusal::Duplicate);
        }
        let header = request.hosts.first();
        if header.is_none() && request.requires_host {
            return Err(HostRefusal::Missing);
        }
        let header = header
            .map(|text| Authority::parse(text).ok_or(HostRefusal::Malformed))
            .transpose()?;
        let target = request
            .target_authority
            .as_deref()
            .map(|text| Authority::parse(text).ok_or(HostRefusal::Malformed))
            .transpose()?;
        // RFC 9112 section 3.2.2: an absolute-form target's authority
        // replaces Host.
        let Some(host) = target.or(header) else {
            // HTTP/1.0 without Host: no browser sends that.
            return Ok(());
        };
        if !self.config.listen.ip().is_loopback() || self.host_allowed(&host) {
            Ok(())
        } else {
            Err(HostRefusal::NotAllowed)
        }
    }

    /// Whether a loopback-bound server answers for `host`.
    fn host_allowed(&self, host: &Authority) -> bool {
        let listen = self.config.listen;
        let listen_ip = match listen.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let loopback_name = ["localhost", "127.0.0.1", "[::1]"].contains(&host.name.as_str())
            || host.name == listen_ip;
        // Port 0 in the configuration: the port chosen is not known here.
        let port_matches = host
            .port
            .is_none_or(|port| listen.port() == 0 || port == listen.port());
        if loopback_name && port_matches {
            return true;
        }
        self.config.allowed_hosts.iter().any(|allowed| {
            Authority::parse(allowed).is_some_and(|allowed| {
                allowed.name == host.name && allowed.port.is_none_or(|port| host.port == Some(port))
            })
        })
    }

    /// Answers one request.
    #[must_use]
    pub fn respond(&self, request: &Request) -> Response {
        let api = request.path.starts_with("/api/");
        if let Err(refusal) = self.check_host(request) {
            return Response::error(refusal.status(), &refusal.to_string(), api);
        }
        if request.method != "GET" && request.method != "HEAD" {
            let mut response = Response::error(
                405,
                "only GET and HEAD are served: this server is read-only",
                api,
            );
            response.headers.push(("Allow", "GET, HEAD".into()));
            return response;
        }
        if request.has_body {
            return Response::error(413, "request bodies are not accepted", api);
        }
        let query = request.query.as_deref();
        let result = match request.path.as_str() {
            "/" | "/index.html" => Ok(dashboard::page()),
            "/dashboard.js" => Ok(dashboard::script()),
            "/dashboard.css" => Ok(dashboard::style()),
            "/favicon.svg" | "/favicon.ico" => Ok(dashboard::icon()),
            "/healthz" => Ok(Response::new(
                200,
                "text/plain; charset=utf-8",
                Body::Static(b"ok\n"),
            )),
            "/metrics" => self.metrics(request),
            "/api/v1/stats" => api::stats(self, query),
            "/api/v1/live" => api::live(self, query),
            "/api/v1/series" => api::series(self, query),
            "/api/v1/history" => api::history(self, query),
            "/api/v1/info" => api::info(self, query),
            "/timeline" => api::timeline(self, query),
            "/chart.svg" => api::chart(self, query, crate::trend::ChartFormat::Svg),
            "/chart.png" => api::chart(self, query, crate::trend::ChartFormat::Png),
            _ => Err(Response::error(404, "no such page", api)),
        };
        result.unwrap_or_else(|response| response)
    }

    fn metrics(&self, request: &Request) -> Result<Response, Response> {
        let mut keys: Vec<&str> = FILTER_KEYS.to_vec();
        keys.push("format");
        let params = Params::parse(request.query.as_deref(), &keys).map_err(bad_request(false))?;
        let selection = params.selection().map_err(bad_request(false))?;
        let format = match params.one("format").map_err(bad_request(false))? {
            None => Format::negotiate(request.accept.as_deref()),
            Some("prometheus") => Format::Prometheus,
            Some("openmetrics") => Format::OpenMetrics,
            Some(other) => {
                return Err(bad_request(false)(QueryError::Invalid {
                    key: "format".into(),
                    reason: format!("{other:?} is not prometheus or openmetrics"),
                }));
            }
        };
        let text = self
            .exporter
            .render(&selection, &params.filter_key(), format);
        Ok(Response::new(
            200,
            format.content_type(),
            Body::Owned(text.into_bytes()),
        ))
    }

    /// Seconds since the server started.
    #[must_use]
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The live view.
    #[must_use]
    pub const fn live(&self) -> &LiveView {
        &self.live
    }

    /// The rule for gauges in combined views.
    #[must_use]
    pub const fn mode(&self) -> AggregateMode {
        self.config.metrics.mode
    }
}

/// Why a request's host was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostRefusal {
    /// More than one `Host` header.
    Duplicate,
    /// HTTP/1.1 (or later) without a `Host` header.
    Missing,
    /// A `Host` or target authority that is not `name[:port]`.
    Malformed,
    /// A host this server does not answer for.
    NotAllowed,
}

impl HostRefusal {
    /// The status it is answered with: 400 for a malformed request, 421
    /// (Misdirected Request) for a host not served.
    #[must_use]
    pub const fn status(self) -> u16 {
        match self {
            Self::NotAllowed => 421,
            Self::Duplicate | Self::Missing | Self::Malformed => 400,
        }
    }
}

impl fmt::Display for HostRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Duplicate => "more than one Host header",
            Self::Missing => "HTTP/1.1 requires a Host header",
            Self::Malformed => "the host is not name[:port]",
            Self::NotAllowed => {
                "this server answers only requests to localhost, 127.0.0.1 or [::1] on its port (see --allow-host)"
            }
        })
    }
}

impl std::error::Error for HostRefusal {}

/// A `Host` value or a target's authority: `name[:port]`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Authority {
    /// The name, in lower case; an IPv6 address in brackets (`[::1]`).
    name: String,
    /// The port, if one is given.
    port: Option<u16>,
}

impl Authority {
    /// Parses `name[:port]`: a name of letters, digits, `-`, `.` and `_`,
    /// or an IPv6 address in brackets; no user info, no spaces. `None`
    /// for anything else.
    fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 255 {
            return None;
        }
        let (name, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest.split_once(']')?;
            inside.parse::<Ipv6Addr>().ok()?;
            let port = if after.is_empty() {
                None
            } else {
                Some(after.strip_prefix(':')?)
            };
            (&text[..inside.len() + 2], port)
        } else {
            let (name, port) = match text.split_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (text, None),
            };
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
            if !name_ok {
                return None;
            }
            (name, port)
        };
        let port = match port {
            // `port = *DIGIT`: an empty one is no port.
            None | Some("") => None,
            Some(digits) if digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Some(digits.parse::<u16>().ok()?)
            }
            Some(_) => return None,
        };
        Some(Self {
            name: name.to_ascii_lowercase(),
            port,
        })
    }
}

/// A 400 response for a refused query.
fn bad_request(api: bool) -> impl Fn(QueryError) -> Response {
    move |error| Response::error(400, &error.to_string(), api)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::aggregate::AggregateMode;
    use crate::serve::prometheus::NameOptions;

    fn app(listen: &str, inputs: Vec<PathBuf>) -> App {
        App::new(
            ServeConfig {
                listen: listen.parse().unwrap(),
                inputs,
                selection: Selection::default(),
                metrics: MetricsOptions {
                    names: NameOptions {
                        namespace: "mmstats".into(),
                        strings: true,
                    },
                    pid_label: false,
                    thread_label: false,
                    mode: AggregateMode::Sum,
                    max_series_per_family: crate::serve::metrics::DEFAULT_MAX_SERIES_PER_FAMILY,
                },
                history: None,
                limits: Limits::default(),
                allowed_hosts: vec!["stats.example".into()],
            },
            LiveView::default(),
        )
    }

    fn get(path: &str, query: Option<&str>, host: Option<&str>) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            query: query.map(str::to_owned),
            hosts: host.map(str::to_owned).into_iter().collect(),
            requires_host: host.is_some(),
            ..Request::default()
        }
    }

    #[test]
    fn hosts_are_checked_on_loopback_only() {
        let dir = tempfile::tempdir().unwrap();
        let local = app("127.0.0.1:9459", vec![dir.path().to_owned()]);
        for host in [
            "127.0.0.1:9459",
            "localhost",
            "LOCALHOST:9459",
            "localhost:",
            "[::1]:9459",
            "[::1]",
            "stats.example:80",
            "stats.example",
        ] {
            assert_eq!(
                local.respond(&get("/healthz", None, Some(host))).status,
                200,
                "{host}"
            );
        }
        for host in [
            "evil.example",
            "evil.example:9459",
            "10.0.0.1",
            "[::2]",
            "127.8.9.1",
            "evil.localhost",
            "localhost.evil",
            "localhost:1",
            "[::1]:80",
        ] {
            assert_eq!(
                local.respond(&get("/healthz", None, Some(host))).status,
                421,
                "{host}"
            );
        }
        for host in [
            "",
            "::1",
            "a b",
            "user@localhost",
            "localhost:99999",
            "[::1",
            "localhost:x",
        ] {
            assert_eq!(
                local.respond(&get("/healthz", None, Some(host))).status,
                400,
                "{host:?}"
            );
        }
        let open = app("0.0.0.0:9459", vec![dir.path().to_owned()]);
        assert_eq!(
            open.respond(&get("/healthz", None, Some("evil.example")))
                .status,
            200
        );
    }

    #[test]
    fn duplicate_missing_and_absolute_form_hosts() {
        let dir = tempfile::tempdir().unwrap();
        for listen in ["127.0.0.1:9459", "0.0.0.0:9459"] {
            let app = app(listen, vec![dir.path().to_owned()]);
            let mut twice = get("/healthz", None, Some("localhost"));
            twice.hosts.push("localhost".into());
            assert_eq!(app.respond(&twice).status, 400, "{listen}");
            let mut missing = get("/healthz", None, None);
            missing.requires_host = true;
            assert_eq!(app.respond(&missing).status, 400, "{listen}");
            // HTTP/1.0 need not send Host.
            assert_eq!(app.respond(&get("/healthz", None, None)).status, 200);
        }
        let local = app("127.0.0.1:9459", vec![dir.path().to_owned()]);
        let absolute = |target: &str, host: &str| {
            let mut request = get("/healthz", None, Some(host));
            request.target_authority = Some(target.into());
            local.respond(&request).status
        };
        assert_eq!(absolute("evil.example", "localhost"), 421);
        assert_eq!(
            absolute("localhost:9459", "evil.example"),
            200,
            "the target wins"
        );
        assert_eq!(absolute("evil@localhost", "localhost"), 400);
    }

    #[test]
    fn only_reads_are_served_and_unknown_things_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let app = app("127.0.0.1:9459", vec![dir.path().to_owned()]);
        let mut post = get("/metrics", None, None);
        post.method = "POST".into();
        let refused = app.respond(&post);
        assert_eq!(refused.status, 405);
        assert!(refused.headers.contains(&("Allow", "GET, HEAD".into())));
        let mut with_body = get("/metrics", None, None);
        with_body.has_body = true;
        assert_eq!(app.respond(&with_body).status, 413);
        assert_eq!(
            app.respond(&get("/../../etc/passwd", None, None)).status,
            404
        );
        assert_eq!(app.respond(&get("/api/v1/nothing", None, None)).status, 404);
        assert_eq!(
            app.respond(&get("/metrics", Some("file=../x"), None))
                .status,
            400
        );
        assert_eq!(
            app.respond(&get("/api/v1/stats", Some("path=/etc"), None))
                .status,
            400
        );
        assert_eq!(
            app.respond(&get("/metrics", Some("format=xml"), None))
                .status,
            400
        );
        let stats = app.respond(&get("/api/v1/stats", None, None));
        assert_eq!(stats.status, 200);
        assert_eq!(stats.content_type, "application/json");
        assert_eq!(
            app.respond(&get("/", None, None)).content_type,
            "text/html; charset=utf-8"
        );
        let history = app.respond(&get("/api/v1/history", Some("name=x"), None));
        assert_eq!(history.status, 404, "no trend database configured");
    }

    #[test]
    fn authorities_parse_into_name_and_port() {
        let parse = |text: &str| Authority::parse(text).map(|a| (a.name, a.port));
        assert_eq!(parse("A.b:80"), Some(("a.b".into(), Some(80))));
        assert_eq!(parse("a.b"), Some(("a.b".into(), None)));
        assert_eq!(parse("[::1]:80"), Some(("[::1]".into(), Some(80))));
        assert_eq!(parse("[::1]"), Some(("[::1]".into(), None)));
        for bad in [
            "", "::1", "[::1]x", "[zz]", "a:b:c", "a b", "a@b", "a:65536", ":80",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
