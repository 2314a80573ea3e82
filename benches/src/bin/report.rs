//! `cargo run --release -p mmstats-benches --bin report [-- --budget-ms N]`
//!
//! Runs every benchmark case on a short budget in one process and prints one
//! table: operation, median ns/op, and the ratio to each baseline, then the
//! goals of the benchmark issue with the measured ratio and whether each is
//! met, and the machine it ran on. `BENCHMARKS.md` keeps the last full run.

use std::collections::BTreeMap;
use std::time::Duration;

use mmstats_benches::{
    Case, Timing, baseline_cases, bench_dir, measure, mmstats_write_cases, peers,
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

    println!(
        "machine: {} ({} logical CPUs), {} {}",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    println!("budget per case: {} ms\n", args.budget.as_millis());
    println!(
        "| {:<34} | {:>9} | {:>9} | {:>10} | {:>9} | {:>10} |",
        "operation", "ns/op", "min ns", "x relaxed", "x fetch", "x prom inc"
    );
    println!(
        "|{:-<36}|{:->11}|{:->11}|{:->12}|{:->11}|{:->12}|",
        "", "", "", "", "", ""
    );
    let ratio = |value: f64, base: Option<f64>| {
        base.map_or_else(|| "-".into(), |b| format!("{:.2}", value / b))
    };
    for name in &order {
        let t = &results[name];
        println!(
            "| {:<34} | {:>9.2} | {:>9.2} | {:>10} | {:>9} | {:>10} |",
            name,
            t.median_ns,
            t.min_ns,
            ratio(t.median_ns, relaxed),
            ratio(t.median_ns, fetch_add),
            ratio(t.median_ns, prom)
        );
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
}
