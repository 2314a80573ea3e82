//! Format 2.1 through real files: every new kind round-trips, dynamic
//! fields come and go (also inside a `stats!` struct), a `RegionReader`
//! kept open never shows a reused slot under its old name, a full region
//! falls back to overflow fields, and `mmdump` prints histograms (text:
//! count, rate, quantiles; JSON: statistics and `buckets`).

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use mmstats::{
    AddFieldError, Counter, EventRing, FieldSpec, FieldValue, Gauge, HistogramTimer, RegionReader,
    StatsFile, Unit, WindowAverage, read_file, stats,
};

fn values(path: &std::path::Path) -> BTreeMap<String, FieldValue> {
    read_file(path)
        .unwrap()
        .fields
        .into_iter()
        .map(|f| (f.name, f.value))
        .collect()
}

fn big_file(dir: &std::path::Path, name: &str) -> StatsFile {
    StatsFile::builder(name)
        .dir(dir)
        .size(1 << 20)
        .table_capacity(64)
        .reuse_delay(Duration::ZERO)
        .create()
        .unwrap()
}

#[test]
fn every_new_kind_round_trips_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = big_file(dir.path(), "kinds");
    let histogram = file
        .histogram(FieldSpec::new("sizes").unit(Unit::Bytes).precision(4))
        .unwrap();
    for value in 1..=1000u64 {
        histogram.record(value);
    }
    let timer = file.histogram_timer("latency").unwrap();
    timer.record(Duration::from_micros(150));
    timer.time(|| std::thread::sleep(Duration::from_millis(1)));
    let moving = file
        .moving_average(FieldSpec::new("recent").capacity(3))
        .unwrap();
    for sample in [10.0, 20.0, 30.0, 40.0] {
        moving.add(sample);
    }
    let window: WindowAverage = file
        .window_average(FieldSpec::new("load").window(60_000_000_000))
        .unwrap();
    window.record(2.0);
    window.record(4.0);
    let ring = file
        .event_ring(FieldSpec::new("events").capacity(16))
        .unwrap();
    ring.event(1, &[1]);
    ring.event(1, &[2]);

    let read = read_file(file.path()).unwrap();
    let field = |name: &str| read.fields.iter().find(|f| f.name == name).unwrap();
    let FieldValue::Histogram(sizes) = &field("sizes").value else {
        panic!()
    };
    assert_eq!(field("sizes").unit, "bytes");
    assert_eq!((sizes.count, sizes.sum), (1000, 500_500));
    let p50 = sizes.quantile(0.5).unwrap();
    assert!(p50.abs_diff(500) as f64 <= 500.0 * sizes.shape.relative_error());
    let FieldValue::Histogram(latency) = &field("latency").value else {
        panic!()
    };
    assert_eq!(field("latency").unit, "nanoseconds");
    assert_eq!(latency.count, 2);
    assert!(latency.max_value().unwrap() >= 1_000_000);
    assert_eq!(timer.count(), 2);
    assert_eq!(
        field("recent").value,
        FieldValue::MovingAverage {
            sum: 90.0,
            count: 3,
            total: 4,
            window: 3
        }
    );
    let FieldValue::WindowAverage {
        sum,
        count,
        window: length,
        as_of,
        ..
    } = field("load").value
    else {
        panic!()
    };
    assert_eq!((sum, count, length), (6.0, 2, 60_000_000_000));
    assert!(as_of > 0 && as_of <= mmstats::os::monotonic_ns());
    assert_eq!(
        field("events").value,
        FieldValue::EventRing {
            appended: 2,
            capacity: 16,
            payload_words: 4
        }
    );
    assert_eq!(field("events").value.as_f64(), Some(2.0));
}

stats! {
    /// One connection's stats.
    struct ConnStats {
        /// Bytes received.
        bytes_in: Counter { unit: Unit::Bytes },
        /// Requests in progress.
        inflight: Gauge,
        /// Time per request.
        latency: HistogramTimer { precision: 3 },
        /// What happened.
        events: EventRing { capacity: 8 },
    }
}

