//! # mmstats: publish your program's stats in shared memory
//!
//! **What.** A program defines counters, gauges, strings, averages,
//! timers, histograms and event rings once (or per connection, with
//! [`StatsFile::dynamic_group`]), and updates them as it runs; each update is a plain store
//! into a memory-mapped file (in `/dev/shm/mmstats` by default). Any other
//! process reads them with `mmdump` or with [`read_file`], live, without
//! the writer noticing: no locks, no system calls and no allocation on the
//! write path, and readers that never write to the file.
//!
//! **Why.** It is `/proc` for your own application: always on, free to
//! update at millions of times per second, readable by ops tools in any
//! language (the format is specified byte by byte in `docs/FORMAT.md`).
//!
//! **When not to use it.** For stats aggregated over many hosts, scrape
//! them with Prometheus (`mmdump serve` bridges); for logs and traces, use
//! a log pipeline; for values that must survive a power loss, `flush()` is
//! there but a database is better.
//!
//! ## Example
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! use mmstats::{StatsFile, Unit, FieldSpec};
//!
//! let stats = StatsFile::builder("web").dir(dir.path()).prefix("web.").create()?;
//! let hits = stats.counter("hits")?;
//! let inflight = stats.gauge("inflight")?;
//! let load = stats.float_gauge(FieldSpec::new("load").unit(Unit::Ratio))?;
//! let version = stats.text("version")?;
//! let latency = stats.average(FieldSpec::new("latency").unit(Unit::Milliseconds))?;
//! let render = stats.timer("render")?;
//!
//! hits.incr();
//! inflight.set(-3);
//! load.set(0.75);
//! version.set("v1.2");
//! latency.add(12.5);
//! render.time(|| { /* work */ });
//!
//! // Any process can read it:
//! let read = mmstats::read_file(&stats.path())?;
//! let hits_now = read.fields.iter().find(|f| f.name == "web.hits").unwrap();
//! assert_eq!(hits_now.value, mmstats::FieldValue::Counter(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Memory layout
//!
//! Each file holds one format-2 region (see the `mmstats-nostd` crate and
//! `docs/FORMAT.md`):
//!
//! | offset        | length        | contents                                     |
//! |---------------|---------------|----------------------------------------------|
//! | 0             | 256           | prologue: magic, version, state (written last), writer pid, start time and boot, creation time, heartbeat, table and value-area bounds |
//! | 256           | 256 × fields  | field table: name, kind, unit, description, buffers, value offset |
//! | `data_offset` | rest          | value area: 8-byte words; multi-word values in latch cells |
//!
//! ## Threads and processes
//!
//! A [`StatsFile`] is shared by its handles (an `Arc`); any thread may add
//! fields. Handles of single-writer kinds ([`Counter`], [`Gauge`],
//! [`Text`], ...) are `Send` but not `Sync`: move each to the one thread
//! that updates it. For a field many threads update, use
//! [`SharedCounter`] or [`SharedGauge`] (`fetch_add`), or give each thread
//! its own file (`mmdump` sums them).
//!
//! The compiler enforces it; this does not build:
//!
//! ```compile_fail
//! fn needs_sync<T: Sync>() {}
//! needs_sync::<mmstats::Counter>();
//! ```
//!
//! ## Files
//!
//! Names are `{program}-{pid}-{tid}-{name}.mmstats`. Files are created with
//! `O_EXCL | O_NOFOLLOW`, mode 0600, built under a hidden temporary name,
//! then renamed into place; the writer holds a shared `flock` on its file;
//! the file is marked closed and unlinked when the last handle drops,
//! unless [`StatsFileBuilder::keep`] says otherwise.
#![deny(unsafe_code)]

// Layers, bottom up (no module imports one above it or beside it):
// - shared lower layers: `os`, `trust`, `sigbus`, `map`;
// - shared types: `defaults`, `error`, `value`, `histogram` (snapshots),
//   `liveness`;
// - reading: `legacy`, then `read`;
// - writing, beside reading and never importing it: `publish`, then
//   `handles`, then `dynamic`, `events` and `histogram_timer`;
// - integrations, on top of writing: `metrics_recorder`, `tracing_layer`,
//   `timed_mutex`.

mod defaults;
mod dynamic;
mod error;
pub mod events;
mod handles;
pub mod histogram;
mod histogram_timer;
#[cfg(test)]
mod layers;
pub mod legacy;
mod liveness;
#[allow(unsafe_code)]
mod map;
#[cfg(feature = "metrics")]
pub mod metrics_recorder;
pub mod os;
#[allow(unsafe_code)]
mod publish;
mod read;
#[allow(unsafe_code)]
pub mod sigbus;
pub mod timed_mutex;
#[cfg(feature = "tracing")]
pub mod tracing_layer;
pub mod trust;
mod value;

pub use defaults::{
    DEFAULT_DIR, DEFAULT_REUSE_DELAY, DEFAULT_SIZE, DIR_ENV, EXTENSION, GROUP_ENV, SHM_PREFIX,
    default_dir,
};
pub use dynamic::{CounterOrOverflow, GaugeOrOverflow};
pub use error::{AddFieldError, CreateError, Occupant};
pub use events::{EventRing, Span};
#[doc(hidden)]
pub use handles::__description;
pub use handles::{Stat, Timer, TimerGuard, WindowAverage};
pub use histogram::HistogramSnapshot;
pub use histogram_timer::HistogramTimer;
pub use liveness::Liveness;
pub use map::{LiveWords, ReadMap};
pub use mmstats_nostd::{FieldSpec, Kind, LabelError, LabelIter, Labels, Padding, Unit};
pub use publish::{
    Average, Counter, Flag, FloatGauge, Gauge, Handle, Histogram, Location, MovingAverage,
    SharedCounter, SharedFloatGauge, SharedGauge, StatsFile, StatsFileBuilder, Text, Timestamp,
};
pub use read::{
    FileStats, ReadFailure, ReadFileError, RegionInfo, RegionReader, RepeatFilter, Sample,
    Snapshot, SnapshotValue, open_for_reading, open_for_reading_at, read_file, read_open_file,
    read_open_file_matching, unit_name,
};
pub use timed_mutex::{TimedMutex, TimedMutexGuard};
pub use trust::DirTrustError;
pub use value::{Field, FieldProblem, FieldValue, Format};

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
