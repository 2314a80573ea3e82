//! Trend history: every field sampled at an interval into an SQLite
//! database (`mmdump record`, `mmdump serve --record`), downsampled as it
//! ages and pruned so that the file cannot grow without bound; read back
//! by `mmdump trend` and the dashboard.
//!
//! ## What is stored
//!
//! One *series* per field name and kind, of the files combined the way
//! `mmdump watch -a MODE` combines them (counters summed, with the last
//! values of exited writers kept, so a recorded sum never goes back).
//! Each sample holds the value (a number: booleans 0/1, timestamps in
//! seconds since the epoch, averages their mean) and the rate per second
//! over the last interval (counters; averages: samples per second).
//! Strings are stored when they change.
//!
//! ## Tiers and retention ([`Retention`])
//!
//! | tier | resolution | kept for (default) |
//! |---|---|---|
//! | 0 | every sample | `raw`: 2 hours |
//! | 1 | 1 minute: mean, min, max, mean rate | `minutes`: 8 days |
//! | 2 | 1 hour: the same | `hours`: 400 days |
//!
//! [`TrendStore::maintain`] (run every minute while recording) folds
//! samples older than their tier's time into the next tier and deletes
//! what is older than the last tier's. On top of that, `max_bytes` bounds
//! the database file: it is capped there (`PRAGMA max_page_count`; an
//! insert that would pass it first deletes the oldest history), and
//! whenever it passes 90% of it, the oldest tenth of the history is
//! deleted and the space given back with an incremental vacuum. The
//! rollback journal exists only while a transaction runs.
//!
//! ## Safety of the file
//!
//! The database's path may be in a directory other users can see, and
//! the recorder may run as root, so nothing at that path is trusted:
//!
//! - the directory must be owned by the caller (or root) and writable by
//!   no one else: anyone who can create names in it could plant the
//!   database's `-journal` (a FIFO there hangs SQLite, a crafted one
//!   rewrites the database), so a database in `/tmp` itself is refused;
//! - the path is `lstat`ed and refused, without being opened, unless it
//!   is a regular file: a symbolic link is never followed, a FIFO or a
//!   device never opened. It is then opened `O_NOFOLLOW | O_NONBLOCK |
//!   O_NOCTTY | O_CLOEXEC` (or created `O_EXCL`, mode 0600, if missing)
//!   and `fstat`ed before SQLite touches it: still the same regular file,
//!   and, for writing, owned by the caller;
//! - the writer takes an exclusive `flock` on that descriptor, held while
//!   it records: a second recorder on the same database is refused,
//!   naming the process that holds it (from `/proc/locks`). The kernel
//!   drops the lock when its holder dies, so a crash never leaves the
//!   database locked;
//! - `<db>-journal` and `<db>-wal`, if present, must be regular files
//!   (owned by the caller, for writing), or the database is refused
//!   before SQLite would open them;
//! - once SQLite has opened the path, it must still name the file checked.
//!
//! SQLite opens the path with `SQLITE_OPEN_NOFOLLOW` and gives its
//! `-journal` file the database's mode. A file that is not such a
//! database is refused, never overwritten.
//!
//! ## A full disk
//!
//! When the file system fills before the size bound (`SQLITE_FULL` below
//! the page cap), the store caps itself at 80% of the size it had reached,
//! deletes the oldest history down to 70% of that (with the rollback
//! journal in memory for those deletes, as there is no room for one on
//! disk), gives the space back, and records the sample again; the caller
//! is told ([`StoreNotice::DiskFull`]). The cap grows back, at most to
//! the size bound, as the file system has room again (checked at each
//! [`TrendStore::maintain`]). [`LogLimiter`] keeps the recorder's error
//! lines to one per [`LOG_EVERY`].

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};

use crate::dump::watch::{Frame, Row};
use mmstats::FieldValue;

/// `PRAGMA application_id` of a trend database ("mmst").
pub const APPLICATION_ID: i32 = 0x6D6D_7374;
/// `PRAGMA user_version`: the schema's version.
pub const SCHEMA_VERSION: i32 = 1;

/// Length of a tier-1 bucket, in ms.
pub const MINUTE_MS: i64 = 60_000;
/// Length of a tier-2 bucket, in ms.
pub const HOUR_MS: i64 = 3_600_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS series (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    UNIQUE (name, kind)
);
CREATE TABLE IF NOT EXISTS samples (
    series INTEGER NOT NULL,
    tier   INTEGER NOT NULL,
    t      INTEGER NOT NULL,
    value  REAL,
    min    REAL,
    max    REAL,
    rate   REAL,
    n      INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (series, tier, t)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS texts (
    series INTEGER NOT NULL,
    t      INTEGER NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (series, t)
) WITHOUT ROWID;
";

/// How long each tier is kept, and the size bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Raw samples are kept this long, then folded into minutes.
    pub raw: Duration,
    /// Minute buckets are kept this long, then folded into hours.
    pub minutes: Duration,
    /// Hour buckets (and strings) are kept this long.
    pub hours: Duration,
    /// The database file stays under this many bytes.
    pub max_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            raw: Duration::from_secs(2 * 3600),
            minutes: Duration::from_secs(8 * 86_400),
            hours: Duration::from_secs(400 * 86_400),
            max_bytes: 128 << 20,
        }
    }
}

/// The smallest size bound accepted.
pub const MIN_MAX_BYTES: u64 = 256 << 10;

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

fn sqlite_error<'p>(
    path: &'p Path,
    operation: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'p {
    move |source| StoreError::Sqlite {
        path: path.to_owned(),
        operation,
        source,
    }
}

/// One field of one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleRow<'a> {
    /// Field name.
    pub name: &'a str,
    /// Kind name (as `mmdump` names kinds).
    pub kind: &'static str,
    /// Unit name ("" for none).
    pub unit: &'a str,
    /// The value as a number (None for strings).
    pub value: Option<f64>,
    /// Change per second over the last interval, if known.
    pub rate: Option<f64>,
    /// A string's value.
    pub text: Option<&'a str>,
}

impl<'a> SampleRow<'a> {
    /// The sample of a `watch` row.
    #[must_use]
    pub fn of_row(row: &'a Row) -> Self {
        let (value, text) = match &row.value {
            FieldValue::Text(text) => (None, Some(text.as_str())),
            FieldValue::Timestamp(0) => (None, None),
            FieldValue::Timestamp(ns) => (Some(*ns as f64 / 1e9), None),
            other => (other.as_f64(), None),
        };
        Self {
            name: &row.name,
            kind: row.value.kind_name(),
            unit: &row.unit,
            value: value.filter(|v| v.is_finite()),
            rate: if row.rated {
                row.rate.filter(|r| r.is_finite())
            } else {
                None
            },
            text,
        }
    }
}