#[test]
fn a_dynamic_group_comes_and_goes_and_its_slots_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let file = big_file(dir.path(), "dyn");
    let mut reader = RegionReader::open(file.path()).unwrap();
    let names = |reader: &mut RegionReader| -> Vec<String> {
        reader
            .read()
            .unwrap()
            .fields
            .into_iter()
            .map(|f| f.name)
            .filter(|n| n.starts_with("conn."))
            .collect()
    };
    let first = ConnStats::register(&file.dynamic_group("conn.1.")).unwrap();
    first.bytes_in.add(100);
    first.latency.record(Duration::from_micros(5));
    first.events.text(1, "opened");
    assert!(first.bytes_in.is_dynamic());
    assert_eq!(
        names(&mut reader),
        [
            "conn.1.bytes_in",
            "conn.1.inflight",
            "conn.1.latency",
            "conn.1.events"
        ]
    );
    // The same name twice is refused while the first lives...
    assert!(matches!(
        file.dynamic_group("conn.1.").counter("bytes_in"),
        Err(AddFieldError::DuplicateName(_))
    ));
    let before = read_file(file.path()).unwrap().region.unwrap().data_used;
    drop(first);
    assert_eq!(
        names(&mut reader),
        Vec::<String>::new(),
        "retired fields vanish"
    );
    // ...and free again once it is retired. The reader kept its cache
    // across: it must show the new fields, with their own values.
    let second = ConnStats::register(&file.dynamic_group("conn.2.")).unwrap();
    second.bytes_in.add(7);
    assert_eq!(
        names(&mut reader),
        [
            "conn.2.bytes_in",
            "conn.2.inflight",
            "conn.2.latency",
            "conn.2.events"
        ]
    );
    let now = values(&file.path());
    assert_eq!(now["conn.2.bytes_in"], FieldValue::Counter(7));
    assert_eq!(
        read_file(file.path()).unwrap().region.unwrap().data_used,
        before,
        "the same fields again: value words reused"
    );
    let third = ConnStats::register(&file.dynamic_group("conn.1.")).unwrap();
    third.bytes_in.add(1);
    assert_eq!(
        values(&file.path())["conn.1.bytes_in"],
        FieldValue::Counter(1)
    );
}

