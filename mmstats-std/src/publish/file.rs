//! [`StatsFile`], the region it owns, and [`Handle`], which keeps it alive.

use std::fmt;
use std::fs::File;
use std::io;
use std::ops::Deref;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use mmstats_nostd::{FieldSpec, LabelError, Labels, Region};

use crate::error::AddFieldError;
use crate::map::WriteMap;
use crate::os;

use super::create::Place;

/// What the file owns; shared by the [`StatsFile`] and every handle.
pub(crate) struct FileInner {
    pub(super) map: WriteMap,
    pub(super) file: File,
    pub(super) place: Place,
    pub(super) keep: AtomicBool,
    /// Origin of the clock of dynamic fields (milliseconds since it).
    pub(super) created: Instant,
    pub(super) state: Mutex<WriterState>,
}

pub(super) struct WriterState {
    pub(super) region: Region<'static>,
    pub(super) names: std::collections::HashSet<String>,
}

impl fmt::Debug for FileInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileInner")
            .field("path", &self.place.path())
            .finish_non_exhaustive()
    }
}

impl FileInner {
    pub(super) fn lock(&self) -> MutexGuard<'_, WriterState> {
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
    pub(super) inner: Arc<FileInner>,
    /// `Some(prefix)`: fields added through this view are dynamic and
    /// named `{file prefix}{group prefix}{name}`.
    pub(super) group: Option<Arc<str>>,
    /// Labels every field added through this view carries (with the
    /// field's own, [`FieldSpec::labels`]).
    pub(super) labels: Labels,
}

