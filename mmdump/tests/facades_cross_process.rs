//! The facades example (`mmstats-std/examples/facades.rs`: only `metrics`
//! macros and `tracing` spans at its call sites) runs as a separate
//! process; `mmdump --json` shows its counters with their labels, its
//! histograms and its span histograms, `mmdump tail` its spans and
//! events, and `mmdump trace` (of the live rings and of a `tail --archive`
//! file) is checked against the Chrome trace-event format: every event's
//! fields, one track per thread, spans nested; its `--html` timeline is
//! loaded in headless Chromium and the screenshot shows span bars (with
//! MMSTATS_SCREENSHOT_TIMELINE=PATH it is also copied to PATH: how
//! docs/timeline.png is made). Under a watchdog: after 120 s the example is killed and the
//! test fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod mmdump_common;

const WATCHDOG: Duration = Duration::from_secs(120);

/// Builds the example (cargo is the one running this test) and returns
/// its path.
fn build_example() -> PathBuf {
    let cargo = std::env::var_os("CARGO").expect("run through cargo (CARGO is not set)");
    let status = Command::new(cargo)
        .args([
            "build",
            "-q",
            "-p",
            "mmstats",
            "--features",
            "metrics,tracing",
            "--example",
            "facades",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "building the facades example failed");
    // This test is target/<profile>/deps/NAME; the example is
    // target/debug/examples/facades (the build above is a dev build).
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().unwrap().parent().unwrap().parent().unwrap();
    let example = target.join("debug/examples/facades");
    assert!(example.exists(), "no {}", example.display());
    example
}

/// Starts the example writing into `dir`, under the watchdog; returns it
/// and its file's path once it has done its work.
fn start(dir: &Path) -> (Child, PathBuf) {
    let mut child = Command::new(build_example())
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    mmdump_common::kill_after(child.id(), WATCHDOG, "example");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, PathBuf::from(line.trim()))
}

fn mmdump(args: &[&str], path: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_mmdump"))
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success(), "mmdump {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The fields named `name` whose labels include `labels`.
fn matching<'d>(fields: &'d [Value], name: &str, labels: &[(&str, &str)]) -> Vec<&'d Value> {
    fields
        .iter()
        .filter(|f| f["name"] == name)
        .filter(|f| labels.iter().all(|(k, v)| f["labels"][*k] == *v))
        .collect()
}

fn sum(fields: &[&Value], key: &str) -> u64 {
    fields.iter().map(|f| f[key].as_u64().unwrap()).sum()
}

