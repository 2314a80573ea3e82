//! Opening a stats file for reading: no symbolic links, no blocking,
//! regular files only.

use std::fs::File;
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};

use super::error::{ReadFailure, ReadFileError, failure, io_failure};

/// Opens a stats file for reading: no symlinks, no blocking, regular
/// files only.
pub fn open_for_reading(path: &Path) -> Result<(File, u64), ReadFileError> {
    open_for_reading_at(rustix::fs::CWD, path.as_os_str(), path)
}

/// [`open_for_reading`] of the entry `name` of the directory open as
/// `dir` (`path` names it in errors): the name is looked up in that
/// directory, whatever its path has become.
pub fn open_for_reading_at(
    dir: impl std::os::fd::AsFd,
    name: &std::ffi::OsStr,
    path: &Path,
) -> Result<(File, u64), ReadFileError> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        failure(
            path,
            match e {
                rustix::io::Errno::NOENT => ReadFailure::Vanished,
                rustix::io::Errno::LOOP => ReadFailure::SymbolicLink,
                other => ReadFailure::Io {
                    operation: "open",
                    source: other.into(),
                },
            },
        )
    })?;
    let file = File::from(fd);
    let stat = rustix::fs::fstat(&file).map_err(io_failure(path, "fstat"))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(failure(path, ReadFailure::NotRegular));
    }
    Ok((file, stat.st_size as u64))
}
