//! Publishing a region into a file or a POSIX shared-memory object.
//!
//! A [`StatsFile`] is created owner-only (`O_CREAT | O_EXCL | O_NOFOLLOW`,
//! mode 0600 unless configured), sized, mapped, initialised, and only then
//! given its public name (`renameat2(RENAME_NOREPLACE)`), so a reader never
//! sees a half-built file under a stats name. The writer holds a shared
//! `flock` on it for as long as it lives, which readers use as proof of
//! life. The owner marks the region closed and unlinks it when the last
//! handle drops, unless told to keep it.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
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

/// Why a stats file could not be created. Every variant names the path.
#[derive(Debug)]
pub enum CreateError {
    /// The directory could not be opened or created.
    Directory {
        /// The directory.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// The directory is not safe to publish in.
    UnsafeDirectory {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A live writer already publishes under this name.
    AlreadyExists {
        /// The path.
        path: PathBuf,
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
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directory { path, source } => {
                write!(
                    f,
                    "{}: cannot open stats directory: {source}",
                    path.display()
                )
            }
            Self::UnsafeDirectory { path, reason } => {
                write!(f, "{}: refusing to publish here: {reason}", path.display())
            }
            Self::AlreadyExists { path } => write!(
                f,
                "{}: a stats file of a live writer already has this name",
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
        }
    }
}

impl std::error::Error for CreateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Directory { source, .. } | Self::Io { source, .. } => Some(source),
            Self::Region { source, .. } => Some(source),
            Self::DefaultField { source, .. } => Some(source),
            Self::UnsafeDirectory { .. } | Self::AlreadyExists { .. } => None,
        }
    }
}