/// A recorded series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesInfo {
    /// Its id in the database.
    pub id: i64,
    /// Field name.
    pub name: String,
    /// Kind name.
    pub kind: String,
    /// Unit name.
    pub unit: String,
}

impl SeriesInfo {
    /// Whether a chart shows its rate by default (counters, and averages
    /// by their sample rate, are charted as rates).
    #[must_use]
    pub fn rated(&self) -> bool {
        matches!(self.kind.as_str(), "counter")
    }
}

/// What is stored of a series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesSummary {
    /// The series.
    pub info: SeriesInfo,
    /// Rows stored (every tier; strings: changes).
    pub rows: u64,
    /// The first time stored, ms since the epoch.
    pub first_ms: Option<i64>,
    /// The last time stored, ms since the epoch.
    pub last_ms: Option<i64>,
}

/// One point of a series' history.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Time, ms since the Unix epoch (a bucket's start).
    pub t_ms: i64,
    /// The value (a bucket's mean).
    pub value: Option<f64>,
    /// Smallest value in the bucket.
    pub min: Option<f64>,
    /// Largest value in the bucket.
    pub max: Option<f64>,
    /// Rate per second (a bucket's mean).
    pub rate: Option<f64>,
    /// The tier it came from (0 raw, 1 minutes, 2 hours).
    pub tier: u8,
}

/// Sizes of the database's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreSize {
    /// The database file.
    pub db_bytes: u64,
    /// Its rollback journal (present only while a transaction runs).
    pub journal_bytes: u64,
    /// Bytes in use inside the database (pages not on the free list).
    pub used_bytes: u64,
}

/// What [`TrendStore::maintain`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Raw samples folded into minutes.
    pub folded_raw: usize,
    /// Minute buckets folded into hours.
    pub folded_minutes: usize,
    /// Rows deleted because of their age.
    pub expired: usize,
    /// Rows deleted to stay under the size bound.
    pub pruned: usize,
}

fn unsafe_path(path: &Path, why: UnsafePath) -> StoreError {
    StoreError::Unsafe {
        path: path.to_owned(),
        why,
    }
}

fn io_error<'p>(
    path: &'p Path,
    operation: &'static str,
) -> impl FnOnce(std::io::Error) -> StoreError + 'p {
    move |source| StoreError::Io {
        path: path.to_owned(),
        operation,
        source,
    }
}

/// What a file that is not a regular file is, in words.
fn kind_of(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_symlink() {
        Some("a symbolic link")
    } else if file_type.is_fifo() {
        Some("a FIFO")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_dir() {
        Some("a directory")
    } else {
        Some("not a file")
    }
}

fn caller_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The directory `path` is in must be owned by the caller or root and
/// writable by no one else (see the module docs).
fn check_directory(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // Followed: the directory's own path may go through links (/var/run).
    let meta = std::fs::metadata(dir).map_err(io_error(dir, "stat the directory"))?;
    let caller = caller_uid();
    if meta.uid() != caller && meta.uid() != 0 {
        return Err(unsafe_path(
            dir,
            UnsafePath::ForeignOwner {
                owner: meta.uid(),
                caller,
            },
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_path(
            dir,
            UnsafePath::WritableByOthers {
                mode: meta.mode() & 0o7777,
            },
        ));
    }
    Ok(())
}

/// Opens the database file for SQLite to use (see the module docs): a
/// regular file, never a link, FIFO or device, created 0600 if missing
/// and `writable`; owned by the caller if `writable`. Only the writer's
/// descriptor can be read or locked (a reader's is `O_PATH`).
fn open_database(path: &Path, writable: bool) -> Result<File, StoreError> {
    const FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    let seen = match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            if meta.file_type().is_symlink() {
                return Err(unsafe_path(path, UnsafePath::SymbolicLink));
            }
            if let Some(kind) = kind_of(meta.file_type()) {
                return Err(unsafe_path(path, UnsafePath::NotRegularFile(kind)));
            }
            Some(meta)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && writable => None,
        Err(source) => return Err(io_error(path, "stat")(source)),
    };
    let mut options = std::fs::OpenOptions::new();
    // A reader opens with O_PATH: only to fstat it. Closing a descriptor
    // of the file would drop every fcntl lock this process holds on it
    // (SQLite's, of a recorder in the same `mmdump serve --record`), but
    // not an O_PATH one. The writer needs a real one for its flock, and
    // keeps it until its connection is closed.
    let flags = if writable {
        FLAGS
    } else {
        FLAGS | libc::O_PATH
    };
    options.read(true).write(writable).custom_flags(flags);
    if seen.is_none() {
        options.create_new(true).mode(0o600);
    }
    let file = options.open(path).map_err(|source| {
        if source.raw_os_error() == Some(libc::ELOOP) {
            unsafe_path(path, UnsafePath::SymbolicLink)
        } else {
            io_error(path, if seen.is_some() { "open" } else { "create" })(source)
        }
    })?;
    let meta = file.metadata().map_err(io_error(path, "fstat"))?;
    if let Some(kind) = kind_of(meta.file_type()) {
        return Err(unsafe_path(path, UnsafePath::NotRegularFile(kind)));
    }
    if seen.is_some_and(|seen| (seen.dev(), seen.ino()) != (meta.dev(), meta.ino())) {
        return Err(unsafe_path(path, UnsafePath::Replaced));
    }
    let caller = caller_uid();
    if writable && meta.uid() != caller {
        return Err(unsafe_path(
            path,
            UnsafePath::ForeignOwner {
                owner: meta.uid(),
                caller,
            },
        ));
    }
    Ok(file)
}

/// `<db>-journal` and `<db>-wal`, if present, must be regular files
/// (owned by the caller, if `writable`): SQLite would open them.
fn check_companions(path: &Path, writable: bool) -> Result<(), StoreError> {
    let caller = caller_uid();
    for suffix in ["-journal", "-wal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let companion = Path::new(&name);
        let meta = match std::fs::symlink_metadata(companion) {
            Ok(meta) => meta,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(io_error(companion, "stat")(source)),
        };
        if meta.file_type().is_symlink() {
            return Err(unsafe_path(companion, UnsafePath::SymbolicLink));
        }
        if let Some(kind) = kind_of(meta.file_type()) {
            return Err(unsafe_path(companion, UnsafePath::NotRegularFile(kind)));
        }
        if writable && meta.uid() != caller {
            return Err(unsafe_path(
                companion,
                UnsafePath::ForeignOwner {
                    owner: meta.uid(),
                    caller,
                },
            ));
        }
    }
    Ok(())
}

/// After SQLite opened `path`: it must still name `file`.
fn check_same_file(file: &File, path: &Path) -> Result<(), StoreError> {
    let opened = file.metadata().map_err(io_error(path, "fstat"))?;
    let now = std::fs::symlink_metadata(path).map_err(io_error(path, "stat"))?;
    if (now.dev(), now.ino()) == (opened.dev(), opened.ino()) {
        Ok(())
    } else {
        Err(unsafe_path(path, UnsafePath::Replaced))
    }
}

/// Takes the recorder's exclusive lock on the database (see the module
/// docs): `flock`, which is apart from SQLite's own `fcntl` locks.
fn lock_database(file: &File, path: &Path) -> Result<(), StoreError> {
    match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(StoreError::Locked {
            path: path.to_owned(),
            holder: lock_holder(file),
        }),
        Err(errno) => Err(io_error(path, "lock")(errno.into())),
    }
}

