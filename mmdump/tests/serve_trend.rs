//! Trend history end to end: `mmdump record` samples a live demo writer
//! into SQLite, the rows are checked with SQL, `mmdump trend` draws them
//! as SVG and PNG (checked as images), and `mmdump serve --history` /
//! `--record` serve the same history to the dashboard.
#![cfg(feature = "serve")]

mod mmdump_common;
mod serve_common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use mmdump_common::{WATCHDOG, mmdump, run, start_demo, terminate};
use rusqlite::{Connection, OpenFlags};
use serve_common::{get, serve, stats_dir, wait_for};

/// The first series' colour (plotters' Palette99, first entry).
const FIRST_COLOR: (u8, u8, u8) = (230, 25, 75);

fn samples(db: &Connection, name: &str) -> Vec<(i64, f64, Option<f64>)> {
    let mut statement = db
        .prepare(
            "SELECT t, value, rate FROM samples JOIN series ON series.id = samples.series
             WHERE series.name = ?1 AND tier = 0 ORDER BY t",
        )
        .unwrap();
    statement
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn record_then_chart_a_live_writer() {
    let dir = stats_dir();
    let work = tempfile::tempdir().unwrap();
    let db_path = work.path().join("trend.db");
    let (demo, _) = start_demo(dir.path(), 2);
    let recorded = run(mmdump()
        .args(["record", "--interval", "0.5s", "--count", "8", "--db"])
        .arg(&db_path)
        .arg(dir.path()));
    let stderr = String::from_utf8_lossy(&recorded.stderr);
    println!("{stderr}");
    assert!(recorded.status.success(), "{recorded:?}");
    assert!(stderr.contains("8 samples"), "{stderr}");
    assert_eq!(
        std::fs::metadata(&db_path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let db = Connection::open_with_flags(&db_path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let ticks = samples(&db, "web.ticks");
    println!("web.ticks rows: {ticks:?}");
    assert_eq!(ticks.len(), 8, "one row per sample");
    assert!(ticks.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1));
    assert_eq!(ticks[0].2, None, "no rate before a second read");
    for (_, _, rate) in &ticks[1..] {
        let rate = rate.unwrap();
        assert!((rate - 1000.0).abs() < 300.0, "rate {rate}");
    }
    // Half a second apart, as asked.
    let spacing = (ticks[7].0 - ticks[0].0) as f64 / 7.0;
    assert!((400.0..700.0).contains(&spacing), "{spacing} ms");
    // Counters summed over both workers.
    let requests = samples(&db, "worker.requests");
    assert_eq!(requests.len(), 8);
    let kinds: Vec<(String, String)> = db
        .prepare("SELECT name, kind FROM series ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for expected in [
        ("web.version", "string"),
        ("worker.latency", "average"),
        ("worker.status.2XX", "counter"),
        ("web.uptime", "float"),
    ] {
        assert!(
            kinds.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} not in {kinds:?}"
        );
    }
    let versions: i64 = db
        .query_row(
            "SELECT count(*) FROM texts JOIN series ON series.id = texts.series WHERE name = 'web.version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(versions, 1, "an unchanged string is stored once");
    let total: i64 = db
        .query_row("SELECT count(*) FROM samples", [], |r| r.get(0))
        .unwrap();
    let series: i64 = db
        .query_row("SELECT count(*) FROM series", [], |r| r.get(0))
        .unwrap();
    println!(
        "{series} series, {total} sample rows, {} bytes",
        std::fs::metadata(&db_path).unwrap().len()
    );

    // SVG: a valid document with a line per series and the legend.
    let svg_path = work.path().join("chart.svg");
    let drawn = run(mmdump()
        .args([
            "trend",
            "web.ticks",
            "worker.status",
            "--since",
            "5m",
            "--db",
        ])
        .arg(&db_path)
        .arg("-o")
        .arg(&svg_path));
    assert!(drawn.status.success(), "{drawn:?}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
    assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<svg").count(), 1);
    for label in [
        "web.ticks (per second)",
        "worker.status.2XX (per second)",
        "worker.status.4XX (per second)",
        "worker.status.5XX (per second)",
    ] {
        assert!(svg.contains(label), "{label} missing from the legend");
    }
    let first_line = svg
        .split("<polyline")
        .skip(1)
        .find(|p| p.contains("stroke=\"#E6194B\""))
        .expect("no line in the first series' colour");
    let points = first_line
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .split_whitespace()
        .count();
    println!("web.ticks line: {points} points");
    assert_eq!(points, 7, "the 7 samples that have a rate");

    // PNG: decodes, the asked size, pixels of the first series' colour.
    let png_path = work.path().join("chart.png");
    let drawn = run(mmdump()
        .args([
            "trend",
            "web.ticks",
            "--since",
            "5m",
            "--width",
            "640",
            "--height",
            "320",
            "--db",
        ])
        .arg(&db_path)
        .arg("-o")
        .arg(&png_path));
    assert!(drawn.status.success(), "{drawn:?}");
    let png = std::fs::read(&png_path).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(&png))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (640, 320));
    let line_pixels = pixels[..info.buffer_size()]
        .chunks(3)
        .filter(|p| (p[0], p[1], p[2]) == FIRST_COLOR)
        .count();
    println!(
        "{} bytes of PNG, {line_pixels} pixels of the line's colour",
        png.len()
    );
    assert!(line_pixels > 200, "no line drawn");

    // Listing; unknown names fail clearly.
    let list = run(mmdump().args(["trend", "--list", "--db"]).arg(&db_path));
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        list.lines()
            .any(|l| l.starts_with("web.ticks ") && l.contains(" 8 ")),
        "{list}"
    );
    let missing = run(mmdump().args(["trend", "no.such", "--db"]).arg(&db_path));
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no recorded series matches no.such")
    );
    let foreign = work.path().join("foreign.db");
    std::fs::write(&foreign, "plain text").unwrap();
    let refused = run(mmdump().args(["trend", "x", "--db"]).arg(&foreign));
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not an mmdump trend database"));

    // The server serves the same history.
    let server = serve(&[
        dir.path().to_str().unwrap(),
        "--history",
        db_path.to_str().unwrap(),
    ]);
    let history = get(
        server.address,
        "/api/v1/history?name=web.ticks&since=10m&points=2000",
    )
    .json();
    let points = history["points"].as_array().unwrap();
    assert_eq!(points.len(), 8);
    assert_eq!(
        points[1][4].as_f64().map(|r| (r - 1000.0).abs() < 300.0),
        Some(true)
    );
    let listed = get(server.address, "/api/v1/series").json();
    assert!(
        listed["series"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "worker.latency")
    );
    let chart = get(server.address, "/chart.svg?name=web.ticks&since=10m");
    assert_eq!(chart.status, 200);
    assert_eq!(chart.header("content-type"), Some("image/svg+xml"));
    assert!(chart.text().contains("web.ticks (per second)"));
    assert_eq!(get(server.address, "/chart.svg?name=no.such").status, 404);
    assert_eq!(
        get(server.address, "/api/v1/history?name=no.such").status,
        404
    );
    let texts = get(server.address, "/api/v1/history?name=web.version&since=10m").json();
    assert_eq!(texts["texts"][0][1], "0.1.0");
    terminate(demo);
}

#[test]
fn serve_records_while_it_serves() {
    let dir = stats_dir();
    let work = tempfile::tempdir().unwrap();
    let db_path = work.path().join("live.db");
    let (demo, _) = start_demo(dir.path(), 1);
    let server = serve(&[
        dir.path().to_str().unwrap(),
        "--record",
        db_path.to_str().unwrap(),
        "--record-interval",
        "0.5s",
    ]);
    let points = wait_for(WATCHDOG, || {
        let reply = get(server.address, "/api/v1/history?name=web.ticks&since=5m");
        let points = reply.json()["points"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (points.len() >= 4).then_some(points)
    })
    .expect("serve --record recorded nothing");
    assert!(
        points
            .windows(2)
            .all(|w| w[1][1].as_f64() > w[0][1].as_f64())
    );
    let info = get(server.address, "/api/v1/info").json();
    assert_eq!(info["history"], true);
    assert_eq!(info["record_error"], serde_json::Value::Null);
    std::thread::sleep(Duration::from_millis(200));
    terminate(demo);
}
