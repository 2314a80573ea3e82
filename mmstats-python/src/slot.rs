//! One instance's side of a field: the handle in its file ([`Slot`]),
//! and reading and assigning through it. Made by the definitions
//! (`field`), held by the model (`model`).

use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::convert::{IntWidth, float_value, text_value};
use crate::values::{Average, HandleCell, MovingAverage, Timer};

/// One instance's side of a field: the handle in its file.
pub(crate) enum Slot {
    /// An integer field: a shared gauge handle (its `set` is one relaxed
    /// store, no lock).
    Int {
        width: IntWidth,
        gauge: mmstats::SharedGauge,
    },
    /// A float field: a shared float gauge handle (one store).
    Float {
        single: bool,
        gauge: mmstats::SharedFloatGauge,
    },
    Bool(HandleCell<mmstats::Flag>),
    Text(HandleCell<TextState>),
    /// A static field's value, set once.
    Constant(Py<PyAny>),
    /// The object of a complex field (kept to drop its handle on remove;
    /// attribute reads find it in the instance's `__dict__`).
    Object(Py<PyAny>),
}

/// A string field's handle and the value it holds (the format's string
/// is write-only for the writer; reads return this copy).
pub(crate) struct TextState {
    pub(crate) text: mmstats::Text,
    pub(crate) value: Py<PyString>,
}

impl Slot {
    /// The attribute's value on the instance.
    #[inline]
    pub(crate) fn get(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            Self::Int { gauge, .. } => gauge.get().into_pyobject(py)?.into_any().unbind(),
            Self::Float { gauge, .. } => gauge.get().into_pyobject(py)?.into_any().unbind(),
            Self::Bool(flag) => flag
                .with(|flag| flag.get())?
                .into_pyobject(py)?
                .to_owned()
                .into_any()
                .unbind(),
            Self::Text(text) => text.with(|text| text.value.clone_ref(py))?.into_any(),
            Self::Constant(object) | Self::Object(object) => object.clone_ref(py),
        })
    }

    /// Assigns the attribute on the instance.
    #[inline]
    pub(crate) fn set(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        match self {
            Self::Int { width, gauge } => {
                gauge.set(width.wrap(value)?);
                Ok(())
            }
            Self::Float { single, gauge } => {
                gauge.set(float_value(value, *single)?);
                Ok(())
            }
            Self::Bool(flag) => {
                let value = value.is_truthy()?;
                flag.with(|flag| flag.set(value))
            }
            Self::Text(cell) => {
                let text = text_value(value)?;
                let py = value.py();
                // Under the lock: the library call and making a str (no
                // Python code runs); the old str is released after it.
                let old = cell.with_mut(|state| {
                    let stored = state.text.set(&text);
                    let now = PyString::new(py, &text[..stored]).unbind();
                    std::mem::replace(&mut state.value, now)
                })?;
                drop(old);
                Ok(())
            }
            Self::Constant(_) | Self::Object(_) => {
                Err(PyAttributeError::new_err("this field cannot be assigned"))
            }
        }
    }

    /// Drops what can be dropped of the handle (the model is removed; the
    /// shared handles stay until the model goes, unused).
    pub(crate) fn close(&self, py: Python<'_>) {
        match self {
            Self::Bool(flag) => drop(flag.take()),
            Self::Text(text) => drop(text.take()),
            Self::Object(object) => {
                let object = object.bind(py);
                if let Ok(average) = object.cast::<Average>() {
                    drop(average.get().handle.take());
                } else if let Ok(average) = object.cast::<MovingAverage>() {
                    drop(average.get().handle.take());
                } else if let Ok(timer) = object.cast::<Timer>() {
                    drop(timer.get().handle.take());
                }
            }
            Self::Int { .. } | Self::Float { .. } | Self::Constant(_) => {}
        }
    }
}
