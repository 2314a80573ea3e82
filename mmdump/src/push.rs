//! `mmdump push`: the samples `serve` would expose on `/metrics`, sent to a
//! Prometheus remote-write receiver at an interval (Prometheus with
//! `--web.enable-remote-write-receiver`, Mimir, Thanos receive,
//! VictoriaMetrics, Grafana Agent/Alloy behind a TLS proxy).
//!
//! It is how hosts that no Prometheus can scrape (behind NAT, short-lived
//! batch jobs, laptops) reach one. The writers never notice: this process
//! only reads their files, exactly as `serve` does ([`crate::serve::metrics::Exporter`]:
//! the same families, names, labels, unit conversions and the same
//! counter ledger, so a counter never goes backwards when a writer exits).
//!
//! Each interval: read the files once, turn the families into series
//! ([`wire::series_of`]) with the time of the read, cut them into requests
//! of at most `max_series` series, compress each
//! ([`wire::encode`]) and queue it ([`queue::SendQueue`], bounded in bytes:
//! the oldest requests are dropped, and counted, while the receiver is
//! away). Then send from the front of the queue until it is empty or the
//! next read is due; a failure waits a jittered, doubling backoff
//! ([`queue::Backoff`]). 2xx is success, 5xx and 429 are retried, any other
//! status drops the request and is logged (the receiver refused the
//! data; sending it again would fail again).
//!
//! The pusher's own counters go out with every push as `mmdump_push_*`
//! series, so the receiver sees requests failing and samples dropped.

pub mod client;
pub mod queue;
pub mod wire;

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::dump::select::Selection;
use crate::serve::metrics::{Exporter, MetricsOptions};
use crate::serve::prometheus::{Family, Metric, MetricType, MetricValue, Number};
use client::{Endpoint, post};
use queue::{Backoff, Batch, SendQueue};
use wire::{WriteRequest, encode, metadata_of, series_of};

/// What `mmdump push` does.
#[derive(Clone, Debug)]
pub struct PushConfig {
    /// The receiver.
    pub endpoint: Endpoint,
    /// Stats files, directories or patterns (default: the stats directory).
    pub inputs: Vec<PathBuf>,
    /// Which files and fields.
    pub selection: Selection,
    /// How fields become metrics (as `serve`).
    pub metrics: MetricsOptions,
    /// Time between reads.
    pub interval: Duration,
    /// Deadline of one request.
    pub timeout: Duration,
    /// Bytes of compressed requests kept while the receiver is away.
    pub max_queue_bytes: usize,
    /// Series per request.
    pub max_series: usize,
    /// Extra request headers (authentication, tenant ids).
    pub headers: Vec<(String, String)>,
    /// Stop after this many reads (None: until stopped).
    pub count: Option<u64>,
}

/// What a run did, for the summary line at its end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushTotals {
    /// Reads of the files.
    pub reads: u64,
    /// Requests the receiver accepted.
    pub sent_requests: u64,
    /// Samples in them.
    pub sent_samples: u64,
    /// Attempts that failed (no answer, 5xx, 429) and were retried.
    pub failed_attempts: u64,
    /// Samples the receiver refused for good (4xx other than 429).
    pub refused_samples: u64,
    /// Samples dropped because the queue was full.
    pub dropped_samples: u64,
    /// Samples still queued when the run ended.
    pub unsent_samples: u64,
}

impl fmt::Display for PushTotals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} reads, {} requests sent ({} samples), {} failed attempts, {} samples refused, {} dropped (queue full), {} unsent",
            self.reads,
            self.sent_requests,
            self.sent_samples,
            self.failed_attempts,
            self.refused_samples,
            self.dropped_samples,
            self.unsent_samples
        )
    }
}

/// Why `mmdump push` could not run.
#[derive(Debug)]
#[non_exhaustive]
pub enum PushError {
    /// The async runtime could not start.
    Runtime(std::io::Error),
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Runtime(e) => write!(f, "cannot start the runtime: {e}"),
        }
    }
}

impl std::error::Error for PushError {}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn counter(name: &str, help: &str, value: u64) -> Family {
    Family {
        name: name.to_owned(),
        kind: MetricType::Counter,
        unit: None,
        help: help.to_owned(),
        metrics: vec![Metric {
            labels: Vec::new().into(),
            value: MetricValue::Counter(Number::Int(i128::from(value))),
        }],
    }
}

fn own_families(totals: &PushTotals, queue: &SendQueue) -> Vec<Family> {
    vec![
        counter(
            "mmdump_push_sent_samples",
            "Samples the receiver accepted.",
            totals.sent_samples,
        ),
        counter(
            "mmdump_push_failed_requests",
            "Requests that got no answer, a 5xx or a 429, and were retried.",
            totals.failed_attempts,
        ),
        counter(
            "mmdump_push_refused_samples",
            "Samples the receiver refused (4xx other than 429), not sent again.",
            totals.refused_samples,
        ),
        counter(
            "mmdump_push_dropped_samples",
            "Samples dropped, oldest first, because the send queue was full.",
            queue.dropped_samples(),
        ),
        Family {
            name: "mmdump_push_queue_bytes".to_owned(),
            kind: MetricType::Gauge,
            unit: Some("bytes"),
            help: "Compressed requests waiting to be sent.".to_owned(),
            metrics: vec![Metric {
                labels: Vec::new().into(),
                value: MetricValue::Gauge(Number::Int(queue.bytes() as i128)),
            }],
        },
    ]
}

