//! `mmdump push`: remote write to a receiver in this test (whose answers
//! the test chooses: failures, then success; a refusal) and to Debian's
//! real Prometheus started with `--web.enable-remote-write-receiver`,
//! queried back through its HTTP API.
//!
//! The real-Prometheus test is skipped (with the reason printed) when
//! prometheus is not installed, unless MMSTATS_REQUIRE_PROMETHEUS is set;
//! CI's step 60-serve installs the package and sets it.
#![cfg(feature = "push")]

mod mmdump_common;
mod serve_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mmdump::push::wire::{WriteRequest, decode};
use mmdump_common::{ChildGuard, WATCHDOG, mmdump, run, start_demo, terminate, tool_or_skip};
use serde_json::Value;
use serve_common::{get, stats_dir, wait_for};

const REQUIRE: &str = "MMSTATS_REQUIRE_PROMETHEUS";

/// One request as the receiver saw it.
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    request: WriteRequest,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A receiver on 127.0.0.1 that answers the n-th request with
/// `statuses[n]` (the last one after that) and sends each decoded request
/// down the channel.
fn receiver(statuses: Vec<u16>) -> (SocketAddr, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let status = statuses[n.min(statuses.len() - 1)];
            if let Some(received) = answer(stream, status)
                && tx.send(received).is_err()
            {
                return;
            }
        }
    });
    (address, rx)
}

fn answer(stream: TcpStream, status: u16) -> Option<Received> {
    stream.set_read_timeout(Some(WATCHDOG)).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split(' ').nth(1)?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))?
        .1
        .parse()
        .ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let text = if status == 400 {
        "out of order sample"
    } else {
        ""
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    )
    .ok()?;
    Some(Received {
        path,
        headers,
        request: decode(&body).expect("the body is a snappy WriteRequest"),
    })
}

fn name_of(series: &mmdump::push::wire::TimeSeries) -> &str {
    series.label("__name__").unwrap()
}

