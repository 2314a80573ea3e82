//! The model: one instance of a user's `MmStats` subclass is one stats
//! file made by the library's [`StatsFileBuilder`], with a [`Slot`] per
//! field definition found on the class and its bases.
//!
//! [`StatsFileBuilder`]: mmstats::StatsFileBuilder

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use mmstats::StatsFile;
use pyo3::exceptions::{PyAttributeError, PyOSError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::slot::Slot;
use crate::values::{HandleCell, Removed, check_open};

/// The native base of `mmstats.BaseMmStats` (`_native.ModelBase`; the
/// class models derive from is its subclass `_native.Model`, which adds
/// the fast attribute assignment of `attribute`): `__init__` (in Python)
/// calls `open_model` once; until then the instance has no file.
#[pyclass(frozen, subclass, name = "ModelBase", module = "mmstats._native")]
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
    /// The attribute names of the plain fields (the ones assignment
    /// stores through) and their slots: `__setattr__` looks here first.
    names: FieldNames,
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
        names: FieldNames,
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
            names,
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
    /// path of every field read, and of the assignments the model's own
    /// `__setattr__` leaves to the descriptor.
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

    /// Where assigning the attribute `name` of `instance` goes: a plain
    /// field's slot (the model is open, `name` is the interned name of a
    /// plain field), or `None` (everything else: the generic way). `name`
    /// may be any object (a `Model.__setattr__` call passes what it is
    /// given): only the interned strs in the table match.
    #[inline]
    pub(crate) fn assigned_slot<'a>(
        instance: &'a Bound<'_, Model>,
        name: &Bound<'_, PyAny>,
    ) -> Option<AssignedSlot<'a>> {
        let opened = instance.get().opened.get()?;
        let slot = opened.slots.get(opened.names.find(name)?)?;
        Some(AssignedSlot {
            slot,
            removed: &opened.removed,
        })
    }

    fn opened(&self) -> PyResult<&Opened> {
        self.opened.get().ok_or_else(not_opened)
    }
}

/// A plain field's slot an assignment stores through, and the model's
/// removal flag (checked before the store).
pub(crate) struct AssignedSlot<'a> {
    pub(crate) slot: &'a Slot,
    pub(crate) removed: &'a AtomicBool,
}

impl AssignedSlot<'_> {
    /// Stores `value` (the checks and conversions of [`Slot::set`]).
    pub(crate) fn set(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        check_open(self.removed)?;
        self.slot.set(value)
    }
}

/// The attribute names of a model's plain fields and their slots, found
/// by the name object: attribute names reach `__setattr__` interned
/// (`PyObject_SetAttr` interns them, the compiler interns the names in
/// code), and the table holds the interned strs, so a match is most
/// often a pointer comparison. Up to [`FieldNames::LINEAR`] names are
/// scanned; more are found through an open-addressing table keyed by
/// the pointer. A name that is not the interned object (a str subclass,
/// a call of `Model.__setattr__` with a str made at run time) is not
/// found: it goes the generic way, where the field's descriptor stores
/// it all the same (slower, same result).
pub(crate) struct FieldNames {
    /// The names (interned) and their slot index, in field order.
    entries: Box<[(Py<PyString>, u32)]>,
    /// Indexes into `entries` by pointer hash (`EMPTY`: free), a power
    /// of two at least twice as long as `entries`; empty for up to
    /// [`FieldNames::LINEAR`] names.
    table: Box<[u32]>,
    /// `usize::BITS` less the table's log2: the hash keeps the top bits.
    shift: u32,
}

impl FieldNames {
    /// Up to this many names are scanned (a few pointer comparisons).
    pub(crate) const LINEAR: usize = 16;
    const EMPTY: u32 = u32::MAX;

    /// The table of `fields`: attribute name and slot index.
    pub(crate) fn new(py: Python<'_>, fields: &[(&str, usize)]) -> Self {
        let entries: Box<[(Py<PyString>, u32)]> = fields
            .iter()
            .map(|(name, at)| {
                (
                    PyString::intern(py, name).unbind(),
                    u32::try_from(*at).unwrap_or(Self::EMPTY),
                )
            })
            .collect();
        let mut table = Vec::new();
        let mut shift = 0;
        if entries.len() > Self::LINEAR {
            table = vec![Self::EMPTY; (entries.len() * 2).next_power_of_two()];
            shift = usize::BITS - table.len().trailing_zeros();
            let mask = table.len() - 1;
            for (at, (name, _)) in entries.iter().enumerate() {
                let mut probe = Self::hash(name.as_ptr(), shift);
                while table[probe] != Self::EMPTY {
                    probe = (probe + 1) & mask;
                }
                table[probe] = u32::try_from(at).unwrap_or(Self::EMPTY);
            }
        }
        Self {
            entries,
            table: table.into_boxed_slice(),
            shift,
        }
    }

    /// Fibonacci hashing of the object's address: the top bits of the
    /// product, as many as index the table (`shift`: `usize::BITS` less
    /// the table's log2), so the result is below the table's length.
    #[inline]
    fn hash(pointer: *mut pyo3::ffi::PyObject, shift: u32) -> usize {
        (pointer as usize).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> shift
    }

    /// The slot index of the field named `name`, if it is one.
    #[inline]
    pub(crate) fn find(&self, name: &Bound<'_, PyAny>) -> Option<usize> {
        let wanted = name.as_ptr();
        if self.table.is_empty() {
            for (key, at) in self.entries.iter() {
                if key.as_ptr() == wanted {
                    return Some(*at as usize);
                }
            }
        } else {
            let mask = self.table.len() - 1;
            let mut probe = Self::hash(wanted, self.shift);
            // Ends: at most half the table is taken.
            loop {
                let at = self.table[probe];
                let Some((key, slot)) = self.entries.get(at as usize) else {
                    break;
                };
                if key.as_ptr() == wanted {
                    return Some(*slot as usize);
                }
                probe = (probe + 1) & mask;
            }
        }
        None
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
