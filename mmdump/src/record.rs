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

use std::time::Duration;

mod error;
mod file_checks;
mod log_limit;
mod parse;
mod query;
mod recorder;
mod rows;
mod store;

use self::error::{io_error, sqlite_error, unsafe_path};
use self::file_checks::{
    check_companions, check_directory, check_identity, check_same_file, lock_database,
    open_database,
};

pub use self::error::{LockHolder, StoreError, UnsafePath};
pub use self::log_limit::{LOG_EVERY, LogLimiter};
pub use self::parse::{QuantityError, parse_duration, parse_size};
pub use self::query::{TrendQuery, TrendReader};
pub use self::recorder::{MAINTAIN_EVERY, Recorder};
pub use self::rows::{Maintenance, Point, SampleRow, SeriesInfo, SeriesSummary, StoreSize};
pub use self::store::{StoreNotice, TrendStore};

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