#[test]
fn push_retries_failures_with_backoff_then_delivers_the_demos_samples() {
    let dir = stats_dir();
    let (demo, _paths) = start_demo(dir.path(), 2);
    // Two failures (no answer body, 503 and 429), then acceptance.
    let (address, requests) = receiver(vec![503, 429, 204]);
    let output = run(mmdump()
        .arg("push")
        .arg(dir.path())
        .args(["--url", &format!("http://{address}/api/v1/write")])
        .args(["--interval", "1s", "--count", "2", "--max-series", "100000"])
        .args(["--header", "X-Scope-OrgID: team-a"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");
    assert!(output.status.success(), "{output:?}");
    assert!(
        stderr.contains("2 reads, 2 requests sent") && stderr.contains("2 failed attempts"),
        "{stderr}"
    );
    assert!(
        stderr.contains("answered 503"),
        "the first failure is logged: {stderr}"
    );
    let received: Vec<Received> = requests.try_iter().collect();
    assert_eq!(received.len(), 4, "503, 429, then two accepted requests");
    for r in &received {
        assert_eq!(r.path, "/api/v1/write");
        assert_eq!(r.header("content-encoding"), Some("snappy"));
        assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
        assert_eq!(r.header("x-prometheus-remote-write-version"), Some("0.1.0"));
        assert_eq!(r.header("x-scope-orgid"), Some("team-a"));
    }
    // The retried body is the same request; the second read is later.
    assert_eq!(received[0].request, received[2].request);
    let ticks = |r: &Received| {
        let s = r
            .request
            .timeseries
            .iter()
            .find(|s| name_of(s) == "mmstats_web_ticks_total")
            .expect("web.ticks is pushed");
        assert_eq!(s.label("program"), Some("mmstats-demo"));
        (s.samples[0].timestamp, s.samples[0].value)
    };
    let (t0, v0) = ticks(&received[2]);
    let (t1, v1) = ticks(&received[3]);
    assert!(t1 > t0 && v1 > v0, "({t0}, {v0}) then ({t1}, {v1})");
    for r in &received {
        for s in &r.request.timeseries {
            let names: Vec<&str> = s.labels.iter().map(|l| l.name.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(names, sorted, "labels sorted and unique");
            assert!(s.labels.iter().all(|l| !l.value.is_empty()));
        }
    }
    // The pusher's own counters go along.
    let failed = received[3]
        .request
        .timeseries
        .iter()
        .find(|s| name_of(s) == "mmdump_push_failed_requests_total")
        .expect("own counters are pushed");
    assert_eq!(failed.samples[0].value, 2.0);
    // Metadata with the first request of each read.
    assert!(
        received[2]
            .request
            .metadata
            .iter()
            .any(|m| m.metric_family_name == "mmstats_web_ticks_total" && m.r#type == 1)
    );
    terminate(demo);
}

#[test]
fn a_refused_request_is_dropped_logged_and_fails_the_run() {
    let dir = stats_dir();
    let (demo, _paths) = start_demo(dir.path(), 1);
    let (address, requests) = receiver(vec![400]);
    let output = run(mmdump()
        .arg("push")
        .arg(dir.path())
        .args(["--url", &format!("http://{address}/")])
        .args(["--interval", "1s", "--count", "1"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr.contains("with 400: out of order sample"), "{stderr}");
    assert!(!stderr.contains("0 samples refused"), "{stderr}");
    // Not sent again: one request only.
    assert_eq!(requests.try_iter().count(), 1);
    terminate(demo);
}

#[test]
fn an_unreachable_receiver_keeps_the_samples_queued_and_says_so() {
    let dir = stats_dir();
    let (demo, _paths) = start_demo(dir.path(), 1);
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = run(mmdump()
        .arg("push")
        .arg(dir.path())
        .args(["--url", &format!("http://127.0.0.1:{port}/")])
        .args(["--interval", "1s", "--count", "2", "--timeout", "1s"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(
        stderr.contains("0 requests sent") && !stderr.contains(" 0 unsent"),
        "{stderr}"
    );
    terminate(demo);
}

#[test]
fn bad_urls_and_headers_are_usage_errors() {
    for (args, message) in [
        (vec!["--url", "https://x/"], "https:// is not supported"),
        (vec!["--url", "x:9090"], "must start with http://"),
        (
            vec!["--url", "http://x/", "--header", "Bad\tName: v"],
            "--header",
        ),
    ] {
        let output = run(mmdump().arg("push").args(&args));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

fn query(prometheus: SocketAddr, promql: &str) -> Vec<Value> {
    let encoded: String = form_urlencoded::byte_serialize(promql.as_bytes()).collect();
    let reply = get(prometheus, &format!("/api/v1/query?query={encoded}"));
    assert_eq!(reply.status, 200, "{promql}: {}", reply.text());
    let body = reply.json();
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_real_prometheus_receives_the_pushed_samples_with_their_labels() {
    let Some(prometheus_bin) = tool_or_skip("prometheus", REQUIRE) else {
        return;
    };
    let dir = stats_dir();
    let (demo, _paths) = start_demo(dir.path(), 2);
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  evaluation_interval: 1s\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prometheus: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(prometheus_bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            work.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={prometheus}"))
        .arg("--web.enable-remote-write-receiver")
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let _prometheus = ChildGuard(child);
    wait_for(WATCHDOG, || {
        TcpStream::connect(prometheus)
            .ok()
            .and_then(|_| (get(prometheus, "/-/ready").status == 200).then_some(()))
    })
    .expect("prometheus did not become ready");

    let output = run(mmdump()
        .arg("push")
        .arg(dir.path())
        .args(["--url", &format!("http://{prometheus}/api/v1/write")])
        .args(["--interval", "1s", "--count", "3"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");
    assert!(output.status.success(), "{output:?}");

    // Pushed samples carry their own timestamps; query at the last one.
    let ticks = wait_for(Duration::from_secs(20), || {
        let r = query(prometheus, "mmstats_web_ticks_total");
        (!r.is_empty()).then_some(r)
    })
    .expect("the pushed counter is queryable");
    println!("mmstats_web_ticks_total: {ticks:?}");
    assert_eq!(ticks.len(), 1);
    assert_eq!(ticks[0]["metric"]["program"], "mmstats-demo");
    let value: f64 = ticks[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(value > 0.0);
    let points = query(prometheus, "count_over_time(mmstats_web_ticks_total[1m])");
    let count: f64 = points[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert_eq!(count, 3.0, "three reads, three samples");
    let own = query(prometheus, "mmdump_push_failed_requests_total");
    assert_eq!(own[0]["value"][1], "0");

    // The demo's connections (one opened every 100 ms, three alive at a
    // time, so every read after the first tick has some): pushed as one
    // pair of names, each series with its `conn` label.
    let per_conn = wait_for(Duration::from_secs(20), || {
        let r = query(
            prometheus,
            "count by (conn, program) (count_over_time(mmstats_web_conn_requests_total[1m]))",
        );
        (!r.is_empty()).then_some(r)
    })
    .expect("pushed connection series");
    println!("pushed connections: {per_conn:?}");
    for series in &per_conn {
        let conn = series["metric"]["conn"].as_str().expect("a conn label");
        assert!(conn.parse::<u64>().is_ok(), "{series}");
        assert_eq!(series["metric"]["program"], "mmstats-demo");
    }
    let values: f64 = query(
        prometheus,
        "max_over_time(mmstats_web_conn_requests_total[1m])",
    )
    .iter()
    .map(|s| s["value"][1].as_str().unwrap().parse::<f64>().unwrap())
    .fold(0.0, f64::max);
    assert!(values >= 1.0, "a connection counted its requests");
    let names = query(
        prometheus,
        "count(count by (__name__) ({__name__=~\"mmstats_web_conn.*\"}))",
    );
    assert_eq!(names[0]["value"][1], "2", "{names:?}");
    terminate(demo);
}
