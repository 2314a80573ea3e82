//! `mmdump watch` in its non-terminal modes (lines and JSON) over live
//! writers in other processes, under a watchdog: rates match the demo's
//! known rate, a restarted or replaced writer never gives a negative rate
//! or a spike, summed counters never go backwards, new files are picked
//! up and vanished ones dropped.

mod mmdump_common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mmdump::demo::TICKS_PER_SECOND;
use mmdump_common::{ChildGuard, Made, WATCHDOG, mmdump, run, start_demo, terminate, write_region};
use mmstats_nostd::RegionOptions;
use serde_json::Value;

const RATE: f64 = TICKS_PER_SECOND as f64;

fn frames(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The row named `name` of the aggregate group of a frame.
fn aggregate_row<'f>(frame: &'f Value, name: &str) -> Option<&'f Value> {
    frame["groups"][0]["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == name)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn within(value: f64, expected: f64, tolerance: f64) -> bool {
    (value - expected).abs() <= expected * tolerance
}

/// Spawns `mmdump watch` with `args`, collecting its stdout lines.
fn spawn_watch(args: &[&str], dir: &Path) -> (ChildGuard, std::sync::mpsc::Receiver<String>) {
    let mut child = mmdump()
        .arg("watch")
        .args(args)
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (ChildGuard(child), rx)
}

/// Collects lines until the child exits (or the watchdog fires).
fn collect_lines(mut child: ChildGuard, rx: &std::sync::mpsc::Receiver<String>) -> Vec<Value> {
    let deadline = std::time::Instant::now() + WATCHDOG;
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => lines.push(serde_json::from_str(&line).unwrap()),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                assert!(std::time::Instant::now() < deadline, "watch hung");
            }
        }
    }
    assert!(child.0.wait().unwrap().success());
    lines
}

#[test]
fn json_rates_match_the_writers_known_rate() {
    let dir = tempfile::tempdir().unwrap();
    let (_demo, _) = start_demo(dir.path(), 1);
    let output = run(mmdump()
        .args(["watch", "--json", "-i", "0.5", "-c", "9", "-I", "web.ticks"])
        .arg(dir.path()));
    assert!(output.status.success(), "{output:?}");
    let frames = frames(&output.stdout);
    assert_eq!(frames.len(), 9);
    assert_eq!(frames[0]["schema"], 1);
    assert_eq!(frames[0]["mode"], "sum");
    let first = aggregate_row(&frames[0], "web.ticks").unwrap();
    assert!(first["rate"].is_null(), "no rate before a second read");
    let mut rates = Vec::new();
    for frame in &frames[1..] {
        assert!(within(frame["interval_s"].as_f64().unwrap(), 0.5, 0.5));
        let row = aggregate_row(frame, "web.ticks").expect("web.ticks in every frame");
        let rate = row["rate"].as_f64().expect("a rate after the first read");
        assert!(
            (0.0..=3.0 * RATE).contains(&rate),
            "rate {rate} is a spike or negative"
        );
        rates.push(rate);
    }
    let median = median(rates.clone());
    assert!(
        within(median, RATE, 0.10),
        "median rate {median}, rates {rates:?}"
    );
    let last = aggregate_row(frames.last().unwrap(), "web.ticks").unwrap();
    for key in ["avg_rate", "ma10", "ma100"] {
        let value = last[key].as_f64().unwrap();
        assert!(within(value, RATE, 0.10), "{key} = {value}");
    }
}

#[test]
fn lines_look_like_vmstat() {
    let dir = tempfile::tempdir().unwrap();
    let (_demo, _) = start_demo(dir.path(), 1);
    // An older writer makes its average since start less sensitive to how
    // late its ticker thread got going.
    std::thread::sleep(Duration::from_secs(1));
    let output = run(mmdump()
        .args([
            "watch",
            "-i",
            "0.5",
            "-c",
            "6",
            "-I",
            "web.ticks",
            "-I",
            "web.inflight",
        ])
        .args(["--columns", "rate,avg", "-t"])
        .arg(dir.path()));
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "a header and six lines:\n{text}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["time", "web.inflight", "web.ticks/s", "web.ticks:avg/s"],
        "{text}"
    );
    let mut rates = Vec::new();
    for (at, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells.len(), 4, "{line}");
        assert!(cells[0].ends_with('Z') && cells[0].contains('T'), "{line}");
        let rate: f64 = cells[2].parse().unwrap();
        let average: f64 = cells[3].parse().unwrap();
        assert!((0.0..=3.0 * RATE).contains(&rate), "{line}");
        // The writer may be only milliseconds old at the first line.
        if at > 0 {
            assert!(within(average, RATE, 0.15), "{line}");
        }
        rates.push(rate);
    }
    // The first line shows the average since start, like vmstat's.
    assert!(within(median(rates[1..].to_vec()), RATE, 0.10), "{text}");

    // The header comes back every N lines.
    let repeated = run(mmdump()
        .args(["watch", "-i", "0.1", "-c", "5", "--header-every", "2"])
        .args(["-I", "web.ticks"])
        .arg(dir.path()));
    let text = String::from_utf8(repeated.stdout).unwrap();
    assert_eq!(text.matches("web.ticks/s").count(), 3, "{text}");
}

