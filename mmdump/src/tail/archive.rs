//! [`Archive`]: JSON lines appended to a file for later analysis.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use super::{TailEvent, to_json};

/// A file that events are appended to as JSON lines. Opened with
/// `O_CREAT | O_APPEND | O_NOFOLLOW` and mode 0600: an existing archive is
/// extended, never truncated, and a symbolic link is refused.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    file: io::BufWriter<File>,
}

impl Archive {
    /// Opens (creating if needed) the archive at `path` (`open(2)` with
    /// `O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW`, mode 0600).
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let fd: OwnedFd = rustix::fs::open(
            &path,
            OFlags::WRONLY | OFlags::CREATE | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|error| {
            io::Error::new(
                io::Error::from(error).kind(),
                format!("{}: cannot open archive: {error}", path.display()),
            )
        })?;
        Ok(Self {
            path,
            file: io::BufWriter::new(File::from(fd)),
        })
    }

    /// Appends one event as a JSON line.
    pub fn append(&mut self, event: &TailEvent) -> io::Result<()> {
        writeln!(self.file, "{}", to_json(event))
    }

    /// Writes buffered lines to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    /// The archive's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}
