//! Publishing a region into a file or a POSIX shared-memory object.
//!
//! A [`StatsFile`] is created owner-only (`O_CREAT | O_EXCL | O_NOFOLLOW`,
//! mode 0600 unless configured), sized, mapped, initialised, and only then
//! given its public name (`renameat2(RENAME_NOREPLACE)`), so a reader never
//! sees a half-built file under a stats name. The writer holds a shared
//! `flock` on it for as long as it lives, which readers use as proof of
//! life. The owner marks the region closed and unlinks it when the last
//! handle drops, unless told to keep it.
//!
//! # Safety
//!
//! `unsafe` is denied at the crate root and allowed only in `map`, `sigbus`
//! and `publish`, each with a `# Safety` section like this one.
//! Here: one block, which gives the region the mapping's words for
//! `'static`; sound because the mapping moves into the `FileInner` that
//! owns the region and every handle, so it outlives every use of them.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use mmstats_nostd::{FieldSpec, Region, RegionOptions};
use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};

use crate::handles::{DynamicSlot, Handle, Stat, Timer, WindowAverage};
use crate::histogram::HistogramTimer;
use crate::map::WriteMap;
use crate::os;

/// Environment variable naming the directory stats files go to.
pub const DIR_ENV: &str = "MMSTATS_DIR";
/// The directory stats files go to unless [`DIR_ENV`] says otherwise.
pub const DEFAULT_DIR: &str = "/dev/shm/mmstats";
/// Extension of every stats file.
pub const EXTENSION: &str = "mmstats";
/// Prefix of the POSIX shared-memory objects this crate creates (on Linux
/// they appear as `/dev/shm/mmstats.*.mmstats`).
pub const SHM_PREFIX: &str = "mmstats.";
/// Default region size: 256 KiB (about 800 fields of every kind; tmpfs only
/// allocates the pages that are touched).
pub const DEFAULT_SIZE: usize = 256 * 1024;
/// How long a retired dynamic field's slot waits before another field may
/// use it, unless the builder says otherwise.
pub const DEFAULT_REUSE_DELAY: Duration = Duration::from_secs(1);

/// The directory stats files go to: `$MMSTATS_DIR`, else `/dev/shm/mmstats`
/// where `/dev/shm` exists, else `mmstats-UID` in the temporary directory.
#[must_use]
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if Path::new("/dev/shm").is_dir() {
        return PathBuf::from(DEFAULT_DIR);
    }
    std::env::temp_dir().join(format!("mmstats-{}", os::uid()))
}

/// Where a region is published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A file in this directory (created, mode 0700, if missing).
    Dir(PathBuf),
    /// A POSIX shared-memory object (`shm_open(3)`).
    Shm,
}

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
    /// The group of [`StatsFileBuilder::group`] or `$MMSTATS_GROUP` is not
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

/// Why a field could not be added to a [`StatsFile`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddFieldError {
    /// The region refused it (see the inner error).
    Region(mmstats_nostd::AddFieldError),
    /// A field with this full name exists already.
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

