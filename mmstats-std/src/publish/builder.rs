//! [`StatsFileBuilder`]: the settings of a new file, and `create`, which
//! makes, initialises and publishes it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mmstats_nostd::{Region, RegionOptions};

use crate::defaults::{
    DEFAULT_REUSE_DELAY, DEFAULT_SIZE, EXTENSION, GROUP_ENV, SHM_PREFIX, default_dir,
};
use crate::error::CreateError;
use crate::map::WriteMap;
use crate::os;

use super::create::{Access, PublishError, Unpublished, create_in_dir, create_shm};
use super::file::{FileInner, StatsFile, WriterState};
use super::heartbeat::spawn_heartbeat;

/// Where a region is published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A file in this directory (created, mode 0700, if missing).
    Dir(PathBuf),
    /// A POSIX shared-memory object (`shm_open(3)`).
    Shm,
}

impl From<PathBuf> for Location {
    fn from(dir: PathBuf) -> Self {
        Self::Dir(dir)
    }
}

/// Settings for a new [`StatsFile`]; start from [`StatsFile::builder`].
#[derive(Clone, Debug)]
pub struct StatsFileBuilder {
    name: String,
    location: Option<Location>,
    mode: Option<u32>,
    group: Option<String>,
    keep: bool,
    size: usize,
    table_capacity: usize,
    prefix: String,
    default_fields: bool,
    heartbeat: Option<Duration>,
    reuse_delay: Duration,
    labels: bool,
}

impl StatsFileBuilder {
    /// How long the slot of a retired dynamic field stays unused before
    /// another field may take it (default [`DEFAULT_REUSE_DELAY`], 1 s;
    /// millisecond resolution): readers that poll less often than this see
    /// a field go before its slot shows another one.
    #[must_use]
    pub const fn reuse_delay(mut self, delay: Duration) -> Self {
        self.reuse_delay = delay;
        self
    }

