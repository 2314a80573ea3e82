//! `cargo run --release -p mmstats-benches --bin serve_report [-- --scrapes 10,1000] [--rounds N]`
//!
//! Only the serve-vs-node_exporter and get-vs-dump part of the `report`
//! binary ([`mmstats_benches::serve_report`]), with the scrape counts
//! given: RSS is compared after the first count and the last scrape.

use mmstats_benches::serve_report::{ServeReportOptions, print_with};

fn main() {
    let mut options = ServeReportOptions::for_budget(std::time::Duration::from_millis(500));
    let mut args = std::env::args().skip(1);
    let usage = || -> ! {
        eprintln!("usage: serve_report [--scrapes EARLY,LAST] [--rounds N]");
        std::process::exit(2);
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--scrapes" => {
                let value = args.next().unwrap_or_else(|| usage());
                let (early, last) = value.split_once(',').unwrap_or_else(|| usage());
                options.early_scrape = early.parse().unwrap_or_else(|_| usage());
                options.last_scrape = last.parse().unwrap_or_else(|_| usage());
            }
            "--rounds" => {
                options.rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage());
            }
            _ => usage(),
        }
    }
    print_with(&options);
}
