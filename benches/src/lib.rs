//! Benchmark cases shared by the criterion benches (`benches/`) and the
//! one-table report (`src/bin/report.rs`), so both measure exactly the same
//! code.
//!
//! A [`Case`] runs its operation `n` times when called; the harness in
//! [`measure`] picks `n` so one sample takes about a millisecond and reports
//! the median time per operation over many samples. Baselines (a local
//! relaxed load and store, a local `fetch_add`, four local relaxed stores)
//! and peers (`prometheus`, `metrics` with a registry-backed recorder,
//! `seqlock`) run in the same process and the same run as mmstats, so the
//! ratios cancel most of the machine's noise.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mmstats::{FieldSpec, StatsFile};

pub mod capi_report;
pub mod facades_report;
pub mod false_sharing;
pub mod peers;
pub mod rounds;
pub mod serve_report;

/// One benchmarked operation.
pub struct Case {
    /// Group (write, read, ...).
    pub group: &'static str,
    /// Name, unique in its group.
    pub name: String,
    /// Runs the operation this many times.
    pub run: Box<dyn FnMut(u64)>,
}

impl Case {
    /// A case from a closure that performs the operation once.
    pub fn each(
        group: &'static str,
        name: impl Into<String>,
        mut op: impl FnMut() + 'static,
    ) -> Self {
        Self {
            group,
            name: name.into(),
            run: Box::new(move |n| {
                for _ in 0..n {
                    op();
                }
            }),
        }
    }
}

/// Timing of one case.
#[derive(Clone, Debug)]
pub struct Timing {
    /// Median nanoseconds per operation.
    pub median_ns: f64,
    /// Fastest sample, nanoseconds per operation.
    pub min_ns: f64,
    /// Samples taken.
    pub samples: usize,
}

/// Measures `run` for about `budget`: calibrates a batch size so one batch
/// takes about 1 ms (at least 1 iteration), then times batches until the
/// budget is spent (at least 5), and returns the median per operation.
pub fn measure(run: &mut dyn FnMut(u64), budget: Duration) -> Timing {
    let mut batch = 1u64;
    loop {
        let start = Instant::now();
        run(batch);
        let took = start.elapsed();
        if took >= Duration::from_micros(500) || batch >= 1 << 30 {
            let per_op = took.as_secs_f64() / batch as f64;
            batch = ((1e-3 / per_op.max(1e-12)) as u64).max(1);
            break;
        }
        batch *= 4;
    }
    let mut samples = Vec::new();
    let end = Instant::now() + budget;
    while samples.len() < 5 || Instant::now() < end {
        let start = Instant::now();
        run(batch);
        samples.push(start.elapsed().as_secs_f64() * 1e9 / batch as f64);
    }
    samples.sort_by(f64::total_cmp);
    Timing {
        median_ns: samples[samples.len() / 2],
        min_ns: samples[0],
        samples: samples.len(),
    }
}

