//! Why the trend database failed ([`StoreError`]), and the helpers that
//! build one from an I/O or SQLite failure.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why the trend database failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// Creating or inspecting the file failed.
    Io {
        /// The database.
        path: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The file exists and is not a trend database of this version.
    NotTrendDatabase {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// SQLite failed.
    Sqlite {
        /// The database.
        path: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// A bad setting.
    Config(String),
    /// The database, its journal or its directory is not safe to use.
    Unsafe {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong with it.
        why: UnsafePath,
    },
    /// Another process records into the database.
    Locked {
        /// The database.
        path: PathBuf,
        /// The process holding its lock, if it could be found.
        holder: Option<LockHolder>,
    },
}

/// Why a path is not used for a trend database.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsafePath {
    /// A symbolic link (never followed).
    SymbolicLink,
    /// Not a regular file ("a FIFO", "a character device", ...).
    NotRegularFile(&'static str),
    /// Owned by another user than the caller.
    ForeignOwner {
        /// The owner.
        owner: u32,
        /// The caller (effective uid).
        caller: u32,
    },
    /// A directory other users may create files in.
    WritableByOthers {
        /// Its permission bits.
        mode: u32,
    },
    /// The path named another file by the time it was opened.
    Replaced,
}

impl fmt::Display for UnsafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SymbolicLink => f.write_str("is a symbolic link (not followed)"),
            Self::NotRegularFile(kind) => write!(f, "is {kind}, not a regular file"),
            Self::ForeignOwner { owner, caller } => {
                write!(
                    f,
                    "is owned by uid {owner}, not by this user (uid {caller})"
                )
            }
            Self::WritableByOthers { mode } => write!(
                f,
                "is a directory writable by other users (mode {mode:o}), who could plant the \
                 database's journal there: keep the database in a directory only you can write"
            ),
            Self::Replaced => f.write_str("was replaced while it was being opened"),
        }
    }
}

/// The process that holds a database's lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    /// Its pid.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`), if readable.
    pub name: Option<String>,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io {
                path,
                operation,
                source,
            } => write!(f, "{}: {operation} failed: {source}", path.display()),
            Self::NotTrendDatabase { path, reason } => {
                write!(
                    f,
                    "{}: not an mmdump trend database: {reason}",
                    path.display()
                )
            }
            Self::Sqlite {
                path,
                operation,
                source,
            } => write!(f, "{}: {operation}: {source}", path.display()),
            Self::Config(message) => f.write_str(message),
            Self::Unsafe { path, why } => write!(f, "{}: {why}", path.display()),
            Self::Locked { path, holder } => {
                write!(
                    f,
                    "{}: another recorder is using this database",
                    path.display()
                )?;
                match holder {
                    Some(LockHolder {
                        pid,
                        name: Some(name),
                    }) => write!(f, " (pid {pid}, {name})"),
                    Some(LockHolder { pid, name: None }) => write!(f, " (pid {pid})"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Sqlite { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub(super) fn sqlite_error<'p>(
    path: &'p Path,
    operation: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'p {
    move |source| StoreError::Sqlite {
        path: path.to_owned(),
        operation,
        source,
    }
}

pub(super) fn unsafe_path(path: &Path, why: UnsafePath) -> StoreError {
    StoreError::Unsafe {
        path: path.to_owned(),
        why,
    }
}

pub(super) fn io_error<'p>(
    path: &'p Path,
    operation: &'static str,
) -> impl FnOnce(std::io::Error) -> StoreError + 'p {
    move |source| StoreError::Io {
        path: path.to_owned(),
        operation,
        source,
    }
}
