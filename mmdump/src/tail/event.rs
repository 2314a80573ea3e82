//! What a follower is told to do ([`TailOptions`], [`Start`]) and what it
//! hands out ([`TailEvent`]: records, gaps, spans, problems).

use std::path::PathBuf;
use std::time::Duration;

use mmstats::Labels;
use mmstats_nostd::Payload;

use crate::dump::select::Selection;

/// Where a follower starts in rings that exist when it starts (rings that
/// appear later are always read from their oldest record).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Start {
    /// The oldest record still in the ring.
    #[default]
    Oldest,
    /// Only records appended from now on.
    Newest,
    /// Sequence number 1: records already overwritten are reported as
    /// missed, so delivered + missed counts every record the ring held.
    First,
}

/// What to follow and how.
#[derive(Clone, Debug)]
pub struct TailOptions {
    /// Stats files, directories or wildcard patterns; empty: the stats
    /// directory (as for `mmdump`).
    pub paths: Vec<PathBuf>,
    /// Only rings whose name matches this wildcard pattern.
    pub ring: Option<String>,
    /// Only files this selects (by name and writer pid), and only rings
    /// whose names it selects (`-I`, `-X`), as for `mmdump`.
    pub selection: Selection,
    /// Where to start in rings that exist already.
    pub start: Start,
    /// Turn span-enter and span-exit records into span durations.
    pub spans: bool,
    /// Most records taken from one ring per poll (keeps polls short).
    pub batch: u64,
    /// Look for new files this often.
    pub rediscover: Duration,
    /// Most spans waiting for their exit record (older ones are dropped,
    /// so a lost exit record cannot make memory grow).
    pub max_open_spans: usize,
}

impl Default for TailOptions {
    fn default() -> Self {
        Self {
            paths: Vec::new(),
            ring: None,
            selection: Selection::everything(),
            start: Start::Oldest,
            spans: false,
            batch: 4096,
            rediscover: Duration::from_secs(1),
            max_open_spans: 65_536,
        }
    }
}

/// A record's payload, copied out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailPayload {
    /// Values.
    Values(Vec<u64>),
    /// A short text.
    Text(String),
    /// A span started.
    SpanEnter {
        /// Its id.
        span: u64,
        /// Its name.
        name: String,
    },
    /// A span ended.
    SpanExit {
        /// Its id.
        span: u64,
    },
    /// A payload kind this reader does not know.
    Unknown {
        /// Kind code.
        kind: u8,
    },
    /// A payload that is not valid (length past the payload, bad UTF-8).
    Invalid,
}

impl TailPayload {
    pub(super) fn from_payload(payload: Payload<'_>) -> Self {
        match payload {
            Payload::Values(values) => Self::Values(values.to_vec()),
            Payload::Text(text) => Self::Text(text.to_owned()),
            Payload::SpanEnter { span, name } => Self::SpanEnter {
                span,
                name: name.to_owned(),
            },
            Payload::SpanExit { span } => Self::SpanExit { span },
            Payload::Unknown { kind, .. } => Self::Unknown { kind },
            Payload::Invalid => Self::Invalid,
        }
    }
}

/// One record of a ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailRecord {
    /// The stats file.
    pub path: PathBuf,
    /// The ring's field name.
    pub ring: String,
    /// The ring's labels (a ring is its name and labels).
    pub labels: Labels,
    /// Sequence number in the ring (from 1).
    pub seq: u64,
    /// Timestamp (std writers: ns since the Unix epoch).
    pub timestamp_ns: u64,
    /// Writer's thread id.
    pub thread: u64,
    /// Event id.
    pub event: u32,
    /// Payload.
    pub payload: TailPayload,
}

/// A span whose enter and exit records were both seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanDuration {
    /// The stats file.
    pub path: PathBuf,
    /// The ring.
    pub ring: String,
    /// The ring's labels.
    pub labels: Labels,
    /// Thread of the enter record.
    pub thread: u64,
    /// Span id.
    pub span: u64,
    /// Event id of the enter record.
    pub event: u32,
    /// Name given at enter.
    pub name: String,
    /// Timestamp of the enter record.
    pub start_ns: u64,
    /// Timestamp of the exit record.
    pub end_ns: u64,
}

impl SpanDuration {
    /// `end - start`, in nanoseconds (0 if the clock went back).
    #[must_use]
    pub const fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// What a [`Follower`](super::Follower) reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailEvent {
    /// A record.
    Record(TailRecord),
    /// The writer overwrote `count` records before the follower could copy
    /// them (they come, in sequence, before the next record delivered).
    Missed {
        /// The stats file.
        path: PathBuf,
        /// The ring.
        ring: String,
        /// The ring's labels.
        labels: Labels,
        /// Records lost.
        count: u64,
    },
    /// A span ended (with `TailOptions::spans`).
    Span(SpanDuration),
    /// A ring was retired, re-created or its file went away: following it
    /// stopped (a new ring in its place is followed from its start).
    RingEnded {
        /// The stats file.
        path: PathBuf,
        /// The ring.
        ring: String,
        /// The ring's labels.
        labels: Labels,
        /// Why.
        reason: String,
    },
    /// A file could not be read.
    Problem {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Totals since a follower started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TailTotals {
    /// Records delivered.
    pub records: u64,
    /// Records missed (overwritten before they could be copied).
    pub missed: u64,
    /// Rings being followed now.
    pub rings: usize,
}
