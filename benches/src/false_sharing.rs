//! False sharing: two threads, each incrementing its own counter, with the
//! two counters in one file (one after the other, with a given padding) or
//! in two files. With counters on separate cache lines the one-file run
//! costs what the two-file run costs; packed side by side, every increment
//! takes the line away from the other CPU.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use mmstats::{FieldSpec, Padding, StatsFile};

use crate::pin_to_cpu;

/// Where the two threads' counters are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Both in one file, added one after the other with this padding.
    OneFile(Padding),
    /// One in each of two files.
    TwoFiles,
}

impl Placement {
    /// What the report calls it.
    #[must_use]
    pub fn label(self) -> String {
        match self {
            Self::OneFile(padding) if padding == Padding::DEFAULT => {
                format!("one file, {padding:?} (the default)")
            }
            Self::OneFile(padding) => format!("one file, {padding:?}"),
            Self::TwoFiles => "two files".into(),
        }
    }
}

/// The placements the report compares: two files, and one file with the
/// packed opt-out, 64- and 128-byte lines (one of them the default).
pub const PLACEMENTS: [Placement; 4] = [
    Placement::TwoFiles,
    Placement::OneFile(Padding::Packed),
    Placement::OneFile(Padding::Line64),
    Placement::OneFile(Padding::Line128),
];

fn file(dir: &std::path::Path, name: &str) -> StatsFile {
    StatsFile::builder(name)
        .dir(dir)
        .default_fields(false)
        .create()
        .expect("a stats file")
}

/// Nanoseconds per increment (wall time from the first thread's start to
/// the last thread's end, over `ops` increments each) of each of `runs`
/// runs, with two threads incrementing their own counter at once, placed
/// as `placement` says. The threads are pinned to CPUs 0 and 1 when the
/// machine allows it. The counters are made once and moved into the two
/// threads of every run and back.
pub fn two_thread_increments(
    dir: &std::path::Path,
    placement: Placement,
    ops: u64,
    runs: usize,
) -> Vec<f64> {
    let (files, mut counters) = match placement {
        Placement::OneFile(padding) => {
            let one = file(dir, "fs-one");
            let a = one
                .counter(FieldSpec::new("a").padding(padding))
                .expect("a counter");
            let b = one
                .counter(FieldSpec::new("b").padding(padding))
                .expect("a counter");
            (vec![one], vec![a, b])
        }
        Placement::TwoFiles => {
            let (first, second) = (file(dir, "fs-a"), file(dir, "fs-b"));
            let a = first.counter("a").expect("a counter");
            let b = second.counter("b").expect("a counter");
            (vec![first, second], vec![a, b])
        }
    };
    let mut result = Vec::with_capacity(runs);
    for _ in 0..runs {
        let barrier = Barrier::new(2);
        let returned: Vec<_> = std::thread::scope(|scope| {
            let workers: Vec<_> = counters
                .drain(..)
                .enumerate()
                .map(|(cpu, counter)| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        pin_to_cpu(cpu);
                        barrier.wait();
                        let start = Instant::now();
                        for _ in 0..ops {
                            counter.incr();
                        }
                        (counter, start, Instant::now())
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("a worker"))
                .collect()
        });
        let start = returned.iter().map(|r| r.1).min().expect("two runs");
        let end = returned.iter().map(|r| r.2).max().expect("two runs");
        result.push(end.duration_since(start).as_nanos() as f64 / ops as f64);
        counters = returned.into_iter().map(|r| r.0).collect();
    }
    drop(counters);
    drop(files);
    result
}

/// Runs per placement and round.
pub const RUNS: usize = 15;

/// Per placement of [`PLACEMENTS`], the ns per increment of each of
/// `rounds` rounds, the placements interleaved within every round. A
/// round's figure is the fastest of [`RUNS`] short runs (about `budget /
/// 15` each without sharing): on a machine shared with other work, a run
/// during which the OS ran something else on one of the two CPUs shows
/// that, not the placement; the fastest run is the least disturbed one,
/// and false sharing, which slows every run, still shows in it.
pub fn false_sharing_rounds(
    dir: &std::path::Path,
    budget: Duration,
    rounds: usize,
) -> Vec<(Placement, Vec<f64>)> {
    // About 0.25 ns per increment without sharing: the run length in ops.
    let ops = (budget.as_nanos() * 4 / RUNS as u128).clamp(100_000, 20_000_000) as u64;
    let mut result: Vec<(Placement, Vec<f64>)> =
        PLACEMENTS.iter().map(|&p| (p, Vec::new())).collect();
    for _ in 0..rounds.max(1) {
        for (placement, per_round) in &mut result {
            let runs = two_thread_increments(dir, *placement, ops, RUNS);
            per_round.push(runs.into_iter().fold(f64::INFINITY, f64::min));
        }
    }
    result
}
