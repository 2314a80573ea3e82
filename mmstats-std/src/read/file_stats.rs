//! What one read of a file gives: [`FileStats`] and, for format 2, its
//! [`RegionInfo`].

use std::path::PathBuf;

use mmstats_nostd::{RegionState, RegionView, WordSource};

use crate::liveness::Liveness;
use crate::value::{Field, FieldProblem, Format};

/// Prologue facts of a format-2 file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionInfo {
    /// Major and minor version.
    pub version: (u16, u16),
    /// Whether the region's numbers are little-endian.
    pub little_endian: bool,
    /// State when read.
    pub state: RegionState,
    /// Generation.
    pub generation: u64,
    /// Writer's process start time (OS ticks; 0 unknown).
    pub start_time: u64,
    /// Writer's boot-id hash (0 unknown).
    pub boot_id: u64,
    /// Creation time, ns since the Unix epoch.
    pub created_ns: u64,
    /// Last heartbeat, ns since the Unix epoch (0: none).
    pub heartbeat_ns: u64,
    /// Fields published.
    pub field_count: usize,
    /// Field-table capacity.
    pub table_capacity: u64,
    /// Region length in bytes.
    pub region_len: u64,
    /// Value-area bytes used and available.
    pub data_used: u64,
    /// Value-area bytes in all.
    pub data_len: u64,
}

impl RegionInfo {
    /// The facts of the region `view` reads: its prologue, its state and
    /// heartbeat now, and `field_count`, the fields the read walked.
    #[must_use]
    pub fn from_view<S: WordSource + ?Sized>(view: &RegionView<'_, S>, field_count: usize) -> Self {
        let p = view.prologue();
        Self {
            version: (p.major, p.minor),
            little_endian: view.byte_order().region_is_little_endian(),
            state: view.state(),
            generation: p.generation,
            start_time: p.start_time,
            boot_id: p.boot_id,
            created_ns: p.created_ns,
            heartbeat_ns: view.heartbeat_ns(),
            field_count,
            table_capacity: p.table_capacity,
            region_len: p.region_len,
            data_used: p.data_used,
            data_len: p.data_len,
        }
    }
}

/// Everything read from one stats file.
#[derive(Clone, Debug, PartialEq)]
pub struct FileStats {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// Writer's pid, if recorded.
    pub pid: Option<u64>,
    /// Whether the writer is alive.
    pub liveness: Liveness,
    /// Prologue facts (format 2 only).
    pub region: Option<RegionInfo>,
    /// Fields, in table order.
    pub fields: Vec<Field>,
    /// Fields that could not be read, with the reason (the file's other
    /// fields are still in `fields`).
    pub problems: Vec<FieldProblem>,
}
