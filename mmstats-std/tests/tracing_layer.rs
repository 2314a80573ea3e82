//! The `tracing` layer: rings per thread, duration histograms per span
//! name with chosen fields as labels, bounds.
#![cfg(feature = "tracing")]

use std::sync::{Arc, Barrier};

use mmstats::tracing_layer::MmstatsLayer;
use mmstats::{Field, FieldValue, StatsFile};
use tracing_subscriber::layer::SubscriberExt;

fn file(dir: &tempfile::TempDir) -> StatsFile {
    StatsFile::builder("tracing-test")
        .dir(dir.path())
        .size(4 << 20)
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

fn total(field: &Field) -> u64 {
    match &field.value {
        FieldValue::Histogram(h) => h.total(),
        other => panic!("{} is not a histogram: {other:?}", field.name),
    }
}

fn appended(field: &Field) -> u64 {
    match field.value {
        FieldValue::EventRing { appended, .. } => appended,
        ref other => panic!("{} is not a ring: {other:?}", field.name),
    }
}

#[test]
fn spans_and_events_fill_the_ring_and_the_duration_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let stats = file(&dir);
    let layer = MmstatsLayer::builder(stats.clone())
        .label_fields(&["method"])
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer.clone());
    tracing::subscriber::with_default(subscriber, || {
        for method in ["GET", "GET", "PUT"] {
            let request = tracing::info_span!("request", method, id = 7);
            let _request = request.enter();
            {
                let _db = tracing::debug_span!("db").entered();
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            tracing::info!("answered");
        }
    });

    let durations = fields(&stats, "trace.span_ns");
    let find = |span: &str, method: Option<&str>| {
        durations
            .iter()
            .find(|f| f.labels.get("span") == Some(span) && f.labels.get("method") == method)
            .unwrap_or_else(|| panic!("no histogram for {span} {method:?}: {durations:?}"))
    };
    assert_eq!(total(find("request", Some("GET"))), 2);
    assert_eq!(total(find("request", Some("PUT"))), 1);
    let db = find("db", None);
    assert_eq!(total(db), 3);
    assert_eq!(db.unit, mmstats::Unit::Nanoseconds.name());
    assert_eq!(db.labels.get("lane"), Some("0"));
    assert_eq!(
        db.labels.get("id"),
        None,
        "only the chosen fields are labels"
    );
    let FieldValue::Histogram(h) = &db.value else {
        unreachable!()
    };
    assert!(
        h.min_value().unwrap() >= 1_000_000,
        "db slept 1 ms: {:?}",
        h.min_value()
    );
    assert_eq!(durations.len(), 3);

    let rings = fields(&stats, "trace.ring");
    assert_eq!(rings.len(), 1, "one thread, one ring");
    // Six spans entered and exited, three events.
    assert_eq!(appended(&rings[0]), 6 * 2 + 3);
    assert_eq!(layer.dropped(), 0);
}

#[test]
fn each_thread_writes_its_own_ring_and_exited_threads_hand_theirs_on() {
    let dir = tempfile::tempdir().unwrap();
    let stats = file(&dir);
    let layer = MmstatsLayer::builder(stats.clone()).build().unwrap();
    let subscriber = Arc::new(tracing_subscriber::registry().with(layer.clone()));
    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let subscriber = Arc::clone(&subscriber);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                tracing::subscriber::with_default(subscriber, || {
                    for _ in 0..10 {
                        let _work = tracing::info_span!("work").entered();
                    }
                    barrier.wait(); // all alive at once: four rings
                });
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let rings = fields(&stats, "trace.ring");
    assert_eq!(rings.len(), threads);
    assert!(rings.iter().all(|r| appended(r) == 20));
    let work: u64 = fields(&stats, "trace.span_ns").iter().map(total).sum();
    assert_eq!(work, 40);

    // Threads one after another take over a ring left by an exited one.
    for _ in 0..10 {
        let subscriber = Arc::clone(&subscriber);
        std::thread::spawn(move || {
            tracing::subscriber::with_default(subscriber, || {
                let _later = tracing::info_span!("later").entered();
            });
        })
        .join()
        .unwrap();
    }
    assert_eq!(fields(&stats, "trace.ring").len(), threads);
    let later: Vec<Field> = fields(&stats, "trace.span_ns")
        .into_iter()
        .filter(|f| f.labels.get("span") == Some("later"))
        .collect();
    assert_eq!(later.len(), 1, "{later:?}");
    assert_eq!(total(&later[0]), 10);
    assert_eq!(layer.dropped(), 0);
}

#[test]
fn threads_beyond_the_bound_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let stats = file(&dir);
    let layer = MmstatsLayer::builder(stats.clone())
        .max_threads(1)
        .build()
        .unwrap();
    let subscriber = Arc::new(tracing_subscriber::registry().with(layer.clone()));
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let subscriber = Arc::clone(&subscriber);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                tracing::subscriber::with_default(subscriber, || {
                    barrier.wait();
                    let _span = tracing::info_span!("s").entered();
                    tracing::warn!("w");
                    barrier.wait();
                });
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(fields(&stats, "trace.ring").len(), 1);
    // The second thread's enter, exit and event.
    assert_eq!(layer.dropped(), 3);
    let dropped = fields(&stats, "trace.dropped");
    assert_eq!(dropped[0].value, FieldValue::Counter(3));
}

#[test]
fn unbounded_label_values_are_bounded_and_every_duration_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("tracing-bounds")
        .dir(dir.path())
        .size(1 << 20)
        .create()
        .unwrap();
    let layer = MmstatsLayer::builder(stats.clone())
        .label_fields(&["id"])
        .build()
        .unwrap();
    let spans = mmstats::tracing_layer::KEYS_MAX as u64 + 500;
    let subscriber = tracing_subscriber::registry().with(layer.clone());
    tracing::subscriber::with_default(subscriber, || {
        for id in 0..spans {
            let _span = tracing::info_span!("request", id).entered();
        }
    });
    let recorded: u64 = fields(&stats, "trace.span_ns").iter().map(total).sum();
    assert!(recorded > 0, "some histograms fit");
    assert!(recorded < spans, "the file cannot hold a histogram per id");
    // Each span's duration is recorded or counted as dropped, never both.
    assert_eq!(recorded + layer.dropped(), spans);
    // The ring still took every enter and exit.
    assert_eq!(appended(&fields(&stats, "trace.ring")[0]), 2 * spans);
}