#[test]
fn a_reader_kept_open_never_mixes_names_and_values_under_churn() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("churn")
        .dir(dir.path())
        .size(64 * 1024)
        .table_capacity(12)
        .reuse_delay(Duration::ZERO)
        .create()
        .unwrap();
    let path = file.path();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer_stop = Arc::clone(&stop);
    let writer = std::thread::spawn(move || {
        let mut k = 0u64;
        let mut open = std::collections::VecDeque::new();
        while !writer_stop.load(std::sync::atomic::Ordering::Relaxed) {
            k += 1;
            // Each field's value equals the number in its name; four
            // connections stay open, the oldest closes.
            let counter = file
                .dynamic_group(&format!("conn.{k}."))
                .counter("id")
                .unwrap();
            counter.add(k);
            open.push_back(counter);
            if open.len() > 4 {
                drop(open.pop_front());
            }
        }
        k
    });
    let mut reader = RegionReader::open(&path).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    let mut checked = 0;
    while std::time::Instant::now() < deadline {
        for field in reader.read().unwrap().fields {
            if let Some(id) = field.name.strip_prefix("conn.") {
                let id: u64 = id.trim_end_matches(".id").parse().unwrap();
                // A counter starts at 0 and is then set to its id.
                assert!(
                    field.value == FieldValue::Counter(id) || field.value == FieldValue::Counter(0),
                    "{} read {:?}",
                    field.name,
                    field.value
                );
                checked += 1;
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let made = writer.join().unwrap();
    println!("{made} connections, {checked} dynamic fields checked");
    assert!(made > 100);
}

#[test]
fn a_full_region_falls_back_to_the_overflow_fields() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("full")
        .dir(dir.path())
        .table_capacity(9)
        .reuse_delay(Duration::from_secs(3600))
        .create()
        .unwrap();
    let overflow_bytes = Arc::new(file.shared_counter("conn.overflow.bytes").unwrap());
    let overflow_open = Arc::new(file.shared_gauge("conn.overflow.open").unwrap());
    let mut conns = Vec::new();
    for k in 0..4 {
        let group = file.dynamic_group(&format!("conn.{k}."));
        let bytes = group.counter_or("bytes", &overflow_bytes).unwrap();
        let open = group.gauge_or("open", &overflow_open).unwrap();
        bytes.add(10);
        open.incr();
        conns.push((bytes, open));
    }
    // 5 default fields + 2 overflow fields leave room for one connection.
    let fell_back: Vec<bool> = conns.iter().map(|(b, _)| b.is_overflow()).collect();
    assert_eq!(fell_back, [false, true, true, true]);
    assert!(!conns[0].1.is_overflow());
    assert!(conns[1].1.is_overflow());
    let now = values(&file.path());
    assert_eq!(now["conn.0.bytes"], FieldValue::Counter(10));
    assert_eq!(now["conn.0.open"], FieldValue::Gauge(1));
    assert_eq!(now["conn.overflow.bytes"], FieldValue::Counter(30));
    assert_eq!(now["conn.overflow.open"], FieldValue::Gauge(3));
    // Retired slots wait out the (long) reuse delay: still full, and the
    // error says so.
    drop(conns);
    let error = file.dynamic_group("conn.9.").counter("bytes").unwrap_err();
    assert!(error.is_full());
    assert!(error.to_string().contains("reuse delay"), "{error}");
    // Invalid names are errors, not overflow.
    assert!(
        file.dynamic_group("bad\n")
            .counter_or("x", &overflow_bytes)
            .is_err()
    );
}

#[test]
fn mmdump_shows_histograms_with_rate_quantiles_and_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("shown")
        .dir(dir.path())
        .keep(true)
        .size(1 << 20)
        .table_capacity(32)
        .create()
        .unwrap();
    let timer = file.histogram_timer("request.ns").unwrap();
    for micros in 1..=100 {
        timer.record(Duration::from_micros(micros));
    }
    let ring = file.event_ring("events").unwrap();
    ring.event(1, &[]);
    let moving = file
        .moving_average(FieldSpec::new("recent").capacity(2))
        .unwrap();
    moving.add(3.0);
    let path = file.path();
    drop((timer, ring, moving, file));

    let text = Command::new(env!("CARGO_BIN_EXE_mmdump"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(text.status.success(), "{text:?}");
    let text = String::from_utf8(text.stdout).unwrap();
    let line = text.lines().find(|l| l.starts_with("request.ns")).unwrap();
    assert!(line.contains("n=100 ("), "count and rate: {line}");
    assert!(line.contains("/s) mean=50.5µs"), "{line}");
    assert!(line.contains(" p99="), "{line}");
    assert!(line.contains("histogram"), "{line}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("events") && l.contains("1 events (ring of 64")),
        "{text}"
    );

    let json = Command::new(env!("CARGO_BIN_EXE_mmdump"))
        .arg("--json")
        .arg(&path)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let fields = json["files"][0]["fields"].as_array().unwrap();
    let find = |name: &str| fields.iter().find(|f| f["name"] == name).unwrap();
    let histogram = find("request.ns");
    assert_eq!(histogram["kind"], "histogram");
    assert_eq!(histogram["value"], 100);
    assert_eq!(histogram["count"], 100);
    assert_eq!(histogram["unit"], "nanoseconds");
    assert_eq!(histogram["min"], 1000);
    assert_eq!(histogram["max"], 100_000);
    let p50 = histogram["quantiles"]["p50"].as_f64().unwrap();
    assert!((p50 - 50_000.0).abs() <= 50_000.0 / 64.0, "{p50}");
    let buckets = histogram["buckets"].as_array().unwrap();
    let total: u64 = buckets.iter().map(|b| b[2].as_u64().unwrap()).sum();
    assert_eq!(total, 100);
    assert!(
        buckets
            .windows(2)
            .all(|w| w[0][1].as_u64().unwrap() < w[1][0].as_u64().unwrap())
    );
    assert_eq!(find("events")["value"], 1);
    assert_eq!(find("events")["capacity"], 64);
    assert_eq!(find("recent")["value"], 3.0);
    assert_eq!(find("recent")["window"], 2);
}