    /// Publishes in this directory instead of [`default_dir`].
    #[must_use]
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.location = Some(Location::Dir(dir.into()));
        self
    }

    /// Publishes as a POSIX shared-memory object instead of a file.
    #[must_use]
    pub fn shm(mut self) -> Self {
        self.location = Some(Location::Shm);
        self
    }

    /// File permission bits (default 0600, or 0640 with a
    /// [group](StatsFileBuilder::group)). Prefer a group to world-readable
    /// bits: a mode of 0644 lets every user of the machine read every value.
    #[must_use]
    pub const fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Makes the file (and every directory the writer creates for it)
    /// belong to this group (a name from `/etc/group` or a number), and
    /// readable by it: files 0640, new directories 0750. This is how a
    /// monitoring user (munin's `nobody`, Prometheus' user, a sidecar)
    /// reads without the stats being world-readable. The writer must be a
    /// member of the group. Default: `$MMSTATS_GROUP` if set, else none.
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// Keeps the file when the writer drops it (default: unlink it).
    #[must_use]
    pub const fn keep(mut self, keep: bool) -> Self {
        self.keep = keep;
        self
    }

    /// Region size in bytes (default [`DEFAULT_SIZE`]; rounded up to 4 KiB).
    #[must_use]
    pub const fn size(mut self, bytes: usize) -> Self {
        self.size = bytes;
        self
    }

    /// Whether fields may carry labels (default: yes). With labels, every
    /// table entry takes 384 bytes (format 2.2); without, 256 bytes, and a
    /// field with labels is refused ([`mmstats_nostd::AddFieldError::NoLabelRoom`]).
    #[must_use]
    pub const fn labels(mut self, on: bool) -> Self {
        self.labels = on;
        self
    }

    /// Field-table capacity (default: one entry per 448 bytes of region,
    /// 320 without [labels](StatsFileBuilder::labels)).
    #[must_use]
    pub const fn table_capacity(mut self, fields: usize) -> Self {
        self.table_capacity = fields;
        self
    }

    /// Label prefix put before every field name (for example `"web."`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Whether to add the default fields `sys.pid`, `sys.tid`, `sys.uid`,
    /// `sys.created` and `sys.program` (default: yes).
    #[must_use]
    pub const fn default_fields(mut self, on: bool) -> Self {
        self.default_fields = on;
        self
    }

    /// Updates the heartbeat word from a background thread at this interval
    /// for as long as the file lives (default: no heartbeat thread; call
    /// [`StatsFile::heartbeat`] yourself if you want one).
    #[must_use]
    pub const fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = Some(interval);
        self
    }

    /// Creates, initialises and publishes the file.
    ///
    /// A name held by a closed or dead writer's file of this user is
    /// reclaimed; any other occupant is an error saying what it is. On
    /// every error no file is left behind.
    pub fn create(self) -> Result<StatsFile, CreateError> {
        let tid = os::tid();
        let pid = os::pid();
        let base = format!(
            "{}-{pid}-{tid}{}{}.{EXTENSION}",
            os::program_name(),
            if self.name.is_empty() { "" } else { "-" },
            os::sanitize_name_part(&self.name),
        );
        let size = self.size.max(4096).div_ceil(4096) * 4096;
        let location = self
            .location
            .clone()
            .unwrap_or_else(|| Location::Dir(default_dir()));
        let group = match self
            .group
            .clone()
            .or_else(|| std::env::var(GROUP_ENV).ok().filter(|g| !g.is_empty()))
        {
            Some(name) => Some(os::group_id(&name).ok_or(CreateError::UnknownGroup { name })?),
            None => None,
        };
        let access = Access {
            mode: self
                .mode
                .unwrap_or(if group.is_some() { 0o640 } else { 0o600 }),
            group,
        };
        let (file, place) = match &location {
            Location::Dir(dir) => create_in_dir(dir, &base, access, size)?,
            Location::Shm => create_shm(&format!("{SHM_PREFIX}{base}"), access, size)?,
        };
        // From here on, every error path removes the file: `Unpublished`
        // does so on drop until `FileInner` owns the file.
        let pending = Unpublished {
            file: Some(file),
            place: Some(place),
        };
        let path = pending.place().path();
        let io_error = |operation| {
            let path = path.clone();
            move |source| CreateError::Io {
                path,
                operation,
                source,
            }
        };
        let map = WriteMap::shared(pending.file(), size).map_err(io_error("mmap"))?;
        // SAFETY: `map` moves into the `FileInner` below, which every handle
        // holds through an `Arc`; the words are only used by the region and
        // handles that live inside or beside that `Arc`. On an error before
        // that, `region` (which borrows the words) is dropped before `map`.
        let words = unsafe { map.words_static() };
        let options = RegionOptions {
            table_capacity: self.table_capacity,
            generation: generation_nonce(),
            pid,
            start_time: os::process_start_time(pid).unwrap_or(0),
            boot_id: os::boot_id(),
            created_ns: os::now_ns(),
            labels: self.labels,
        };
        let mut region = Region::create(words, &options).map_err(|source| CreateError::Region {
            path: path.clone(),
            source,
        })?;
        region
            .set_prefix(&self.prefix)
            .map_err(|source| CreateError::DefaultField {
                path: path.clone(),
                source: source.into(),
            })?;
        // The clock of dynamic fields: milliseconds since `created` below.
        region.set_reuse_delay(u64::try_from(self.reuse_delay.as_millis()).unwrap_or(u64::MAX));

        let (file, place) = pending.into_parts();
        // `keep` applies once the file is published: a creation that fails
        // below drops `FileInner`, which then removes the file.
        let inner = Arc::new(FileInner {
            map,
            file,
            place,
            keep: AtomicBool::new(false),
            created: Instant::now(),
            state: Mutex::new(WriterState {
                region,
                names: std::collections::HashSet::new(),
            }),
        });
        let stats = StatsFile {
            inner,
            group: None,
            labels: mmstats_nostd::Labels::new(),
        };
        if self.default_fields {
            stats
                .add_default_fields(pid, tid, options.created_ns)
                .map_err(|source| CreateError::DefaultField {
                    path: path.clone(),
                    source,
                })?;
        }
        stats.inner.place.publish().map_err(|error| match error {
            PublishError::Taken(occupant) => CreateError::NameTaken {
                path: path.clone(),
                occupant,
            },
            PublishError::Io(source) => CreateError::Io {
                path: path.clone(),
                operation: "rename into place",
                source,
            },
        })?;
        stats.inner.keep.store(self.keep, Ordering::Relaxed);
        if let Some(interval) = self.heartbeat {
            spawn_heartbeat(Arc::downgrade(&stats.inner), interval);
        }
        Ok(stats)
    }
}

/// A generation number that differs between any two regions created on a
/// machine: time, pid and a per-process counter, mixed.
fn generation_nonce() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mixed = os::fnv1a(
        &[
            os::now_ns().to_le_bytes(),
            os::pid().to_le_bytes(),
            n.to_le_bytes(),
        ]
        .concat(),
    );
    mixed.max(1)
}

impl StatsFile {
    /// Settings for a file named `{program}-{pid}-{tid}-{name}.mmstats`
    /// (`{program}-{pid}-{tid}.mmstats` for an empty name).
    #[must_use]
    pub fn builder(name: &str) -> StatsFileBuilder {
        StatsFileBuilder {
            name: name.to_owned(),
            location: None,
            mode: None,
            group: None,
            keep: false,
            size: DEFAULT_SIZE,
            table_capacity: 0,
            prefix: String::new(),
            default_fields: true,
            heartbeat: None,
            reuse_delay: DEFAULT_REUSE_DELAY,
            labels: true,
        }
    }

    /// Creates a file with every setting at its default.
    pub fn create(name: &str) -> Result<Self, CreateError> {
        Self::builder(name).create()
    }
}
