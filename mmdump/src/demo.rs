//! A demo writer: a small web server's stats, published by a few threads
//! that simulate requests. Used by `mmdump demo`, the `mmstats-demo`
//! binary, and the tests that read a live writer from another process.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mmstats::{CreateError, FieldSpec, Location, StatsFile, Unit};

/// A running demo writer; stops and removes its files when stopped or
/// dropped.
#[derive(Debug)]
pub struct Demo {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    paths: Vec<PathBuf>,
}

/// Requests each worker simulates per millisecond.
pub const REQUESTS_PER_MS: u64 = 20;

/// The rate of the main file's `web.ticks` counter, per second: it is
/// kept at `elapsed seconds × TICKS_PER_SECOND` (updated every 10 ms), so
/// readers can check the rates they compute against a known one.
pub const TICKS_PER_SECOND: u64 = 1000;

/// Event id in `web.events`: a connection opened (value: its number).
pub const EVENT_OPEN: u32 = 1;
/// Event id in `web.events`: a connection closed (value: its number).
pub const EVENT_CLOSE: u32 = 2;
/// Event id in `web.events`: the span of one tick of the demo's clock.
pub const EVENT_TICK: u32 = 3;

/// Paths of the request mix: (path, status, bytes).
const ROUTES: [(&str, u16, u64); 6] = [
    ("/", 200, 5120),
    ("/api/items", 200, 830),
    ("/api/items/42", 200, 240),
    ("/login", 302, 90),
    ("/missing", 404, 160),
    ("/api/slow", 503, 60),
];

impl Demo {
    /// Starts a demo writer with `workers` worker threads, publishing at
    /// `location` (or in the default directory).
    pub fn start(location: Option<Location>, workers: usize) -> Result<Self, CreateError> {
        let builder = |name: &str| {
            let builder = StatsFile::builder(name).prefix(format!("{name}."));
            match &location {
                Some(Location::Dir(dir)) => builder.dir(dir),
                Some(Location::Shm) => builder.shm(),
                None => builder,
            }
        };
        let main = builder("web").create()?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut paths = vec![main.path()];
        let mut threads = Vec::new();

        let shared = |e: mmstats::AddFieldError| CreateError::DefaultField {
            path: main.path(),
            source: e,
        };
        let requests = Arc::new(
            main.shared_counter(
                FieldSpec::new("requests").describe("requests served, all workers"),
            )
            .map_err(shared)?,
        );
        let inflight = Arc::new(
            main.shared_gauge(FieldSpec::new("inflight").describe("requests in progress"))
                .map_err(shared)?,
        );
        main.text(
            FieldSpec::new("version")
                .capacity(16)
                .describe("server version"),
        )
        .map_err(shared)?
        .set(env!("CARGO_PKG_VERSION"));
        let uptime = main
            .float_gauge(
                FieldSpec::new("uptime")
                    .unit(Unit::Seconds)
                    .describe("seconds since start"),
            )
            .map_err(shared)?;
        let healthy = main
            .flag(FieldSpec::new("healthy").describe("passes its health check"))
            .map_err(shared)?;
        let ticks = main
            .counter(FieldSpec::new("ticks").describe("grows by exactly 1000 a second"))
            .map_err(shared)?;
        healthy.set(true);
        let events = main
            .event_ring(
                FieldSpec::new("events")
                    .capacity(256)
                    .describe("connections opened and closed, one span per tick"),
            )
            .map_err(shared)?;

        // Each worker makes its own file from its own thread (so the file
        // name carries its thread id) and reports the path back.
        let (tx, rx) = std::sync::mpsc::channel();
        for worker in 0..workers {
            let stop = Arc::clone(&stop);
            let requests = Arc::clone(&requests);
            let inflight = Arc::clone(&inflight);
            let file = builder("worker");
            let tx = tx.clone();
            threads.push(std::thread::spawn(move || match file.create() {
                Ok(stats) => {
                    let _ = tx.send(Ok(stats.path()));
                    drop(tx);
                    run_worker(&stats, worker as u64, &stop, &requests, &inflight);
                }
                Err(error) => {
                    let _ = tx.send(Err(error));
                }
            }));
        }
        drop(tx);
        for reply in rx {
            match reply {
                Ok(path) => paths.push(path),
                Err(error) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(error);
                }
            }
        }