impl From<mmstats_nostd::AddFieldError> for AddFieldError {
    fn from(inner: mmstats_nostd::AddFieldError) -> Self {
        Self::Region(inner)
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

    /// Field-table capacity (default: one entry per 320 bytes of region).
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
        let stats = StatsFile { inner, group: None };
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

/// Environment variable naming the group new stats files and directories
/// are made readable by (see [`StatsFileBuilder::group`]).
pub const GROUP_ENV: &str = "MMSTATS_GROUP";

/// Permission bits and group of a new file.
#[derive(Clone, Copy, Debug)]
struct Access {
    mode: u32,
    group: Option<u32>,
}

/// A created, not yet published file: removed on drop unless taken.
struct Unpublished {
    file: Option<File>,
    place: Option<Place>,
}

impl Unpublished {
    fn file(&self) -> &File {
        self.file.as_ref().expect("taken only by into_parts")
    }

    fn place(&self) -> &Place {
        self.place.as_ref().expect("taken only by into_parts")
    }

    fn into_parts(mut self) -> (File, Place) {
        let file = self.file.take().expect("taken once");
        let place = self.place.take().expect("taken once");
        (file, place)
    }
}

impl Drop for Unpublished {
    fn drop(&mut self) {
        if let (Some(file), Some(place)) = (&self.file, &self.place) {
            place.remove(file);
        }
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

fn spawn_heartbeat(file: Weak<FileInner>, interval: Duration) {
    let spawned = std::thread::Builder::new()
        .name("mmstats-heartbeat".into())
        .spawn(move || {
            while let Some(inner) = file.upgrade() {
                inner.lock().region.heartbeat(os::now_ns());
                drop(inner);
                std::thread::sleep(interval);
            }
        });
    // Without a thread the file simply has no heartbeat; readers cope.
    drop(spawned);
}

/// Where the file lives and how to give it its public name and remove it.
#[derive(Debug)]
enum Place {
    Dir {
        dir: OwnedFd,
        dir_path: PathBuf,
        temp: OsString,
        name: OsString,
        published: AtomicBool,
    },
    Shm {
        name: String,
    },
}

enum PublishError {
    Taken(Occupant),
    Io(io::Error),
}

impl Place {
    fn path(&self) -> PathBuf {
        match self {
            Self::Dir { dir_path, name, .. } => dir_path.join(name),
            Self::Shm { name } => shm_path(name),
        }
    }

    /// Renames the temporary file to its public name, never replacing an
    /// existing file (a closed or dead writer's file is removed first).
    fn publish(&self) -> Result<(), PublishError> {
        let Self::Dir {
            dir,
            temp,
            name,
            published,
            ..
        } = self
        else {
            return Ok(());
        };
        let mut occupant = Occupant::Unstable;
        // Two tries: a reclaimed name may be taken again by another process
        // in between; a third round would be a name that keeps changing.
        for _ in 0..2 {
            match rename_noreplace(dir, temp, name) {
                Ok(()) => {
                    published.store(true, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    match reclaim(dir.as_fd(), name.as_os_str()) {
                        Ok(()) => {}
                        Err(found) => return Err(PublishError::Taken(found)),
                    }
                    occupant = Occupant::Unstable;
                }
                Err(e) => return Err(PublishError::Io(e)),
            }
        }
        Err(PublishError::Taken(occupant))
    }

    /// Unlinks the file if it is still the one `ours` refers to.
    fn remove(&self, ours: &File) {
        let Ok(mine) = rustix::fs::fstat(ours) else {
            return;
        };
        match self {
            Self::Dir {
                dir,
                temp,
                name,
                published,
                ..
            } => {
                let current = if published.load(Ordering::Relaxed) {
                    name
                } else {
                    temp
                };
                if let Ok(there) =
                    rustix::fs::statat(dir, current.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                    && (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)
                {
                    let _ = rustix::fs::unlinkat(dir, current.as_os_str(), AtFlags::empty());
                }
            }
            Self::Shm { name } => {
                // Where shm objects are visible as files, make sure the
                // name still refers to our object before unlinking it.
                let same = shm_dir()
                    .and_then(|dir| {
                        rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW).ok()
                    })
                    .is_none_or(|there| (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino));
                if same {
                    let _ = rustix::shm::unlink(format!("/{name}"));
                }
            }
        }
    }
}

/// The path under which a shm object of this name is visible (Linux).
fn shm_path(name: &str) -> PathBuf {
    Path::new("/dev/shm").join(name)
}

/// `renameat2(2)` with `RENAME_NOREPLACE`, or `linkat(2)` plus
/// `unlinkat(2)` where the file system does not support it.
fn rename_noreplace(dir: &OwnedFd, from: &OsString, to: &OsString) -> io::Result<()> {
    match rustix::fs::renameat_with(
        dir,
        from.as_os_str(),
        dir,
        to.as_os_str(),
        rustix::fs::RenameFlags::NOREPLACE,
    ) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            rustix::fs::linkat(dir, from.as_os_str(), dir, to.as_os_str(), AtFlags::empty())?;
            rustix::fs::unlinkat(dir, from.as_os_str(), AtFlags::empty())?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Makes `name` in `dir` free again if it is a stats file of this user
/// whose writer has closed it or is gone; otherwise says what is there.
///
/// The name is opened without following a link, without blocking (a FIFO
/// opens at once for reading and is then refused) and without becoming a
/// controlling terminal, and judged on that descriptor: its type, its
/// owner, and its writer's lock. Every writer holds a shared `flock` on
/// its file from creation to close, so a lock nobody holds means no writer
/// (a reused pid, as in containers where pid 1 repeats, changes nothing).
/// The name is unlinked only if it still refers to the judged inode: in a
/// directory that only this user (or root) may write to, nobody else can
/// swap it in between; in a sticky directory such as `/dev/shm` nobody
/// else may rename or remove this user's files.
fn reclaim(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> Result<(), Occupant> {
    let fd = match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        // Gone meanwhile: the name is free.
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(rustix::io::Errno::LOOP) => return Err(Occupant::SymbolicLink),
        // A FIFO or socket of another user we may not open, a device...:
        // look without opening.
        Err(_) => {
            return Err(
                match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => occupant_of(&stat).unwrap_or(Occupant::Unstable),
                    Err(_) => Occupant::Unstable,
                },
            );
        }
    };
    let file = File::from(fd);
    let stat = rustix::fs::fstat(&file).map_err(|_| Occupant::Unstable)?;
    if let Some(occupant) = occupant_of(&stat) {
        return Err(occupant);
    }
    // A lock can be held for a moment by a forked child of the writer's
    // process that has not yet reached `exec` (it shares the open file):
    // look again a few times over about 50 ms before calling it live.
    let mut lock = crate::read::probe_lock(&file);
    for pause_ms in [1, 4, 15, 30] {
        if lock != crate::read::LockProbe::Held {
            break;
        }
        std::thread::sleep(Duration::from_millis(pause_ms));
        lock = crate::read::probe_lock(&file);
    }
    let reclaimable = match lock {
        crate::read::LockProbe::Held => return Err(Occupant::LiveWriter),
        crate::read::LockProbe::Free => true,
        // No flock on this file system: fall back on the region's own
        // state, pid and start time.
        crate::read::LockProbe::Unsupported => matches!(
            crate::read::writer_liveness(&file),
            crate::read::Liveness::Dead | crate::read::Liveness::Closed
        ),
    };
    if !reclaimable {
        return Err(Occupant::LiveWriter);
    }
    if !is_stats_file(&file, stat.st_size) {
        return Err(Occupant::NotStats);
    }
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(there) if (there.st_dev, there.st_ino) == (stat.st_dev, stat.st_ino) => {
            match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
                Err(_) => Err(Occupant::Unstable),
            }
        }
        Err(rustix::io::Errno::NOENT) => Ok(()),
        _ => Err(Occupant::Unstable),
    }
}

/// Why the file `stat` describes can never be reclaimed, if it cannot.
fn occupant_of(stat: &rustix::fs::Stat) -> Option<Occupant> {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => {}
        FileType::Symlink => return Some(Occupant::SymbolicLink),
        FileType::Fifo => return Some(Occupant::Fifo),
        FileType::CharacterDevice | FileType::BlockDevice => return Some(Occupant::Device),
        FileType::Directory => return Some(Occupant::Directory),
        FileType::Socket => return Some(Occupant::Socket),
        FileType::Unknown => return Some(Occupant::Unstable),
    }
    if u64::from(stat.st_uid) != os::euid() {
        return Some(Occupant::OtherUser { uid: stat.st_uid });
    }
    None
}

/// Whether an open regular file holds a stats file of either format (or
/// is empty or shorter than a prologue: a writer that died while creating
/// it, before the first byte was written).
fn is_stats_file(file: &File, len: i64) -> bool {
    if len < 8 {
        return true;
    }
    let mut head = [0u8; 8];
    match rustix::io::pread(file, &mut head, 0) {
        Ok(8) => head == mmstats_nostd::layout::MAGIC || head[0] == crate::legacy::LEGACY_VERSION,
        _ => false,
    }
}

/// Opens the directory, creating what is missing (mode 0700, or 0750 for
/// a group), if it and every directory on the way to it are trusted: no
/// symbolic link, owned by root or this user, not writable by others
/// without the sticky bit ([`crate::trust`]). The file is then created
/// relative to this descriptor; the path is never looked up again.
fn open_dir(dir: &Path, access: Access) -> Result<OwnedFd, CreateError> {
    let create = match access.group {
        Some(gid) => crate::trust::CreateDir::for_group(gid),
        None => crate::trust::CreateDir::private(),
    };
    crate::trust::open_trusted_dir(dir, Some(create)).map_err(CreateError::Directory)
}

fn create_in_dir(
    dir: &Path,
    name: &str,
    access: Access,
    size: usize,
) -> Result<(File, Place), CreateError> {
    let dir_fd = open_dir(dir, access)?;
    let temp = OsString::from(format!(".{name}.tmp"));
    let path = dir.join(&temp);
    let flags = OFlags::CREATE
        | OFlags::EXCL
        | OFlags::NOFOLLOW
        | OFlags::NOCTTY
        | OFlags::RDWR
        | OFlags::CLOEXEC;
    let create = || {
        rustix::fs::openat(
            &dir_fd,
            temp.as_os_str(),
            flags,
            Mode::from_raw_mode(access.mode),
        )
    };
    let fd = match create() {
        // A temporary name is private to this pid and thread: one left
        // behind was made by a process that died while creating it (or
        // by a writer of the same pid in another pid namespace, whose lock
        // is then held).
        Err(rustix::io::Errno::EXIST) => match reclaim(dir_fd.as_fd(), temp.as_os_str()) {
            Ok(()) => create(),
            Err(occupant) => return Err(CreateError::NameTaken { path, occupant }),
        },
        other => other,
    }
    .map_err(|e| CreateError::Io {
        path: path.clone(),
        operation: "create (O_EXCL | O_NOFOLLOW)",
        source: e.into(),
    })?;
    let file = File::from(fd);
    let place = Place::Dir {
        dir: dir_fd,
        dir_path: dir.to_owned(),
        temp,
        name: OsString::from(name),
        published: AtomicBool::new(false),
    };
    prepare(file, place, path, size, access)
}

fn create_shm(name: &str, access: Access, size: usize) -> Result<(File, Place), CreateError> {
    let path = shm_path(name);
    let flags = rustix::shm::OFlags::CREATE | rustix::shm::OFlags::EXCL | rustix::shm::OFlags::RDWR;
    let create = || rustix::shm::open(format!("/{name}"), flags, Mode::from_raw_mode(access.mode));
    let fd = match create() {
        Err(rustix::io::Errno::EXIST) => {
            // Judge what is there through the directory shm objects live
            // in (Linux: `/dev/shm`), never by reopening the name with a
            // call that could follow a link or wait on a FIFO.
            let reclaimed = match shm_dir() {
                Some(dir) => reclaim(dir.as_fd(), std::ffi::OsStr::new(name)),
                None => Err(Occupant::Unstable),
            };
            match reclaimed {
                Ok(()) => create(),
                Err(occupant) => return Err(CreateError::NameTaken { path, occupant }),
            }
        }
        other => other,
    }
    .map_err(|e| CreateError::Io {
        path: path.clone(),
        operation: "shm_open (O_EXCL)",
        source: e.into(),
    })?;
    let file = File::from(fd);
    let place = Place::Shm {
        name: name.to_owned(),
    };
    prepare(file, place, path, size, access)
}

/// The directory POSIX shared-memory objects appear in, opened without
/// following a link.
fn shm_dir() -> Option<OwnedFd> {
    rustix::fs::open(
        "/dev/shm",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

/// Takes the writer's lock, reserves the file's pages, and fixes its mode
/// against the umask; on failure removes the file.
///
/// The lock comes first, so that a file under a writer's name without a
/// held lock is always a dead or closed writer's. The pages are reserved
/// with `fallocate(2)` (`posix_fallocate(3)`'s system call): a full disk
/// or tmpfs is then an error here, not a `SIGBUS` at some later store into
/// a page the file system cannot supply. The cost: a region's memory is
/// taken at creation, not as pages are first touched.
fn prepare(
    file: File,
    place: Place,
    path: PathBuf,
    size: usize,
    access: Access,
) -> Result<(File, Place), CreateError> {
    let steps = || -> Result<(), CreateError> {
        let io = |operation: &'static str| {
            let path = path.clone();
            move |e: rustix::io::Errno| CreateError::Io {
                path,
                operation,
                source: e.into(),
            }
        };
        rustix::fs::flock(&file, FlockOperation::NonBlockingLockShared).map_err(io("flock"))?;
        reserve(&file, size as u64).map_err(|e| {
            if e == rustix::io::Errno::NOSPC || e == rustix::io::Errno::DQUOT {
                CreateError::NoSpace {
                    path: path.clone(),
                    bytes: size as u64,
                    source: e.into(),
                }
            } else {
                io("fallocate")(e)
            }
        })?;
        if let Some(gid) = access.group {
            rustix::fs::fchown(&file, None, Some(rustix::process::Gid::from_raw(gid)))
                .map_err(io("fchown to the stats group"))?;
        }
        // The umask may have cleared bits the caller asked for.
        rustix::fs::fchmod(&file, Mode::from_raw_mode(access.mode)).map_err(io("fchmod"))
    };
    match steps() {
        Ok(()) => Ok((file, place)),
        Err(error) => {
            place.remove(&file);
            Err(error)
        }
    }
}

/// Sizes the file to `len` bytes with every page allocated: `fallocate(2)`
/// where the file system supports it, else `ftruncate(2)` and zeros
/// written over the whole length (which allocates the blocks just as well).
fn reserve(file: &File, len: u64) -> Result<(), rustix::io::Errno> {
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {
            rustix::fs::ftruncate(file, len)?;
            let zeros = [0u8; 64 * 1024];
            let mut at = 0u64;
            while at < len {
                let chunk = usize::try_from((len - at).min(zeros.len() as u64)).unwrap_or(0);
                let wrote = rustix::io::pwrite(file, &zeros[..chunk], at)?;
                if wrote == 0 {
                    return Err(rustix::io::Errno::NOSPC);
                }
                at += wrote as u64;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// What the file owns; shared by the [`StatsFile`] and every handle.
pub(crate) struct FileInner {
    map: WriteMap,
    file: File,
    place: Place,
    keep: AtomicBool,
    /// Origin of the clock of dynamic fields (milliseconds since it).
    created: Instant,
    state: Mutex<WriterState>,
}

struct WriterState {
    region: Region<'static>,
    names: std::collections::HashSet<String>,
}

impl fmt::Debug for FileInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileInner")
            .field("path", &self.place.path())
            .finish_non_exhaustive()
    }
}

impl FileInner {
    fn lock(&self) -> MutexGuard<'_, WriterState> {
        // A panic while adding a field leaves the region consistent (an
        // entry is published last), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The clock of dynamic fields: milliseconds since the file was made.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Retires a dynamic field (its handle is being dropped) and frees its
    /// name. Under the lock, so that a field added meanwhile on another
    /// thread sees the retire (the lock orders it; the slot's own release
    /// and acquire order it too).
    pub(crate) fn retire(&self, dynamic: DynamicSlot) {
        let mut state = self.lock();
        state.names.remove(&dynamic.name);
        dynamic.slot.retire(self.now_ms());
    }
}

impl Drop for FileInner {
    fn drop(&mut self) {
        self.lock().region.close();
        if !self.keep.load(Ordering::Relaxed) {
            self.place.remove(&self.file);
        }
        // `map` unmaps and `file` closes (releasing the lock) after this.
    }
}

/// A region published in a file, shared by its handles.
///
/// Cheap to clone (an `Arc`); `Send` and `Sync`, so any thread may add
/// fields. Each field's handle goes to the thread that updates it.
///
/// [`StatsFile::dynamic_group`] gives a view of the file whose fields are
/// *dynamic*: retired when their handle drops, their slot reused after the
/// reuse delay (per-connection stats).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let stats = mmstats::StatsFile::builder("web").dir(dir.path()).prefix("web.").create().unwrap();
/// let hits = stats.counter("hits").unwrap();
/// let version = stats.text("version").unwrap();
/// hits.incr();
/// version.set("v1.2");
/// let read = mmstats::read_file(stats.path()).unwrap();
/// assert!(read.fields.iter().any(|f| f.name == "web.hits"));
/// ```
#[derive(Clone, Debug)]
pub struct StatsFile {
    inner: Arc<FileInner>,
    /// `Some(prefix)`: fields added through this view are dynamic and
    /// named `{file prefix}{group prefix}{name}`.
    group: Option<Arc<str>>,
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
        }
    }

    /// A view of this file whose fields are **dynamic** and named
    /// `{prefix}{name}` (after the file's label prefix): each is retired
    /// when its handle drops (readers stop showing it), and its slot, with
    /// its value words when the next field has the same size, is reused
    /// after the reuse delay, so a server can open and close connections
    /// forever. Every kind can be dynamic, and the [`crate::stats!`] macro's
    /// `register` works on a group.
    ///
    /// When the region is out of room, adding a field fails with an error
    /// for which [`AddFieldError::is_full`] holds; [`StatsFile::counter_or`]
    /// and [`StatsFile::gauge_or`] fall back to a shared overflow field.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let stats = mmstats::StatsFile::builder("srv")
    ///     .dir(dir.path())
    ///     .reuse_delay(std::time::Duration::ZERO)
    ///     .create()
    ///     .unwrap();
    /// let conn = stats.dynamic_group("conn.1234.");
    /// let bytes_in = conn.counter("bytes_in").unwrap();
    /// bytes_in.add(512);
    /// let names = |s: &mmstats::StatsFile| {
    ///     mmstats::read_file(s.path()).unwrap().fields.into_iter().map(|f| f.name).collect::<Vec<_>>()
    /// };
    /// assert!(names(&stats).contains(&"conn.1234.bytes_in".to_owned()));
    /// drop(bytes_in); // the connection closed
    /// assert!(!names(&stats).contains(&"conn.1234.bytes_in".to_owned()));
    /// ```
    #[must_use]
    pub fn dynamic_group(&self, prefix: &str) -> Self {
        let group = match &self.group {
            Some(outer) => format!("{outer}{prefix}"),
            None => prefix.to_owned(),
        };
        Self {
            inner: Arc::clone(&self.inner),
            group: Some(group.into()),
        }
    }

    /// Whether fields added through this view are dynamic.
    #[must_use]
    pub fn is_dynamic_group(&self) -> bool {
        self.group.is_some()
    }

    /// Creates a file with every setting at its default.
    pub fn create(name: &str) -> Result<Self, CreateError> {
        Self::builder(name).create()
    }

    /// Where readers find it.
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.inner.place.path()
    }

    /// Writes the values to the file's storage and waits (`msync(2)`):
    /// for files on disk that must survive a crash of the machine. Not
    /// needed for readers, who see every update at once.
    pub fn flush(&self) -> io::Result<()> {
        self.inner.map.flush()
    }

    /// Records a heartbeat now.
    pub fn heartbeat(&self) {
        self.inner.lock().region.heartbeat(os::now_ns());
    }

    /// Whether to keep the file when the last handle drops.
    pub fn set_keep(&self, keep: bool) {
        self.inner.keep.store(keep, Ordering::Relaxed);
    }

    /// Whether the file lives in memory (tmpfs or ramfs). A region on a
    /// disk-backed file system costs page write-back; prefer `/dev/shm`.
    #[must_use]
    pub fn is_memory_backed(&self) -> bool {
        const TMPFS_MAGIC: i64 = 0x0102_1994;
        const RAMFS_MAGIC: i64 = 0x8584_58f6;
        rustix::fs::fstatfs(self.inner.file.as_fd())
            // The width of `f_type` differs between platforms.
            .is_ok_and(|s| {
                #[allow(clippy::unnecessary_cast)]
                let kind = s.f_type as i64;
                matches!(kind, TMPFS_MAGIC | RAMFS_MAGIC)
            })
    }

    /// Adds a field of any kind (`T` is a handle type such as [`Counter`]).
    pub fn add<'s, T: Stat>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<T, AddFieldError> {
        T::register(self, spec.into())
    }

