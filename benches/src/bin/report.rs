//! `cargo run --release -p mmstats-benches --bin report [-- --budget-ms N --rounds R]`
//!
//! Runs every benchmark case on a short budget in one process, `--rounds`
//! times (every case of round 1, then every case of round 2, ...), and
//! prints one table: operation, ns/op and the ratio to each baseline, each
//! as median (min-max) over the rounds, a ratio taken within each round;
//! then the reader's costs, false sharing between two threads, what a
//! reader costs the writer, and the goals of the benchmark issues with the
//! measured ratio and whether each is met in every round. The machine (CPU
//! model, cores) and the load average at start and end come first and
//! last. `BENCHMARKS.md` keeps the last full run.

use std::time::Duration;

use mmstats_benches::false_sharing::{Placement, false_sharing_rounds};
use mmstats_benches::rounds::{Machine, Rounds, Spread, load_average, measure_rounds};
use mmstats_benches::{
    Case, baseline_cases, bench_dir, interference, mmstats_write_cases, peers, prometheus_cases,
    snapshot_cases,
};

struct Args {
    budget: Duration,
    rounds: usize,
    only: Option<String>,
}

const USAGE: &str = "usage: report [--budget-ms N] [--rounds R] [--only TEXT]
  --budget-ms N  time per case and round (default 500)
  --rounds R     rounds; ratios are median (min-max) over them (default 5)
  --only TEXT    only the write cases whose name holds TEXT, and the
                 baselines (skips the other sections)";

fn parse_args() -> Args {
    let mut parsed = Args {
        budget: Duration::from_millis(500),
        rounds: 5,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    let fail = |message: &str| -> ! {
        eprintln!("report: {message} (try --help)");
        std::process::exit(2);
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--budget-ms" => {
                let value = args.next().and_then(|v| v.parse().ok());
                let value = value.unwrap_or_else(|| fail("--budget-ms takes milliseconds"));
                parsed.budget = Duration::from_millis(value);
            }
            "--rounds" => {
                let value = args.next().and_then(|v| v.parse().ok()).filter(|&r| r > 0);
                parsed.rounds = value.unwrap_or_else(|| fail("--rounds takes a count above 0"));
            }
            "--only" => {
                parsed.only = Some(args.next().unwrap_or_else(|| fail("--only takes a text")));
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => fail(&format!("unknown argument {other:?}")),
        }
    }
    parsed
}

const RELAXED: &str = "baseline: relaxed load+store";
const FETCH_ADD: &str = "baseline: fetch_add";
const FOUR_STORES: &str = "baseline: 4 relaxed stores";
const PROM_INC: &str = "prometheus: IntCounter::inc";
const METRICS_INC: &str = "metrics: counter increment";
const SEQLOCK: &str = "seqlock: 4-word write";
const COUNTER: &str = "mmstats: counter incr";

fn main() {
    let args = parse_args();
    let machine = Machine::this();
    println!("machine: {machine}");
    println!("load average at start: {}", load_average());
    println!(
        "budget per case and round: {} ms, {} rounds; every figure is median (min-max) over the rounds\n",
        args.budget.as_millis(),
        args.rounds
    );
    let dir = bench_dir();
    let writes = write_section(&args, dir.path());
    let mut goals = Vec::new();
    if args.only.is_none() {
        let per_field_100k = read_section(&args, dir.path());
        let false_sharing = false_sharing_section(&args, dir.path());
        interference_section(&args, dir.path(), &mut goals);
        mmstats_benches::serve_report::print(args.budget);
        mmstats_benches::facades_report::facades_report(
            args.budget.min(Duration::from_millis(200)),
        );
        mmstats_benches::capi_report::print();
        goals.splice(
            0..0,
            [
                Goal::at_most(
                    "counter incr / relaxed load+store",
                    writes.ratio(COUNTER, RELAXED),
                    1.5,
                ),
                Goal::at_least(
                    "prometheus IntCounter::inc / counter incr",
                    writes.ratio(PROM_INC, COUNTER),
                    3.0,
                ),
                Goal::at_most(
                    "average add / relaxed load+store",
                    writes.ratio("mmstats: average add", RELAXED),
                    6.0,
                ),
                Goal::at_most(
                    "histogram record / relaxed load+store",
                    writes.ratio("mmstats: histogram record", RELAXED),
                    6.0,
                ),
                Goal::at_most(
                    "4-word latch write / 4 relaxed stores",
                    writes.ratio("mmstats: 4-word latch write", FOUR_STORES),
                    2.5,
                ),
                Goal::at_most(
                    "snapshot ns per field at 100,000 fields",
                    per_field_100k,
                    5.0,
                ),
                Goal::at_most(
                    "two threads, one file (default padding) / two files",
                    false_sharing,
                    1.2,
                ),
            ],
        );
        println!("\ngoals (met: in every round; the worst round decides):");
        for goal in &goals {
            goal.print();
        }
    }
    println!("\nload average at end: {}", load_average());
}