/// A directory on tmpfs (`/dev/shm`) when there is one: stats files live in
/// memory, as in production.
pub fn bench_dir() -> tempfile::TempDir {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(&shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("a temporary directory")
}

/// Baselines: what the hardware allows without mmstats. Each is written
/// exactly as the mmstats operation it bounds (same loads, stores and
/// orderings, on a word reached through a reference), minus everything
/// mmstats adds.
pub fn baseline_cases() -> Vec<Case> {
    let local: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let four: &'static [AtomicU64; 4] = Box::leak(Box::default());
    vec![
        Case::each("write", "baseline: relaxed load+store", move || {
            let v = local.load(Ordering::Relaxed);
            local.store(v.wrapping_add(1), Ordering::Relaxed);
        }),
        Case::each("write", "baseline: fetch_add", move || {
            local.fetch_add(1, Ordering::Relaxed);
        }),
        Case::each("write", "baseline: 4 relaxed stores", move || {
            let v = black_box(7u64);
            for word in four {
                word.store(v, Ordering::Relaxed);
            }
        }),
        // What the std ring append and window-average record pay for their
        // timestamp (the core takes it as an argument).
        Case::each("write", "baseline: clock read (SystemTime::now)", || {
            black_box(std::time::SystemTime::now());
        }),
    ]
}

/// mmstats writer operations, on a real stats file in `dir`.
pub fn mmstats_write_cases(dir: &std::path::Path) -> Vec<Case> {
    let file = StatsFile::builder("bench")
        .dir(dir)
        .size(4 << 20)
        .create()
        .expect("a stats file");
    let counter = file.counter("counter").unwrap();
    let shared = file.shared_counter("shared").unwrap();
    let gauge = file.gauge("gauge").unwrap();
    let float = file.float_gauge("float").unwrap();
    let text16 = file.text(FieldSpec::new("text16").capacity(16)).unwrap();
    let text200 = file.text(FieldSpec::new("text200").capacity(200)).unwrap();
    let average = file.average("average").unwrap();
    let timer = file.timer("timer").unwrap();
    let histogram = file.histogram("histogram").unwrap();
    let histogram_timer = file.histogram_timer("histogram_timer").unwrap();
    let moving = file
        .moving_average(FieldSpec::new("moving").window(100))
        .unwrap();
    let window = file.window_average("window").unwrap();
    let ring = file.event_ring(FieldSpec::new("ring").slots(1024)).unwrap();

    // A 4-word latch cell (3 buffers), written through the core's own
    // LatchWriter, on words placed as a field with the default padding
    // places them: from the start of a 128-byte line (a heap vector would
    // put it wherever the allocator did, and so the lines it touches).
    #[repr(C, align(128))]
    struct LatchCell([mmstats_nostd::Word; 1 + 3 * 4]);
    let latch_cell: &'static LatchCell =
        Box::leak(Box::new(LatchCell(std::array::from_fn(|_| {
            mmstats_nostd::Word::new(0)
        }))));
    let latch = mmstats_nostd::latch::LatchWriter::new(&latch_cell.0, 3, 4).unwrap();
    latch.init(&[0; 4]);

    let s16 = "0123456789abcdef";
    let s200: String = "x".repeat(200);
    vec![
        Case::each("write", "mmstats: counter incr", move || counter.incr()),
        Case::each("write", "mmstats: shared counter incr", move || {
            shared.incr()
        }),
        Case::each("write", "mmstats: gauge set", move || {
            gauge.set(black_box(-3))
        }),
        Case::each("write", "mmstats: float gauge set", move || {
            float.set(black_box(0.75))
        }),
        Case::each("write", "mmstats: string set 16 B", move || {
            text16.set(black_box(s16));
        }),
        Case::each("write", "mmstats: string set 200 B", move || {
            text200.set(black_box(&s200));
        }),
        Case::each("write", "mmstats: average add", move || {
            average.add(black_box(1.5))
        }),
        Case::each("write", "mmstats: timer record", move || {
            timer.record(black_box(Duration::from_nanos(1500)));
        }),
        Case {
            group: "write",
            name: "mmstats: histogram record".into(),
            run: Box::new({
                let mut state = 1u64;
                move |n| {
                    // A spread of values so records hit many buckets: an LCG,
                    // its state in a local for the batch (a captured variable
                    // would be stored back to the closure after every record,
                    // since the region's atomic stores might alias it).
                    let mut v = state;
                    for _ in 0..n {
                        v = v.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        histogram.record(black_box(v >> 34));
                    }
                    state = v;
                }
            }),
        },
        Case::each("write", "mmstats: histogram timer record", move || {
            histogram_timer.record(black_box(Duration::from_nanos(1500)));
        }),
        Case::each("write", "mmstats: moving average add (N=100)", move || {
            moving.add(black_box(1.5));
        }),
        Case::each("write", "mmstats: window average record", move || {
            window.record(black_box(1.5));
        }),
        Case::each("write", "mmstats: ring append (2 u64)", move || {
            ring.event(black_box(7), &[1, 2]);
        }),
        Case::each("write", "mmstats: 4-word latch write", move || {
            // The same opaque value as the 4-store baseline.
            let v = black_box(7u64);
            latch.write(4, |i| v + i as u64);
        }),
    ]
}

/// Sizes of the reader benchmarks (fields per region).
pub const SNAPSHOT_SIZES: [usize; 3] = [10, 1_000, 100_000];

/// A kept stats file with `fields` counters (plus the default fields),
/// each with a value and the default padding, for reader benchmarks.
pub fn region_with_counters(dir: &std::path::Path, name: &str, fields: usize) -> StatsFile {
    // An entry with room for labels and one 128-byte line (the widest
    // padding) per field.
    let size = (fields + 16) * (mmstats_nostd::layout::ENTRY_LEN_LABELS + 128) + 64 * 1024;
    let file = StatsFile::builder(name)
        .dir(dir)
        .size(size)
        .table_capacity(fields + 8)
        .create()
        .expect("a stats file");
    for index in 0..fields {
        file.counter(format!("field.{index}").as_str())
            .expect("room for the field")
            .add(index as u64);
    }
    file
}

/// Snapshot cases: one full read of every value of a region with
/// `SNAPSHOT_SIZES` counters, through `RegionReader::snapshot`. Divide by
/// the field count for ns per field.
pub fn snapshot_cases(dir: &std::path::Path) -> Vec<(usize, Case)> {
    SNAPSHOT_SIZES
        .iter()
        .map(|&fields| {
            let file = region_with_counters(dir, &format!("snap{fields}"), fields);
            let mut reader = mmstats::RegionReader::open(file.path()).expect("a reader");
            let mut snapshot = mmstats::Snapshot::default();
            reader.snapshot(&mut snapshot).expect("a first snapshot");
            assert!(snapshot.values.len() >= fields);
            let case = Case::each("read", format!("snapshot of {fields} fields"), move || {
                let _keep = &file;
                reader.snapshot(&mut snapshot).expect("a snapshot");
                black_box(&snapshot);
            });
            (fields, case)
        })
        .collect()
}

/// Pins the calling thread to one CPU (`sched_setaffinity(2)`); false if
/// the machine or the sandbox does not allow it.
pub fn pin_to_cpu(cpu: usize) -> bool {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).is_ok()
}