    /// Adds a counter with one writer.
    pub fn counter<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Counter, AddFieldError> {
        self.add(spec)
    }

    /// Adds a counter that many threads update (share it by reference or `Arc`).
    pub fn shared_counter<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<SharedCounter, AddFieldError> {
        self.add(spec)
    }

    /// Adds a gauge with one writer.
    pub fn gauge<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Gauge, AddFieldError> {
        self.add(spec)
    }

    /// Adds a gauge that many threads update.
    pub fn shared_gauge<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<SharedGauge, AddFieldError> {
        self.add(spec)
    }

    /// Adds an `f64` gauge.
    pub fn float_gauge<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<FloatGauge, AddFieldError> {
        self.add(spec)
    }

    /// Adds a boolean.
    pub fn flag<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Flag, AddFieldError> {
        self.add(spec)
    }

    /// Adds a timestamp.
    pub fn timestamp<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<Timestamp, AddFieldError> {
        self.add(spec)
    }

    /// Adds a bounded string.
    pub fn text<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Text, AddFieldError> {
        self.add(spec)
    }

    /// Adds a running average.
    pub fn average<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Average, AddFieldError> {
        self.add(spec)
    }

    /// Adds a timer: an average of durations, in seconds (readers see the
    /// mean). For the distribution (quantiles), use
    /// [`StatsFile::histogram_timer`].
    pub fn timer<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Timer, AddFieldError> {
        self.add(spec)
    }