/// The process holding a `flock` on `file`, from `/proc/locks` (read at
/// most 1 MiB of it).
fn lock_holder(file: &File) -> Option<LockHolder> {
    let meta = file.metadata().ok()?;
    let dev = meta.dev();
    let id = format!(
        "{:02x}:{:02x}:{}",
        rustix::fs::major(dev),
        rustix::fs::minor(dev),
        meta.ino()
    );
    let mut locks = String::new();
    File::open("/proc/locks")
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut locks)
        .ok()?;
    // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiters have "->".
    let pid = locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().take(7).collect();
        match fields.as_slice() {
            [_, "FLOCK", _, "WRITE", pid, file, ..] if *file == id => pid.parse::<u32>().ok(),
            _ => None,
        }
    })?;
    let mut name = String::new();
    let name = File::open(format!("/proc/{pid}/comm"))
        .and_then(|comm| comm.take(64).read_to_string(&mut name))
        .ok()
        .map(|_| name.trim().to_owned())
        .filter(|name| !name.is_empty());
    Some(LockHolder { pid, name })
}

/// Checks that an open database is a trend database (or empty).
fn check_identity(conn: &Connection, path: &Path, writable: bool) -> Result<(), StoreError> {
    let app: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|source| StoreError::NotTrendDatabase {
            path: path.to_owned(),
            reason: source.to_string(),
        })?;
    let version: i32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sqlite_error(path, "read the schema version"))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(sqlite_error(path, "read the schema"))?;
    if app == 0 && version == 0 && tables == 0 {
        return if writable {
            Ok(())
        } else {
            Err(StoreError::NotTrendDatabase {
                path: path.to_owned(),
                reason: "empty (nothing recorded yet)".into(),
            })
        };
    }
    if app != APPLICATION_ID {
        return Err(StoreError::NotTrendDatabase {
            path: path.to_owned(),
            reason: format!("application id {app:#x}, not {APPLICATION_ID:#x}"),
        });
    }
    if version != SCHEMA_VERSION {
        return Err(StoreError::NotTrendDatabase {
            path: path.to_owned(),
            reason: format!("schema version {version}, this mmdump reads {SCHEMA_VERSION}"),
        });
    }
    Ok(())
}

/// The writable trend database.
#[derive(Debug)]
pub struct TrendStore {
    conn: Connection,
    path: PathBuf,
    retention: Retention,
    page_size: u64,
    /// (name, kind) -> series id.
    ids: HashMap<(String, &'static str), i64>,
    /// Series id -> the last string stored.
    last_text: HashMap<i64, String>,
    /// A smaller page cap learnt when the file system filled.
    disk_cap_pages: Option<u64>,
    /// What happened that the caller should hear of (at most 16 kept).
    notices: Vec<StoreNotice>,
    /// The database as checked and locked; after `conn`, so it is closed
    /// after SQLite's descriptors (closing any descriptor of the file
    /// drops the process's `fcntl` locks on it).
    file: File,
}

/// Something the store did on its own that its caller should log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreNotice {
    /// The file system was full: the oldest history was deleted and the
    /// database capped smaller.
    DiskFull {
        /// Rows deleted.
        deleted_rows: usize,
        /// The database's new size cap, in bytes.
        cap_bytes: u64,
    },
}

impl fmt::Display for StoreNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DiskFull {
                deleted_rows,
                cap_bytes,
            } => write!(
                f,
                "the file system is full: deleted the {deleted_rows} oldest values, \
                 the database is now capped at {cap_bytes} bytes"
            ),
        }
    }
}

/// The longest-standing advice on logging errors: at most one line per
/// this long ([`LogLimiter`]).
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Lets a line through at most once per interval, counting those held
/// back (so a recorder failing every second logs one line per 10 s).
#[derive(Debug)]
pub struct LogLimiter {
    every: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl LogLimiter {
    /// At most one line per `every`.
    #[must_use]
    pub const fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            held_back: 0,
        }
    }

    /// Whether a line may be written now: `Some(n)` if so, `n` being the
    /// lines held back since the last one written.
    pub fn admit(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.every)
        {
            self.held_back += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held_back))
    }
}

