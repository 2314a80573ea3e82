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
            Self::OneFile(padding) => format!("one file, {padding:?}"),
            Self::TwoFiles => "two files".into(),
        }
    }
}

/// The placements the report compares: the default padding, the packed
/// opt-out, 64- and 128-byte lines, and two files.
pub const PLACEMENTS: [Placement; 5] = [
    Placement::TwoFiles,
    Placement::OneFile(Padding::DEFAULT),
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

/// Nanoseconds per increment (wall time of the slower thread over `ops`
/// increments each), with two threads incrementing their own counter at
/// once, placed as `placement` says. The threads are pinned to CPUs 0 and
/// 1 when the machine allows it.
pub fn two_thread_increments(dir: &std::path::Path, placement: Placement, ops: u64) -> f64 {
    let (files, counters) = match placement {
        Placement::OneFile(padding) => {
            let one = file(dir, "fs-one");
            let a = one
                .counter(FieldSpec::new("a").padding(padding))
                .expect("a counter");
            let b = one
                .counter(FieldSpec::new("b").padding(padding))
                .expect("a counter");
            (vec![one], [a, b])
        }
        Placement::TwoFiles => {
            let (first, second) = (file(dir, "fs-a"), file(dir, "fs-b"));
            let a = first.counter("a").expect("a counter");
            let b = second.counter("b").expect("a counter");
            (vec![first, second], [a, b])
        }
    };
    let barrier = Barrier::new(2);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
        let workers: Vec<_> = counters
            .into_iter()
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
                    (start, Instant::now())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker"))
            .collect()
    });
    drop(files);
    let start = spans.iter().map(|s| s.0).min().expect("two spans");
    let end = spans.iter().map(|s| s.1).max().expect("two spans");
    end.duration_since(start).as_nanos() as f64 / ops as f64
}

/// Per placement of [`PLACEMENTS`], the ns per increment of each of
/// `rounds` rounds (each the median of 5 runs of about `budget / 5`), the
/// placements interleaved within every round.
pub fn false_sharing_rounds(
    dir: &std::path::Path,
    budget: Duration,
    rounds: usize,
) -> Vec<(Placement, Vec<f64>)> {
    // About 1 ns per increment without sharing: the run length in ops.
    let ops = (budget.as_nanos() / 5).clamp(100_000, 100_000_000) as u64;
    let mut result: Vec<(Placement, Vec<f64>)> =
        PLACEMENTS.iter().map(|&p| (p, Vec::new())).collect();
    for _ in 0..rounds.max(1) {
        for (placement, per_round) in &mut result {
            let mut runs: Vec<f64> = (0..5)
                .map(|_| two_thread_increments(dir, *placement, ops))
                .collect();
            runs.sort_by(f64::total_cmp);
            per_round.push(runs[runs.len() / 2]);
        }
    }
    result
}