    /// Adds a histogram of `u64` values (precision and range from the
    /// spec; default 5 bits up to one hour in nanoseconds: quantiles within
    /// 1/64, 1216 buckets, 9.7 KiB).
    pub fn histogram<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<Histogram, AddFieldError> {
        self.add(spec)
    }

    /// Adds a timer that records durations into a histogram, in
    /// nanoseconds (readers see count, mean and quantiles).
    pub fn histogram_timer<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<HistogramTimer, AddFieldError> {
        self.add(spec)
    }

    /// Adds the mean of the last N samples, N = the spec's `capacity`
    /// (default 64).
    pub fn moving_average<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<MovingAverage, AddFieldError> {
        self.add(spec)
    }

    /// Adds the mean over a time window (the spec's `window`, in
    /// nanoseconds; default 60 s in 20 sub-windows).
    pub fn window_average<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<WindowAverage, AddFieldError> {
        self.add(spec)
    }

    /// Adds an event ring of the spec's `capacity` records (default 64)
    /// with `payload_words` payload words each (default 4).
    pub fn event_ring<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<crate::events::EventRing, AddFieldError> {
        self.add(spec)
    }

    /// Runs `add` on the region under the lock, refusing duplicate names,
    /// and wraps what it returns in a handle that keeps the file alive.
    /// In a dynamic group, the field is added inside `Region::dynamic` and
    /// its handle retires it on drop.
    pub(crate) fn with_region<T>(
        &self,
        spec: &FieldSpec<'_>,
        add: impl FnOnce(&mut Region<'static>, FieldSpec<'_>) -> Result<T, mmstats_nostd::AddFieldError>,
    ) -> Result<Handle<T>, AddFieldError> {
        let mut state = self.inner.lock();
        let group = self.group.as_deref().unwrap_or("");
        let full = format!("{}{group}{}", state.region.prefix(), spec.name);
        if state.names.contains(&full) {
            return Err(AddFieldError::DuplicateName(full));
        }
        if self.group.is_none() {
            let made = add(&mut state.region, *spec)?;
            state.names.insert(full);
            return Ok(Handle::new(made, Arc::clone(&self.inner)));
        }
        let name = format!("{group}{}", spec.name);
        let spec = spec.name(&name);
        let now = self.inner.now_ms();
        let (made, slot) = state
            .region
            .dynamic(now, |region| add(region, spec))?
            .into_parts();
        state.names.insert(full.clone());
        Ok(Handle::new_dynamic(
            made,
            DynamicSlot { slot, name: full },
            Arc::clone(&self.inner),
        ))
    }

