//! The Rust counter increment, timed the way `bench/incr_bench.c` times
//! the C ABI's (same loop, rounds and file): `mmstats::Counter::incr` on a
//! stats file and `mmstats_nostd::Counter::incr` on a region in a buffer.
//! `bench/run.sh` runs both.

use std::hint::black_box;
use std::time::Instant;

const OPS: u32 = 10_000_000;
const ROUNDS: usize = 15;

fn report(name: &str, mut ns: Vec<f64>) {
    ns.sort_by(f64::total_cmp);
    println!(
        "{name:<38} min {:.3}  median {:.3}  max {:.3} ns/op ({ROUNDS} rounds of {OPS})",
        ns[0],
        ns[ROUNDS / 2],
        ns[ROUNDS - 1]
    );
}

fn time(mut op: impl FnMut()) -> Vec<f64> {
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..OPS {
                op();
            }
            start.elapsed().as_secs_f64() * 1e9 / f64::from(OPS)
        })
        .collect()
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: incr_bench DIR");
    let file = mmstats_std::StatsFile::builder("incr_bench_rs")
        .dir(&dir)
        .create()
        .expect("stats file");
    let counter = file.counter("hits").expect("counter");
    report(
        "Rust mmstats::Counter::incr (file)",
        time(|| black_box(&counter).incr()),
    );

    let words: Vec<mmstats_nostd::Word> = (0..8192).map(|_| mmstats_nostd::Word::new(0)).collect();
    let mut region =
        mmstats_nostd::Region::create(&words, &mmstats_nostd::RegionOptions::default())
            .expect("region");
    let fw = region.counter("hits").expect("counter");
    report(
        "Rust mmstats_nostd::Counter::incr",
        time(|| black_box(&fw).incr()),
    );
    assert_eq!(counter.get(), u64::from(OPS) * ROUNDS as u64);
}
