//! The facades section of the report (issue 14): mmstats' integrations
//! against the crates users have today, side by side in one run.
//!
//! - `metrics` counter increment through a kept handle: mmstats'
//!   recorder ([`mmstats::metrics_recorder`]) vs
//!   `metrics-exporter-prometheus`'s recorder, on 1 thread and on 8
//!   threads incrementing clones of the same counter.
//! - `tracing` span enter+exit (a span made once, entered and exited in
//!   the loop): mmstats' layer ([`mmstats::tracing_layer`]) vs
//!   `tracing-subscriber`'s fmt layer writing a line at each enter and
//!   exit (`FmtSpan::ENTER | FmtSpan::EXIT`) to `std::io::sink`, and vs
//!   `tracing-chrome` writing to a sink (it records enter and exit as
//!   Chrome begin/end events, through a channel to its writer thread), and
//!   the bare registry (no layer) for scale.
//! - Uncontended lock and unlock: [`mmstats::TimedMutex`] vs
//!   `std::sync::Mutex`, one thread.
//!
//! Every case runs once per round, the rounds interleaved (all cases of
//! round 1, then all of round 2, ...), so a shared machine's drift falls on
//! every case alike; each figure is min / median / max over the rounds,
//! and each ratio is taken within a round.
//!
//! With 8 threads the figure is wall-clock nanoseconds per increment of
//! all threads together (8 × N increments over the wall time from the
//! start barrier to the last thread's end), so it shows how increments
//! scale on the machine's CPUs, contention included.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mmstats::StatsFile;
use mmstats::metrics_recorder::MmstatsRecorder;

use crate::measure;

/// Rounds of every case.
const ROUNDS: usize = 5;

/// Threads of the contended cases.
const THREADS: usize = 8;

/// One case: returns nanoseconds per operation for one round.
struct FacadeCase {
    name: &'static str,
    run: Box<dyn FnMut(Duration) -> f64>,
}

/// Min, median and max of a round's figures.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Self {
            min: sorted[0],
            median: sorted[sorted.len() / 2],
            max: sorted[sorted.len() - 1],
        }
    }
}

/// A `metrics` counter of `recorder`, kept.
fn counter_of(recorder: &dyn metrics::Recorder) -> metrics::Counter {
    metrics::with_local_recorder(
        recorder,
        || metrics::counter!("bench.requests", "method" => "GET"),
    )
}

/// One thread incrementing `counter` through the handle.
fn one_thread(counter: metrics::Counter) -> Box<dyn FnMut(Duration) -> f64> {
    Box::new(move |budget| {
        let mut run = |n: u64| {
            for _ in 0..n {
                counter.increment(1);
            }
        };
        measure(&mut run, budget).median_ns
    })
}

/// `THREADS` threads incrementing clones of `counter`: wall ns per
/// increment of all threads (module docs).
fn many_threads(counter: metrics::Counter) -> Box<dyn FnMut(Duration) -> f64> {
    Box::new(move |budget| {
        // About `budget` for the mmstats case; slower peers take longer.
        let per_thread: u64 = (budget.as_nanos() as u64 / 2).clamp(100_000, 5_000_000);
        let barrier = Arc::new(Barrier::new(THREADS + 1));
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let counter = counter.clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    // A first increment takes this thread's lane (or
                    // registers nothing, for the peer) before timing.
                    counter.increment(1);
                    barrier.wait();
                    for _ in 0..per_thread {
                        counter.increment(1);
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for worker in workers {
            worker.join().expect("a bench thread panicked");
        }
        start.elapsed().as_nanos() as f64 / (per_thread * THREADS as u64) as f64
    })
}

/// Enter and exit of one span, under `dispatch`.
fn span_enter_exit(dispatch: tracing::Dispatch) -> Box<dyn FnMut(Duration) -> f64> {
    Box::new(move |budget| {
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("request", method = "GET");
            let mut run = |n: u64| {
                for _ in 0..n {
                    let _entered = span.enter();
                }
            };
            measure(&mut run, budget).median_ns
        })
    })
}

