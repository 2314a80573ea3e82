//! Opening a model: the field definitions of its class (and bases) are
//! found, the stats file is made by the library's builder, each definition
//! adds its field, and the model gets its slots. `BaseMmStats.__init__`
//! calls [`open_model`] once.

use std::collections::HashSet;
use std::path::PathBuf;

use mmstats::StatsFile;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::field::{Field, ObjectField, StaticField};
use crate::model::{FieldNames, Model, Opened};
use crate::slot::Slot;
use crate::values::Removed;

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

/// Creates the stats file of `model` and adds every field of its class
/// (called once, by `BaseMmStats.__init__`).
#[pyfunction]
#[pyo3(signature = (model, *, name, directory = None, label_prefix = String::new(), size = None, keep = false, library_fields = true))]
pub(crate) fn open_model(
    model: &Bound<'_, Model>,
    name: &str,
    directory: Option<PathBuf>,
    label_prefix: String,
    size: Option<usize>,
    keep: bool,
    library_fields: bool,
) -> PyResult<()> {
    let py = model.py();
    if model.get().is_opened() {
        return Err(PyRuntimeError::new_err(
            "this MmStats instance is open already",
        ));
    }
    let definitions = definitions(model.get_type().as_any())?;
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
    let mut plain = Vec::new();
    for (attribute, definition) in &definitions {
        let slot = match definition {
            Definition::Plain(field) => {
                plain.push((attribute.as_str(), slots.len()));
                field.get().create(py, &file, attribute)?
            }
            Definition::Static(field) => field.get().create(py, &file, attribute)?,
            Definition::Object(field) => {
                let object = field.get().create(py, &file, attribute, &removed)?;
                // Into the instance's namespace, where reading the
                // attribute finds it first (set as an attribute, so
                // CPython keeps the namespace in its fast form).
                model
                    .setattr(attribute.as_str(), object.clone_ref(py))
                    .map_err(|_| {
                        PyTypeError::new_err(
                            "a model class needs a __dict__ (no __slots__ without it)",
                        )
                    })?;
                Slot::Object(object)
            }
        };
        slots.push((definition.id(), slot));
    }
    model.get().set_opened(Opened::new(
        file,
        removed,
        slots,
        FieldNames::new(py, &plain),
        label_prefix,
    )?)
}