#[test]
fn mmdump_shows_what_metrics_macros_and_tracing_spans_published() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, path) = start(dir.path());

    let document: Value = serde_json::from_str(&mmdump(&["--json"], &path)).unwrap();
    let fields = document["files"][0]["fields"].as_array().unwrap();

    // Counters: one field per lane (the main thread's and the worker's
    // may be different lanes), with the metric's labels.
    let get = matching(fields, "requests", &[("method", "GET")]);
    assert!(!get.is_empty(), "no requests{{method=GET}} in {fields:?}");
    assert_eq!(sum(&get, "value"), 10);
    assert!(get.iter().all(|f| f["kind"] == "counter"));
    assert!(get.iter().all(|f| f["labels"]["lane"].is_string()));
    assert!(get.iter().all(|f| f["description"] == "requests served"));
    assert_eq!(
        sum(&matching(fields, "requests", &[("method", "PUT")]), "value"),
        5
    );

    // A metrics histogram in seconds, recorded in nanoseconds.
    let latency = matching(fields, "latency", &[("method", "GET")]);
    assert_eq!(sum(&latency, "count"), 10);
    assert!(latency.iter().all(|f| f["unit"] == "nanoseconds"));
    assert!(latency.iter().all(|f| f["min"] == 250_000), "{latency:?}");

    let inflight = matching(fields, "inflight", &[]);
    assert_eq!(inflight.len(), 1);
    assert_eq!(inflight[0]["value"], 1.0);

    // Span durations per span name, the chosen field a label.
    let request_get = matching(
        fields,
        "trace.span_ns",
        &[("span", "request"), ("method", "GET")],
    );
    assert_eq!(sum(&request_get, "count"), 10);
    let request_put = matching(
        fields,
        "trace.span_ns",
        &[("span", "request"), ("method", "PUT")],
    );
    assert_eq!(sum(&request_put, "count"), 5);
    let db = matching(fields, "trace.span_ns", &[("span", "db")]);
    assert_eq!(sum(&db, "count"), 15);
    // Each db span slept 200 µs.
    assert!(
        db.iter().all(|f| f["min"].as_u64().unwrap() >= 200_000),
        "{db:?}"
    );
    assert_eq!(matching(fields, "trace.dropped", &[])[0]["value"], 0);
    assert_eq!(matching(fields, "metrics.refused", &[])[0]["value"], 0);

    // `mmdump tail` shows the spans and events of both threads' rings.
    let records: Vec<Value> = mmdump(&["tail", "--once", "--json"], &path)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &Value| line["type"] == "record")
        .collect();
    let entered = |name: &str| {
        records
            .iter()
            .filter(|r| r["payload"]["span_enter"]["name"] == name)
            .count()
    };
    assert_eq!(entered("request"), 15);
    assert_eq!(entered("db"), 15);
    let exits = records
        .iter()
        .filter(|r| r["payload"]["span_exit"].is_object())
        .count();
    assert_eq!(exits, 30);
    let served: Vec<&Value> = records
        .iter()
        .filter(|r| r["payload"]["text"] == "served")
        .collect();
    assert_eq!(served.len(), 15);
    assert!(served.iter().all(|r| r["event"] == 3), "info is event 3");
    let threads: std::collections::BTreeSet<u64> = records
        .iter()
        .map(|r| r["thread"].as_u64().unwrap())
        .collect();
    assert_eq!(threads.len(), 2, "the main thread and the worker");
    // The text output pairs enters and exits into durations.
    let spans = mmdump(&["tail", "--once", "--spans"], &path);
    assert_eq!(
        spans.matches("span \"request\" took").count(),
        15,
        "{spans}"
    );

    // `mmdump trace` of the live rings, and of an archive of them.
    let live: Value = serde_json::from_str(&mmdump(&["trace"], &path)).unwrap();
    check_trace(&live);
    let archive = dir.path().join("archive.jsonl");
    let archive_arg = archive.to_str().unwrap().to_owned();
    mmdump(&["tail", "--once", "--archive", &archive_arg], &path);
    let from_archive: Value =
        serde_json::from_str(&mmdump(&["trace", "--archive"], &archive)).unwrap();
    check_trace(&from_archive);
    assert_eq!(
        live["traceEvents"], from_archive["traceEvents"],
        "the archive gives the same trace"
    );

    // The HTML timeline: every span a bar, every event a tick, and bars
    // on screen in a real browser.
    let html_path = dir.path().join("timeline.html");
    let html_arg = html_path.to_str().unwrap().to_owned();
    mmdump(&["trace", "--html", "-o", &html_arg], &path);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(html.matches("<rect class=\"span\"").count(), 30);
    assert_eq!(html.matches("<line class=\"event\"").count(), 15);
    assert!(!html.contains("<script"), "no script");
    assert!(
        !html.contains("http://") || html.matches("http://").count() == 1,
        "only the SVG namespace"
    );
    check_screenshot(dir.path(), &html_path);

    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "the example exited with {status}");
}