fn tracing_cases(stats: &StatsFile) -> Vec<FacadeCase> {
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::layer::SubscriberExt;
    let ours = mmstats::tracing_layer::MmstatsLayer::builder(stats.clone())
        .label_fields(&["method"])
        .build()
        .expect("the tracing layer");
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_span_events(FmtSpan::ENTER | FmtSpan::EXIT);
    let (chrome, chrome_guard) = tracing_chrome::ChromeLayerBuilder::new()
        .writer(std::io::sink())
        .build();
    // The guard flushes and stops chrome's writer thread when dropped: keep
    // it for the whole run (the process exits after the report).
    std::mem::forget(chrome_guard);
    vec![
        FacadeCase {
            name: "span enter+exit: mmstats layer",
            run: span_enter_exit(tracing::Dispatch::new(
                tracing_subscriber::registry().with(ours),
            )),
        },
        FacadeCase {
            name: "span enter+exit: fmt layer to sink",
            run: span_enter_exit(tracing::Dispatch::new(
                tracing_subscriber::registry().with(fmt),
            )),
        },
        FacadeCase {
            name: "span enter+exit: tracing-chrome",
            run: span_enter_exit(tracing::Dispatch::new(
                tracing_subscriber::registry().with(chrome),
            )),
        },
        FacadeCase {
            name: "span enter+exit: registry, no layer",
            run: span_enter_exit(tracing::Dispatch::new(tracing_subscriber::registry())),
        },
        FacadeCase {
            // The layer reads the wall clock at enter and at exit.
            name: "clock read (mmstats::os::now_ns)",
            run: Box::new(|budget| {
                let mut run = |n: u64| {
                    for _ in 0..n {
                        std::hint::black_box(mmstats::os::now_ns());
                    }
                };
                measure(&mut run, budget).median_ns
            }),
        },
    ]
}

fn cases(dir: &std::path::Path) -> Vec<FacadeCase> {
    let stats = StatsFile::builder("bench-facades")
        .dir(dir)
        .size(4 << 20)
        .create()
        .expect("a stats file for the facades bench");
    let ours = MmstatsRecorder::new(stats.clone()).expect("the metrics recorder");
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let mut cases = vec![
        FacadeCase {
            name: "metrics inc, 1 thread: mmstats",
            run: one_thread(counter_of(&ours)),
        },
        FacadeCase {
            name: "metrics inc, 1 thread: prometheus",
            run: one_thread(counter_of(&prometheus)),
        },
        FacadeCase {
            name: "metrics inc, 8 threads: mmstats",
            run: many_threads(counter_of(&ours)),
        },
        FacadeCase {
            name: "metrics inc, 8 threads: prometheus",
            run: many_threads(counter_of(&prometheus)),
        },
    ];
    cases.extend(tracing_cases(&stats));
    let timed = stats
        .timed_mutex("bench.lock", 0u64)
        .expect("a timed mutex");
    let plain = std::sync::Mutex::new(0u64);
    cases.push(FacadeCase {
        name: "lock+unlock: mmstats TimedMutex",
        run: Box::new(move |budget| {
            let mut run = |n: u64| {
                for _ in 0..n {
                    *std::hint::black_box(&timed).lock() += 1;
                }
            };
            measure(&mut run, budget).median_ns
        }),
    });
    cases.push(FacadeCase {
        name: "lock+unlock: std Mutex",
        run: Box::new(move |budget| {
            let mut run = |n: u64| {
                for _ in 0..n {
                    *std::hint::black_box(&plain).lock().expect("not poisoned") += 1;
                }
            };
            measure(&mut run, budget).median_ns
        }),
    });
    cases
}

/// A goal's row: what, its ratio per round, the bound, and the test.
type GoalRow<'g> = (&'g str, Vec<f64>, String, fn(f64, f64) -> bool);

/// A goal, its ratio taken within each round.
enum Goal {
    /// `peer / ours` at least `at_least`.
    Faster {
        what: &'static str,
        ours: &'static str,
        peer: &'static str,
        at_least: f64,
    },
    /// `ours / base` at most `at_most`.
    Costs {
        what: &'static str,
        ours: &'static str,
        base: &'static str,
        at_most: f64,
    },
}