impl TrendStore {
    /// Opens the database at `path`, creating it (mode 0600) if needed.
    pub fn open(path: impl AsRef<Path>, retention: Retention) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if retention.max_bytes < MIN_MAX_BYTES {
            return Err(StoreError::Config(format!(
                "the size bound must be at least {} KiB",
                MIN_MAX_BYTES >> 10
            )));
        }
        if retention.raw.is_zero()
            || retention.minutes < retention.raw
            || retention.hours < retention.minutes
        {
            return Err(StoreError::Config(
                "retention must be raw > 0, minutes >= raw, hours >= minutes".into(),
            ));
        }
        check_directory(path)?;
        let file = open_database(path, true)?;
        lock_database(&file, path)?;
        check_companions(path, true)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_NOFOLLOW,
        )
        .map_err(sqlite_error(path, "open"))?;
        check_same_file(&file, path)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(sqlite_error(path, "set the busy timeout"))?;
        check_identity(&conn, path, true)?;
        let fresh: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(sqlite_error(path, "read the application id"))?;
        if fresh == 0 {
            // Before any table exists: pages freed by deletes can then be
            // given back to the file system.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(sqlite_error(path, "set auto_vacuum"))?;
        }
        let page_size: u64 = conn
            .pragma_query_value(None, "page_size", |r| r.get::<_, i64>(0))
            .map_err(sqlite_error(path, "read the page size"))? as u64;
        // A rollback journal: it exists only while a transaction runs
        // and holds at most the pages that transaction changes, so the
        // database file alone is what the size bound has to hold down
        // (a write-ahead log would keep growing by whole transactions
        // between checkpoints). The recorder writes one small transaction
        // per interval; readers wait for it (busy timeout).
        conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0))
            .map_err(sqlite_error(path, "set the journal mode"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite_error(path, "set synchronous"))?;
        conn.execute_batch(SCHEMA)
            .map_err(sqlite_error(path, "create the tables"))?;
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(sqlite_error(path, "set the application id"))?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(sqlite_error(path, "set the schema version"))?;
        // The strings stored last, so a restart does not store them again.
        let last_text = {
            let mut statement = conn
                .prepare(
                    "SELECT series, value FROM texts AS a
                     WHERE t = (SELECT max(t) FROM texts AS b WHERE b.series = a.series)",
                )
                .map_err(sqlite_error(path, "read the last strings"))?;
            statement
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .and_then(Iterator::collect::<Result<HashMap<_, _>, _>>)
                .map_err(sqlite_error(path, "read the last strings"))?
        };
        let mut store = Self {
            conn,
            path: path.to_owned(),
            retention,
            page_size,
            ids: HashMap::new(),
            last_text,
            disk_cap_pages: None,
            notices: Vec::new(),
            file,
        };
        store.set_page_cap()?;
        Ok(store)
    }

    /// The database's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The retention in force.
    #[must_use]
    pub const fn retention(&self) -> Retention {
        self.retention
    }

    /// Pages the database may hold: the size bound's, or less if the
    /// file system filled.
    fn page_cap(&self) -> u64 {
        let bound = (self.retention.max_bytes / self.page_size).max(16);
        self.disk_cap_pages.map_or(bound, |disk| disk.min(bound))
    }

    /// What the store did on its own since the last call (a full disk).
    pub fn take_notices(&mut self) -> Vec<StoreNotice> {
        std::mem::take(&mut self.notices)
    }

    fn notice(&mut self, notice: StoreNotice) {
        if self.notices.len() < 16 {
            self.notices.push(notice);
        }
    }

    fn set_journal_mode(&self, mode: &str) -> Result<(), StoreError> {
        self.conn
            .pragma_update_and_check(None, "journal_mode", mode, |r| r.get::<_, String>(0))
            .map(drop)
            .map_err(sqlite_error(&self.path, "set the journal mode"))
    }

    /// After `SQLITE_FULL`: prunes to make room, and learns a smaller cap
    /// if it was the file system that filled (see the module docs).
    fn make_room(&mut self, now_ms: i64) -> Result<(), StoreError> {
        let pages = self.page_count()?;
        let cap = self.page_cap();
        if pages + 2 >= cap {
            // The database's own cap.
            self.prune_to(cap * 7 / 10, now_ms)?;
            return Ok(());
        }
        let disk_cap = (pages * 8 / 10).max(16);
        self.disk_cap_pages = Some(disk_cap);
        // No room on disk for a rollback journal: keep the deletes'
        // journal in memory (a crash in these few milliseconds could
        // leave the database corrupt; a full disk has no better choice).
        self.set_journal_mode("MEMORY")?;
        let pruned = self.prune_to(disk_cap * 7 / 10, now_ms);
        let restored = self.set_journal_mode("DELETE");
        let deleted_rows = pruned?;
        restored?;
        self.set_page_cap()?;
        self.notice(StoreNotice::DiskFull {
            deleted_rows,
            cap_bytes: disk_cap * self.page_size,
        });
        Ok(())
    }

    /// Lets a cap learnt from a full file system grow with the room the
    /// file system has again (half its free space), up to the size bound.
    fn regrow_disk_cap(&mut self) -> Result<(), StoreError> {
        let Some(disk_cap) = self.disk_cap_pages else {
            return Ok(());
        };
        let Ok(fs) = rustix::fs::fstatvfs(&self.file) else {
            return Ok(());
        };
        let free_pages = fs.f_bavail.saturating_mul(fs.f_frsize) / self.page_size;
        let room = self.page_count()?.saturating_add(free_pages / 2);
        if room > disk_cap {
            let bound = (self.retention.max_bytes / self.page_size).max(16);
            self.disk_cap_pages = (room < bound).then_some(room);
            self.set_page_cap()?;
        }
        Ok(())
    }

    fn set_page_cap(&mut self) -> Result<(), StoreError> {
        let current = self.page_count()?;
        // A database already larger than the cap (a smaller bound given
        // to an existing file) is pruned first.
        if current > self.page_cap() {
            self.prune_to(
                self.page_cap() * 8 / 10,
                mmstats::os::now_ns() as i64 / 1_000_000,
            )?;
        }
        let cap = self.page_cap().max(self.page_count()?);
        self.conn
            .pragma_update(None, "max_page_count", cap as i64)
            .map_err(sqlite_error(&self.path, "set max_page_count"))
    }

    fn page_count(&self) -> Result<u64, StoreError> {
        self.conn
            .pragma_query_value(None, "page_count", |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(sqlite_error(&self.path, "read page_count"))
    }

    fn used_pages(&self) -> Result<u64, StoreError> {
        let free: i64 = self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))
            .map_err(sqlite_error(&self.path, "read freelist_count"))?;
        Ok(self.page_count()?.saturating_sub(free as u64))
    }

    /// The sizes of the database's files now.
    pub fn size(&self) -> Result<StoreSize, StoreError> {
        let file_len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut journal = self.path.as_os_str().to_owned();
        journal.push("-journal");
        Ok(StoreSize {
            db_bytes: file_len(&self.path),
            journal_bytes: file_len(Path::new(&journal)),
            used_bytes: self.used_pages()? * self.page_size,
        })
    }

    fn series_id(&mut self, row: &SampleRow<'_>) -> Result<i64, rusqlite::Error> {
        if let Some(&id) = self.ids.get(&(row.name.to_owned(), row.kind)) {
            return Ok(id);
        }
        let id: i64 = self.conn.query_row(
            "INSERT INTO series (name, kind, unit) VALUES (?1, ?2, ?3)
             ON CONFLICT (name, kind) DO UPDATE SET unit = excluded.unit
             RETURNING id",
            params![row.name, row.kind, row.unit],
            |r| r.get(0),
        )?;
        self.ids.insert((row.name.to_owned(), row.kind), id);
        Ok(id)
    }

    /// Stores one sample of every row at `t_ms`; returns the rows stored.
    pub fn record(&mut self, t_ms: i64, rows: &[SampleRow<'_>]) -> Result<usize, StoreError> {
        match self.try_record(t_ms, rows) {
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::DiskFull => {
                // The page cap was reached, or the file system is full:
                // make room and try once more.
                self.make_room(t_ms)?;
                self.try_record(t_ms, rows)
                    .map_err(sqlite_error(&self.path, "record"))
            }
            other => other.map_err(sqlite_error(&self.path, "record")),
        }
    }

    fn try_record(&mut self, t_ms: i64, rows: &[SampleRow<'_>]) -> Result<usize, rusqlite::Error> {
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            ids.push(self.series_id(row)?);
        }
        let tx = self.conn.transaction()?;
        let mut stored = 0;
        let mut new_texts = Vec::new();
        {
            let mut sample = tx.prepare(
                "INSERT INTO samples (series, tier, t, value, min, max, rate, n)
                 VALUES (?1, 0, ?2, ?3, ?3, ?3, ?4, 1)
                 ON CONFLICT (series, tier, t) DO UPDATE
                 SET value = excluded.value, min = excluded.min, max = excluded.max,
                     rate = excluded.rate",
            )?;
            let mut text = tx.prepare(
                "INSERT INTO texts (series, t, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (series, t) DO UPDATE SET value = excluded.value",
            )?;
            for (row, &id) in rows.iter().zip(&ids) {
                if let Some(value) = row.text {
                    if self.last_text.get(&id).is_none_or(|last| last != value) {
                        text.execute(params![id, t_ms, value])?;
                        new_texts.push((id, value.to_owned()));
                        stored += 1;
                    }
                } else if row.value.is_some() {
                    sample.execute(params![id, t_ms, row.value, row.rate])?;
                    stored += 1;
                }
            }
        }
        tx.commit()?;
        self.last_text.extend(new_texts);
        Ok(stored)
    }

    /// Stores a combined `watch` frame (its first group).
    pub fn record_frame(&mut self, frame: &Frame) -> Result<usize, StoreError> {
        let Some(group) = frame.groups.first() else {
            return Ok(0);
        };
        let rows: Vec<SampleRow<'_>> = group.rows.iter().map(SampleRow::of_row).collect();
        self.record((frame.time_ns / 1_000_000) as i64, &rows)
    }

    /// Series ids present in the database.
    fn all_series(&self) -> Result<Vec<i64>, rusqlite::Error> {
        let mut statement = self.conn.prepare("SELECT id FROM series ORDER BY id")?;
        let ids = statement
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(ids)
    }

    /// Folds old samples into coarser tiers, deletes expired ones, and
    /// keeps the database under its size bound.
    pub fn maintain(&mut self, now_ms: i64) -> Result<Maintenance, StoreError> {
        let mut done = self
            .fold_and_expire(now_ms)
            .map_err(sqlite_error(&self.path, "downsample"))?;
        self.regrow_disk_cap()?;
        let cap = self.page_cap();
        if self.used_pages()? > cap * 9 / 10 {
            done.pruned += self.prune_to(cap * 8 / 10, now_ms)?;
        }
        self.vacuum()?;
        Ok(done)
    }

    fn fold_and_expire(&mut self, now_ms: i64) -> Result<Maintenance, rusqlite::Error> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let floor = |t: i64, step: i64| t.div_euclid(step) * step;
        let raw_cut = floor(now_ms.saturating_sub(ms(self.retention.raw)), MINUTE_MS);
        let minute_cut = floor(now_ms.saturating_sub(ms(self.retention.minutes)), HOUR_MS);
        let hour_cut = now_ms.saturating_sub(ms(self.retention.hours));
        let ids = self.all_series()?;
        let tx = self.conn.transaction()?;
        let mut done = Maintenance::default();
        {
            // Weighted means; SQLite's division by zero gives NULL (a
            // bucket without any known rate has none).
            let fold = |from: i64, to: i64, step: i64| {
                format!(
                    "INSERT INTO samples (series, tier, t, value, min, max, rate, n)
                     SELECT series, {to}, (t / {step}) * {step} AS bucket,
                            sum(value * n) / sum(n), min(min), max(max),
                            sum(rate * n) / sum(CASE WHEN rate IS NULL THEN 0 ELSE n END),
                            sum(n)
                     FROM samples WHERE series = ?1 AND tier = {from} AND t < ?2
                     GROUP BY bucket
                     ON CONFLICT (series, tier, t) DO UPDATE SET
                        value = (value * n + excluded.value * excluded.n) / (n + excluded.n),
                        min = min(min, excluded.min),
                        max = max(max, excluded.max),
                        rate = CASE WHEN rate IS NULL THEN excluded.rate
                                    WHEN excluded.rate IS NULL THEN rate
                                    ELSE (rate * n + excluded.rate * excluded.n) / (n + excluded.n) END,
                        n = n + excluded.n"
                )
            };
            let mut fold_raw = tx.prepare(&fold(0, 1, MINUTE_MS))?;
            let mut fold_minutes = tx.prepare(&fold(1, 2, HOUR_MS))?;
            let mut delete =
                tx.prepare("DELETE FROM samples WHERE series = ?1 AND tier = ?2 AND t < ?3")?;
            let mut expire_texts = tx.prepare(
                "DELETE FROM texts WHERE series = ?1 AND t < ?2
                 AND t < (SELECT max(t) FROM texts WHERE series = ?1)",
            )?;
            for &id in &ids {
                fold_raw.execute(params![id, raw_cut])?;
                done.folded_raw += delete.execute(params![id, 0, raw_cut])?;
                fold_minutes.execute(params![id, minute_cut])?;
                done.folded_minutes += delete.execute(params![id, 1, minute_cut])?;
                done.expired += delete.execute(params![id, 2, hour_cut])?;
                done.expired += expire_texts.execute(params![id, hour_cut])?;
            }
            // Series with nothing left.
            done.expired += tx.execute(
                "DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM samples WHERE series = series.id)
                 AND NOT EXISTS (SELECT 1 FROM texts WHERE series = series.id)",
                [],
            )?;
        }
        tx.commit()?;
        self.forget_deleted_series()?;
        Ok(done)
    }

    /// Drops cached ids of series no longer in the database.
    fn forget_deleted_series(&mut self) -> Result<(), rusqlite::Error> {
        let present: std::collections::HashSet<i64> = self.all_series()?.into_iter().collect();
        self.ids.retain(|_, id| present.contains(id));
        self.last_text.retain(|id, _| present.contains(id));
        Ok(())
    }

    /// Deletes the oldest history until at most `target_pages` pages are
    /// in use; returns the rows deleted.
    fn prune_to(&mut self, target_pages: u64, now_ms: i64) -> Result<usize, StoreError> {
        let mut deleted = 0;
        for _ in 0..40 {
            if self.used_pages()? <= target_pages {
                break;
            }
            let removed = self
                .delete_oldest_tenth(now_ms)
                .map_err(sqlite_error(&self.path, "prune"))?;
            deleted += removed;
            self.vacuum()?;
            if removed == 0 {
                break;
            }
        }
        Ok(deleted)
    }

    fn delete_oldest_tenth(&mut self, now_ms: i64) -> Result<usize, rusqlite::Error> {
        let ids = self.all_series()?;
        let mut oldest: Option<i64> = None;
        {
            let mut first = self
                .conn
                .prepare("SELECT min(t) FROM samples WHERE series = ?1 AND tier = ?2")?;
            let mut first_text = self
                .conn
                .prepare("SELECT min(t) FROM texts WHERE series = ?1")?;
            for &id in &ids {
                for tier in 0..3 {
                    let t: Option<i64> = first.query_row(params![id, tier], |r| r.get(0))?;
                    oldest = match (oldest, t) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                let t: Option<i64> = first_text.query_row(params![id], |r| r.get(0))?;
                oldest = match (oldest, t) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        let Some(oldest) = oldest else { return Ok(0) };
        let cut = oldest + ((now_ms - oldest) / 10).max(1);
        let tx = self.conn.transaction()?;
        let mut deleted = 0;
        {
            let mut samples =
                tx.prepare("DELETE FROM samples WHERE series = ?1 AND tier = ?2 AND t < ?3")?;
            let mut texts = tx.prepare("DELETE FROM texts WHERE series = ?1 AND t < ?2")?;
            for &id in &ids {
                for tier in 0..3 {
                    deleted += samples.execute(params![id, tier, cut])?;
                }
                deleted += texts.execute(params![id, cut])?;
            }
            tx.execute(
                "DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM samples WHERE series = series.id)
                 AND NOT EXISTS (SELECT 1 FROM texts WHERE series = series.id)",
                [],
            )?;
        }
        tx.commit()?;
        self.forget_deleted_series()?;
        Ok(deleted)
    }

    /// Gives free pages back to the file system.
    fn vacuum(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA incremental_vacuum;")
            .map_err(sqlite_error(&self.path, "incremental vacuum"))
    }

    /// Read access through the same connection.
    #[must_use]
    pub fn reader(&self) -> TrendQuery<'_> {
        TrendQuery {
            conn: &self.conn,
            path: &self.path,
        }
    }
}

/// A read-only connection to a trend database (the dashboard's, or
/// `mmdump trend`'s).
#[derive(Debug)]
pub struct TrendReader {
    conn: Connection,
    path: PathBuf,
    /// The database as checked; after `conn` (see [`TrendStore`]).
    _file: File,
}

impl TrendReader {
    /// Opens `path` read-only (never created, never a symbolic link, a
    /// FIFO or a device; see the module docs).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let file = open_database(path, false)?;
        check_companions(path, false)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_NOFOLLOW,
        )
        .map_err(sqlite_error(path, "open"))?;
        check_same_file(&file, path)?;
        conn.busy_timeout(Duration::from_secs(2))
            .map_err(sqlite_error(path, "set the busy timeout"))?;
        check_identity(&conn, path, false)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            _file: file,
        })
    }

    /// Queries.
    #[must_use]
    pub fn query(&self) -> TrendQuery<'_> {
        TrendQuery {
            conn: &self.conn,
            path: &self.path,
        }
    }
}