    fn add_default_fields(&self, pid: u64, tid: u64, created_ns: u64) -> Result<(), AddFieldError> {
        let mut state = self.inner.lock();
        // Default fields have no label prefix.
        let prefix = state.region.prefix().to_owned();
        state.region.set_prefix("")?;
        let result = (|| {
            let region = &mut state.region;
            region.constant_gauge(
                FieldSpec::new("sys.pid").describe("writer process id"),
                pid as i64,
            )?;
            region.constant_gauge(
                FieldSpec::new("sys.tid").describe("writer thread id"),
                tid as i64,
            )?;
            region.constant_gauge(
                FieldSpec::new("sys.uid").describe("writer user id"),
                os::uid() as i64,
            )?;
            region.constant_timestamp(
                FieldSpec::new("sys.created").describe("when the file was created"),
                created_ns,
            )?;
            region.constant_text(
                FieldSpec::new("sys.program").describe("writer program name"),
                &os::program_name(),
            )?;
            Ok::<_, mmstats_nostd::AddFieldError>(())
        })();
        state.region.set_prefix(&prefix)?;
        result?;
        for name in [
            "sys.pid",
            "sys.tid",
            "sys.uid",
            "sys.created",
            "sys.program",
        ] {
            state.names.insert(name.to_owned());
        }
        Ok(())
    }
}

