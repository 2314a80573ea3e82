//! The `metrics` recorder: what `counter!`, `gauge!` and `histogram!`
//! publish, lanes across threads, lane reuse, and a full file.
#![cfg(feature = "metrics")]

use std::sync::{Arc, Barrier};

use mmstats::metrics_recorder::{MAX_LANES, MmstatsRecorder};
use mmstats::{Field, FieldValue, StatsFile};

fn file(dir: &tempfile::TempDir) -> StatsFile {
    StatsFile::builder("metrics-test")
        .dir(dir.path())
        .create()
        .unwrap()
}

fn fields(stats: &StatsFile, name: &str) -> Vec<Field> {
    mmstats::read_file(stats.path())
        .unwrap()
        .fields
        .into_iter()
        .filter(|f| f.name == name)
        .collect()
}

fn counter_sum(fields: &[Field]) -> u64 {
    fields
        .iter()
        .map(|f| match f.value {
            FieldValue::Counter(n) => n,
            ref other => panic!("{} is not a counter: {other:?}", f.name),
        })
        .sum()
}

#[test]
fn macros_publish_counters_gauges_and_histograms_with_labels_units_and_descriptions() {
    let dir = tempfile::tempdir().unwrap();
    let stats = file(&dir);
    let recorder = MmstatsRecorder::new(stats.clone()).unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("requests", metrics::Unit::Count, "requests served");
        metrics::describe_histogram!("latency", metrics::Unit::Seconds, "time to answer");
        metrics::counter!("requests", "method" => "GET").increment(3);
        metrics::counter!("requests", "method" => "GET").increment(2);
        metrics::counter!("requests", "method" => "PUT").increment(1);
        let load = metrics::gauge!("load");
        load.set(1.5);
        load.increment(1.0);
        load.decrement(0.25);
        let latency = metrics::histogram!("latency");
        latency.record(0.002); // 2 ms
        latency.record(0.004);
        latency.record(-1.0); // records 0
    });

    let requests = fields(&stats, "requests");
    assert_eq!(requests.len(), 2, "one field per label set: {requests:?}");
    let get = requests
        .iter()
        .find(|f| f.labels.get("method") == Some("GET"))
        .unwrap();
    assert_eq!(get.value, FieldValue::Counter(5));
    assert_eq!(get.labels.get("lane"), Some("0"));
    assert_eq!(get.description, "requests served");
    assert_eq!(get.unit, mmstats::Unit::Events.name());
    let put = requests
        .iter()
        .find(|f| f.labels.get("method") == Some("PUT"))
        .unwrap();
    assert_eq!(put.value, FieldValue::Counter(1));

    let load = fields(&stats, "load");
    assert_eq!(load.len(), 1);
    assert_eq!(load[0].value, FieldValue::Float(2.25));
    assert_eq!(load[0].labels.get("lane"), None, "a gauge has no lanes");

    let latency = fields(&stats, "latency");
    assert_eq!(latency.len(), 1);
    assert_eq!(latency[0].unit, mmstats::Unit::Nanoseconds.name());
    let FieldValue::Histogram(snapshot) = &latency[0].value else {
        panic!("latency is not a histogram: {:?}", latency[0].value);
    };
    assert_eq!(snapshot.total(), 3);
    assert_eq!(snapshot.min_value(), Some(0));
    // Seconds are recorded as nanoseconds (exact for min/max).
    assert_eq!(snapshot.max_value(), Some(4_000_000));
    assert_eq!(recorder.refused(), 0);
}

#[test]
fn threads_get_their_own_lanes_and_no_increment_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let stats = file(&dir);
    let recorder = MmstatsRecorder::new(stats.clone()).unwrap();
    let counter = metrics::with_local_recorder(&recorder, || metrics::counter!("hits"));
    let threads = 8;
    let per_thread = 100_000;
    let barrier = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let counter = counter.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..per_thread {
                    counter.increment(1);
                }
                // Stay alive until all have taken a lane, so each needs
                // its own.
                barrier.wait();
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let hits = fields(&stats, "hits");
    assert_eq!(counter_sum(&hits), (threads * per_thread) as u64);
    assert_eq!(hits.len(), threads, "one lane per live thread: {hits:?}");
    assert!(hits.iter().all(|f| f.labels.get("lane") != Some("shared")));
}