/// Why a field could not be added to a [`StatsFile`].
#[derive(Clone, Debug, PartialEq, Eq)]
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
    mode: u32,
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

    /// File permission bits (default 0600). Readers of other users need
    /// at least 0644, and then may read every value.
    #[must_use]
    pub const fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
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
        let (file, place) = match &location {
            Location::Dir(dir) => create_in_dir(dir, &base, self.mode, size)?,
            Location::Shm => create_shm(&format!("{SHM_PREFIX}{base}"), self.mode, size)?,
        };
        let path = place.path();
        let io_error = |operation| {
            let path = path.clone();
            move |source| CreateError::Io {
                path,
                operation,
                source,
            }
        };
        let map = WriteMap::shared(&file, size).map_err(io_error("mmap"))?;
        // SAFETY: `map` moves into the `FileInner` below, which every handle
        // holds through an `Arc`; the words are only used by the region and
        // handles that live inside or beside that `Arc`.
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

        let inner = Arc::new(FileInner {
            map,
            file,
            place,
            keep: AtomicBool::new(self.keep),
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
            PublishError::Exists => CreateError::AlreadyExists { path: path.clone() },
            PublishError::Io(source) => CreateError::Io {
                path: path.clone(),
                operation: "rename into place",
                source,
            },
        })?;
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
    Exists,
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
    /// existing file (a dead writer's stale file is removed first).
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
        for attempt in 0..2 {
            match rename_noreplace(dir, temp, name) {
                Ok(()) => {
                    published.store(true, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt == 0 => {
                    if !remove_if_stale(dir, name) {
                        break;
                    }
                }
                Err(e) => return Err(PublishError::Io(e)),
            }
        }
        Err(PublishError::Exists)
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
                let same = rustix::fs::stat(shm_path(name)).map_or(true, |there| {
                    (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)
                });
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

/// Removes `name` from `dir` if it is a regular file owned by this user
/// whose writer is provably gone. Returns whether it did.
fn remove_if_stale(dir: &OwnedFd, name: &OsString) -> bool {
    let Ok(fd) = rustix::fs::openat(
        dir,
        name.as_os_str(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    ) else {
        return false;
    };
    let file = File::from(fd);
    let Ok(stat) = rustix::fs::fstat(&file) else {
        return false;
    };
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile
        || u64::from(stat.st_uid) != os::uid()
    {
        return false;
    }
    if crate::read::writer_liveness(&file) != crate::read::Liveness::Dead {
        return false;
    }
    rustix::fs::unlinkat(dir, name.as_os_str(), AtFlags::empty()).is_ok()
}

/// Opens (creating if missing, mode 0700) the directory, refusing a
/// symlink and a directory other users could swap files in.
fn open_dir(dir: &Path) -> Result<OwnedFd, CreateError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let open = || rustix::fs::open(dir, flags, Mode::empty());
    let fd = match open() {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => {
            match rustix::fs::mkdir(dir, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => {
                    return Err(CreateError::Directory {
                        path: dir.to_owned(),
                        source: e.into(),
                    });
                }
            }
            open().map_err(|e| CreateError::Directory {
                path: dir.to_owned(),
                source: e.into(),
            })?
        }
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
            return Err(CreateError::UnsafeDirectory {
                path: dir.to_owned(),
                reason: "it is a symbolic link or not a directory",
            });
        }
        Err(e) => {
            return Err(CreateError::Directory {
                path: dir.to_owned(),
                source: e.into(),
            });
        }
    };
    let stat = rustix::fs::fstat(&fd).map_err(|e| CreateError::Directory {
        path: dir.to_owned(),
        source: e.into(),
    })?;
    let others_write = stat.st_mode & 0o022 != 0;
    let sticky = stat.st_mode & 0o1000 != 0;
    if u64::from(stat.st_uid) != os::uid() && stat.st_uid != 0 && others_write && !sticky {
        return Err(CreateError::UnsafeDirectory {
            path: dir.to_owned(),
            reason: "another user owns it and others may write to it without the sticky bit",
        });
    }
    if stat.st_uid == os::uid() as u32 && others_write && !sticky {
        return Err(CreateError::UnsafeDirectory {
            path: dir.to_owned(),
            reason: "others may write to it and it lacks the sticky bit",
        });
    }
    Ok(fd)
}

fn create_in_dir(
    dir: &Path,
    name: &str,
    mode: u32,
    size: usize,
) -> Result<(File, Place), CreateError> {
    let dir_fd = open_dir(dir)?;
    let temp = OsString::from(format!(".{name}.tmp"));
    let path = dir.join(&temp);
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::RDWR | OFlags::CLOEXEC;
    let create = || rustix::fs::openat(&dir_fd, temp.as_os_str(), flags, Mode::from_raw_mode(mode));
    let fd = match create() {
        // A temporary name is private to this pid and thread: one left
        // behind was made by a process that died while creating it.
        Err(rustix::io::Errno::EXIST) if remove_if_stale(&dir_fd, &temp) => create(),
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
    prepare(file, place, path, size, mode)
}

fn create_shm(name: &str, mode: u32, size: usize) -> Result<(File, Place), CreateError> {
    let path = shm_path(name);
    let flags = rustix::shm::OFlags::CREATE | rustix::shm::OFlags::EXCL | rustix::shm::OFlags::RDWR;
    let create = || rustix::shm::open(format!("/{name}"), flags, Mode::from_raw_mode(mode));
    let fd = match create() {
        Err(rustix::io::Errno::EXIST) => {
            // A stale object of a dead writer with the same pid and thread id.
            let stale = File::open(&path)
                .map(|f| crate::read::writer_liveness(&f) == crate::read::Liveness::Dead)
                .unwrap_or(false);
            if stale {
                let _ = rustix::shm::unlink(format!("/{name}"));
                create()
            } else {
                return Err(CreateError::AlreadyExists { path });
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
    prepare(file, place, path, size, mode)
}

/// Sizes the new file, fixes its mode against the umask, and takes the
/// writer's lock; on failure removes the file.
fn prepare(
    file: File,
    place: Place,
    path: PathBuf,
    size: usize,
    mode: u32,
) -> Result<(File, Place), CreateError> {
    let steps = || -> Result<(), (&'static str, rustix::io::Errno)> {
        rustix::fs::ftruncate(&file, size as u64).map_err(|e| ("ftruncate", e))?;
        // The umask may have cleared bits the caller asked for.
        rustix::fs::fchmod(&file, Mode::from_raw_mode(mode)).map_err(|e| ("fchmod", e))?;
        rustix::fs::flock(&file, FlockOperation::NonBlockingLockShared).map_err(|e| ("flock", e))
    };
    match steps() {
        Ok(()) => Ok((file, place)),
        Err((operation, error)) => {
            place.remove(&file);
            Err(CreateError::Io {
                path,
                operation,
                source: error.into(),
            })
        }
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
            mode: 0o600,
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