/// Writer operations next to the baselines and peers; returns the rounds.
fn write_section(args: &Args, dir: &std::path::Path) -> Rounds {
    let mut cases: Vec<Case> = baseline_cases();
    cases.extend(mmstats_write_cases(dir));
    cases.extend(peers::peer_write_cases());
    if let Some(only) = &args.only {
        cases.retain(|c| c.name.starts_with("baseline") || c.name.contains(only.as_str()));
    }
    let rounds = measure_rounds(&mut cases, args.rounds, args.budget, |round, name| {
        eprint!("round {} measuring {name:<40}\r", round + 1);
    });
    eprintln!("{:<70}", "");
    let bases = [
        ("x relaxed", RELAXED),
        ("x fetch", FETCH_ADD),
        ("x prom inc", PROM_INC),
        ("x metrics inc", METRICS_INC),
        ("x seqlock", SEQLOCK),
    ];
    print!("| {:<38} | {:>20} |", "operation", "ns/op");
    for (label, _) in bases {
        print!(" {label:>20} |");
    }
    println!();
    print!("|{:-<40}|{:->22}|", "", "");
    for _ in bases {
        print!("{:->22}|", "");
    }
    println!();
    let show = |spread: Option<Spread>| spread.map_or_else(|| "-".to_owned(), |s| s.show(2));
    for name in &rounds.order {
        print!("| {name:<38} | {:>20} |", show(rounds.spread(name)));
        for (_, base) in bases {
            print!(" {:>20} |", show(rounds.ratio(name, base)));
        }
        println!();
    }
    rounds
}

/// Reader side: snapshots, the Prometheus text, `mmdump --json`. Returns
/// the spread of ns per field of a snapshot at 100,000 fields.
fn read_section(args: &Args, dir: &std::path::Path) -> Option<Spread> {
    let mut fields_of = Vec::new();
    let mut cases = Vec::new();
    for (fields, case) in snapshot_cases(dir).into_iter().chain(prometheus_cases(dir)) {
        fields_of.push((case.name.clone(), fields));
        cases.push(case);
    }
    let rounds = measure_rounds(&mut cases, args.rounds, args.budget, |round, name| {
        eprint!("round {} measuring {name:<40}\r", round + 1);
    });
    println!(
        "\n| {:<38} | {:>30} | {:>20} |",
        "read", "ns/snapshot", "ns/field"
    );
    println!("|{:-<40}|{:->32}|{:->22}|", "", "", "");
    let mut per_field_100k = None;
    for (name, fields) in &fields_of {
        let Some(per_round) = rounds.per_round(name) else {
            continue;
        };
        let per_field: Vec<f64> = per_round.iter().map(|ns| ns / *fields as f64).collect();
        let per_field = Spread::of(&per_field);
        if *fields == 100_000 && name.starts_with("snapshot") {
            per_field_100k = per_field;
        }
        println!(
            "| {name:<38} | {:>30} | {:>20} |",
            rounds
                .spread(name)
                .map_or_else(|| "-".into(), |s| s.show(0)),
            per_field.map_or_else(|| "-".into(), |s| s.show(2))
        );
    }
    // mmdump --json over 100 files of 1,000 fields, end to end, once per round.
    let mut e2e = Vec::new();
    let mut failure = None;
    for round in 0..args.rounds {
        eprint!("round {} measuring {:<40}\r", round + 1, "mmdump --json");
        match mmdump_end_to_end(args.budget) {
            Ok(seconds) => e2e.push(seconds * 1e9),
            Err(reason) => {
                failure = Some(reason);
                break;
            }
        }
    }
    eprintln!("{:<70}", "");
    let total = (E2E_FILES * E2E_FIELDS) as f64;
    match (failure, Spread::of(&e2e)) {
        (None, Some(spread)) => println!(
            "| {:<38} | {:>30} | {:>20} |",
            format!("mmdump --json, {E2E_FILES} files x {E2E_FIELDS}"),
            spread.show(0),
            Spread::of(&e2e.iter().map(|ns| ns / total).collect::<Vec<_>>())
                .map_or_else(|| "-".into(), |s| s.show(2))
        ),
        (reason, _) => println!(
            "| mmdump --json: not measured ({}) |",
            reason.unwrap_or_default()
        ),
    }
    per_field_100k
}

