//! `cargo run --release -p mmstats-benches --bin facades [-- --budget-ms N]`
//!
//! The facades section of the report alone (the `report` binary prints it
//! too, after its own tables): mmstats' `metrics` recorder, `tracing`
//! layer and timed mutex against their peers.

use std::time::Duration;

fn main() {
    let mut budget = Duration::from_millis(200);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--budget-ms" => match args.next().and_then(|v| v.parse().ok()) {
                Some(ms) => budget = Duration::from_millis(ms),
                None => {
                    eprintln!("facades: --budget-ms takes a number of milliseconds");
                    std::process::exit(2);
                }
            },
            other => {
                eprintln!("facades: unknown argument {other:?} (usage: facades [--budget-ms N])");
                std::process::exit(2);
            }
        }
    }
    println!("budget per case and round: {} ms", budget.as_millis());
    mmstats_benches::facades_report::facades_report(budget);
}
