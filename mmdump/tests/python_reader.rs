//! The Python reader (`readers/python/mmstats_reader.py`, standard library
//! only, written from `docs/FORMAT.md`) and `mmdump --json` agree, field by
//! field and byte for byte, on files written by the Rust writer (every
//! kind, multi-buffer values, fields added later, a closed file, a
//! big-endian region), on the legacy v1 fixtures, and on broken files; and
//! on format 2.1 (histograms, moving and window averages, event rings,
//! dynamic fields retired and reused, in both byte orders).
//!
//! Skipped, with the reason printed, when `python3` is missing, unless
//! `MMSTATS_REQUIRE_PYTHON=1` (set by the CI step) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use core::sync::atomic::Ordering;
use mmstats::{FieldSpec, StatsFile, Unit};
use mmstats_nostd::{ByteImage, Kind, Region, RegionOptions, RegionView, Word};
use serde_json::Value;

// The fuzz targets' helpers: a region with every kind and reused slots, and
// its byte-swapped twin.
use mmstats_fuzz_checks as checks;

const WATCHDOG: Duration = Duration::from_secs(60);

fn reader_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../readers/python/mmstats_reader.py")
}

/// Whether python3 runs; prints why not, or fails if it is required.
fn python_available() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("MMSTATS_REQUIRE_PYTHON").is_none(),
            "python3 is required (MMSTATS_REQUIRE_PYTHON is set) but does not run"
        );
        eprintln!("SKIPPED: python3 is not installed; the Python reader was not compared");
    }
    ok
}