/// Checks a `mmdump trace` document of the example against the Chrome
/// trace-event format and against what the example did.
fn check_trace(trace: &Value) {
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let mut processes = std::collections::BTreeSet::new();
    let mut named_threads = std::collections::BTreeSet::new();
    let mut tracks: std::collections::BTreeMap<(u64, u64), Vec<&Value>> = Default::default();
    for event in events {
        let pid = event["pid"].as_u64().expect("pid");
        let tid = event["tid"].as_u64().expect("tid");
        assert!(event["name"].is_string(), "name: {event}");
        match event["ph"].as_str().expect("ph") {
            "M" => {
                assert!(event["args"]["name"].is_string(), "{event}");
                match event["name"].as_str().unwrap() {
                    "process_name" => {
                        assert_eq!(event["args"]["name"], "facades");
                        processes.insert(pid);
                    }
                    "thread_name" => {
                        named_threads.insert((pid, tid));
                    }
                    other => panic!("unexpected metadata {other}"),
                }
            }
            "X" => {
                assert_eq!(event["cat"], "span", "{event}");
                assert!(event["ts"].as_f64().unwrap() >= 0.0, "{event}");
                assert!(event["dur"].as_f64().unwrap() >= 0.0, "{event}");
                assert_eq!(event["args"]["ring"], "trace.ring");
                assert!(
                    event["args"]["unfinished"].is_null(),
                    "every span ended: {event}"
                );
                tracks.entry((pid, tid)).or_default().push(event);
            }
            "i" => {
                assert_eq!(event["s"], "t", "{event}");
                assert_eq!(event["cat"], "event", "{event}");
                assert!(event["ts"].as_f64().unwrap() >= 0.0, "{event}");
                tracks.entry((pid, tid)).or_default().push(event);
            }
            other => panic!("unexpected phase {other}: {event}"),
        }
    }
    assert_eq!(processes.len(), 1, "one writer process");
    assert_eq!(tracks.len(), 2, "a track per thread: main and worker");
    assert!(
        tracks.keys().all(|track| named_threads.contains(track)),
        "every track is named"
    );
    let count = |ph: &str, name: &str| {
        events
            .iter()
            .filter(|e| e["ph"] == ph && e["name"] == name)
            .count()
    };
    assert_eq!(count("X", "request"), 15);
    assert_eq!(count("X", "db"), 15);
    assert_eq!(count("i", "served"), 15);
    // Nesting: on each track, in time order, a span lies inside every span
    // still open when it starts; every db span and every event lies inside
    // a request.
    for events in tracks.values() {
        let mut open: Vec<(f64, &str)> = Vec::new(); // (end, name)
        let mut last_ts = 0.0;
        for event in events {
            let ts = event["ts"].as_f64().unwrap();
            assert!(ts >= last_ts, "a track is in time order");
            last_ts = ts;
            while open.last().is_some_and(|(end, _)| *end < ts) {
                open.pop();
            }
            let end = ts + event["dur"].as_f64().unwrap_or(0.0);
            if let Some((outer_end, _)) = open.last() {
                assert!(end <= *outer_end + 1e-6, "{event} crosses its parent");
            }
            let name = event["name"].as_str().unwrap();
            if name == "db" || event["ph"] == "i" {
                assert!(
                    open.iter().any(|(_, outer)| *outer == "request"),
                    "{event} outside a request"
                );
            }
            if event["ph"] == "X" {
                open.push((end, name));
            }
        }
    }
}

/// Headless Chromium draws the timeline: the screenshot has the bars'
/// colour over a real area. Skipped (saying so) without chromium unless
/// MMSTATS_REQUIRE_CHROMIUM is set.
#[cfg(feature = "serve")]
fn check_screenshot(dir: &Path, html: &Path) {
    let Some(chromium) = mmdump_common::tool_or_skip("chromium", "MMSTATS_REQUIRE_CHROMIUM") else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let shot = dir.join("timeline.png");
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1240,260",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chromium --screenshot failed: {output:?}"
    );
    let bytes = std::fs::read(&shot).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    pixels.truncate(info.buffer_size());
    let stride = info.color_type.samples();
    assert!(stride >= 3, "an RGB screenshot");
    // The bars' fill, #4c78a8.
    let bar = pixels
        .chunks(stride)
        .filter(|p| p[0] == 0x4c && p[1] == 0x78 && p[2] == 0xa8)
        .count();
    assert!(bar > 5_000, "only {bar} pixels of span bars on screen");
    if let Some(copy) = std::env::var_os("MMSTATS_SCREENSHOT_TIMELINE") {
        std::fs::copy(&shot, copy).unwrap();
    }
}

#[cfg(not(feature = "serve"))]
fn check_screenshot(_dir: &Path, _html: &Path) {
    eprintln!("skipped: the timeline screenshot check decodes PNG with the serve feature's png");
}
