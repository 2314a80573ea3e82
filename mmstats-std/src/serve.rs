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
//! arrive within a time limit, each connection lives a bounded time, the
//! number of connections is capped (503 beyond), and every connection is
//! its own task, so a slow or malicious client cannot stall the others
//! ([`http`]).
//!
//! **Local by default.** The server binds `127.0.0.1:9459`; while bound to
//! a loopback address it answers only requests whose `Host` is a loopback
//! name or address (or one allowed with `--allow-host`), so a web page
//! cannot reach it through DNS rebinding.

pub mod api;
pub mod dashboard;
pub mod http;
pub mod live;
pub mod metrics;
pub mod prometheus;
pub mod query;

use std::net::{IpAddr, SocketAddr};
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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_bytes: 16 << 10,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(120),
            max_connections: 256,
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
    /// The `Host` header.
    pub host: Option<String>,
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

    /// Whether the `Host` header is acceptable (see the module docs).
    fn host_allowed(&self, host: Option<&str>) -> bool {
        if !self.config.listen.ip().is_loopback() {
            return true;
        }
        let Some(host) = host else {
            // HTTP/1.0 without a Host header: no browser sends that.
            return true;
        };
        let name = host_name(host);
        if name.eq_ignore_ascii_case("localhost")
            || name.to_ascii_lowercase().ends_with(".localhost")
        {
            return true;
        }
        if name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        {
            return true;
        }
        self.config
            .allowed_hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(name))
    }

    /// Answers one request.
    #[must_use]
    pub fn respond(&self, request: &Request) -> Response {
        let api = request.path.starts_with("/api/");
        if !self.host_allowed(request.host.as_deref()) {
            return Response::error(
                403,
                "this server answers only requests to a loopback host (see --allow-host)",
                api,
            );
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

/// The host part of a `Host` header (`[::1]:9459` gives `[::1]`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(name, _)| &host[..=name.len()]);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name)
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
            host: host.map(str::to_owned),
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
            "LOCALHOST:1",
            "[::1]:9459",
            "127.8.9.1",
            "stats.example:80",
        ] {
            assert_eq!(
                local.respond(&get("/healthz", None, Some(host))).status,
                200,
                "{host}"
            );
        }
        for host in ["evil.example", "evil.example:9459", "10.0.0.1", "[::2]"] {
            assert_eq!(
                local.respond(&get("/healthz", None, Some(host))).status,
                403,
                "{host}"
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
    fn host_names_lose_their_port() {
        assert_eq!(host_name("a.b:80"), "a.b");
        assert_eq!(host_name("a.b"), "a.b");
        assert_eq!(host_name("[::1]:80"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
    }
}
