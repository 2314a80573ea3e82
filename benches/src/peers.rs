//! The peers mmstats is compared with, each used the way its users use it:
//! a pre-registered handle updated in a loop.
//!
//! - `prometheus`: `IntCounter::inc` and `Gauge::set` on metrics registered
//!   in a `Registry`;
//! - `metrics`: `Counter::increment` and `Gauge::set` on handles from a real
//!   recorder backed by `metrics_util::registry::Registry` with atomic
//!   storage (what the metrics exporters use);
//! - `seqlock`: `SeqLock<[u64; 4]>` writes, the multi-word peer of a latch
//!   cell.

use std::hint::black_box;
use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};

use crate::Case;

/// A minimal real recorder: the registry with atomic storage that the
/// metrics exporters build on.
struct RegistryRecorder {
    registry: Registry<Key, AtomicStorage>,
}

impl Recorder for RegistryRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.registry
            .get_or_create_counter(key, |c| Counter::from_arc(Arc::clone(c)))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.registry
            .get_or_create_gauge(key, |g| Gauge::from_arc(Arc::clone(g)))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.registry
            .get_or_create_histogram(key, |h| Histogram::from_arc(Arc::clone(h)))
    }
}

/// Peer writer operations.
pub fn peer_write_cases() -> Vec<Case> {
    let registry = prometheus::Registry::new();
    let prom_counter = prometheus::IntCounter::new("requests_total", "requests").unwrap();
    let prom_gauge = prometheus::Gauge::new("load", "load").unwrap();
    registry.register(Box::new(prom_counter.clone())).unwrap();
    registry.register(Box::new(prom_gauge.clone())).unwrap();

    let recorder = RegistryRecorder {
        registry: Registry::atomic(),
    };
    let (metrics_counter, metrics_gauge) = metrics::with_local_recorder(&recorder, || {
        (metrics::counter!("requests"), metrics::gauge!("load"))
    });

    let seqlock = seqlock::SeqLock::new([0u64; 4]);
    let mut n = 0u64;
    vec![
        Case::each("write", "prometheus: IntCounter::inc", move || {
            prom_counter.inc()
        }),
        Case::each("write", "prometheus: Gauge::set", move || {
            prom_gauge.set(black_box(0.75))
        }),
        Case::each("write", "metrics: counter increment", move || {
            metrics_counter.increment(black_box(1));
        }),
        Case::each("write", "metrics: gauge set", move || {
            metrics_gauge.set(black_box(0.75))
        }),
        Case::each("write", "seqlock: 4-word write", move || {
            n = n.wrapping_add(1);
            let k = black_box(n);
            *seqlock.lock_write() = [k, k + 1, k + 2, k + 3];
        }),
    ]
}