/// Queries over a trend database.
#[derive(Clone, Copy, Debug)]
pub struct TrendQuery<'c> {
    conn: &'c Connection,
    path: &'c Path,
}

impl TrendQuery<'_> {
    /// Every series, by name.
    pub fn series(&self) -> Result<Vec<SeriesInfo>, StoreError> {
        let run = || -> Result<Vec<SeriesInfo>, rusqlite::Error> {
            let mut statement = self
                .conn
                .prepare("SELECT id, name, kind, unit FROM series ORDER BY name, kind")?;
            statement
                .query_map([], |r| {
                    Ok(SeriesInfo {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        kind: r.get(2)?,
                        unit: r.get(3)?,
                    })
                })?
                .collect()
        };
        run().map_err(sqlite_error(self.path, "list series"))
    }

    /// Per series: samples stored (all tiers) and the first and last
    /// time (strings: their changes).
    pub fn summary(&self) -> Result<Vec<SeriesSummary>, StoreError> {
        let series = self.series()?;
        let run = |info: &SeriesInfo| -> Result<(u64, Option<i64>, Option<i64>), rusqlite::Error> {
            let table = if info.kind == "string" {
                "texts"
            } else {
                "samples"
            };
            self.conn.query_row(
                &format!("SELECT count(*), min(t), max(t) FROM {table} WHERE series = ?1"),
                params![info.id],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?)),
            )
        };
        series
            .into_iter()
            .map(|info| {
                let (rows, first_ms, last_ms) =
                    run(&info).map_err(sqlite_error(self.path, "summarise a series"))?;
                Ok(SeriesSummary {
                    info,
                    rows,
                    first_ms,
                    last_ms,
                })
            })
            .collect()
    }

    /// The series named `name` (any kind; the first by kind if several).
    pub fn find(&self, name: &str) -> Result<Option<SeriesInfo>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, name, kind, unit FROM series WHERE name = ?1 ORDER BY kind LIMIT 1",
                params![name],
                |r| {
                    Ok(SeriesInfo {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        kind: r.get(2)?,
                        unit: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(sqlite_error(self.path, "find a series"))
    }

    /// Rows per tier (0, 1, 2) of the samples table, and of the texts.
    pub fn row_counts(&self) -> Result<([u64; 3], u64), StoreError> {
        let run = || -> Result<([u64; 3], u64), rusqlite::Error> {
            let mut tiers = [0u64; 3];
            let mut statement = self
                .conn
                .prepare("SELECT tier, count(*) FROM samples GROUP BY tier")?;
            let rows =
                statement.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (tier, count) = row?;
                if let Some(slot) = usize::try_from(tier).ok().and_then(|t| tiers.get_mut(t)) {
                    *slot = count as u64;
                }
            }
            let texts: i64 = self
                .conn
                .query_row("SELECT count(*) FROM texts", [], |r| r.get(0))?;
            Ok((tiers, texts as u64))
        };
        run().map_err(sqlite_error(self.path, "count rows"))
    }

    /// The history of a series between `since_ms` and `until_ms`, at most
    /// about `max_points` points: the finest tier where it has data, the
    /// coarser tiers before that, averaged into equal steps.
    pub fn history(
        &self,
        series: i64,
        since_ms: i64,
        until_ms: i64,
        max_points: usize,
    ) -> Result<Vec<Point>, StoreError> {
        let span = (until_ms - since_ms).max(1);
        let step = (span / max_points.max(1) as i64).max(1);
        let run = || -> Result<Vec<Point>, rusqlite::Error> {
            let mut statement = self.conn.prepare(
                "SELECT (t / ?1) * ?1 AS bucket, sum(value * n) / sum(n), min(min), max(max),
                        sum(rate * n) / sum(CASE WHEN rate IS NULL THEN 0 ELSE n END)
                 FROM samples WHERE series = ?2 AND tier = ?3 AND t >= ?4 AND t <= ?5
                 GROUP BY bucket ORDER BY bucket",
            )?;
            let mut points: Vec<Point> = Vec::new();
            // Finest first; a coarser tier fills in only before the first
            // point of the finer ones.
            let mut covered_from = i64::MAX;
            for tier in 0u8..3 {
                let rows =
                    statement.query_map(params![step, series, tier, since_ms, until_ms], |r| {
                        Ok(Point {
                            t_ms: r.get(0)?,
                            value: r.get(1)?,
                            min: r.get(2)?,
                            max: r.get(3)?,
                            rate: r.get(4)?,
                            tier,
                        })
                    })?;
                let mut first = None;
                for point in rows {
                    let point = point?;
                    if point.t_ms < covered_from {
                        first = Some(first.map_or(point.t_ms, |f: i64| f.min(point.t_ms)));
                        points.push(point);
                    }
                }
                if let Some(first) = first {
                    covered_from = covered_from.min(first);
                }
            }
            points.sort_by_key(|p| p.t_ms);
            Ok(points)
        };
        run().map_err(sqlite_error(self.path, "read history"))
    }

    /// A string series' changes between `since_ms` and `until_ms` (at
    /// most `limit`, the newest).
    pub fn texts(
        &self,
        series: i64,
        since_ms: i64,
        until_ms: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let run = || -> Result<Vec<(i64, String)>, rusqlite::Error> {
            let mut statement = self.conn.prepare(
                "SELECT t, value FROM texts WHERE series = ?1 AND t >= ?2 AND t <= ?3
                 ORDER BY t DESC LIMIT ?4",
            )?;
            let mut rows = statement
                .query_map(params![series, since_ms, until_ms, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.reverse();
            Ok(rows)
        };
        run().map_err(sqlite_error(self.path, "read strings"))
    }
}

/// Records combined frames at an interval and maintains the database
/// every minute (used by `serve --record`; `mmdump record` drives a
/// [`TrendStore`] itself the same way).
#[derive(Debug)]
pub struct Recorder {
    store: TrendStore,
    interval: Duration,
    last_record: Option<Instant>,
    last_maintenance: Option<Instant>,
}

/// How often the database is maintained while recording.
pub const MAINTAIN_EVERY: Duration = Duration::from_secs(60);

impl Recorder {
    /// Records into `store` every `interval`.
    #[must_use]
    pub const fn new(store: TrendStore, interval: Duration) -> Self {
        Self {
            store,
            interval,
            last_record: None,
            last_maintenance: None,
        }
    }

    /// Records `frame` if an interval has passed since the last record
    /// (a little early counts: frames come on a grid); maintains the
    /// database when due. Returns the rows stored.
    pub fn offer(&mut self, frame: &Frame) -> Result<usize, StoreError> {
        let now = Instant::now();
        let due = self
            .last_record
            .is_none_or(|at| now.duration_since(at) + Duration::from_millis(100) >= self.interval);
        if !due {
            return Ok(0);
        }
        self.last_record = Some(now);
        let stored = self.store.record_frame(frame)?;
        if self
            .last_maintenance
            .is_none_or(|at| now.duration_since(at) >= MAINTAIN_EVERY)
        {
            self.last_maintenance = Some(now);
            self.store.maintain((frame.time_ns / 1_000_000) as i64)?;
        }
        Ok(stored)
    }

    /// The store.
    #[must_use]
    pub const fn store(&self) -> &TrendStore {
        &self.store
    }

    /// What the store did on its own (a full disk) since the last call.
    pub fn take_notices(&mut self) -> Vec<StoreNotice> {
        self.store.take_notices()
    }
}

/// Why a duration or a size option was refused (the text is as given,
/// trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuantityError {
    /// No number where a duration was expected.
    NotADuration {
        /// The text given.
        text: String,
    },
    /// No number where a size was expected.
    NotASize {
        /// The text given.
        text: String,
    },
    /// A duration unit other than ms, s, m, h, d, w.
    UnknownDurationUnit {
        /// The unit given.
        unit: String,
    },
    /// A size unit other than K, M, G.
    UnknownSizeUnit {
        /// The unit given (upper-cased, without `B`/`iB`).
        unit: String,
    },
    /// Negative, or beyond 1e10 seconds or 1e15 bytes.
    OutOfRange {
        /// The text given.
        text: String,
    },
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotADuration { text } => {
                write!(f, "{text:?} is not a duration (such as 30s, 5m, 2h, 8d)")
            }
            Self::NotASize { text } => write!(f, "{text:?} is not a size (such as 512K, 64M, 1G)"),
            Self::UnknownDurationUnit { unit } => {
                write!(f, "unknown duration unit {unit:?} (ms, s, m, h, d, w)")
            }
            Self::UnknownSizeUnit { unit } => write!(f, "unknown size unit {unit:?} (K, M, G)"),
            Self::OutOfRange { text } => write!(f, "{text:?} is out of range"),
        }
    }
}

