//! # mmstats-nostd: stats in shared memory, for any target
//!
//! **What.** The core of mmstats: the byte layout of a format-2 *region*
//! (a self-describing block of counters, gauges, strings and averages),
//! the writer that fills it, and a reader that validates every byte of it.
//! `#![no_std]`, no allocator, no locks, no system calls.
//!
//! **Why.** A program publishes its stats by writing plain memory; any
//! other process (or a debugger, or a RAM dump) reads them without slowing
//! the writer. Single-word values are a `Relaxed` load and store for their
//! one writer. Multi-word values (strings, sum-and-count averages) live in
//! *latch cells*: a sequence word plus two or more copies, so a reader
//! never sees a torn value, never makes the writer wait, and a writer
//! killed mid-update still leaves a consistent copy.
//!
//! Format 2.1 adds fields that come and go ([`Region::dynamic`], with
//! retired slots reused after a delay: [`slot`]), log-linear histograms
//! with a bounded quantile error ([`histogram`]), moving and time-window
//! averages ([`MovingAverage`], [`WindowAverage`]) and single-producer
//! event rings that readers follow without ever seeing a torn record
//! ([`ring`]).
//!
//! **When not to use it.** If you need stats aggregated across machines,
//! use a metrics library and scrape it (the `mmstats-std` crate's `mmdump
//! serve` can bridge). If your values must be durable across crashes of
//! the machine, a region is just memory: call `msync` (the std crate's
//! `flush`) or use a database. If you need more than a few thousand
//! distinct fields live at once, weigh the fixed field table (capacity
//! chosen at creation; dynamic fields reuse its slots).
//!
//! ## Example
//!
//! ```
//! use mmstats_nostd::{
//!     DEFAULT_MAX_TRIES, FieldSpec, MAX_COPY_WORDS, Region, RegionBuffer, RegionOptions,
//!     RegionView, Unit, Value,
//! };
//!
//! // Firmware: a static buffer (4 KiB), no allocator.
//! static STATS: RegionBuffer<512> = RegionBuffer::new();
//!
//! let mut region = Region::create(STATS.words(), &RegionOptions::default()).unwrap();
//! region.set_prefix("fw.").unwrap();
//! let boots = region.counter(FieldSpec::new("boots").describe("times started")).unwrap();
//! let temp = region.float_gauge(FieldSpec::new("temp").unit(Unit::Celsius)).unwrap();
//! let build = region.text("build").unwrap();
//! boots.incr();
//! temp.set(41.5);
//! build.set("2026-11-21");
//!
//! // A reader (usually elsewhere: another process, or a RAM image).
//! let view = RegionView::open(STATS.words()).unwrap();
//! let mut scratch = [0u64; MAX_COPY_WORDS];
//! let count = view.field_count().unwrap();
//! let field = view.entry(count - 1).unwrap().unwrap();
//! assert_eq!(field.name, "fw.build");
//! let value = view.read(&field, &mut scratch, DEFAULT_MAX_TRIES).unwrap();
//! assert_eq!(value, Value::Text("2026-11-21"));
//! ```
//!
//! ## Memory layout
//!
//! Every offset is in bytes from the start of the region; every number is
//! in the writer's byte order (the prologue says which). `docs/FORMAT.md`
//! has every field and the checks a reader makes.
//!
//! | offset               | length                 | contents                                      |
//! |----------------------|------------------------|-----------------------------------------------|
//! | 0                    | 256                    | prologue: magic `\x89MMSTAT2`, version, state, writer identity, table and value-area bounds, field count |
//! | `table_offset` (256) | 256 × `table_capacity` | field table: name, kind, unit, description, buffers, value offset per field; slots of dynamic fields are retired and reused |
//! | `data_offset`        | `data_len`             | value area: naturally aligned 8-byte words only |
//!
//! A single-word value is one word. A latch cell is a sequence word and
//! `buffers` copies of `copy_words` words (see [`latch`]).
//!
//! ## Targets
//!
//! All shared words are [`Word`]s: `core`'s `AtomicU64` where the
//! target has 64-bit atomics, `portable-atomic`'s elsewhere (thumbv6m/7m/7em,
//! riscv32), and loom's under `--cfg loom`. On those targets the firmware
//! chooses how portable-atomic makes 64-bit accesses atomic, with the
//! `portable-atomic-unsafe-assume-single-core` or
//! `portable-atomic-critical-section` feature (required on targets without
//! compare-and-swap such as riscv32imc, and whenever an interrupt handler
//! updates a field); see `docs/EMBEDDED.md`.
//!
//! A region in a RAM dump or core file is found with [`scan`].
#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

mod averages;
#[allow(unsafe_code)]
mod buffer;
mod handles;
pub mod histogram;
mod kind;
pub mod labels;
pub mod latch;
pub mod layout;
mod reader;
mod region;
pub mod ring;
pub mod scan;
pub mod slot;
mod source;
// The one source of atomics (core's, portable-atomic's, or loom's under
// `--cfg loom`): crate-private, so no other crate can reach around it.
// What others need of it is public: `Word`; an `Ordering` is core's (loom
// and portable-atomic re-export the same type).
mod sync;

pub use averages::{MovingAverage, WindowAverage};
#[cfg(not(loom))]
pub use buffer::words_from_bytes;
pub use buffer::{MisalignedBuffer, RegionBuffer};
pub use handles::{
    Average, Counter, Flag, FloatGauge, Gauge, SharedCounter, SharedFloatGauge, SharedGauge, Text,
    Timestamp, truncate_utf8,
};
pub use histogram::{Clock, Histogram, HistogramShape, HistogramTimer, HistogramView};
pub use kind::{Kind, Shape, Unit};
pub use labels::{LabelError, LabelIter, Labels};
pub use layout::{ByteOrder, MAX_COPY_WORDS, MAX_STRING_CAPACITY, NAME_MAX};
pub use reader::{
    DEFAULT_MAX_TRIES, EntryError, FieldInfo, MAX_READER_FIELDS, MAX_READER_REGION_LEN, OpenError,
    ReadError, RegionState, RegionView, Value,
};
pub use region::{
    AddFieldError, CreateError, DEFAULT_BUFFERS, DEFAULT_STRING_CAPACITY, DEFAULT_WINDOW,
    DEFAULT_WINDOW_SLOTS, FieldSpec, Padding, Region, RegionOptions,
};
pub use ring::{EventRecord, EventRing, Payload, RingCursor, RingEvent, RingPoll, RingShape};
pub use slot::{Dynamic, Slot};
pub use source::{ByteImage, WordSource};
pub use sync::Word;