#[test]
fn a_restarted_writer_gives_no_negative_rate_and_sums_never_go_back() {
    let dir = tempfile::tempdir().unwrap();
    let (first, first_paths) = start_demo(dir.path(), 1);
    let args = ["--json", "-i", "0.25", "-c", "32", "-I", "web.ticks"];
    let (sum_watch, sum_rx) = spawn_watch(&args, dir.path());
    let per_file_args = [&args[..], &["-a", "per-file"]].concat();
    let (file_watch, file_rx) = spawn_watch(&per_file_args, dir.path());
    std::thread::sleep(Duration::from_millis(2500));
    // A clean exit: the writer removes its files.
    terminate(first);
    assert!(first_paths.iter().all(|p| !p.exists()));
    std::thread::sleep(Duration::from_millis(500));
    let (_second, second_paths) = start_demo(dir.path(), 1);

    let summed = collect_lines(sum_watch, &sum_rx);
    assert_eq!(summed.len(), 32);
    let mut last_value = 0;
    let mut retired = false;
    let mut rates_after_restart = Vec::new();
    let mut gap = false;
    for frame in &summed {
        let row = aggregate_row(frame, "web.ticks").expect("kept while no file has it");
        if row["files"] == 0 {
            // Between the writers: only the first one's last values.
            gap = true;
            assert_eq!(row["rate"].as_f64(), Some(0.0), "{frame}");
        }
        let value = row["value"].as_u64().unwrap();
        assert!(
            value >= last_value,
            "the sum went back: {last_value} then {value}"
        );
        last_value = value;
        if let Some(rate) = row["rate"].as_f64() {
            assert!(
                (0.0..=3.0 * RATE).contains(&rate),
                "rate {rate} around a restart in {frame}"
            );
            if retired {
                rates_after_restart.push(rate);
            }
        }
        retired |= frame["retired_files"].as_u64().unwrap() > 0;
    }
    assert!(retired, "the first writer's values were retired");
    assert!(gap, "a read fell between the two writers");
    assert!(
        rates_after_restart.iter().any(|&r| within(r, RATE, 0.25)),
        "the second writer's rate shows: {rates_after_restart:?}"
    );

    let per_file = collect_lines(file_watch, &file_rx);
    let mut paths_seen = std::collections::BTreeSet::new();
    for frame in &per_file {
        for group in frame["groups"].as_array().unwrap() {
            paths_seen.insert(group["path"].as_str().unwrap().to_owned());
            for field in group["fields"].as_array().unwrap() {
                if let Some(rate) = field["rate"].as_f64() {
                    assert!((0.0..=3.0 * RATE).contains(&rate), "{frame}");
                }
            }
        }
    }
    let shown = |p: &Path| paths_seen.contains(&p.display().to_string());
    assert!(shown(&first_paths[0]), "{paths_seen:?}");
    assert!(
        shown(&second_paths[0]),
        "new file picked up: {paths_seen:?}"
    );
    let last_paths: Vec<&str> = per_file.last().unwrap()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["path"].as_str().unwrap())
        .collect();
    assert!(
        !last_paths.contains(&first_paths[0].display().to_string().as_str()),
        "vanished file dropped: {last_paths:?}"
    );
}

#[test]
fn a_file_replaced_in_place_starts_its_rates_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("made-1-1.mmstats");
    let made = |generation: u64, counter: u64| Made {
        options: RegionOptions {
            generation,
            created_ns: mmstats::os::now_ns(),
            ..RegionOptions::default()
        },
        counter,
        closed: false,
    };
    write_region(&path, made(1, 5000));
    let args = ["--json", "-i", "0.2", "-c", "20", "-I", "c"];
    let (sum_watch, sum_rx) = spawn_watch(&args, dir.path());
    let per_file_args = [&args[..], &["-a", "per-file"]].concat();
    let (file_watch, file_rx) = spawn_watch(&per_file_args, dir.path());
    std::thread::sleep(Duration::from_millis(1200));
    write_region(&path, made(2, 10));
    std::thread::sleep(Duration::from_millis(1200));
    write_region(&path, made(3, 20));

    let per_file = collect_lines(file_watch, &file_rx);
    let values: Vec<u64> = per_file
        .iter()
        .map(|f| f["groups"][0]["fields"][0]["value"].as_u64().unwrap())
        .collect();
    assert!(values.contains(&5000) && values.contains(&10), "{values:?}");
    assert_eq!(*values.last().unwrap(), 20);
    for frame in &per_file {
        let rate = &frame["groups"][0]["fields"][0]["rate"];
        assert!(
            rate.is_null() || rate.as_f64().unwrap() == 0.0,
            "a static counter rates 0 or unknown, never negative: {frame}"
        );
    }

    let summed = collect_lines(sum_watch, &sum_rx);
    let values: Vec<u64> = summed
        .iter()
        .map(|f| aggregate_row(f, "c").unwrap()["value"].as_u64().unwrap())
        .collect();
    assert!(
        values.windows(2).all(|w| w[0] <= w[1]),
        "the sum never goes back: {values:?}"
    );
    assert_eq!(*values.last().unwrap(), 5030, "{values:?}");
    for frame in &summed {
        let rate = &aggregate_row(frame, "c").unwrap()["rate"];
        assert!(rate.is_null() || rate.as_f64().unwrap() == 0.0, "{frame}");
    }
}

#[test]
fn watch_rejects_bad_arguments_and_survives_a_closed_pipe() {
    let bad = run(mmdump().args(["watch", "-i", "0"]));
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("interval"));
    let bad = run(mmdump().args(["watch", "--columns", "median"]));
    assert_eq!(bad.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let (_demo, _) = start_demo(dir.path(), 1);
    let mut child = mmdump()
        .args(["watch", "-i", "0.1", "-c", "50"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    drop(stdout);
    let mut child = ChildGuard(child);
    let deadline = std::time::Instant::now() + WATCHDOG;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "watch hung on a closed pipe"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
}