impl StatsFile {
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
            labels: self.labels.clone(),
        }
    }

    /// A view of this file whose fields carry `labels` ((key, value)
    /// pairs, any order), besides those of this view and their own
    /// ([`FieldSpec::labels`]). Fields stay dynamic if this view's are.
    /// Fields of one name told apart by their labels are one family to
    /// readers: `web.conn.bytes_in{conn="1234"}`. The file needs room for
    /// labels ([`StatsFileBuilder::labels`](crate::StatsFileBuilder::labels),
    /// on by default).
    ///
    /// Fails when a label is invalid, repeats a key of this view, or the
    /// set grows past the limits of [`Labels`] (8 labels, 128 bytes).
    pub fn with_labels(&self, labels: &[(&str, &str)]) -> Result<Self, LabelError> {
        let mut merged: Vec<(&str, &str)> = self.labels.iter().collect();
        merged.extend_from_slice(labels);
        Ok(Self {
            inner: Arc::clone(&self.inner),
            group: self.group.clone(),
            labels: Labels::from_pairs(&merged)?,
        })
    }

    /// A view whose fields are **dynamic** (as [`StatsFile::dynamic_group`]
    /// makes them, without a name prefix) and carry `labels`: the way to
    /// publish per-connection or per-request fields as one family.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let stats = mmstats::StatsFile::builder("srv")
    ///     .dir(dir.path())
    ///     .reuse_delay(std::time::Duration::ZERO)
    ///     .create()
    ///     .unwrap();
    /// let conn = stats.dynamic_labels(&[("conn", "1234")]).unwrap();
    /// let bytes_in = conn.counter("conn.bytes_in").unwrap();
    /// bytes_in.add(512);
    /// let read = mmstats::read_file(stats.path()).unwrap();
    /// let field = read.fields.iter().find(|f| f.name == "conn.bytes_in").unwrap();
    /// assert_eq!(field.labels.get("conn"), Some("1234"));
    /// assert_eq!(field.labels.to_string(), r#"{conn="1234"}"#);
    /// drop(bytes_in); // the connection closed: readers stop showing it
    /// assert!(mmstats::read_file(stats.path()).unwrap().fields.iter().all(|f| f.name != "conn.bytes_in"));
    /// ```
    pub fn dynamic_labels(&self, labels: &[(&str, &str)]) -> Result<Self, LabelError> {
        let view = self.with_labels(labels)?;
        Ok(Self {
            group: Some(self.group.clone().unwrap_or_else(|| Arc::from(""))),
            ..view
        })
    }

    /// The labels fields added through this view carry (empty for the
    /// file itself).
    #[must_use]
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// Whether fields added through this view are dynamic.
    #[must_use]
    pub fn is_dynamic_group(&self) -> bool {
        self.group.is_some()
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

    /// Marks the file closed for readers and unlinks it now, while
    /// handles may still exist and whatever [`StatsFile::set_keep`] says:
    /// for a writer that must remove its stats at a moment of its choosing
    /// without dropping every handle first (the Python package's
    /// `remove()`). Later updates through the handles still land in the
    /// mapping, which no reader finds by name any more; it goes with the
    /// last handle. The name is free for a new file at once. Calling it
    /// again, or dropping the last handle later, removes nothing else (the
    /// unlink checks the name still refers to this file).
    pub fn close_now(&self) {
        self.inner.lock().region.close();
        self.inner.place.remove(&self.inner.file);
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
    /// Runs `add` on the region under the lock, refusing a field whose name
    /// and labels (the view's and the spec's) are those of a live field,
    /// and wraps what it returns in a handle that keeps the file alive.
    /// In a dynamic group, the field is added inside `Region::dynamic` and
    /// its handle retires it on drop.
    pub(crate) fn with_region<T>(
        &self,
        spec: &FieldSpec<'_>,
        add: impl FnOnce(&mut Region<'static>, FieldSpec<'_>) -> Result<T, mmstats_nostd::AddFieldError>,
    ) -> Result<Handle<T>, AddFieldError> {
        let mut pairs: Vec<(&str, &str)> = self.labels.iter().collect();
        pairs.extend_from_slice(spec.labels);
        let labels = Labels::from_pairs(&pairs).map_err(mmstats_nostd::AddFieldError::from)?;
        let spec = spec.labels(&pairs);
        let mut state = self.inner.lock();
        let group = self.group.as_deref().unwrap_or("");
        // The identity of a field: its full name and its labels, as
        // readers show it (`name{key="value"}`).
        let full = format!("{}{group}{}{labels}", state.region.prefix(), spec.name);
        if state.names.contains(&full) {
            return Err(AddFieldError::DuplicateName(full));
        }
        if self.group.is_none() {
            let made = add(&mut state.region, spec)?;
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

    pub(super) fn add_default_fields(
        &self,
        pid: u64,
        tid: u64,
        created_ns: u64,
    ) -> Result<(), AddFieldError> {
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

/// A field handle from `mmstats-nostd` plus a reference that keeps the
/// file's mapping alive as long as the handle exists. Derefs to the
/// `mmstats-nostd` handle, whose methods (`incr`, `set`, ...) do the work;
/// the `Arc` is never touched on the write path.
///
/// `Handle<T>` is `Send` and `Sync` exactly when `T` is, so single-writer
/// kinds stay `Send` but not `Sync`.
///
/// A handle of a *dynamic* field (added through
/// [`StatsFile::dynamic_group`]) retires the field when it drops: readers
/// stop showing it, and its slot is reused after the file's reuse delay.
#[derive(Debug)]
pub struct Handle<T> {
    // Declared first so it is dropped before the mapping it borrows.
    inner: T,
    dynamic: Option<DynamicSlot>,
    file: Arc<FileInner>,
}

/// The slot of a dynamic field and its full name (freed for reuse when the
/// field is retired).
#[derive(Debug)]
pub(crate) struct DynamicSlot {
    pub(crate) slot: mmstats_nostd::Slot<'static>,
    pub(crate) name: String,
}

impl<T> Handle<T> {
    pub(crate) fn new(inner: T, file: Arc<FileInner>) -> Self {
        Self {
            inner,
            dynamic: None,
            file,
        }
    }

    pub(crate) fn new_dynamic(inner: T, slot: DynamicSlot, file: Arc<FileInner>) -> Self {
        Self {
            inner,
            dynamic: Some(slot),
            file,
        }
    }

    /// Whether the field is dynamic (retired when this handle drops).
    #[must_use]
    pub fn is_dynamic(&self) -> bool {
        self.dynamic.is_some()
    }

    /// The field's registration id, for a dynamic field (it changes with
    /// every reuse of the slot, so it names this field alone).
    #[must_use]
    pub fn registration_id(&self) -> Option<u64> {
        self.dynamic.as_ref().map(|d| d.slot.id())
    }
}

impl<T> Drop for Handle<T> {
    fn drop(&mut self) {
        // The handle's updates are all done (this is its drop), so the
        // field can be retired; the nostd handle is dropped after this.
        if let Some(dynamic) = self.dynamic.take() {
            self.file.retire(dynamic);
        }
    }
}

impl<T> Deref for Handle<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl Handle<mmstats_nostd::Timestamp<'static>> {
    /// Sets the timestamp to the current time.
    pub fn set_now(&self) {
        self.set_ns(crate::os::now_ns());
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
/// Shared float gauge handle (see [`mmstats_nostd::SharedFloatGauge`]).
pub type SharedFloatGauge = Handle<mmstats_nostd::SharedFloatGauge<'static>>;
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