#[test]
fn exited_threads_give_their_lanes_to_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let stats = file(&dir);
    let recorder = MmstatsRecorder::new(stats.clone()).unwrap();
    let counter = metrics::with_local_recorder(&recorder, || metrics::counter!("jobs"));
    for _ in 0..40 {
        let counter = counter.clone();
        std::thread::spawn(move || counter.increment(2))
            .join()
            .unwrap();
    }
    let jobs = fields(&stats, "jobs");
    assert_eq!(
        jobs.len(),
        1,
        "one thread at a time reuses lane 0: {jobs:?}"
    );
    assert_eq!(counter_sum(&jobs), 80);
}

#[test]
fn threads_beyond_the_lanes_share_one() {
    let dir = tempfile::tempdir().unwrap();
    let stats = file(&dir);
    let recorder = MmstatsRecorder::new(stats.clone()).unwrap();
    let counter = metrics::with_local_recorder(&recorder, || metrics::counter!("wide"));
    let threads = MAX_LANES + 4;
    let barrier = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let counter = counter.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    counter.increment(1);
                }
                barrier.wait();
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let wide = fields(&stats, "wide");
    assert_eq!(counter_sum(&wide), (threads * 1000) as u64);
    assert_eq!(wide.len(), MAX_LANES + 1, "16 lanes and the shared one");
    assert!(wide.iter().any(|f| f.labels.get("lane") == Some("shared")));
}

#[test]
fn absolute_raises_the_shared_lane() {
    let dir = tempfile::tempdir().unwrap();
    let stats = file(&dir);
    let recorder = MmstatsRecorder::new(stats.clone()).unwrap();
    metrics::with_local_recorder(&recorder, || {
        let counter = metrics::counter!("seen");
        counter.absolute(10);
        counter.absolute(7); // never lowers
        counter.absolute(12);
    });
    let seen = fields(&stats, "seen");
    let shared = seen
        .iter()
        .find(|f| f.labels.get("lane") == Some("shared"))
        .unwrap();
    assert_eq!(shared.value, FieldValue::Counter(12));
    assert_eq!(counter_sum(&seen), 12);
}

#[test]
fn a_full_file_refuses_metrics_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("metrics-full")
        .dir(dir.path())
        .size(16 * 1024)
        .create()
        .unwrap();
    let recorder = MmstatsRecorder::new(stats.clone()).unwrap();
    let names: Vec<String> = (0..500).map(|i| format!("c{i}")).collect();
    metrics::with_local_recorder(&recorder, || {
        for name in &names {
            metrics::counter!(name.clone()).increment(1);
        }
        // Names the format refuses are refused too, not a panic.
        metrics::counter!("bad name\n").increment(1);
    });
    let read = mmstats::read_file(stats.path()).unwrap();
    let published = read
        .fields
        .iter()
        .filter(|f| f.name.starts_with('c'))
        .count() as u64;
    assert!(published > 0 && published < 500, "{published} published");
    assert_eq!(recorder.refused(), 500 - published + 1);
    let refused = read
        .fields
        .iter()
        .find(|f| f.name == "metrics.refused")
        .unwrap();
    assert_eq!(refused.value, FieldValue::Counter(recorder.refused()));
}

#[test]
fn keys_the_format_cannot_label_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stats = file(&dir);
    let recorder = MmstatsRecorder::new(stats.clone()).unwrap();
    metrics::with_local_recorder(&recorder, || {
        // The recorder's own label.
        metrics::counter!("clash", "lane" => "mine").increment(1);
        // Eight labels of its own, plus `lane`: one too many.
        metrics::counter!(
            "wide", "a" => "1", "b" => "2", "c" => "3", "d" => "4",
            "e" => "5", "f" => "6", "g" => "7", "h" => "8"
        )
        .increment(1);
        // Seven fit.
        metrics::counter!(
            "fits", "a" => "1", "b" => "2", "c" => "3", "d" => "4",
            "e" => "5", "f" => "6", "g" => "7"
        )
        .increment(1);
    });
    assert_eq!(recorder.refused(), 2);
    assert!(fields(&stats, "clash").is_empty());
    assert!(fields(&stats, "wide").is_empty());
    assert_eq!(counter_sum(&fields(&stats, "fits")), 1);
}