/// Runs a command to completion under the watchdog.
fn run(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let deadline = Instant::now() + WATCHDOG;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} did not finish within {WATCHDOG:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `mmdump --json` and the Python reader on the same arguments: both
/// documents, after checking that they agree field by field and byte for
/// byte, and exit with the same status.
fn compare(paths: &[PathBuf]) -> Value {
    let mmdump = run(Command::new(env!("CARGO_BIN_EXE_mmdump"))
        .arg("--json")
        .args(paths)
        .env_remove("MMSTATS_DIR"));
    let python = run(Command::new("python3")
        .arg(reader_script())
        .arg("--json")
        .args(paths)
        .env_remove("MMSTATS_DIR"));
    let rust_text = String::from_utf8(mmdump.stdout).unwrap();
    let python_text = String::from_utf8(python.stdout).unwrap();
    assert!(
        python.status.code().is_some(),
        "python reader crashed: {}",
        String::from_utf8_lossy(&python.stderr)
    );
    let rust: Value = serde_json::from_str(&rust_text).unwrap();
    let py: Value = serde_json::from_str(&python_text).unwrap_or_else(|e| {
        panic!(
            "python printed no JSON ({e}): {python_text}\nstderr: {}",
            String::from_utf8_lossy(&python.stderr)
        )
    });

    assert_eq!(py["schema"], rust["schema"]);
    let (rust_files, py_files) = (
        rust["files"].as_array().unwrap(),
        py["files"].as_array().unwrap(),
    );
    let names = |files: &[Value]| -> Vec<String> {
        files
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(py_files), names(rust_files), "files read");
    for (r, p) in rust_files.iter().zip(py_files) {
        let path = r["path"].as_str().unwrap();
        for key in [
            "format",
            "pid",
            "writer",
            "generation",
            "created_ns",
            "heartbeat_ns",
        ] {
            assert_eq!(p.get(key), r.get(key), "{path}: {key}");
        }
        let (r_fields, p_fields) = (
            r["fields"].as_array().unwrap(),
            p["fields"].as_array().unwrap(),
        );
        for (index, r_field) in r_fields.iter().enumerate() {
            let name = r_field["name"].as_str().unwrap();
            let p_field = p_fields
                .get(index)
                .unwrap_or_else(|| panic!("{path}: python lacks field {index} ({name})"));
            assert_eq!(p_field, r_field, "{path}: field {index} ({name})");
        }
        assert_eq!(p_fields.len(), r_fields.len(), "{path}: field count");
    }
    let error_paths = |doc: &Value| -> Vec<String> {
        doc["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(error_paths(&py), error_paths(&rust), "files with errors");
    assert_eq!(py["errors"], rust["errors"], "error messages");
    assert_eq!(python_text, rust_text, "the documents differ as text");
    assert_eq!(python.status.code(), mmdump.status.code(), "exit status");
    rust
}

/// A region with every number byte-swapped, as a machine of the other
/// byte order writes it (names and string bytes stay in memory order).
fn foreign_region(dir: &Path) -> PathBuf {
    let words: Vec<Word> = (0..512).map(|_| Word::new(0)).collect();
    let mut region = Region::create(
        &words,
        &RegionOptions {
            table_capacity: 6,
            generation: 77,
            created_ns: 1_700_000_000_000_000_000,
            ..RegionOptions::default()
        },
    )
    .unwrap();
    region.set_prefix("fw.").unwrap();
    region.counter("boots").unwrap().add(0x0102_0304_0506_0708);
    region.gauge("delta").unwrap().set(-42);
    region
        .float_gauge(FieldSpec::new("temp").unit(Unit::Celsius))
        .unwrap()
        .set(-12.25);
    let text = region
        .text(FieldSpec::new("build").capacity(24).buffers(4))
        .unwrap();
    for n in 0..7 {
        text.set(&format!("firmware-{n}-élan"));
    }
    let average = region.average("adc").unwrap();
    for sample in [1.0, 2.0, 4.5] {
        average.add(sample);
    }
    region.flag("armed").unwrap().set(true);

    let native: Vec<u8> = words
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
        .collect();
    let image = ByteImage::new(&native);
    let view = RegionView::open(&image).unwrap();
    let count = view.field_count().unwrap();
    let fields: Vec<_> = (0..count)
        .map(|i| view.entry(i).unwrap().unwrap())
        .collect();
    let mut out = native.clone();
    let swap = |out: &mut [u8], at: usize, size: usize| {
        out[at..at + size].reverse();
    };
    // Prologue: u32 byte order, u16 major/minor, u32 header/entry length,
    // then u64 words; the magic stays.
    swap(&mut out, 8, 4);
    swap(&mut out, 12, 2);
    swap(&mut out, 14, 2);
    swap(&mut out, 16, 4);
    swap(&mut out, 20, 4);
    for word in 3..32 {
        swap(&mut out, word * 8, 8);
    }
    for index in 0..count {
        let at = 256 + index * 256;
        for (offset, size) in [
            (0, 8),
            (8, 8),
            (16, 8),
            (24, 4),
            (28, 2),
            (30, 2),
            (32, 4),
            (36, 2),
            (38, 2),
            (40, 2),
            (42, 2),
            (44, 4),
            (48, 8),
        ] {
            swap(&mut out, at + offset, size);
        }
    }
    for field in &fields {
        let start = field.value_word * 8;
        match field.kind.unwrap() {
            Kind::String => {
                swap(&mut out, start, 8);
                for copy in 0..field.buffers {
                    swap(&mut out, start + 8 + copy * field.copy_words * 8, 8);
                }
            }
            Kind::Average => {
                for word in 0..1 + field.buffers * field.copy_words {
                    swap(&mut out, start + word * 8, 8);
                }
            }
            _ => swap(&mut out, start, 8),
        }
    }
    let path = dir.join("foreign-order.mmstats");
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn python_reader_agrees_with_mmdump() {
    if !python_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();

    // A live file with every kind, several buffer counts, odd floats,
    // units and descriptions.
    let live = StatsFile::builder("py")
        .dir(dir.path())
        .prefix("web.")
        .create()
        .unwrap();
    let hits = live.counter("hits").unwrap();
    // Labelled fields (format 2.2): one name, two label sets, a value
    // holding a quote and a backslash.
    let labelled: Vec<_> = [("1234", 5), ("a\"b\\c", 6)]
        .into_iter()
        .map(|(conn, bytes)| {
            let view = live
                .dynamic_labels(&[("conn", conn), ("app", "py")])
                .unwrap();
            let counter = view.counter("conn.bytes_in").unwrap();
            counter.add(bytes);
            counter
        })
        .collect();
    let shared = live.shared_counter("shared.hits").unwrap();
    let inflight = live.gauge("inflight").unwrap();
    let level = live.shared_gauge("level").unwrap();
    let flag = live.flag("healthy").unwrap();
    let seen = live.timestamp("last_seen").unwrap();
    let floats: Vec<_> = [
        0.75,
        -0.1,
        1e-7,
        1e21,
        123_456_789.125,
        f64::MIN_POSITIVE,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        1e16,
        1e15,
        0.00001,
    ]
    .iter()
    .enumerate()
    .map(|(i, &v)| {
        let gauge = live
            .float_gauge(FieldSpec::new(&format!("float.{i}")).unit(Unit::Ratio))
            .unwrap();
        gauge.set(v);
        gauge
    })
    .collect();
    let version = live
        .text(
            FieldSpec::new("version")
                .capacity(40)
                .buffers(2)
                .describe("build — version"),
        )
        .unwrap();
    let big = live
        .text(FieldSpec::new("big").capacity(4096).buffers(5))
        .unwrap();
    let latency = live
        .average(
            FieldSpec::new("latency")
                .unit(Unit::Milliseconds)
                .buffers(3),
        )
        .unwrap();
    let empty_average = live.average("never").unwrap();
    let timer = live.timer("render").unwrap();
    hits.add(u64::MAX - 3);
    shared.add(12);
    inflight.set(-3);
    level.add(9_007_199_254_740_993); // above 2^53: must stay exact
    flag.set(true);
    seen.set_ns(1_700_000_000_123_456_789);
    for n in 0..11 {
        version.set(&format!("v1.{n} \"quoted\" \\ tab\t naïve ✓"));
        big.set(&"0123456789abcdef€".repeat(300));
        latency.add(f64::from(n) * 0.3);
    }
    timer.record(Duration::from_micros(1500));
    drop(empty_average);

    // A file closed by its writer, kept on disk.
    let closed_path = {
        let closed = StatsFile::builder("closed")
            .dir(dir.path())
            .keep(true)
            .create()
            .unwrap();
        closed.counter("done").unwrap().add(3);
        closed.path()
    };
    let foreign = foreign_region(dir.path());
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../mmstats-std/tests/fixtures/legacy-v1");
    let mut paths = vec![live.path(), closed_path.clone(), foreign.clone()];
    paths.extend(
        ["web.mmstats", "timers.mmstats", "python-all.mmstats"]
            .iter()
            .map(|name| fixtures.join(name)),
    );

    let document = compare(&paths);
    let files = document["files"].as_array().unwrap();
    assert_eq!(files.len(), 6);
    assert_eq!(files[0]["writer"], "alive");
    assert_eq!(files[1]["writer"], "closed");
    assert_eq!(files[3]["format"], "legacy-v1");
    let field = |file: usize, name: &str| -> Value {
        files[file]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no field {name}"))
    };
    assert_eq!(field(0, "web.hits")["value"], u64::MAX - 3);
    assert_eq!(field(0, "web.level")["value"], 9_007_199_254_740_993u64);
    assert_eq!(field(0, "web.float.6")["value"], "NaN");
    assert_eq!(field(2, "fw.build")["value"], "firmware-6-élan");
    assert_eq!(field(2, "fw.boots")["value"], 0x0102_0304_0506_0708u64);
    let conns: Vec<(Value, Value)> = files[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["name"] == "web.conn.bytes_in")
        .map(|f| (f["labels"].clone(), f["value"].clone()))
        .collect();
    assert_eq!(
        conns,
        [
            (serde_json::json!({"app": "py", "conn": "1234"}), 5.into()),
            (
                serde_json::json!({"app": "py", "conn": "a\"b\\c"}),
                6.into()
            ),
        ]
    );

    // Fields added later, and more updates: both readers see them.
    let later = live
        .text(FieldSpec::new("later.text").capacity(16).buffers(16))
        .unwrap();
    for n in 0..40 {
        later.set(&format!("late {n}"));
    }
    live.counter("later.count").unwrap().add(5);
    for (i, gauge) in floats.iter().enumerate() {
        gauge.set(i as f64 / 7.0);
    }
    let document = compare(&paths);
    assert_eq!(
        document["files"][0]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "web.later.text")
            .unwrap()["value"],
        "late 39"
    );

    // Broken files: both report the same errors and still read the rest.
    let truncated = dir.path().join("truncated.mmstats");
    let bytes = std::fs::read(&foreign).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 64]).unwrap();
    let junk = dir.path().join("junk.mmstats");
    std::fs::write(&junk, b"not a stats file at all").unwrap();
    let short = dir.path().join("short.mmstats");
    std::fs::write(&short, b"\x89MMSTAT2").unwrap();
    let legacy_bad = dir.path().join("legacy-bad.mmstats");
    std::fs::write(&legacy_bad, b"\x01\x01\x00x\x01\x00Z\xff\x00").unwrap();
    let missing = dir.path().join("missing.mmstats");
    let mut broken = vec![truncated, junk, short, legacy_bad, missing];
    broken.push(live.path());
    let document = compare(&broken);
    assert_eq!(document["errors"].as_array().unwrap().len(), 5);

    // A directory and a wildcard.
    compare(&[dir.path().to_owned()]);
    compare(&[dir.path().join("py-*")]);
    drop((later, labelled));
}

/// The field of file `file` named `name` in an `mmdump --json` document.
fn field_of(document: &Value, file: usize, name: &str) -> Value {
    document["files"][file]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("file {file} has no field {name}"))
}

