//! `cargo run --release -p mmstats-benches --bin report [-- --budget-ms N]`
//!
//! Runs every benchmark case on a short budget in one process and prints one
//! table: operation, median ns/op, and the ratio to each baseline, then the
//! goals of the benchmark issue with the measured ratio and whether each is
//! met, and the machine it ran on. `BENCHMARKS.md` keeps the last full run.

use std::collections::BTreeMap;
use std::time::Duration;

use mmstats_benches::{
    Case, Timing, baseline_cases, bench_dir, interference, measure, mmstats_write_cases, peers,
    prometheus_cases, snapshot_cases,
};

struct Args {
    budget: Duration,
}

fn parse_args() -> Args {
    let mut budget = Duration::from_millis(500);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--budget-ms" => {
                let value = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                    eprintln!("report: --budget-ms takes a number of milliseconds");
                    std::process::exit(2);
                });
                budget = Duration::from_millis(value);
            }
            "--help" | "-h" => {
                println!("usage: report [--budget-ms N]   (time per case; default 500)");
                std::process::exit(0);
            }
            other => {
                eprintln!("report: unknown argument {other:?} (try --help)");
                std::process::exit(2);
            }
        }
    }
    Args { budget }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() {
    let args = parse_args();
    let dir = bench_dir();
    let mut cases: Vec<Case> = baseline_cases();
    cases.extend(mmstats_write_cases(dir.path()));
    cases.extend(peers::peer_write_cases());

    let mut results: BTreeMap<String, Timing> = BTreeMap::new();
    let mut order = Vec::new();
    for case in &mut cases {
        eprint!("measuring {:<40}\r", case.name);
        let timing = measure(&mut case.run, args.budget);
        order.push(case.name.clone());
        results.insert(case.name.clone(), timing);
    }
    eprintln!("{:<60}", "");

    let get = |name: &str| results.get(name).map(|t| t.median_ns);
    let relaxed = get("baseline: relaxed load+store");
    let fetch_add = get("baseline: fetch_add");
    let prom = get("prometheus: IntCounter::inc");
    let metrics = get("metrics: counter increment");
    let seqlock = get("seqlock: 4-word write");

    println!(
        "machine: {} ({} logical CPUs), {} {}",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    println!("budget per case: {} ms\n", args.budget.as_millis());
    println!(
        "| {:<36} | {:>9} | {:>9} | {:>9} | {:>9} | {:>10} | {:>13} | {:>9} |",
        "operation",
        "ns/op",
        "min ns",
        "x relaxed",
        "x fetch",
        "x prom inc",
        "x metrics inc",
        "x seqlock"
    );
    println!(
        "|{:-<38}|{:->11}|{:->11}|{:->11}|{:->11}|{:->12}|{:->15}|{:->11}|",
        "", "", "", "", "", "", "", ""
    );
    let ratio = |value: f64, base: Option<f64>| {
        base.map_or_else(|| "-".into(), |b| format!("{:.2}", value / b))
    };
    for name in &order {
        let t = &results[name];
        println!(
            "| {:<36} | {:>9.2} | {:>9.2} | {:>9} | {:>9} | {:>10} | {:>13} | {:>9} |",
            name,
            t.median_ns,
            t.min_ns,
            ratio(t.median_ns, relaxed),
            ratio(t.median_ns, fetch_add),
            ratio(t.median_ns, prom),
            ratio(t.median_ns, metrics),
            ratio(t.median_ns, seqlock)
        );
    }

    // Reader side: snapshots, ns per field.
    println!(
        "\n| {:<36} | {:>12} | {:>12} |",
        "read", "ns/snapshot", "ns/field"
    );
    println!("|{:-<38}|{:->14}|{:->14}|", "", "", "");
    let mut per_field_100k = None;
    for (fields, mut case) in snapshot_cases(dir.path()) {
        eprint!("measuring {:<40}\r", case.name);
        let timing = measure(&mut case.run, args.budget);
        let per_field = timing.median_ns / fields as f64;
        if fields == 100_000 {
            per_field_100k = Some(per_field);
        }
        println!(
            "| {:<36} | {:>12.0} | {:>12.2} |",
            case.name, timing.median_ns, per_field
        );
    }

    for (fields, mut case) in prometheus_cases(dir.path()) {
        eprint!("measuring {:<40}\r", case.name);
        let timing = measure(&mut case.run, args.budget);
        println!(
            "| {:<36} | {:>12.0} | {:>12.2} |",
            case.name,
            timing.median_ns,
            timing.median_ns / fields as f64
        );
    }

    // mmdump --json over 100 files of 1,000 fields, end to end.
    eprint!("measuring {:<40}\r", "mmdump --json");
    match mmdump_end_to_end(args.budget) {
        Ok((median, files, fields)) => println!(
            "| {:<36} | {:>12.0} | {:>12.2} |",
            format!("mmdump --json, {files} files x {fields}"),
            median * 1e9,
            median * 1e9 / (files * fields) as f64
        ),
        Err(reason) => println!("| mmdump --json: not measured ({reason}) |"),
    }

    // Interference: what a reader costs the writer.
    eprint!("measuring {:<40}\r", "interference");
    let interference = interference(dir.path(), args.budget);
    eprintln!("{:<60}", "");
    let (busy_run, slow_run) = (&interference.busy_reader, &interference.reader_10hz);
    let (busy, slow) = (busy_run.ratio, slow_run.ratio);
    println!(
        "\n| {:<52} | {:>9} | {:>9} | {:>8} | {:>7} |",
        "writer: counter incr in a 1,000-field region", "alone", "w/ reader", "x alone", "noise"
    );
    println!(
        "|{:-<54}|{:->11}|{:->11}|{:->10}|{:->9}|",
        "", "", "", "", ""
    );
    for (label, run) in [
        (
            format!(
                "reader snapshotting in a loop ({:.0} snapshots/s)",
                busy_run.snapshots_per_sec
            ),
            busy_run,
        ),
        ("reader snapshotting at 10 Hz".to_owned(), slow_run),
    ] {
        println!(
            "| {:<52} | {:>9.3} | {:>9.3} | {:>8.3} | {:>6.1}% |",
            label,
            run.alone_ns,
            run.with_reader_ns,
            run.ratio,
            run.noise * 100.0
        );
    }
    println!(
        "(ns/op medians over {} alternating rounds, alone then with the reader; x alone: median of each round's ratio; noise: median difference between consecutive runs alone)",
        busy_run.rounds
    );
    if !interference.pinned {
        println!("(threads could not be pinned to CPUs; the OS placed them)");
    }

    println!("\ngoals:");
    let goal = |label: &str, value: Option<f64>, limit: f64, lower_is_better: bool| match value {
        Some(v) => {
            let met = if lower_is_better {
                v <= limit
            } else {
                v >= limit
            };
            println!(
                "- {label}: {v:.2} ({} {limit}) {}",
                if lower_is_better {
                    "goal <="
                } else {
                    "goal >="
                },
                if met { "MET" } else { "MISSED" }
            );
        }
        None => println!("- {label}: not measured"),
    };
    let counter = get("mmstats: counter incr");
    goal(
        "counter incr / relaxed load+store",
        counter.zip(relaxed).map(|(c, r)| c / r),
        1.5,
        true,
    );
    goal(
        "prometheus IntCounter::inc / counter incr",
        prom.zip(counter).map(|(p, c)| p / c),
        3.0,
        false,
    );
    goal(
        "4-word latch write / 4 relaxed stores",
        get("mmstats: 4-word latch write")
            .zip(get("baseline: 4 relaxed stores"))
            .map(|(l, s)| l / s),
        3.0,
        true,
    );
    goal(
        "snapshot ns per field at 100,000 fields",
        per_field_100k,
        5.0,
        true,
    );
    goal(
        "writer slowdown with a busy reader (x)",
        Some(busy),
        2.0,
        true,
    );
    goal(
        "writer slowdown with a 10 Hz reader (x)",
        Some(slow),
        1.01,
        true,
    );
    if slow > 1.01 && slow - 1.0 <= slow_run.noise {
        println!(
            "  (a {:.1} % slowdown is within this run's noise floor of {:.1} %: two runs alone differ as much)",
            (slow - 1.0) * 100.0,
            slow_run.noise * 100.0
        );
    }
    mmstats_benches::facades_report::facades_report(args.budget.min(Duration::from_millis(200)));
}

/// Times `mmdump --json` over 100 files of 1,000 counters each, as a
/// process, end to end. Returns (median seconds, files, fields per file).
fn mmdump_end_to_end(budget: Duration) -> Result<(f64, usize, usize), String> {
    const FILES: usize = 100;
    const FIELDS: usize = 1_000;
    let binary = mmdump_binary()?;
    let dir = bench_dir();
    let files: Vec<_> = (0..FILES)
        .map(|i| mmstats_benches::region_with_counters(dir.path(), &format!("e2e{i}"), FIELDS))
        .collect();
    let mut samples = Vec::new();
    let end = std::time::Instant::now() + budget;
    while samples.len() < 3 || std::time::Instant::now() < end {
        let start = std::time::Instant::now();
        let output = std::process::Command::new(&binary)
            .arg("--json")
            .arg(dir.path())
            .output()
            .map_err(|e| format!("running {}: {e}", binary.display()))?;
        samples.push(start.elapsed().as_secs_f64());
        if !output.status.success() || output.stdout.len() < FILES * FIELDS * 20 {
            return Err(format!(
                "mmdump failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        if samples.len() >= 50 {
            break;
        }
    }
    drop(files);
    samples.sort_by(f64::total_cmp);
    Ok((samples[samples.len() / 2], FILES, FIELDS))
}

/// The release `mmdump` beside this binary, built first if missing (when
/// run through cargo).
fn mmdump_binary() -> Result<std::path::PathBuf, String> {
    let here = std::env::current_exe().map_err(|e| e.to_string())?;
    let binary = here.with_file_name("mmdump");
    if !binary.exists() {
        let cargo = std::env::var_os("CARGO").ok_or("mmdump is not built and cargo is unknown")?;
        let status = std::process::Command::new(cargo)
            .args([
                "build",
                "--release",
                "-q",
                "-p",
                "mmdump",
                "--bin",
                "mmdump",
            ])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("building mmdump failed".into());
        }
    }
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!("no {}", binary.display()))
    }
}
