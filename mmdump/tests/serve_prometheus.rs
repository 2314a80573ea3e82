//! A real Prometheus (Debian's `prometheus` package) scrapes `mmdump
//! serve` while a demo writer runs, and its HTTP API returns the writer's
//! current values; `promtool check metrics` accepts the exposition.
//! Both run on 127.0.0.1 only, from a temporary configuration and data
//! directory, and are killed when the test ends.
//!
//! Skipped (with the reason printed) when prometheus or promtool is not
//! installed, unless MMSTATS_REQUIRE_PROMETHEUS is set; CI's step
//! 60-serve installs the package and sets it.
#![cfg(feature = "serve")]

mod mmdump_common;
mod serve_common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mmdump_common::{ChildGuard, WATCHDOG, mmdump, run, start_demo, terminate, tool_or_skip};
use serde_json::Value;
use serve_common::{get, serve, stats_dir, wait_for};

const REQUIRE: &str = "MMSTATS_REQUIRE_PROMETHEUS";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a PromQL instant query; the result vector.
fn query(prometheus: SocketAddr, promql: &str) -> Vec<Value> {
    let encoded: String = form_urlencoded::byte_serialize(promql.as_bytes()).collect();
    let reply = get(prometheus, &format!("/api/v1/query?query={encoded}"));
    assert_eq!(reply.status, 200, "{promql}: {}", reply.text());
    let body = reply.json();
    assert_eq!(body["status"], "success", "{body}");
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// (timestamp in s, value) of a one-element query result.
fn sample_of(result: &[Value]) -> (f64, f64) {
    assert_eq!(result.len(), 1, "{result:?}");
    let pair = &result[0]["value"];
    (
        pair[0].as_f64().unwrap(),
        pair[1].as_str().unwrap().parse().unwrap(),
    )
}

#[test]
fn prometheus_scrapes_the_writers_current_values() {
    let Some(prometheus_bin) = tool_or_skip("prometheus", REQUIRE) else {
        return;
    };
    let Some(promtool) = tool_or_skip("promtool", REQUIRE) else {
        return;
    };
    let dir = stats_dir();
    let (demo, paths) = start_demo(dir.path(), 2);
    let server = serve(&[dir.path().to_str().unwrap()]);

    // promtool accepts the exposition, files combined per program and
    // labelled per process and thread, with the demo's connections as a
    // `conn` label.
    let text = wait_for(WATCHDOG, || {
        let text = get(server.address, "/metrics").text();
        text.contains("mmstats_web_conn_requests_total{program=\"mmstats-demo\",conn=\"")
            .then_some(text)
    })
    .expect("no labelled connection series");
    assert!(
        text.contains("\nmmdump_serve_dropped_families 0\n"),
        "no family dropped:\n{text}"
    );
    assert!(text.contains("# TYPE mmstats_worker_latency_distribution_seconds histogram\n"));
    assert!(text.contains(
        "mmstats_worker_latency_distribution_seconds_bucket{program=\"mmstats-demo\",le=\"+Inf\"} "
    ));
    assert!(text.contains("# TYPE mmstats_worker_latency_seconds summary\n"));
    let output = promtool_check(&promtool, &text);
    println!(
        "promtool check metrics: exit {:?}, stdout {:?}, stderr {:?}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool refused:\n{text}");
    let per_thread = serve(&[
        dir.path().to_str().unwrap(),
        "--label",
        "pid",
        "--label",
        "thread",
    ]);
    let text = get(per_thread.address, "/metrics").text();
    let output = promtool_check(&promtool, &text);
    assert!(
        output.status.success(),
        "promtool refused:\n{text}\n{output:?}"
    );
    drop(per_thread);

    // Prometheus, scraping every second: once as it negotiates
    // (OpenMetrics), once forced to the 0.0.4 text format.
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("prometheus.yml");
    let target = server.address;
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: mmstats\n    static_configs:\n      - targets: ['{target}']\n\
             \x20 - job_name: mmstats_text\n    params:\n      format: [prometheus]\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let prometheus: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(prometheus_bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            work.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={prometheus}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let _prometheus = ChildGuard(child);
    wait_for(WATCHDOG, || {
        std::net::TcpStream::connect(prometheus)
            .ok()
            .and_then(|_| (get(prometheus, "/-/ready").status == 200).then_some(()))
    })
    .expect("prometheus did not become ready");

    // Both targets up, without errors.
    let targets = wait_for(WATCHDOG, || {
        let body = get(prometheus, "/api/v1/targets").json();
        let active = body["data"]["activeTargets"].as_array()?.clone();
        (active.len() == 2 && active.iter().all(|t| t["health"] == "up")).then_some(active)
    })
    .unwrap_or_else(|| {
        panic!(
            "targets not up: {}",
            get(prometheus, "/api/v1/targets").text()
        )
    });
    for target in &targets {
        println!(
            "target {} {}: health {}, lastError {:?}",
            target["labels"]["job"], target["scrapeUrl"], target["health"], target["lastError"]
        );
        assert_eq!(target["lastError"], "");
    }

    // Enough scrapes for a rate.
    let first = Instant::now();
    wait_for(WATCHDOG, || {
        let r = query(
            prometheus,
            "count_over_time(mmstats_web_ticks_total{job=\"mmstats\"}[10s])",
        );
        (r.len() == 1 && sample_of(&r).1 >= 6.0).then_some(())
    })
    .expect("prometheus did not scrape");
    println!("6 scrapes after {:?}", first.elapsed());

    // web.ticks is elapsed seconds x 1000 since the writer started: the
    // value Prometheus has must be that at the scrape's timestamp.
    let created_s = read_created(&paths[0]);
    for job in ["mmstats", "mmstats_text"] {
        let selector = format!("mmstats_web_ticks_total{{job=\"{job}\"}}");
        // The instant query's own timestamp is the evaluation time; the
        // sample's is what timestamp() gives.
        let (_, ticks) = sample_of(&query(prometheus, &selector));
        let (_, at) = sample_of(&query(prometheus, &format!("timestamp({selector})")));
        let expected = (at - created_s) * 1000.0;
        println!("{job}: web.ticks {ticks} scraped at {at}, expected {expected:.0}");
        // The scrape's timestamp is when it started; the file is read a
        // little later (within the 1 s scrape timeout), and the writer's
        // ticker may lag a little on a busy machine.
        assert!(
            (-300.0..1000.0).contains(&(ticks - expected)),
            "{ticks} vs {expected}"
        );
    }
    let window = query(prometheus, "mmstats_web_ticks_total{job=\"mmstats\"}[10s]");
    let points: Vec<(f64, f64)> = window[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_f64().unwrap(),
                p[1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    println!("web.ticks as scraped: {points:?}");
    // (A rate over a window longer than the data is extrapolated down
    // by Prometheus: the windows below are shorter than the 5 s scraped.)
    // Between the first and last scrape: the writer's 1000 a second (the
    // scrape's timestamp is when it started, the read a little later, so
    // allow for scheduling on a busy machine).
    let (t0, v0) = points[0];
    let (t1, v1) = *points.last().unwrap();
    let observed = (v1 - v0) / (t1 - t0);
    println!("rate from the samples: {observed:.1}/s");
    assert!((observed - 1000.0).abs() < 250.0, "rate {observed}");
    let (_, rate) = sample_of(&query(
        prometheus,
        "rate(mmstats_web_ticks_total{job=\"mmstats\"}[4s])",
    ));
    println!("rate(mmstats_web_ticks_total[4s]) = {rate}");
    assert!((rate - 1000.0).abs() < 250.0, "rate {rate}");

    // A counter summed over both workers: what Prometheus holds is at most
    // what the writer has now, and not much less.
    let (_, scraped) = sample_of(&query(
        prometheus,
        "mmstats_worker_requests_total{job=\"mmstats\"}",
    ));
    let now = run(mmdump().args(["get", "worker.requests"]).arg(dir.path()));
    let now: f64 = String::from_utf8_lossy(&now.stdout).trim().parse().unwrap();
    let (_, per_second) = sample_of(&query(
        prometheus,
        "rate(mmstats_worker_requests_total{job=\"mmstats\"}[4s])",
    ));
    println!("worker.requests: Prometheus {scraped}, writer now {now}, {per_second:.0}/s");
    assert!(scraped <= now && now - scraped < per_second * 5.0 + 1000.0);

    // Strings, timestamps, summaries and constants.
    let version = query(prometheus, "mmstats_web_version_info{job=\"mmstats\"}");
    assert_eq!(version[0]["metric"]["value"], "0.1.0");
    assert_eq!(version[0]["metric"]["program"], "mmstats-demo");
    let (_, healthy) = sample_of(&query(prometheus, "mmstats_web_healthy{job=\"mmstats\"}"));
    assert_eq!(healthy, 1.0);
    let (_, mean) = sample_of(&query(
        prometheus,
        "mmstats_worker_latency_seconds_sum{job=\"mmstats\"} / mmstats_worker_latency_seconds_count{job=\"mmstats\"}",
    ));
    println!("mean worker.latency: {mean} s");
    assert!(
        (1e-4..6e-3).contains(&mean),
        "the demo's latencies are 0.1 to 5 ms"
    );
    let (_, created) = sample_of(&query(
        prometheus,
        "max(mmstats_sys_created_timestamp_seconds{job=\"mmstats\"})",
    ));
    assert!((created - created_s).abs() < 1.0);

    // Connections open and close every 100 ms, each one a `conn` label
    // value: the number of metric names stays the two of a connection
    // (`web.conn.requests`, `web.conn.bytes`) scrape after scrape, while
    // the label values change.
    let names_query =
        "count(count by (__name__) ({__name__=~\"mmstats_web_conn.*\",job=\"mmstats\"}))";
    let mut conn_values = std::collections::BTreeSet::new();
    for round in 0..4 {
        if round > 0 {
            std::thread::sleep(Duration::from_millis(1500));
        }
        let (_, names) = sample_of(&query(prometheus, names_query));
        let live = query(
            prometheus,
            "mmstats_web_conn_requests_total{job=\"mmstats\"}",
        );
        let values: Vec<String> = live
            .iter()
            .map(|s| {
                s["metric"]["conn"]
                    .as_str()
                    .expect("a conn label")
                    .to_owned()
            })
            .collect();
        println!("round {round}: {names} names, connections {values:?}");
        assert_eq!(names, 2.0, "{names_query}");
        assert!(!values.is_empty() && values.len() <= 4, "{values:?}");
        conn_values.extend(values);
    }
    assert!(
        conn_values.len() >= 5,
        "connections came and went: {conn_values:?}"
    );
    // Every series of the window has the label, and two names in all.
    let end = now_s();
    let series = get(
        prometheus,
        &format!(
            "/api/v1/series?match[]={}&start={}&end={end}",
            form_urlencoded::byte_serialize(b"{__name__=~\"mmstats_web_conn.*\",job=\"mmstats\"}")
                .collect::<String>(),
            end - 30.0
        ),
    )
    .json();
    let series = series["data"].as_array().expect("series").clone();
    let names: std::collections::BTreeSet<&str> = series
        .iter()
        .map(|s| s["__name__"].as_str().unwrap())
        .collect();
    println!(
        "{} connection series under the names {names:?}",
        series.len()
    );
    assert_eq!(
        names,
        [
            "mmstats_web_conn_bytes_total",
            "mmstats_web_conn_requests_total"
        ]
        .into_iter()
        .collect()
    );
    assert!(series.len() >= 10, "{series:?}");
    assert!(series.iter().all(|s| s["conn"].is_string()), "{series:?}");

    // The histogram (renamed from the clash with the average
    // `worker.latency`) gives quantiles: the demo's latencies are 0.1 to
    // 5 ms, and the bucket bounds are 2^k - 1 ns (4.19 ms, 8.39 ms, ...).
    let (_, dropped) = sample_of(&query(
        prometheus,
        "mmdump_serve_dropped_families{job=\"mmstats\"}",
    ));
    assert_eq!(dropped, 0.0);
    for job in ["mmstats", "mmstats_text"] {
        let (_, p90) = sample_of(&query(
            prometheus,
            &format!(
                "histogram_quantile(0.9, sum by (le) (rate(mmstats_worker_latency_distribution_seconds_bucket{{job=\"{job}\"}}[4s])))"
            ),
        ));
        println!("{job}: p90 of worker.latency.ns = {p90} s");
        assert!(
            p90.is_finite() && (1e-4..8.4e-3).contains(&p90),
            "p90 {p90}"
        );
    }
    terminate(demo);
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The creation time of a demo file, in seconds, from `mmdump --json`.
fn read_created(path: &std::path::Path) -> f64 {
    let output = run(mmdump().arg("--json").arg(path));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    doc["files"][0]["created_ns"].as_u64().unwrap() as f64 / 1e9
}

/// `promtool check metrics < text`, under the watchdog.
fn promtool_check(promtool: &std::path::Path, text: &str) -> std::process::Output {
    let mut input = tempfile::tempfile().unwrap();
    input.write_all(text.as_bytes()).unwrap();
    std::io::Seek::rewind(&mut input).unwrap();
    let child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let deadline = Instant::now() + WATCHDOG;
    while guard.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "promtool hung");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    std::io::Read::read_to_end(guard.0.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    std::io::Read::read_to_end(guard.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    std::process::Output {
        status: guard.0.wait().unwrap(),
        stdout,
        stderr,
    }
}
