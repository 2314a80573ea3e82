//! The model: one instance of a user's `MmStats` subclass is one stats
//! file made by the library's [`StatsFileBuilder`], with a [`Slot`] per
//! field definition found on the class and its bases.
//!
//! [`StatsFileBuilder`]: mmstats::StatsFileBuilder

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use mmstats::StatsFile;
use pyo3::exceptions::{PyAttributeError, PyOSError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::field::{Field, ObjectField, Slot, StaticField};
use crate::values::{HandleCell, Removed, check_open};

/// The native base of `mmstats.BaseMmStats`: `__init__` (in Python)
/// calls `_open` once; until then the instance has no file.
#[pyclass(frozen, subclass, module = "mmstats._native")]
pub struct Model {
    opened: OnceLock<Opened>,
}

/// An opened model's file and slots.
struct Opened {
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
    size: usize,
    label_prefix: String,
}

impl Model {
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

/// One field definition found on the class.
enum Definition<'py> {
    Plain(Bound<'py, Field>),
    Object(Bound<'py, ObjectField>),
    Static(Bound<'py, StaticField>),
}

impl Definition<'_> {
    fn id(&self) -> u64 {
        match self {
            Self::Plain(field) => field.get().id(),
            Self::Object(field) => field.get().id(),
            Self::Static(field) => field.get().id(),
        }
    }
}

/// The field definitions of `class` and its bases: the most derived
/// first, each attribute name once (a subclass's definition overrides its
/// base's), each definition once (one object bound to two names is one
/// field). Per class, in the order of the class body as the model
/// metaclass recorded it (`__mmstats_fields__`; the namespace's own entry
/// wins where it still has one, so a class attribute replaced later
/// counts), then definitions set on the class after it was made.
fn definitions<'py>(class: &Bound<'py, PyAny>) -> PyResult<Vec<(String, Definition<'py>)>> {
    let mut found = Vec::new();
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let mro = class.getattr("__mro__")?;
    for base in mro.cast::<PyTuple>()?.iter() {
        let namespace = base.getattr("__dict__")?;
        let recorded = namespace.call_method1("get", ("__mmstats_fields__", ()))?;
        let mut candidates: Vec<(String, Bound<'py, PyAny>)> = Vec::new();
        for item in recorded.try_iter()? {
            let (name, recorded_value): (String, Bound<'py, PyAny>) = item?.extract()?;
            let value = namespace.call_method1("get", (name.as_str(), recorded_value))?;
            candidates.push((name, value));
        }
        for item in namespace.call_method0("items")?.try_iter()? {
            candidates.push(item?.extract()?);
        }
        for (name, value) in candidates {
            let definition = if let Ok(field) = value.cast::<Field>() {
                Definition::Plain(field.clone())
            } else if let Ok(field) = value.cast::<ObjectField>() {
                Definition::Object(field.clone())
            } else if let Ok(field) = value.cast::<StaticField>() {
                Definition::Static(field.clone())
            } else {
                // Not a definition (any more): the name is taken all the same.
                names.insert(name);
                continue;
            };
            if names.insert(name.clone()) && ids.insert(definition.id()) {
                found.push((name, definition));
            }
        }
    }
    Ok(found)
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

    /// Creates the stats file and adds every field of the class (called
    /// once, by `__init__`).
    #[pyo3(signature = (*, name, directory = None, label_prefix = String::new(), size = None, keep = false, library_fields = true))]
    fn _open(
        slf: &Bound<'_, Self>,
        name: &str,
        directory: Option<PathBuf>,
        label_prefix: String,
        size: Option<usize>,
        keep: bool,
        library_fields: bool,
    ) -> PyResult<()> {
        let py = slf.py();
        if slf.get().opened.get().is_some() {
            return Err(PyRuntimeError::new_err(
                "this MmStats instance is open already",
            ));
        }
        let definitions = definitions(slf.get_type().as_any())?;
        let mut builder = StatsFile::builder(name)
            .prefix(label_prefix.clone())
            .keep(keep)
            .default_fields(library_fields);
        if let Some(directory) = directory {
            builder = builder.dir(directory);
        }
        if let Some(size) = size {
            builder = builder.size(size);
        }
        let file = builder
            .create()
            .map_err(|error| PyOSError::new_err(error.to_string()))?;
        let removed = Removed::default();
        let mut slots = Vec::with_capacity(definitions.len());
        for (attribute, definition) in &definitions {
            let slot = match definition {
                Definition::Plain(field) => field.get().create(py, &file, attribute)?,
                Definition::Static(field) => field.get().create(py, &file, attribute)?,
                Definition::Object(field) => {
                    let object = field.get().create(py, &file, attribute, &removed)?;
                    // Into the instance's namespace, where reading the
                    // attribute finds it first (set as an attribute, so
                    // CPython keeps the namespace in its fast form).
                    slf.setattr(attribute.as_str(), object.clone_ref(py))
                        .map_err(|_| {
                            PyTypeError::new_err(
                                "a model class needs a __dict__ (no __slots__ without it)",
                            )
                        })?;
                    Slot::Object(object)
                }
            };
            slots.push(slot);
        }
        let ids: Vec<u64> = definitions
            .iter()
            .map(|(_, definition)| definition.id())
            .collect();
        let first_id = ids.iter().copied().min().unwrap_or(0);
        let span = ids.iter().map(|id| id - first_id + 1).max().unwrap_or(0);
        let mut index = vec![u32::MAX; usize::try_from(span).unwrap_or(usize::MAX)];
        for (at, id) in ids.iter().enumerate() {
            index[(id - first_id) as usize] = u32::try_from(at).unwrap_or(u32::MAX);
        }
        let opened = Opened {
            path: file.path(),
            size: size
                .unwrap_or(mmstats::DEFAULT_SIZE)
                .max(4096)
                .div_ceil(4096)
                * 4096,
            file: HandleCell::new(file),
            removed,
            slots: slots.into_boxed_slice(),
            index: index.into_boxed_slice(),
            first_id,
            label_prefix,
        };
        slf.get()
            .opened
            .set(opened)
            .map_err(|_| PyRuntimeError::new_err("this MmStats instance is open already"))
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
    fn size(&self) -> PyResult<usize> {
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
