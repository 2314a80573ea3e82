//! The model: one instance of a user's `MmStats` subclass is one stats
//! file made by the library's [`StatsFileBuilder`], with a [`Slot`] per
//! field definition found on the class and its bases.
//!
//! [`StatsFileBuilder`]: mmstats::StatsFileBuilder

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use mmstats::StatsFile;
use pyo3::exceptions::{PyAttributeError, PyOSError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::slot::Slot;
use crate::values::{HandleCell, Removed, check_open};

/// The native base of `mmstats.BaseMmStats`: `__init__` (in Python)
/// calls `open_model` once; until then the instance has no file.
#[pyclass(frozen, subclass, module = "mmstats._native")]
pub struct Model {
    opened: OnceLock<Opened>,
}

/// An opened model's file and slots.
pub(crate) struct Opened {
    file: HandleCell<StatsFile>,
    /// Set by `remove()`; every update checks it first.
    removed: Removed,
    /// The slots, in the order the fields were added.
    slots: Box<[Slot]>,
    /// Where each definition's slot is: `index[id - first_id]` (`u32::MAX`
    /// for ids not on this class). Ids are dense (a process-wide counter),
    /// so the table is about as long as the definitions made between this
    /// class's first and last; a lookup is two loads, no search.
    index: Box<[u32]>,
    first_id: u64,
    path: PathBuf,
    size: u64,
    label_prefix: String,
}

impl Opened {
    /// The opened state of a model: its file, the removal flag its objects
    /// share, and the slots with the ids of their definitions (in the
    /// order the fields were added).
    pub(crate) fn new(
        file: StatsFile,
        removed: Removed,
        slots: Vec<(u64, Slot)>,
        label_prefix: String,
    ) -> PyResult<Self> {
        let path = file.path();
        let size = std::fs::metadata(&path)
            .map_err(|error| PyOSError::new_err(format!("{}: {error}", path.display())))?
            .len();
        let first_id = slots.iter().map(|(id, _)| *id).min().unwrap_or(0);
        let span = slots
            .iter()
            .map(|(id, _)| id - first_id + 1)
            .max()
            .unwrap_or(0);
        let mut index = vec![u32::MAX; usize::try_from(span).unwrap_or(usize::MAX)];
        for (at, (id, _)) in slots.iter().enumerate() {
            index[(id - first_id) as usize] = u32::try_from(at).unwrap_or(u32::MAX);
        }
        Ok(Self {
            file: HandleCell::new(file),
            removed,
            slots: slots.into_iter().map(|(_, slot)| slot).collect(),
            index: index.into_boxed_slice(),
            first_id,
            path,
            size,
            label_prefix,
        })
    }
}

impl Model {
    /// Whether `open_model` ran.
    pub(crate) fn is_opened(&self) -> bool {
        self.opened.get().is_some()
    }

    /// Gives the model its file and slots (once).
    pub(crate) fn set_opened(&self, opened: Opened) -> PyResult<()> {
        self.opened
            .set(opened)
            .map_err(|_| PyRuntimeError::new_err("this MmStats instance is open already"))
    }

    /// Runs `work` on `instance`'s slot of the definition `id`: the hot
    /// path of every attribute read and assignment.
    #[inline]
    pub(crate) fn with_slot<R>(
        instance: &Bound<'_, PyAny>,
        id: u64,
        work: impl FnOnce(&Slot) -> PyResult<R>,
    ) -> PyResult<R> {
        let model = instance.cast::<Model>().map_err(|_| {
            PyTypeError::new_err("mmstats fields work on instances of MmStats subclasses only")
        })?;
        let opened = model.get().opened.get().ok_or_else(not_opened)?;
        check_open(&opened.removed)?;
        let slot = usize::try_from(id.wrapping_sub(opened.first_id))
            .ok()
            .and_then(|at| opened.index.get(at))
            .and_then(|&at| opened.slots.get(at as usize));
        match slot {
            Some(slot) => work(slot),
            None => Err(PyAttributeError::new_err(
                "this field was added to the class after the instance was made",
            )),
        }
    }

    fn opened(&self) -> PyResult<&Opened> {
        self.opened.get().ok_or_else(not_opened)
    }
}

fn not_opened() -> PyErr {
    PyRuntimeError::new_err("MmStats.__init__ has not run for this instance")
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        Self {
            opened: OnceLock::new(),
        }
    }

    /// The stats file's full path.
    #[getter]
    fn filename(&self) -> PyResult<String> {
        Ok(self.opened()?.path.display().to_string())
    }

    /// The prefix put before every field's name.
    #[getter]
    fn label_prefix(&self) -> PyResult<String> {
        Ok(self.opened()?.label_prefix.clone())
    }

    /// The file's size in bytes.
    #[getter]
    fn size(&self) -> PyResult<u64> {
        Ok(self.opened()?.size)
    }

    /// Whether `remove()` ran.
    #[getter]
    fn removed(&self) -> PyResult<bool> {
        // Relaxed: see `check_open`.
        Ok(self.opened()?.removed.load(Ordering::Relaxed))
    }

    /// Flushes the file to its backing store (`msync`; a no-op in memory
    /// such as `/dev/shm`). `asynchronous` is accepted for the original's
    /// `async` and ignored: the library's flush waits.
    #[pyo3(signature = (asynchronous = false))]
    fn flush(&self, asynchronous: bool) -> PyResult<()> {
        let _ = asynchronous;
        self.opened()?
            .file
            .with(StatsFile::flush)?
            .map_err(|error| PyOSError::new_err(error.to_string()))
    }

    /// Marks the file closed for readers and removes it: no further
    /// updates work (they raise `ValueError`). Calling it again does
    /// nothing.
    fn remove(&self, py: Python<'_>) -> PyResult<()> {
        let opened = self.opened()?;
        // Relaxed: see `check_open`.
        opened.removed.store(true, Ordering::Relaxed);
        for slot in opened.slots.iter() {
            slot.close(py);
        }
        // The shared handles stay (unused) until the model goes: the file
        // is closed and unlinked now, even one made with `keep`, as the
        // original's remove did.
        if let Some(file) = opened.file.take() {
            file.close_now();
        }
        Ok(())
    }
}