const GOALS: &[Goal] = &[
    Goal::Faster {
        what: "metrics counter increment, 1 thread: prometheus / mmstats",
        ours: "metrics inc, 1 thread: mmstats",
        peer: "metrics inc, 1 thread: prometheus",
        at_least: 3.0,
    },
    Goal::Faster {
        what: "metrics counter increment, 8 threads: prometheus / mmstats",
        ours: "metrics inc, 8 threads: mmstats",
        peer: "metrics inc, 8 threads: prometheus",
        at_least: 5.0,
    },
    Goal::Faster {
        what: "span enter+exit: fmt layer / mmstats layer",
        ours: "span enter+exit: mmstats layer",
        peer: "span enter+exit: fmt layer to sink",
        at_least: 5.0,
    },
    Goal::Faster {
        what: "span enter+exit: tracing-chrome / mmstats layer (no goal)",
        ours: "span enter+exit: mmstats layer",
        peer: "span enter+exit: tracing-chrome",
        at_least: 1.0,
    },
    Goal::Costs {
        what: "uncontended lock+unlock: TimedMutex / std Mutex",
        ours: "lock+unlock: mmstats TimedMutex",
        base: "lock+unlock: std Mutex",
        at_most: 2.0,
    },
];

/// Runs the facades cases for `ROUNDS` rounds of `budget` each and prints
/// their table and goals.
pub fn facades_report(budget: Duration) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut cases = cases(dir.path());
    let mut figures: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for round in 0..ROUNDS {
        for (case, figures) in cases.iter_mut().zip(&mut figures) {
            eprint!("facades round {}: {:<40}\r", round + 1, case.name);
            figures.push((case.run)(budget));
        }
    }
    eprintln!("{:<70}", "");
    println!(
        "\n| {:<40} | {:>9} | {:>9} | {:>9} |",
        format!("facades ({ROUNDS} rounds), ns/op"),
        "min",
        "median",
        "max"
    );
    println!("|{:-<42}|{:->11}|{:->11}|{:->11}|", "", "", "", "");
    for (case, figures) in cases.iter().zip(&figures) {
        let spread = Spread::of(figures);
        println!(
            "| {:<40} | {:>9.2} | {:>9.2} | {:>9.2} |",
            case.name, spread.min, spread.median, spread.max
        );
    }
    let index = |name: &str| {
        cases
            .iter()
            .position(|c| c.name == name)
            .expect("a goal names a case")
    };
    println!(
        "\n| {:<62} | {:>6} | {:>6} | {:>6} | {:>7} | {:>4} |",
        "goal (ratio per round)", "min", "median", "max", "goal", "met"
    );
    println!(
        "|{:-<64}|{:->8}|{:->8}|{:->8}|{:->9}|{:->6}|",
        "", "", "", "", "", ""
    );
    for goal in GOALS {
        let (what, ratios, bound, met): GoalRow<'_> = match goal {
            Goal::Faster {
                what,
                ours,
                peer,
                at_least,
            } => {
                let (ours, peer) = (&figures[index(ours)], &figures[index(peer)]);
                let ratios = peer.iter().zip(ours).map(|(p, o)| p / o).collect();
                (what, ratios, format!(">= {at_least}"), |r, b| r >= b)
            }
            Goal::Costs {
                what,
                ours,
                base,
                at_most,
            } => {
                let (ours, base) = (&figures[index(ours)], &figures[index(base)]);
                let ratios = ours.iter().zip(base).map(|(o, b)| o / b).collect();
                (what, ratios, format!("<= {at_most}"), |r, b| r <= b)
            }
        };
        let bound_value = match goal {
            Goal::Faster { at_least, .. } => *at_least,
            Goal::Costs { at_most, .. } => *at_most,
        };
        let spread = Spread::of(&ratios);
        println!(
            "| {:<62} | {:>6.2} | {:>6.2} | {:>6.2} | {:>7} | {:>4} |",
            what,
            spread.min,
            spread.median,
            spread.max,
            bound,
            if met(spread.median, bound_value) {
                "yes"
            } else {
                "no"
            }
        );
    }
}