/// Writer cost with and without a concurrent reader of the same region,
/// measured in alternating rounds (alone, with the reader, alone, ...) so
/// that drift of the machine (frequency, neighbours) falls on both sides.
#[derive(Clone, Debug)]
pub struct Paired {
    /// Median over the rounds of the writer's median ns/op alone.
    pub alone_ns: f64,
    /// Median over the rounds of the writer's median ns/op with the reader.
    pub with_reader_ns: f64,
    /// (with reader / alone) of the same round, over the rounds.
    pub ratios: rounds::Spread,
    /// Median over consecutive rounds of |alone / next alone - 1|: how far
    /// two measurements of the same thing differ here (the noise floor).
    pub noise: f64,
    /// Snapshots the reader completed per second.
    pub snapshots_per_sec: f64,
    /// Rounds measured.
    pub rounds: usize,
}

/// What a reader costs a writer.
#[derive(Clone, Debug)]
pub struct Interference {
    /// A reader snapshotting the region in a tight loop on the other CPU.
    pub busy_reader: Paired,
    /// A reader taking a snapshot ten times a second.
    pub reader_10hz: Paired,
    /// Whether the writer and reader threads could be pinned to CPUs 0, 1.
    pub pinned: bool,
}

/// A thread snapshotting a region until stopped.
struct ReaderThread {
    stop: Arc<std::sync::atomic::AtomicBool>,
    snapshots: Arc<AtomicU64>,
    start: Instant,
    handle: std::thread::JoinHandle<()>,
}