/// Two threads incrementing their own counter: in one file, per padding,
/// and in two files. Returns the spread of (one file, default padding) /
/// (two files), round by round.
fn false_sharing_section(args: &Args, dir: &std::path::Path) -> Option<Spread> {
    eprint!("measuring {:<60}\r", "false sharing");
    let results = false_sharing_rounds(dir, args.budget, args.rounds);
    eprintln!("{:<70}", "");
    let two_files = &results.iter().find(|(p, _)| *p == Placement::TwoFiles)?.1;
    println!(
        "\n| {:<38} | {:>20} | {:>20} |",
        "two threads, each its own counter", "ns/incr", "x two files"
    );
    println!("|{:-<40}|{:->22}|{:->22}|", "", "", "");
    for (placement, per_round) in &results {
        println!(
            "| {:<38} | {:>20} | {:>20} |",
            placement.label(),
            Spread::of(per_round).map_or_else(|| "-".into(), |s| s.show(2)),
            Spread::of_ratios(per_round, two_files).map_or_else(|| "-".into(), |s| s.show(2))
        );
    }
    println!(
        "(default padding: {:?}; ns per increment and thread, both threads at once, pinned to CPUs 0 and 1 when allowed; each round the fastest of {} runs)",
        mmstats::Padding::DEFAULT,
        mmstats_benches::false_sharing::RUNS
    );
    let default = &results
        .iter()
        .find(|(p, _)| *p == Placement::OneFile(mmstats::Padding::DEFAULT))?
        .1;
    Spread::of_ratios(default, two_files)
}

/// What a reader costs the writer; adds its goals.
fn interference_section(args: &Args, dir: &std::path::Path, goals: &mut Vec<Goal>) {
    eprint!("measuring {:<60}\r", "interference");
    let interference = interference(dir, args.budget);
    eprintln!("{:<70}", "");
    let (busy_run, slow_run) = (&interference.busy_reader, &interference.reader_10hz);
    println!(
        "\n| {:<52} | {:>9} | {:>9} | {:>20} | {:>7} |",
        "writer: counter incr in a 1,000-field region", "alone", "w/ reader", "x alone", "noise"
    );
    println!(
        "|{:-<54}|{:->11}|{:->11}|{:->22}|{:->9}|",
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
            "| {:<52} | {:>9.3} | {:>9.3} | {:>20} | {:>6.1}% |",
            label,
            run.alone_ns,
            run.with_reader_ns,
            run.ratios.show(3),
            run.noise * 100.0
        );
    }
    println!(
        "(ns/op medians over {} alternating rounds, alone then with the reader; x alone: each round's ratio, median (min-max); noise: median difference between consecutive runs alone)",
        busy_run.rounds
    );
    if !interference.pinned {
        println!("(threads could not be pinned to CPUs; the OS placed them)");
    }
    goals.push(Goal::at_most(
        "writer slowdown with a busy reader (x)",
        Some(busy_run.ratios),
        2.0,
    ));
    let mut slow = Goal::at_most(
        "writer slowdown with a 10 Hz reader (x)",
        Some(slow_run.ratios),
        1.01,
    );
    let median = slow_run.ratios.median;
    if median > 1.01 && median - 1.0 <= slow_run.noise {
        slow.note = Some(format!(
            "a {:.1} % slowdown is within this run's noise floor of {:.1} %: two runs alone differ as much",
            (median - 1.0) * 100.0,
            slow_run.noise * 100.0
        ));
    }
    goals.push(slow);
}

/// A goal of a benchmark issue and its measured spread over the rounds.
struct Goal {
    label: &'static str,
    value: Option<Spread>,
    limit: f64,
    lower_is_better: bool,
    note: Option<String>,
}

impl Goal {
    fn at_most(label: &'static str, value: Option<Spread>, limit: f64) -> Self {
        Self {
            label,
            value,
            limit,
            lower_is_better: true,
            note: None,
        }
    }

    fn at_least(label: &'static str, value: Option<Spread>, limit: f64) -> Self {
        Self {
            lower_is_better: false,
            ..Self::at_most(label, value, limit)
        }
    }

    fn print(&self) {
        let Some(value) = self.value else {
            println!("- {}: not measured", self.label);
            return;
        };
        let meets = |v: f64| {
            if self.lower_is_better {
                v <= self.limit
            } else {
                v >= self.limit
            }
        };
        let (worst, sign) = if self.lower_is_better {
            (value.max, "<=")
        } else {
            (value.min, ">=")
        };
        let verdict = if meets(worst) {
            "MET"
        } else if meets(value.median) {
            "MET at the median, MISSED in the worst round"
        } else {
            "MISSED"
        };
        println!(
            "- {}: {value} (goal {sign} {}) {verdict}",
            self.label, self.limit
        );
        if let Some(note) = &self.note {
            println!("  ({note})");
        }
    }
}

const E2E_FILES: usize = 100;
const E2E_FIELDS: usize = 1_000;

/// Times `mmdump --json` over 100 files of 1,000 counters each, as a
/// process, end to end. Returns the median seconds.
fn mmdump_end_to_end(budget: Duration) -> Result<f64, String> {
    let binary = mmstats_benches::serve_report::mmdump_binary()?;
    let dir = bench_dir();
    let files: Vec<_> = (0..E2E_FILES)
        .map(|i| mmstats_benches::region_with_counters(dir.path(), &format!("e2e{i}"), E2E_FIELDS))
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
        if !output.status.success() || output.stdout.len() < E2E_FILES * E2E_FIELDS * 20 {
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
    Ok(samples[samples.len() / 2])
}