/// Counter handle (see [`mmstats_nostd::Counter`]).
pub type Counter = Handle<mmstats_nostd::Counter<'static>>;
/// Shared counter handle (see [`mmstats_nostd::SharedCounter`]).
pub type SharedCounter = Handle<mmstats_nostd::SharedCounter<'static>>;
/// Gauge handle (see [`mmstats_nostd::Gauge`]).
pub type Gauge = Handle<mmstats_nostd::Gauge<'static>>;
/// Shared gauge handle (see [`mmstats_nostd::SharedGauge`]).
pub type SharedGauge = Handle<mmstats_nostd::SharedGauge<'static>>;
/// Float gauge handle (see [`mmstats_nostd::FloatGauge`]).
pub type FloatGauge = Handle<mmstats_nostd::FloatGauge<'static>>;
/// Boolean handle (see [`mmstats_nostd::Flag`]).
pub type Flag = Handle<mmstats_nostd::Flag<'static>>;
/// Timestamp handle (see [`mmstats_nostd::Timestamp`]); adds `set_now`.
pub type Timestamp = Handle<mmstats_nostd::Timestamp<'static>>;
/// String handle (see [`mmstats_nostd::Text`]).
pub type Text = Handle<mmstats_nostd::Text<'static>>;
/// Average handle (see [`mmstats_nostd::Average`]).
pub type Average = Handle<mmstats_nostd::Average<'static>>;
/// Histogram handle (see [`mmstats_nostd::Histogram`]): `record(value)`.
pub type Histogram = Handle<mmstats_nostd::Histogram<'static>>;
/// Moving-average handle (see [`mmstats_nostd::MovingAverage`]): the mean
/// of the last N samples.
pub type MovingAverage = Handle<mmstats_nostd::MovingAverage<'static>>;

impl From<PathBuf> for Location {
    fn from(dir: PathBuf) -> Self {
        Self::Dir(dir)
    }
}
