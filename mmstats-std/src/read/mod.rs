//! Reading stats files: format detection, format-2 regions through a
//! read-only mapping, legacy v1 files, and writer liveness.
//!
//! Readers never write to a region: format-2 files are mapped `PROT_READ`
//! and only loaded from with atomic loads. Files are opened with
//! `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY`, so a symbolic link planted in a
//! shared directory is refused, a FIFO cannot hang the reader and a
//! terminal device never becomes its controlling terminal.
//!
//! A forged header cannot make a reader work for what is not there: at
//! most [`MAX_READER_REGION_LEN`] bytes of a file are mapped, and the
//! field cache grows one entry at a time as the walk validates entries
//! (never sized from the count a header claims), stopping the file with an
//! error at the first all-zero entry below the count (a hole of a sparse
//! file; see `mmstats_nostd::reader`). A reader's memory for one file is
//! thus the mapping plus about 470 bytes per field a writer really stored
//! (labels included), at most [`mmstats_nostd::MAX_READER_FIELDS`] of them
//! (about 120 MiB, for a table of 384-byte entries, 96 MiB, that a writer
//! really filled).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use mmstats_nostd::layout::MAGIC;

use crate::legacy;
use crate::liveness::Liveness;
use crate::os::{self, ProcessCheck};
use crate::value::{Field, FieldValue, Format, LEGACY_VERSION};

mod error;
mod file_stats;
mod open;
mod region_reader;
mod repeats;

pub use error::{ReadFailure, ReadFileError};
use error::{failure, io_failure};
pub use file_stats::{FileStats, RegionInfo};
pub use open::{open_for_reading, open_for_reading_at};
pub use region_reader::{RegionReader, Sample, Snapshot, SnapshotValue, unit_name};
pub use repeats::RepeatFilter;

/// Largest legacy file read (they are a few pages in practice).
const LEGACY_MAX_BYTES: u64 = 64 << 20;

/// Reads every field of the stats file at `path` (either format).
pub fn read_file(path: impl AsRef<Path>) -> Result<FileStats, ReadFileError> {
    let path = path.as_ref();
    let (file, len) = open_for_reading(path)?;
    read_open_file(path, file, len)
}

/// [`read_file`] of a file already open (see [`open_for_reading`]) whose
/// size was `len`; `path` names it.
pub fn read_open_file(path: &Path, file: File, len: u64) -> Result<FileStats, ReadFileError> {
    let mut head = [0u8; 8];
    let got = read_prefix(&file, &mut head).map_err(io_failure(path, "read"))?;
    if got == head.len() && head == MAGIC {
        RegionReader::from_file(path, file, len)?.read()
    } else if got >= 1 && head[0] == LEGACY_VERSION {
        read_legacy(path, &file, len)
    } else {
        Err(failure(path, ReadFailure::NotStats { len }))
    }
}

fn read_prefix(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn read_legacy(path: &Path, file: &File, len: u64) -> Result<FileStats, ReadFileError> {
    if len > LEGACY_MAX_BYTES {
        return Err(failure(path, ReadFailure::TooLarge { len }));
    }
    let mut bytes = vec![0u8; len as usize];
    let got = read_prefix(file, &mut bytes).map_err(io_failure(path, "read"))?;
    bytes.truncate(got);
    let parsed = legacy::parse(&bytes).map_err(|e| failure(path, ReadFailure::Legacy(e)))?;
    // The first integer field named as a pid; a negative one is no pid.
    let pid = parsed
        .iter()
        .find(|f| {
            is_legacy_pid_name(&f.name)
                && matches!(f.value, FieldValue::Int(_) | FieldValue::UInt(_))
        })
        .and_then(|f| match &f.value {
            FieldValue::Int(p) => u64::try_from(*p).ok(),
            FieldValue::UInt(p) => Some(*p),
            _ => None,
        });
    // A legacy file records no start time: a running pid may be a reuse.
    let liveness = match pid.map(|p| os::check_process(p, 0, 0)) {
        Some(ProcessCheck::Gone) => Liveness::Dead,
        _ => Liveness::Unknown,
    };
    Ok(FileStats {
        path: path.to_owned(),
        format: Format::LegacyV1,
        pid,
        liveness,
        region: None,
        fields: parsed
            .into_iter()
            .map(|f| Field {
                name: f.name,
                labels: mmstats_nostd::Labels::new(),
                unit: String::new(),
                description: String::new(),
                value: f.value,
            })
            .collect(),
        problems: Vec::new(),
    })
}

/// Whether a legacy field of this name holds the writer's pid: `sys.pid`,
/// or `sys.pid` after a label prefix (`myapp.sys.pid`), as the original
/// cleanstats recognised it. The first such integer field in record
/// order counts.
#[must_use]
fn is_legacy_pid_name(name: &str) -> bool {
    name == "sys.pid" || name.ends_with(".sys.pid")
}
