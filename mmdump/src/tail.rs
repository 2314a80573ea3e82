//! Following event rings live: what `mmdump tail` does, as a library.
//!
//! A [`Follower`] finds the event rings (kind 11, `docs/FORMAT.md` §5.7) of
//! the stats files it is given, polls them, and hands out [`TailEvent`]s:
//! records, gaps ("missed 1,024 events", counted exactly from sequence
//! numbers when the writer lapped the reader), span durations (from
//! span-enter and span-exit records), and problems. It never writes to a
//! region and never slows a writer down. New files and new rings are picked
//! up as they appear; a ring that is retired or re-created is reported and
//! followed again from its start.
//!
//! [`format_text`] and [`to_json`] render events as text lines or JSON lines;
//! [`Archive`] appends JSON lines to a file for later analysis; [`run`] is
//! the whole `mmdump tail` loop.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! use mmdump::tail::{Follower, Start, TailEvent, TailOptions};
//! let stats = mmstats::StatsFile::builder("srv").dir(dir.path()).create().unwrap();
//! let events = stats.event_ring("events").unwrap();
//! events.event(7, &[1, 2]);
//!
//! let mut follower = Follower::new(TailOptions {
//!     paths: vec![stats.path()],
//!     start: Start::Oldest,
//!     ..TailOptions::default()
//! });
//! let mut seen = Vec::new();
//! follower.poll(&mut |event| seen.push(event));
//! let TailEvent::Record(record) = &seen[0] else { panic!("{seen:?}") };
//! assert_eq!((record.ring.as_str(), record.event), ("events", 7));
//! ```

mod archive;
mod event;
mod follower;
mod render;
mod run;
#[cfg(test)]
mod tests;

pub use self::archive::Archive;
pub use self::event::{
    SpanDuration, Start, TailEvent, TailOptions, TailPayload, TailRecord, TailTotals,
};
pub use self::follower::Follower;
pub use self::render::{format_text, to_json};
pub use self::run::{RunOptions, run};
