//! The model: one instance of a user's `MmStats` subclass is one stats
//! file made by the library's [`StatsFileBuilder`], with a [`Slot`] per
//! field definition found on the class and its bases.
//!
//! [`StatsFileBuilder`]: mmstats::StatsFileBuilder

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use mmstats::StatsFile;
use pyo3::exceptions::{PyAttributeError, PyOSError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::field::{Field, Slot, StaticField};
use crate::values::HandleCell;

/// The native base of `mmstats.BaseMmStats`: `__init__` (in Python)
/// calls `_open` once; until then the instance has no file.
#[pyclass(frozen, subclass, module = "mmstats._native")]
pub struct Model {
    opened: OnceLock<Opened>,
}

/// An opened model's file and slots.
struct Opened {
    file: HandleCell<StatsFile>,
    /// The slots, sorted by the definitions' ids.
    slots: Box<[(u64, Slot)]>,
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
        match opened.slots.binary_search_by_key(&id, |(key, _)| *key) {
            Ok(index) => work(&opened.slots[index].1),
            Err(_) => Err(PyAttributeError::new_err(
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
    Writable(Bound<'py, Field>),
    Static(Bound<'py, StaticField>),
}

impl Definition<'_> {
    fn id(&self) -> u64 {
        match self {
            Self::Writable(field) => field.get().id,
            Self::Static(field) => field.get().id,
        }
    }
}

/// The field definitions of `class` and its bases: the most derived
/// first, each attribute name once (a subclass's definition overrides its
/// base's), each definition once (one object bound to two names is one
/// field).
fn definitions<'py>(class: &Bound<'py, PyAny>) -> PyResult<Vec<(String, Definition<'py>)>> {
    let mut found = Vec::new();
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let mro = class.getattr("__mro__")?;
    for base in mro.cast::<PyTuple>()?.iter() {
        let namespace = base.getattr("__dict__")?;
        let items = namespace.call_method0("items")?;
        for item in items.try_iter()? {
            let (name, value): (String, Bound<'py, PyAny>) = item?.extract()?;
            let definition = if let Ok(field) = value.cast::<Field>() {
                Definition::Writable(field.clone())
            } else if let Ok(field) = value.cast::<StaticField>() {
                Definition::Static(field.clone())
            } else {
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
        let mut slots = Vec::with_capacity(definitions.len());
        for (attribute, definition) in &definitions {
            let slot = match definition {
                Definition::Writable(field) => field.get().create(py, &file, attribute)?,
                Definition::Static(field) => field.get().create(py, &file, attribute)?,
            };
            slots.push((definition.id(), slot));
        }
        slots.sort_unstable_by_key(|(id, _)| *id);
        let opened = Opened {
            path: file.path(),
            size: size
                .unwrap_or(mmstats::DEFAULT_SIZE)
                .max(4096)
                .div_ceil(4096)
                * 4096,
            file: HandleCell::new(file),
            slots: slots.into_boxed_slice(),
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
        Ok(self.opened()?.file.with(|_| ()).is_err())
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
        for (_, slot) in opened.slots.iter() {
            slot.close(py);
        }
        // The last handle: the library marks the file closed and unlinks it
        // (even one made with `keep`, as the original's remove did).
        if let Some(file) = opened.file.take() {
            file.set_keep(false);
            drop(file);
        }
        Ok(())
    }
}
