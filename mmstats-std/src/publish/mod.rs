//! Publishing a region into a file or a POSIX shared-memory object.
//!
//! A [`StatsFile`] is created owner-only (`O_CREAT | O_EXCL | O_NOFOLLOW`,
//! mode 0600 unless configured), sized, mapped, initialised, and only then
//! given its public name (`renameat2(RENAME_NOREPLACE)`), so a reader never
//! sees a half-built file under a stats name. The writer holds a shared
//! `flock` on it for as long as it lives, which readers use as proof of
//! life. The owner marks the region closed and unlinks it when the last
//! handle drops, unless told to keep it.
//!
//! # Safety
//!
//! `unsafe` is denied at the crate root and allowed only in `map`, `sigbus`
//! and `publish`, each with a `# Safety` section like this one.
//! Here: one block, in `builder`, which gives the region the mapping's words for
//! `'static`; sound because the mapping moves into the `FileInner` that
//! owns the region and every handle, so it outlives every use of them.

mod builder;
mod create;
mod file;
mod heartbeat;

pub use builder::{Location, StatsFileBuilder};
pub use file::{
    Average, Counter, Flag, FloatGauge, Gauge, Handle, Histogram, MovingAverage, SharedCounter,
    SharedFloatGauge, SharedGauge, StatsFile, Text, Timestamp,
};