impl std::error::Error for QuantityError {}

/// Parses a duration: a number with `ms`, `s`, `m`, `h`, `d` or `w`
/// (`500ms`, `30s`, `5m`, `2h`, `8d`, `1w`); a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, QuantityError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| QuantityError::NotADuration { text: text.into() })?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        "w" => value * 7.0 * 86_400.0,
        other => {
            return Err(QuantityError::UnknownDurationUnit { unit: other.into() });
        }
    };
    if !seconds.is_finite() || !(0.0..=1e10).contains(&seconds) {
        return Err(QuantityError::OutOfRange { text: text.into() });
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a size: a number with `K`, `M` or `G` (powers of 1024,
/// optionally followed by `B` or `iB`); a bare number is bytes.
pub fn parse_size(text: &str) -> Result<u64, QuantityError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| QuantityError::NotASize { text: text.into() })?;
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit.trim_end_matches("IB").trim_end_matches('B');
    let factor = match unit {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(QuantityError::UnknownSizeUnit { unit: other.into() }),
    };
    let bytes = value * factor;
    if !bytes.is_finite() || !(0.0..=1e15).contains(&bytes) {
        return Err(QuantityError::OutOfRange { text: text.into() });
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, value: f64, rate: Option<f64>) -> SampleRow<'_> {
        SampleRow {
            name,
            kind: "counter",
            unit: "",
            value: Some(value),
            rate,
            text: None,
        }
    }

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("3X").is_err());
    }

    #[test]
    fn samples_fold_into_minutes_and_hours_and_expire() {
        let dir = scratch();
        let path = dir.path().join("t.db");
        let retention = Retention {
            raw: Duration::from_secs(120),
            minutes: Duration::from_secs(3 * 3600),
            hours: Duration::from_secs(48 * 3600),
            max_bytes: 8 << 20,
        };
        let mut store = TrendStore::open(&path, retention).unwrap();
        let start = 1_700_000_000_000i64 / HOUR_MS * HOUR_MS;
        // A value rising by 1 every 10 s for 6 hours, rate 0.1/s.
        for i in 0..(6 * 360) {
            let t = start + i * 10_000;
            store.record(t, &[row("c", i as f64, Some(0.1))]).unwrap();
            if i % 60 == 0 {
                store.maintain(t).unwrap();
            }
        }
        let now = start + 6 * HOUR_MS;
        store.maintain(now).unwrap();
        let (tiers, _) = store.reader().row_counts().unwrap();
        // Raw: the last 2 minutes (aligned to a minute): 12 to 18 samples.
        assert!((12..=18).contains(&tiers[0]), "{tiers:?}");
        // Minutes: back to the hour boundary 3 h ago (up to ~4 hours).
        assert!((170..=240).contains(&tiers[1]), "{tiers:?}");
        // Hours: the rest (2 to 3 hours' buckets).
        assert!((2..=4).contains(&tiers[2]), "{tiers:?}");
        let series = store.reader().find("c").unwrap().unwrap();
        let points = store
            .reader()
            .history(series.id, start, now, 10_000)
            .unwrap();
        // Continuous: hours, then minutes, then raw, in time order.
        assert_eq!(points.first().unwrap().tier, 2);
        assert_eq!(points.last().unwrap().tier, 0);
        assert!(points.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
        // An hour bucket's mean of 0..360 + k*360 and its min/max.
        let first = &points[0];
        assert_eq!(first.min, Some(0.0));
        assert_eq!(first.max, Some(359.0));
        assert!((first.value.unwrap() - 179.5).abs() < 1e-9, "{first:?}");
        assert!((first.rate.unwrap() - 0.1).abs() < 1e-9);
        // Two days later, everything but the newest hours is gone.
        store.maintain(now + 2 * 24 * HOUR_MS).unwrap();
        let (tiers, _) = store.reader().row_counts().unwrap();
        assert_eq!(tiers, [0, 0, 0], "all expired");
        assert!(store.reader().series().unwrap().is_empty());
    }

    #[test]
    fn strings_are_stored_when_they_change() {
        let dir = scratch();
        let mut store = TrendStore::open(dir.path().join("t.db"), Retention::default()).unwrap();
        let text = |v: &'static str| SampleRow {
            name: "version",
            kind: "string",
            unit: "",
            value: None,
            rate: None,
            text: Some(v),
        };
        assert_eq!(store.record(1000, &[text("a")]).unwrap(), 1);
        assert_eq!(store.record(2000, &[text("a")]).unwrap(), 0);
        assert_eq!(store.record(3000, &[text("b")]).unwrap(), 1);
        // Reopened (a recorder restarted): the last string is known.
        drop(store);
        let mut store = TrendStore::open(dir.path().join("t.db"), Retention::default()).unwrap();
        assert_eq!(store.record(4000, &[text("b")]).unwrap(), 0);
        let series = store.reader().find("version").unwrap().unwrap();
        assert_eq!(
            store.reader().texts(series.id, 0, 10_000, 10).unwrap(),
            vec![(1000, "a".to_owned()), (3000, "b".to_owned())]
        );
    }

    /// A directory for test databases: in memory (`/dev/shm`) when there
    /// is one, since every commit syncs.
    fn scratch() -> tempfile::TempDir {
        tempfile::tempdir_in("/dev/shm").unwrap_or_else(|_| tempfile::tempdir().unwrap())
    }

    #[test]
    fn the_database_stays_under_its_size_bound() {
        let dir = scratch();
        let path = dir.path().join("t.db");
        let retention = Retention {
            max_bytes: MIN_MAX_BYTES,
            ..Retention::default()
        };
        let mut store = TrendStore::open(&path, retention).unwrap();
        let names: Vec<String> = (0..20).map(|i| format!("field.number.{i}")).collect();
        let start = 1_700_000_000_000i64;
        let seconds = 40 * 60;
        let mut largest = 0;
        // 20 fields a second for 40 minutes, all kept raw by the default
        // retention: 48,000 rows, several times what 256 KiB holds.
        for i in 0..seconds {
            let t = start + i * 1000;
            let rows: Vec<SampleRow<'_>> =
                names.iter().map(|n| row(n, i as f64, Some(1.0))).collect();
            store.record(t, &rows).unwrap();
            if i % 60 == 0 {
                store.maintain(t).unwrap();
            }
            let size = store.size().unwrap();
            assert_eq!(size.journal_bytes, 0, "no journal between transactions");
            largest = largest.max(size.db_bytes);
        }
        assert!(
            largest <= MIN_MAX_BYTES,
            "the database reached {largest} bytes, bound {MIN_MAX_BYTES}"
        );
        // It was pruned: far fewer rows than were recorded ...
        let (tiers, _) = store.reader().row_counts().unwrap();
        let kept: u64 = tiers.iter().sum();
        println!(
            "{} samples recorded, {kept} kept ({tiers:?} per tier); largest file {largest} bytes, bound {MIN_MAX_BYTES}",
            20 * seconds
        );
        assert!(kept < 20 * seconds as u64 / 3, "{tiers:?}");
        // ... the oldest ones, while the newest are all there.
        let series = store.reader().find("field.number.0").unwrap().unwrap();
        let now = start + seconds * 1000;
        let recent = store
            .reader()
            .history(series.id, now - 60_000, now, 1000)
            .unwrap();
        assert_eq!(recent.len(), 60, "the last minute, every second");
        let all = store
            .reader()
            .history(series.id, start, now, 100_000)
            .unwrap();
        assert!(all[0].t_ms > start, "the oldest samples were deleted");
    }

    #[test]
    fn foreign_files_and_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database, keep me").unwrap();
        let error = TrendStore::open(&text, Retention::default()).unwrap_err();
        assert!(
            matches!(error, StoreError::NotTrendDatabase { .. }),
            "{error}"
        );
        assert_eq!(
            std::fs::read_to_string(&text).unwrap(),
            "not a database, keep me"
        );
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(dir.path().join("elsewhere.db"), &link).unwrap();
        assert!(TrendStore::open(&link, Retention::default()).is_err());
        assert!(
            !dir.path().join("elsewhere.db").exists(),
            "link not followed"
        );
        let fresh = dir.path().join("fresh.db");
        drop(TrendStore::open(&fresh, Retention::default()).unwrap());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(TrendReader::open(&fresh).is_ok());
        assert!(matches!(
            TrendReader::open(dir.path().join("missing.db")),
            Err(StoreError::Io { .. })
        ));
    }
}