fn names_of(document: &Value, file: usize) -> Vec<String> {
    document["files"][file]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn python_reader_agrees_with_mmdump_on_format_2_1() {
    if !python_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();

    // A no_std region with every kind, a retired slot and two reused
    // ones, in this machine's byte order and in the other.
    let native = checks::seed_region();
    let native_path = dir.path().join("every-kind.mmstats");
    std::fs::write(&native_path, &native).unwrap();
    let swapped_path = dir.path().join("every-kind-swapped.mmstats");
    std::fs::write(&swapped_path, checks::swap_region(&native)).unwrap();

    // A live file of the std writer: histograms (a timer, one with values
    // past its range, an empty one, one reaching 2^64 - 1), moving and
    // window averages, a lapped event ring, and dynamic groups whose
    // fields are retired and whose slots are reused.
    let live = StatsFile::builder("py21")
        .dir(dir.path())
        .prefix("srv.")
        .reuse_delay(Duration::ZERO)
        .create()
        .unwrap();
    let timer = live.histogram_timer("render").unwrap();
    for micros in [3, 150, 1500, 1500, 90_000] {
        timer.record(Duration::from_micros(micros));
    }
    let sizes = live
        .histogram(
            FieldSpec::new("sizes")
                .unit(Unit::Bytes)
                .precision(3)
                .highest(1000)
                .describe("response sizes"),
        )
        .unwrap();
    for value in [0, 1, 7, 8, 9, 100, 999, 1000, 1023, 1024, 5_000_000] {
        sizes.record(value);
    }
    sizes.record_n(42, 1000);
    let _empty = live
        .histogram(FieldSpec::new("empty").precision(2).highest(10))
        .unwrap();
    let full_range = live
        .histogram(FieldSpec::new("full").precision(1).highest(u64::MAX))
        .unwrap();
    full_range.record(u64::MAX);
    full_range.record(1 << 40);
    let moving = live
        .moving_average(FieldSpec::new("last8").capacity(8).buffers(3))
        .unwrap();
    for n in 0..21 {
        moving.add(f64::from(n) * 0.25 + 0.1);
    }
    let _moving_empty = live.moving_average("never").unwrap();
    let window = live
        .window_average(
            FieldSpec::new("per_minute")
                .unit(Unit::Milliseconds)
                .window(60_000_000_000)
                .slots(6),
        )
        .unwrap();
    for sample in [1.5, 2.5, 1e300, -0.125] {
        window.record(sample);
    }
    let ring = live
        .event_ring(FieldSpec::new("events").capacity(8).payload_words(3))
        .unwrap();
    for n in 0..13u64 {
        ring.event(7, &[n, n * n]);
    }
    ring.text(8, "bonjour, monde — ünïcode");
    let span = ring.enter(9, "request");
    ring.exit(9, span);
    // Dynamic fields: conn.1 closes, conn.2 reuses its counter's slot (and
    // value words), conn.3's histogram is retired and left so.
    let conn1 = live.dynamic_group("conn.1.");
    let bytes1 = conn1.counter("bytes").unwrap();
    let state1 = conn1.text(FieldSpec::new("state").capacity(16)).unwrap();
    bytes1.add(4096);
    state1.set("open");
    let conn3 = live.dynamic_group("conn.3.");
    let latency3 = conn3
        .histogram(FieldSpec::new("latency").precision(2).highest(100))
        .unwrap();
    latency3.record(12);
    let reused_from = bytes1.registration_id();
    drop(bytes1);
    let conn2 = live.dynamic_group("conn.2.");
    let bytes2 = conn2.counter("bytes").unwrap();
    bytes2.add(77);
    assert_ne!(bytes2.registration_id(), reused_from);
    let moving2 = conn2
        .moving_average(FieldSpec::new("rtt").capacity(4))
        .unwrap();
    moving2.add(3.0);
    drop(latency3);

    let paths = vec![live.path(), native_path.clone(), swapped_path.clone()];
    let document = compare(&paths);
    let names = names_of(&document, 0);
    assert!(names.contains(&"srv.conn.1.state".to_owned()));
    assert!(names.contains(&"srv.conn.2.bytes".to_owned()));
    assert!(!names.contains(&"srv.conn.1.bytes".to_owned()), "retired");
    assert!(!names.contains(&"srv.conn.3.latency".to_owned()), "retired");
    assert_eq!(field_of(&document, 0, "srv.conn.2.bytes")["value"], 77);
    let sizes_json = field_of(&document, 0, "srv.sizes");
    assert_eq!(sizes_json["kind"], "histogram");
    assert_eq!(sizes_json["count"], 1011);
    assert_eq!(sizes_json["max"], 5_000_000);
    assert_eq!(sizes_json["highest"], 1023);
    assert!(sizes_json["buckets"].as_array().unwrap().len() > 5);
    assert_eq!(
        field_of(&document, 0, "srv.empty")["quantiles"],
        Value::Null
    );
    assert_eq!(field_of(&document, 0, "srv.full")["highest"], u64::MAX);
    assert_eq!(field_of(&document, 0, "srv.last8")["count"], 8);
    assert_eq!(field_of(&document, 0, "srv.last8")["total"], 21);
    assert_eq!(field_of(&document, 0, "srv.events")["value"], 16);
    assert_eq!(field_of(&document, 0, "srv.per_minute")["count"], 4);
    // The two byte orders read the same, field by field.
    assert_eq!(
        document["files"][1]["fields"], document["files"][2]["fields"],
        "native and swapped regions"
    );
    let seed_names = names_of(&document, 1);
    assert_eq!(
        seed_names.len(),
        11,
        "every kind, reused slots, not the retired one"
    );
    assert!(seed_names.contains(&"seed.conn.3.bytes".to_owned()));
    assert!(!seed_names.contains(&"seed.conn.5.since".to_owned()));

    // More records, a slot retired and reused again: both still agree.
    drop(state1);
    let conn4 = live.dynamic_group("conn.4.");
    let state4 = conn4.text(FieldSpec::new("state").capacity(16)).unwrap();
    state4.set("handshake");
    for n in 0..5 {
        sizes.record(n * 1000);
        moving.add(n as f64);
    }
    let document = compare(&paths);
    assert_eq!(
        field_of(&document, 0, "srv.conn.4.state")["value"],
        "handshake"
    );
    assert!(!names_of(&document, 0).contains(&"srv.conn.1.state".to_owned()));
    drop((bytes2, moving2, state4));
}
