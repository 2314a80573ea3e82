//! Why a file could not be read: [`ReadFileError`] and its [`ReadFailure`].

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use mmstats_nostd::OpenError;

use crate::legacy;

/// Why a file could not be read.
#[derive(Debug)]
pub struct ReadFileError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: ReadFailure,
}

/// What went wrong reading a file.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadFailure {
    /// A system call failed.
    Io {
        /// What was being done.
        operation: &'static str,
        /// The system's reason.
        source: io::Error,
    },
    /// The file disappeared before it could be opened.
    Vanished,
    /// A symbolic link (never followed).
    SymbolicLink,
    /// Not a regular file.
    NotRegular,
    /// Neither a format-2 region nor a legacy v1 file.
    NotStats {
        /// Length of the file.
        len: u64,
    },
    /// The format-2 prologue or field table failed validation.
    Region(OpenError),
    /// The legacy file failed to parse.
    Legacy(legacy::LegacyError),
    /// The file shrank while it was being read.
    TruncatedWhileReading,
    /// Not read: a truncation while reading could not be survived (the
    /// `SIGBUS` protection is not in force; see [`crate::sigbus`]).
    SigbusUnprotected(crate::sigbus::ProtectionError),
    /// The region was re-initialised under the reader again and again.
    Unstable,
    /// The file is larger than a legacy file can be.
    TooLarge {
        /// Its length.
        len: u64,
    },
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { operation, source } => write!(f, "{operation} failed: {source}"),
            Self::Vanished => f.write_str("file was removed before it could be read"),
            Self::SymbolicLink => f.write_str("is a symbolic link (not followed)"),
            Self::NotRegular => f.write_str("not a regular file"),
            Self::NotStats { len } => write!(
                f,
                "not an mmstats file ({len} bytes; no format-2 magic or legacy version byte)"
            ),
            Self::Region(error) => write!(f, "format 2: {error}"),
            Self::Legacy(error) => error.fmt(f),
            Self::TruncatedWhileReading => {
                f.write_str("file was truncated while being read; values discarded")
            }
            Self::SigbusUnprotected(error) => error.fmt(f),
            Self::Unstable => f.write_str("region was re-initialised during every read attempt"),
            Self::TooLarge { len } => write!(f, "{len} bytes is too large for a legacy file"),
        }
    }
}

impl fmt::Display for ReadFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for ReadFileError {}

pub(super) fn failure(path: &Path, reason: ReadFailure) -> ReadFileError {
    ReadFileError {
        path: path.to_owned(),
        reason,
    }
}

/// Maps an I/O error of `operation` on `path` to a [`ReadFileError`].
pub(super) fn io_failure<'p, E: Into<io::Error>>(
    path: &'p Path,
    operation: &'static str,
) -> impl FnOnce(E) -> ReadFileError + 'p {
    move |error| {
        failure(
            path,
            ReadFailure::Io {
                operation,
                source: error.into(),
            },
        )
    }
}