/// Reads the files once and queues the requests that carry them.
fn take(exporter: &Exporter, config: &PushConfig, totals: &PushTotals, queue: &mut SendQueue) {
    let scrape = exporter.scrape(&Selection::default(), "push");
    let mut families = scrape.families;
    families.extend(own_families(totals, queue));
    let timestamp = now_ms();
    let series = series_of(&families, timestamp);
    let metadata = metadata_of(&families);
    let mut first = true;
    for chunk in series.chunks(config.max_series.max(1)) {
        let request = WriteRequest {
            timeseries: chunk.to_vec(),
            // Metadata once per read, with the first request.
            metadata: if first { metadata.clone() } else { Vec::new() },
        };
        first = false;
        match encode(&request) {
            Ok(body) => queue.push(Batch {
                body,
                samples: chunk.len(),
            }),
            Err(e) => log(format_args!("cannot compress a request: {e}")),
        }
    }
}

fn log(message: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "mmdump push: {message}");
}

/// Sleeps until `until`, or until `stop` is set (checked every 100 ms).
async fn sleep_until(until: Instant, stop: &AtomicBool) {
    loop {
        let now = Instant::now();
        if now >= until || stop.load(Ordering::Relaxed) {
            return;
        }
        tokio::time::sleep((until - now).min(Duration::from_millis(100))).await;
    }
}

/// Sends from the front of the queue until it is empty or `until` passes.
async fn drain(
    config: &PushConfig,
    queue: &mut SendQueue,
    backoff: &mut Backoff,
    totals: &mut PushTotals,
    failing: &mut bool,
    until: Instant,
    stop: &AtomicBool,
) {
    while let Some(batch) = queue.front() {
        if Instant::now() >= until || stop.load(Ordering::Relaxed) {
            return;
        }
        let body = batch.body.clone();
        let samples = batch.samples as u64;
        let outcome = post(&config.endpoint, body, &config.headers, config.timeout).await;
        let problem = match outcome {
            Ok(answer) if answer.accepted() => {
                queue.pop();
                backoff.succeeded();
                totals.sent_requests += 1;
                totals.sent_samples += samples;
                if *failing {
                    log(format_args!(
                        "{}: sending again ({} requests waiting)",
                        config.endpoint.host_header(),
                        queue.len()
                    ));
                    *failing = false;
                }
                continue;
            }
            Ok(answer) if !answer.retryable() => {
                queue.pop();
                totals.refused_samples += samples;
                log(format_args!(
                    "{}: refused {} samples with {}: {}",
                    config.endpoint.host_header(),
                    samples,
                    answer.status,
                    answer.text
                ));
                continue;
            }
            Ok(answer) if answer.text.is_empty() => format!("answered {}", answer.status),
            Ok(answer) => format!("answered {}: {}", answer.status, answer.text),
            Err(e) => e.to_string(),
        };
        totals.failed_attempts += 1;
        let wait = backoff.failed();
        if !*failing {
            log(format_args!(
                "{}: {problem}; retrying with backoff ({} requests, {} bytes queued)",
                config.endpoint.host_header(),
                queue.len(),
                queue.bytes()
            ));
            *failing = true;
        }
        sleep_until((Instant::now() + wait).min(until), stop).await;
    }
}

/// Runs `mmdump push` until `stop` is set or `config.count` reads are done,
/// then tries once more (for at most one timeout) to send what is queued.
///
/// # Errors
/// Only if the runtime cannot start; problems with the receiver are
/// logged and retried, and files that cannot be read are skipped as in
/// `serve`.
pub fn run(config: &PushConfig, stop: &AtomicBool) -> Result<PushTotals, PushError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(PushError::Runtime)?;
    let exporter = Exporter::new(
        config.inputs.clone(),
        config.selection.clone(),
        config.metrics.clone(),
    );
    let mut queue = SendQueue::new(config.max_queue_bytes);
    let seed = u64::from(std::process::id()) ^ now_ms().unsigned_abs();
    let mut backoff = Backoff::new(
        Duration::from_millis(500),
        config.interval.max(Duration::from_secs(30)),
        seed,
    );
    let mut totals = PushTotals::default();
    let mut failing = false;
    runtime.block_on(async {
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) && config.count.is_none_or(|c| totals.reads < c) {
            take(&exporter, config, &totals, &mut queue);
            totals.reads += 1;
            next += config.interval;
            let now = Instant::now();
            if next < now {
                next = now + config.interval;
            }
            let last = config.count.is_some_and(|c| totals.reads >= c);
            let until = if last { now + config.timeout } else { next };
            drain(
                config,
                &mut queue,
                &mut backoff,
                &mut totals,
                &mut failing,
                until,
                stop,
            )
            .await;
            if !last {
                sleep_until(next, stop).await;
            }
        }
        if stop.load(Ordering::Relaxed) && !queue.is_empty() {
            let until = Instant::now() + config.timeout;
            let never = AtomicBool::new(false);
            drain(
                config,
                &mut queue,
                &mut backoff,
                &mut totals,
                &mut failing,
                until,
                &never,
            )
            .await;
        }
    });
    totals.dropped_samples = queue.dropped_samples();
    let mut unsent = 0;
    while let Some(batch) = queue.pop() {
        unsent += batch.samples as u64;
    }
    totals.unsent_samples = unsent;
    Ok(totals)
}
