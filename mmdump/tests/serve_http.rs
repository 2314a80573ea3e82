//! `mmdump serve` over real sockets, against live demo writers and
//! hand-made files: endpoints, the JSON API against `mmdump --json`,
//! counters that never go backwards when a writer exits, corrupt files,
//! and hostile requests (huge heads, unknown paths, `..` in parameters,
//! slow clients, too many connections). Every child runs under a
//! watchdog and is killed when the test ends.
#![cfg(feature = "serve")]

mod mmdump_common;
mod serve_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mmdump_common::{Made, WATCHDOG, mmdump, run, start_demo, terminate, write_region};
use mmstats_nostd::RegionOptions;
use serve_common::{exchange, get, get_with, sample, serve, stats_dir, wait_for};

#[test]
fn endpoints_answer_with_the_demo_writers_values() {
    let dir = stats_dir();
    let (demo, _paths) = start_demo(dir.path(), 2);
    let server = serve(&[dir.path().to_str().unwrap()]);
    let health = get(server.address, "/healthz");
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));

    let metrics = get(server.address, "/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = metrics.text();
    for name in [
        "mmstats_web_ticks_total",
        "mmstats_worker_requests_total",
        "mmstats_worker_bytes_out_total",
        "mmstats_worker_status_2XX_total",
        "mmstats_web_inflight",
        "mmstats_web_uptime_seconds",
        "mmstats_worker_latency_seconds_sum",
        "mmstats_worker_latency_seconds_count",
        "mmstats_worker_last_request_timestamp_seconds",
        "mmstats_web_version_info",
        "mmdump_serve_files",
    ] {
        assert!(
            sample(&text, name).is_some(),
            "{name} missing from:\n{text}"
        );
    }
    assert!(text.contains("# TYPE mmstats_web_ticks_total counter\n"));
    assert!(
        text.contains("mmstats_web_version_info{program=\"mmstats-demo\",value=\"0.1.0\"} 1\n")
    );
    assert_eq!(sample(&text, "mmdump_serve_files"), Some(3.0));
    // Two workers' files, one series: summed.
    assert_eq!(text.matches("\nmmstats_worker_requests_total{").count(), 1);

    let open = get_with(
        server.address,
        "/metrics",
        &["Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"],
    );
    assert_eq!(
        open.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let open = open.text();
    assert!(open.contains("# TYPE mmstats_web_ticks counter\nmmstats_web_ticks_total{"));
    assert!(open.contains("# TYPE mmstats_web_version info\n"));
    assert!(open.ends_with("# EOF\n"));

    // Labels per process and thread: one series per worker file.
    let per_thread = serve(&[
        dir.path().to_str().unwrap(),
        "--label",
        "pid",
        "--label",
        "thread",
    ]);
    let text = get(per_thread.address, "/metrics").text();
    assert_eq!(
        text.matches("\nmmstats_worker_requests_total{").count(),
        2,
        "{text}"
    );
    assert!(text.contains(&format!("pid=\"{}\"", demo.0.id())));

    // Filters as query parameters.
    let only = get(server.address, "/metrics?include=web.ticks").text();
    assert!(sample(&only, "mmstats_web_ticks_total").is_some());
    assert!(sample(&only, "mmstats_worker_requests_total").is_none());

    let live = wait_for(WATCHDOG, || {
        let reply = get(server.address, "/api/v1/live");
        (reply.status == 200).then(|| reply.json())
    })
    .expect("no live frame");
    assert_eq!(live["schema"], 1);
    assert_eq!(live["file_count"], 3);
    let fields = live["groups"][0]["fields"].as_array().unwrap();
    assert!(fields.iter().any(|f| f["name"] == "web.ticks"));
    let per_file = get(server.address, "/api/v1/live?aggregate=per-file").json();
    assert_eq!(per_file["groups"].as_array().unwrap().len(), 3);
    assert_eq!(
        get(server.address, "/api/v1/live?aggregate=max").status,
        400
    );
    let info = get(server.address, "/api/v1/info").json();
    assert_eq!(info["mode"], "sum");

    let page = get(server.address, "/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("/dashboard.js"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(get(server.address, "/dashboard.js").status, 200);
    assert_eq!(get(server.address, "/dashboard.css").status, 200);
    terminate(demo);
}

#[test]
fn the_json_api_is_mmdump_json() {
    let dir = stats_dir();
    // Files of writers that are gone (pid 0x7ffffff0 runs nowhere), so
    // nothing changes between the two reads.
    for (name, counter) in [("a-1-1.mmstats", 5), ("b-2-2.mmstats", 7)] {
        write_region(
            &dir.path().join(name),
            Made {
                options: RegionOptions {
                    pid: 0x7fff_fff0,
                    ..RegionOptions::default()
                },
                counter,
                closed: false,
            },
        );
    }
    std::fs::write(
        dir.path().join("broken.mmstats"),
        b"not a stats file at all",
    )
    .unwrap();
    let server = serve(&[dir.path().to_str().unwrap()]);
    let path = dir.path().to_str().unwrap();
    for (query, args) in [
        ("", vec![]),
        ("?include=c&aggregate=sum", vec!["-I", "c", "-a", "sum"]),
        ("?exclude=g&file=a-*", vec!["-X", "g", "-f", "a-*"]),
        (
            "?pid=2147483632&aggregate=max",
            vec!["-p", "2147483632", "-a", "max"],
        ),
    ] {
        let api = get(server.address, &format!("/api/v1/stats{query}"));
        assert_eq!(api.status, 200, "{query}: {}", api.text());
        let cli = run(mmdump().arg("--json").args(&args).arg(path));
        let cli: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
        assert_eq!(api.json(), cli, "{query}");
    }
    let all = get(server.address, "/api/v1/stats").json();
    assert_eq!(all["errors"][0]["path"], format!("{path}/broken.mmstats"));
    let summed = get(server.address, "/api/v1/stats?aggregate=sum").json();
    let c = summed["aggregate"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "c")
        .unwrap()
        .clone();
    assert_eq!(
        (c["value"].as_u64(), c["files"].as_u64()),
        (Some(12), Some(2))
    );

    // The corrupt file is an error entry in /metrics too, never a failure.
    let metrics = get(server.address, "/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert_eq!(sample(&text, "mmdump_serve_file_errors"), Some(1.0));
    assert!(
        text.contains("mmdump_serve_file_error_info{path=\""),
        "{text}"
    );
    assert!(text.contains("broken.mmstats\",error=\"not an mmstats file"));
    // A file cut short under the server (whose sampler has it mapped):
    // an error entry, and the server goes on.
    wait_for(WATCHDOG, || {
        (get(server.address, "/api/v1/live").status == 200).then_some(())
    })
    .expect("no live frame");
    let victim = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("b-2-2.mmstats"))
        .unwrap();
    victim.set_len(300).unwrap();
    drop(victim);
    std::thread::sleep(Duration::from_millis(1500));
    let after = get(server.address, "/metrics");
    assert_eq!(after.status, 200);
    assert_eq!(
        sample(&after.text(), "mmdump_serve_file_errors"),
        Some(2.0),
        "{}",
        after.text()
    );
    let live = get(server.address, "/api/v1/live").json();
    assert!(live["groups"][0]["fields"].as_array().is_some(), "{live}");
    assert_eq!(get(server.address, "/healthz").status, 200);
    // Files named {program}-{pid}-{tid}: programs a and b, a series each.
    assert!(
        text.contains("mmstats_c_total{program=\"a\"} 5\n"),
        "{text}"
    );
    assert!(
        text.contains("mmstats_c_total{program=\"b\"} 7\n"),
        "{text}"
    );
}

#[test]
fn summed_counters_never_go_backwards_when_a_writer_exits() {
    let dir = stats_dir();
    let (first, _) = start_demo(dir.path(), 1);
    let (second, _) = start_demo(dir.path(), 1);
    let server = serve(&[dir.path().to_str().unwrap()]);
    let requests = || {
        let text = get(server.address, "/metrics").text();
        (
            sample(&text, "mmstats_worker_requests_total").unwrap(),
            sample(&text, "mmdump_serve_files").unwrap(),
            sample(&text, "mmdump_serve_retired_files").unwrap(),
        )
    };
    let (before, files, _) = requests();
    assert_eq!(files, 4.0);
    std::thread::sleep(Duration::from_millis(300));
    // One writer exits and removes its files.
    terminate(second);
    let (after, files, retired) = requests();
    assert_eq!(files, 2.0, "the exited writer's files are gone");
    assert_eq!(retired, 2.0, "and held in the sums");
    assert!(after >= before, "went back from {before} to {after}");
    // A one-shot read (`mmdump get`) cannot remember, and drops.
    let once = run(mmdump().args(["get", "worker.requests"]).arg(dir.path()));
    let once: f64 = String::from_utf8_lossy(&once.stdout)
        .trim()
        .parse()
        .unwrap();
    let (later, _, _) = requests();
    assert!(later >= after);
    // Read after `get`, the served sum still holds the exited writer's
    // count, which `get` (one-shot) has lost.
    assert!(later > once, "get {once} vs served {later}");
    terminate(first);
}

fn raw_status(server: std::net::SocketAddr, request: &[u8]) -> u16 {
    exchange(server, request).status
}

#[test]
fn bad_requests_get_4xx_and_the_server_keeps_serving() {
    let dir = stats_dir();
    let (demo, _) = start_demo(dir.path(), 1);
    let server = serve(&[
        dir.path().to_str().unwrap(),
        "--header-timeout",
        "4s",
        "--max-connections",
        "8",
    ]);
    let address = server.address;
    let huge_header = format!(
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(64 << 10)
    );
    assert_eq!(raw_status(address, huge_header.as_bytes()), 431);
    let many_headers: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many =
        format!("GET / HTTP/1.1\r\nHost: {address}\r\n{many_headers}Connection: close\r\n\r\n");
    assert!((400..500).contains(&raw_status(address, many.as_bytes())));
    let long_uri = format!(
        "GET /metrics?include={} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n",
        "a".repeat(64 << 10)
    );
    assert!((400..500).contains(&raw_status(address, long_uri.as_bytes())));
    for path in [
        "/nothing",
        "/../../etc/passwd",
        "/api/v1/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/metrics/extra",
    ] {
        assert_eq!(get(address, path).status, 404, "{path}");
    }
    for query in [
        "/metrics?file=../../etc/passwd",
        "/metrics?file=%2E%2E%2Fetc",
        "/api/v1/stats?include=..",
        "/api/v1/stats?file=/etc/../etc/passwd",
        "/api/v1/stats?path=/etc/passwd",
        "/api/v1/stats?pid=abc",
        "/api/v1/stats?aggregate=median",
        "/api/v1/history?name=x&since=..",
    ] {
        let reply = get(address, query);
        assert_eq!(reply.status, 400, "{query}: {}", reply.text());
    }
    assert!(
        get(address, "/api/v1/stats?file=..%2F..%2Fetc%2Fpasswd").json()["error"]
            .as_str()
            .unwrap()
            .contains("..")
    );
    let post = format!(
        "POST /metrics HTTP/1.1\r\nHost: {address}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
    );
    assert_eq!(raw_status(address, post.as_bytes()), 405);
    let delete =
        format!("DELETE /api/v1/stats HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    assert_eq!(raw_status(address, delete.as_bytes()), 405);
    assert_eq!(raw_status(address, b"garbage\r\n\r\n"), 400);
    assert_eq!(
        get_with(address, "/metrics", &["Host: evil.example"]).status,
        421,
        "DNS rebinding"
    );

    // Slow clients: connections that trickle a request head never finish
    // it; others are served meanwhile, and the slow ones are cut off.
    let mut slow: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut s = TcpStream::connect(address).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    assert_eq!(get(address, "/healthz").status, 200);
    // Well before the slow ones' 4 s header timeout frees anything.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a slow client stalled another"
    );
    std::thread::sleep(Duration::from_millis(4500));
    for stream in &mut slow {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = Vec::new();
        let _ = stream.write_all(b"X-More: 1\r\n");
        // Closed by the server after its header timeout (a 408 or nothing).
        let _ = stream.read_to_end(&mut buf);
        let answer = String::from_utf8_lossy(&buf);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }

    // More connections than allowed: the oldest idle one is dropped to let
    // the new one in, which is served.
    let mut held: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(address).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let extra = get(address, "/healthz");
    assert_eq!((extra.status, extra.text().as_str()), (200, "ok\n"));
    held[0]
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = Vec::new();
    let _ = held[0].read_to_end(&mut buf);
    assert!(
        buf.is_empty(),
        "the oldest idle connection was closed: {buf:?}"
    );
    drop(held);
    // Freed slots are served again.
    let back = wait_for(Duration::from_secs(5), || {
        let reply = get(address, "/metrics");
        (reply.status == 200).then_some(reply)
    })
    .expect("the server stopped serving");
    assert!(sample(&back.text(), "mmstats_web_ticks_total").is_some());
    assert!(server.child.0.id() > 0);
    terminate(demo);
}

/// `--max-series-per-family 2` against the demo's three connections: two
/// series a family, the rest counted, one log line per family however
/// many scrapes; 0 is refused.
#[test]
fn the_series_bound_keeps_counts_and_logs_what_it_leaves_out() {
    use std::io::BufRead;
    use std::process::Stdio;
    let dir = stats_dir();
    let (demo, _paths) = start_demo(dir.path(), 1);
    let mut child = mmdump_common::ChildGuard(
        mmdump()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--max-series-per-family",
                "2",
            ])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let address: std::net::SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap();
    let stderr = child.0.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let mut cut_scrapes = 0;
    let deadline = Instant::now() + WATCHDOG;
    while cut_scrapes < 3 {
        assert!(Instant::now() < deadline, "no scrape over the bound");
        let text = get(address, "/metrics").text();
        let series = text
            .lines()
            .filter(|l| l.starts_with("mmstats_web_conn_requests_total{"))
            .count();
        assert!(series <= 2, "bounded to 2 series:\n{text}");
        let dropped = sample(&text, "mmdump_serve_dropped_series").expect("the total");
        if dropped > 0.0 {
            assert!(
                text.contains(
                    "mmdump_serve_family_dropped_series{family=\"mmstats_web_conn_requests\"} "
                ),
                "{text}"
            );
            assert_eq!(series, 2);
            cut_scrapes += 1;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    drop(child);
    let log = log.join().unwrap();
    println!("{log}");
    assert_eq!(
        log.matches("family mmstats_web_conn_requests has ").count(),
        1,
        "logged once: {log}"
    );
    assert!(log.contains("--max-series-per-family"), "{log}");
    terminate(demo);

    let zero = mmdump()
        .args(["serve", "--max-series-per-family", "0"])
        .output()
        .unwrap();
    assert!(!zero.status.success());
    assert!(
        String::from_utf8_lossy(&zero.stderr).contains("--max-series-per-family"),
        "{zero:?}"
    );
}

#[test]
fn the_timeline_page_draws_the_demos_spans() {
    let dir = stats_dir();
    let (demo, _paths) = start_demo(dir.path(), 1);
    let server = serve(&[dir.path().to_str().unwrap()]);
    // The demo's ticker makes a `tick` span in web.events once a tick.
    let page = wait_for(WATCHDOG, || {
        let page = get(server.address, "/timeline?seconds=30");
        (page.status == 200 && page.text().contains("<rect class=\"span\"")).then_some(page)
    })
    .expect("a span bar on the timeline");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let text = page.text();
    assert!(text.contains("<svg") && text.contains("tick"), "{text}");
    assert!(!text.contains("<script"), "no script on the page");
    for bad in [
        "/timeline?seconds=abc",
        "/timeline?seconds=0",
        "/timeline?seconds=1e9",
        "/timeline?x=1",
    ] {
        assert_eq!(get(server.address, bad).status, 400, "{bad}");
    }
    let dashboard = get(server.address, "/").text();
    assert!(
        dashboard.contains("href=\"/timeline\""),
        "the dashboard links it"
    );
    terminate(demo);
}
