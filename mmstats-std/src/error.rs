//! The errors of creating a stats file ([`CreateError`], with the
//! [`Occupant`] of a taken name) and of adding a field ([`AddFieldError`]).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// What already occupies the name a new stats file wants, as found by
/// opening it without following or blocking and `fstat(2)`-ing what opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Occupant {
    /// A stats file whose writer still holds its lock: a live writer (on
    /// a shared `/dev/shm`, possibly in another pid namespace).
    LiveWriter,
    /// A regular file of ours that is not a stats file (never removed:
    /// nothing a user wrote is lost).
    NotStats,
    /// A regular file owned by another user.
    OtherUser {
        /// Its owner.
        uid: u32,
    },
    /// A symbolic link (never followed).
    SymbolicLink,
    /// A FIFO (never opened for writing, never waited on).
    Fifo,
    /// A device node.
    Device,
    /// A directory.
    Directory,
    /// A socket.
    Socket,
    /// Something that vanished or changed while it was examined twice in
    /// a row.
    Unstable,
}

impl fmt::Display for Occupant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LiveWriter => f.write_str("a live writer's stats file (its lock is held)"),
            Self::NotStats => f.write_str("a file of yours that is not a stats file"),
            Self::OtherUser { uid } => write!(f, "a file owned by another user (uid {uid})"),
            Self::SymbolicLink => f.write_str("a symbolic link"),
            Self::Fifo => f.write_str("a FIFO"),
            Self::Device => f.write_str("a device node"),
            Self::Directory => f.write_str("a directory"),
            Self::Socket => f.write_str("a socket"),
            Self::Unstable => f.write_str("a name that keeps changing while it is examined"),
        }
    }
}

/// Why a stats file could not be created. Every variant names the path.
/// A failed creation leaves no file behind (neither the temporary nor the
/// final name).
#[derive(Debug)]
#[non_exhaustive]
pub enum CreateError {
    /// The directory, or a directory on the way to it, could not be
    /// opened or created, or is not safe to publish in: a symbolic link,
    /// owned by another user, writable by others without the sticky bit
    /// (see [`crate::trust`]).
    Directory(crate::trust::DirTrustError),
    /// The name (final, temporary or shm) is taken by something that is
    /// not a reclaimable stats file: a live writer's, or not a stats file
    /// of this user at all. A closed or dead writer's file of this user is
    /// removed and its name reused instead.
    NameTaken {
        /// The path.
        path: PathBuf,
        /// What is there.
        occupant: Occupant,
    },
    /// The file system has no room (or the quota is spent) for the
    /// region's pages, which are reserved at creation so that a full disk
    /// never turns into a `SIGBUS` later.
    NoSpace {
        /// The path.
        path: PathBuf,
        /// The region size that could not be reserved.
        bytes: u64,
        /// The system's reason (`ENOSPC` or `EDQUOT`).
        source: io::Error,
    },
    /// A system call on the file failed.
    Io {
        /// The path.
        path: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// The system's reason.
        source: io::Error,
    },
    /// The region could not be laid out in the requested size.
    Region {
        /// The path.
        path: PathBuf,
        /// The reason.
        source: mmstats_nostd::CreateError,
    },
    /// A default field could not be added.
    DefaultField {
        /// The path.
        path: PathBuf,
        /// The reason.
        source: AddFieldError,
    },
    /// The group of [`StatsFileBuilder::group`](crate::StatsFileBuilder::group) or `$MMSTATS_GROUP` is not
    /// known.
    UnknownGroup {
        /// The name as given.
        name: String,
    },
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directory(inner) => write!(f, "refusing to publish: {inner}"),
            Self::NameTaken { path, occupant } => {
                write!(f, "{}: the name is taken by {occupant}", path.display())
            }
            Self::NoSpace {
                path,
                bytes,
                source,
            } => write!(
                f,
                "{}: no space to reserve the region's {bytes} bytes: {source}",
                path.display()
            ),
            Self::Io {
                path,
                operation,
                source,
            } => write!(f, "{}: {operation} failed: {source}", path.display()),
            Self::Region { path, source } => write!(f, "{}: {source}", path.display()),
            Self::DefaultField { path, source } => {
                write!(f, "{}: adding default fields: {source}", path.display())
            }
            Self::UnknownGroup { name } => {
                write!(
                    f,
                    "unknown group {name:?} (not in /etc/group, not a number)"
                )
            }
        }
    }
}

impl std::error::Error for CreateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Directory(inner) => Some(inner),
            Self::Io { source, .. } | Self::NoSpace { source, .. } => Some(source),
            Self::Region { source, .. } => Some(source),
            Self::DefaultField { source, .. } => Some(source),
            Self::NameTaken { .. } | Self::UnknownGroup { .. } => None,
        }
    }
}

/// Why a field could not be added to a [`StatsFile`](crate::StatsFile).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddFieldError {
    /// The region refused it (see the inner error).
    Region(mmstats_nostd::AddFieldError),
    /// A live field with this full name and these labels exists already
    /// (the text is the name followed by the labels, as readers show them).
    DuplicateName(String),
}

impl fmt::Display for AddFieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Region(inner) => inner.fmt(f),
            Self::DuplicateName(name) => write!(f, "a field named {name:?} exists already"),
        }
    }
}

impl std::error::Error for AddFieldError {}

impl AddFieldError {
    /// Whether the region is out of room (table or value area), as
    /// opposed to the field being invalid: the case for an overflow field.
    #[must_use]
    pub const fn is_full(&self) -> bool {
        matches!(self, Self::Region(inner) if inner.is_full())
    }
}

/// Invalid labels, as the region would have refused them.
impl From<mmstats_nostd::LabelError> for AddFieldError {
    fn from(inner: mmstats_nostd::LabelError) -> Self {
        Self::Region(mmstats_nostd::AddFieldError::InvalidLabels(inner))
    }
}

impl From<mmstats_nostd::AddFieldError> for AddFieldError {
    fn from(inner: mmstats_nostd::AddFieldError) -> Self {
        Self::Region(inner)
    }
}