        let ticker_stop = Arc::clone(&stop);
        let main_for_ticker = main.clone();
        threads.push(std::thread::spawn(move || {
            let started = Instant::now();
            // Every 10 ms: `web.ticks` kept at the known rate. Every 100 ms:
            // uptime, heartbeat, and connections that come and go (dynamic
            // fields `web.conn.*` with label `conn="N"`, at most three open, one closing and one
            // opening per tick), each tick a span in `web.events`.
            let mut beats = 0u32;
            let mut connections = std::collections::VecDeque::new();
            let mut next_connection = 1u64;
            while !ticker_stop.load(Ordering::Relaxed) {
                let elapsed = started.elapsed();
                let due = elapsed.as_nanos() * u128::from(TICKS_PER_SECOND) / 1_000_000_000;
                ticks.add(
                    u64::try_from(due)
                        .unwrap_or(u64::MAX)
                        .saturating_sub(ticks.get()),
                );
                if beats.is_multiple_of(10) {
                    let tick = events.span(EVENT_TICK, "tick");
                    uptime.set(elapsed.as_secs_f64());
                    main_for_ticker.heartbeat();
                    if connections.len() >= 3
                        && let Some((id, _)) = connections.pop_front()
                    {
                        events.event(EVENT_CLOSE, &[id]);
                    }
                    // One family per field, the connection a label:
                    // `web.conn.requests{conn="N"}`.
                    let id = next_connection.to_string();
                    let group = main_for_ticker
                        .dynamic_group("conn.")
                        .with_labels(&[("conn", &id)])
                        .map_err(mmstats::AddFieldError::from);
                    if let Ok(conn) = group.and_then(|g| ConnStats::register(&g)) {
                        events.event(EVENT_OPEN, &[next_connection]);
                        connections.push_back((next_connection, conn));
                        next_connection += 1;
                    }
                    for (id, conn) in &connections {
                        conn.requests.incr();
                        conn.bytes.add(100 + id % 7 * 10);
                    }
                    drop(tick);
                }
                beats = beats.wrapping_add(1);
                std::thread::sleep(Duration::from_millis(10));
            }
            drop(healthy);
        }));
        Ok(Self {
            stop,
            threads,
            paths,
        })
    }

    /// The files it publishes (the main file first).
    #[must_use]
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Stops the threads; their files are closed and removed.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.halt();
    }
}

fn run_worker(
    stats: &StatsFile,
    worker: u64,
    stop: &AtomicBool,
    total: &mmstats::SharedCounter,
    inflight: &mmstats::SharedGauge,
) {
    let Ok(fields) = WorkerStats::register(stats) else {
        return;
    };
    fields.id.set(worker as i64);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (worker + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    while !stop.load(Ordering::Relaxed) {
        fields.busy.set(true);
        for _ in 0..REQUESTS_PER_MS {
            let roll = next();
            let (path, status, bytes) = ROUTES[(roll % ROUTES.len() as u64) as usize];
            inflight.incr();
            fields.requests.incr();
            total.incr();
            fields.bytes_out.add(bytes + roll % 64);
            match status {
                200..=399 => fields.status_2xx.incr(),
                400..=499 => fields.status_4xx.incr(),
                _ => fields.status_5xx.incr(),
            }
            // A latency between 0.1 and 5 ms, skewed low.
            let micros = 100 + (roll >> 20) % 900 + if roll % 50 == 0 { 4000 } else { 0 };
            fields.latency.record(Duration::from_micros(micros));
            fields.latency_ns.record(Duration::from_micros(micros));
            fields.last_path.set(path);
            inflight.decr();
        }
        fields.last_request.set_now();
        fields.busy.set(false);
        std::thread::sleep(Duration::from_millis(1));
    }
}

mmstats::stats! {
    /// One worker thread's stats.
    struct WorkerStats {
        /// Worker number.
        id: mmstats::Gauge,
        /// Requests this worker served.
        requests: mmstats::Counter,
        /// Response bytes this worker sent.
        bytes_out: mmstats::Counter { unit: Unit::Bytes },
        /// Responses with status 2XX or 3XX.
        status_2xx: mmstats::Counter { name: "status.2XX" },
        /// Responses with status 4XX.
        status_4xx: mmstats::Counter { name: "status.4XX" },
        /// Responses with status 5XX.
        status_5xx: mmstats::Counter { name: "status.5XX" },
        /// Time to serve a request.
        latency: mmstats::Timer,
        /// Distribution of the time to serve a request.
        latency_ns: mmstats::HistogramTimer { name: "latency.ns", precision: 4 },
        /// Path of the last request.
        last_path: mmstats::Text { capacity: 32 },
        /// Serving a batch right now.
        busy: mmstats::Flag,
        /// When the last batch finished.
        last_request: mmstats::Timestamp,
    }
}

mmstats::stats! {
    /// One simulated client connection of the main file (dynamic fields).
    struct ConnStats {
        /// Requests on this connection.
        requests: mmstats::Counter,
        /// Bytes sent on this connection.
        bytes: mmstats::Counter { unit: Unit::Bytes },
    }
}