impl ReaderThread {
    /// Starts the reader (on CPU 1 when it can be pinned), snapshotting
    /// `path` every `period` or in a loop, and returns after its first
    /// snapshot.
    fn start(path: &std::path::Path, period: Option<Duration>) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let snapshots = Arc::new(AtomicU64::new(0));
        let handle = {
            let (stop, snapshots, path) =
                (Arc::clone(&stop), Arc::clone(&snapshots), path.to_owned());
            std::thread::spawn(move || {
                pin_to_cpu(1);
                let mut reader = mmstats::RegionReader::open(&path).expect("a reader");
                let mut snapshot = mmstats::Snapshot::default();
                while !stop.load(Ordering::Relaxed) {
                    reader.snapshot(&mut snapshot).expect("a snapshot");
                    snapshots.fetch_add(1, Ordering::Relaxed);
                    if let Some(period) = period {
                        std::thread::sleep(period);
                    }
                }
            })
        };
        while snapshots.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        Self {
            stop,
            snapshots,
            start: Instant::now(),
            handle,
        }
    }

    /// Stops the reader; returns its snapshots per second.
    fn stop(self) -> f64 {
        let rate =
            self.snapshots.load(Ordering::Relaxed) as f64 / self.start.elapsed().as_secs_f64();
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("the reader thread");
        rate
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `rounds` rounds of: the writer alone for `window`, then with a reader
/// started for `window`.
fn paired(
    run: &mut dyn FnMut(u64),
    path: &std::path::Path,
    period: Option<Duration>,
    rounds: usize,
    window: Duration,
) -> Paired {
    let (mut alone, mut with, mut rates) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        alone.push(measure(run, window).median_ns);
        let reader = ReaderThread::start(path, period);
        with.push(measure(run, window).median_ns);
        rates.push(reader.stop());
    }
    let ratios = rounds::Spread::of_ratios(&with, &alone).unwrap_or(rounds::Spread {
        min: f64::NAN,
        median: f64::NAN,
        max: f64::NAN,
    });
    let mut noise: Vec<f64> = alone
        .windows(2)
        .map(|p| (p[0] / p[1] - 1.0).abs())
        .collect();
    Paired {
        alone_ns: median(&mut alone),
        with_reader_ns: median(&mut with),
        ratios,
        noise: if noise.is_empty() {
            0.0
        } else {
            median(&mut noise)
        },
        snapshots_per_sec: median(&mut rates),
        rounds,
    }
}

/// Measures a writer incrementing one counter of a 1,000-field region
/// alone and while another thread (on the other CPU when it can be
/// pinned) snapshots the same region in a loop, then alone and with a
/// reader at 10 Hz, each in 5 alternating rounds. A 10 Hz window lasts at
/// least 300 ms, so that every window holds reads.
pub fn interference(dir: &std::path::Path, budget: Duration) -> Interference {
    const ROUNDS: usize = 5;
    let file = region_with_counters(dir, "interference", 1_000);
    let counter = file.counter("hot").expect("room for the hot counter");
    let path = file.path();
    let mut run = move |n: u64| {
        for _ in 0..n {
            counter.incr();
        }
    };
    let pinned = pin_to_cpu(0);
    let window = budget / ROUNDS as u32;
    let busy_reader = paired(&mut run, &path, None, ROUNDS, window);
    let reader_10hz = paired(
        &mut run,
        &path,
        Some(Duration::from_millis(100)),
        ROUNDS,
        window.max(Duration::from_millis(300)),
    );
    Interference {
        busy_reader,
        reader_10hz,
        pinned,
    }
}

/// The Prometheus `/metrics` text of a region with 100,000 counters, as
/// `mmdump serve` renders it: every file read, combined by program, turned
/// into families and encoded (the full scrape), and the encoding alone.
pub fn prometheus_cases(dir: &std::path::Path) -> Vec<(usize, Case)> {
    use mmdump::dump::aggregate::AggregateMode;
    use mmdump::dump::select::Selection;
    use mmdump::serve::metrics::{Exporter, MetricsOptions};
    use mmdump::serve::prometheus::{Format, NameOptions, encode, families_of, merge};

    const FIELDS: usize = 100_000;
    let file = region_with_counters(dir, "prom", FIELDS);
    let options = MetricsOptions {
        names: NameOptions {
            namespace: "mmstats".into(),
            strings: true,
        },
        pid_label: false,
        thread_label: false,
        mode: AggregateMode::Sum,
        max_series_per_family: mmdump::serve::metrics::DEFAULT_MAX_SERIES_PER_FAMILY,
    };
    let exporter = Exporter::new(vec![file.path()], Selection::default(), options.clone());
    let read = mmstats::read_file(file.path()).expect("a read");
    let labels = vec![("program".to_owned(), "bench".to_owned())];
    let (families, _) = merge(
        read.fields
            .iter()
            .flat_map(|f| families_of(f, &labels, &options.names))
            .collect(),
    );
    vec![
        (
            FIELDS,
            Case::each("read", "prometheus scrape, 100000 fields", move || {
                let _keep = &file;
                black_box(exporter.render(&Selection::default(), "", Format::Prometheus));
            }),
        ),
        (
            FIELDS,
            Case::each("read", "prometheus encode, 100000 fields", move || {
                black_box(encode(&families, Format::Prometheus));
            }),
        ),
    ]
}
