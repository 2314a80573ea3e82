//! Field definitions: the descriptors a model class holds
//! (`status2xx = UIntField(label='status.2XX')`). A definition is shared
//! by every instance of the class; each instance has its own [`Slot`]
//! (the handle in its file), found by the definition's id. Reading the
//! attribute on an instance returns the value (or the `Counter`, ...
//! object of a complex field); assigning it stores through the handle.

use std::sync::atomic::{AtomicU64, Ordering};

use mmstats::{AddFieldError, FieldSpec, StatsFile, Unit};
use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::DuplicateFieldName;
use crate::convert::{IntWidth, float_value, int_bits, text_value};
use crate::model::Model;
use crate::values::{Average, Counter, HandleCell, MovingAverage, Timer};

/// Ids of field definitions: unique in the process, never reused.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    // Relaxed: only uniqueness matters, which the atomic RMW gives.
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// What a writable field stores.
#[derive(Debug)]
enum FieldKind {
    /// A gauge holding a C integer of this width.
    Int(IntWidth),
    /// A float gauge (`single`: rounded to a C `float`).
    Float { single: bool },
    /// A bool, starting at `initial`.
    Bool { initial: bool },
    /// A string of at most `size` bytes.
    Text { size: usize },
    /// A counter (the attribute is a [`Counter`]).
    Counter,
    /// A running average ([`Average`]).
    Average,
    /// The mean of the last `size` values ([`MovingAverage`]).
    MovingAverage { size: usize },
    /// A moving average of durations, in seconds ([`Timer`]).
    Timer { size: usize, clock: Py<PyAny> },
}

impl FieldKind {
    fn parse(
        kind: &str,
        size: Option<usize>,
        initial: Option<&Bound<'_, PyAny>>,
        timer: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let window = size.unwrap_or(100);
        Ok(match kind {
            "byte" => Self::Int(IntWidth::I8),
            "short" => Self::Int(IntWidth::I16),
            "ushort" => Self::Int(IntWidth::U16),
            "int" => Self::Int(IntWidth::I32),
            "uint" => Self::Int(IntWidth::U32),
            "uint64" => Self::Int(IntWidth::U64),
            "float" => Self::Float { single: true },
            "double" => Self::Float { single: false },
            "bool" => Self::Bool {
                initial: match initial {
                    Some(initial) => initial.is_truthy()?,
                    None => false,
                },
            },
            "string" => Self::Text {
                size: size.unwrap_or(255),
            },
            "counter" => Self::Counter,
            "average" => Self::Average,
            "moving_average" => Self::MovingAverage { size: window },
            "timer" => Self::Timer {
                size: window,
                clock: timer.ok_or_else(|| PyValueError::new_err("a timer needs a clock"))?,
            },
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown field kind {other:?}"
                )));
            }
        })
    }

    fn default_unit(&self) -> Unit {
        match self {
            Self::Timer { .. } => Unit::Seconds,
            _ => Unit::None,
        }
    }
}

/// One instance's side of a field: the handle in its file.
pub(crate) enum Slot {
    Int {
        width: IntWidth,
        gauge: HandleCell<mmstats::Gauge>,
    },
    Float {
        single: bool,
        gauge: HandleCell<mmstats::FloatGauge>,
    },
    Bool(HandleCell<mmstats::Flag>),
    Text(HandleCell<TextState>),
    /// A `Counter`, `Average`, `MovingAverage` or `Timer`.
    Object(Py<PyAny>),
    /// A static field's value, set once.
    Constant(Py<PyAny>),
}

/// A string field's handle and the value it holds (the format's string
/// is write-only for the writer; reads return this copy).
pub(crate) struct TextState {
    text: mmstats::Text,
    value: Py<PyString>,
}

impl Slot {
    /// The attribute's value on the instance.
    #[inline]
    pub(crate) fn get(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            Self::Int { gauge, .. } => gauge
                .with(|gauge| gauge.get())?
                .into_pyobject(py)?
                .into_any()
                .unbind(),
            Self::Float { gauge, .. } => gauge
                .with(|gauge| gauge.get())?
                .into_pyobject(py)?
                .into_any()
                .unbind(),
            Self::Bool(flag) => flag
                .with(|flag| flag.get())?
                .into_pyobject(py)?
                .to_owned()
                .into_any()
                .unbind(),
            Self::Text(text) => text.with(|text| text.value.clone_ref(py))?.into_any(),
            Self::Object(object) | Self::Constant(object) => object.clone_ref(py),
        })
    }

    /// Assigns the attribute on the instance.
    #[inline]
    pub(crate) fn set(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        match self {
            Self::Int { width, gauge } => {
                let value = width.wrap(value)?;
                gauge.with(|gauge| gauge.set(value))
            }
            Self::Float { single, gauge } => {
                let value = float_value(value, *single)?;
                gauge.with(|gauge| gauge.set(value))
            }
            Self::Bool(flag) => {
                let value = value.is_truthy()?;
                flag.with(|flag| flag.set(value))
            }
            Self::Text(cell) => {
                let text = text_value(value)?;
                let py = value.py();
                let old = cell.with_mut(|state| {
                    let stored = state.text.set(&text);
                    let now = PyString::new(py, &text[..stored]).unbind();
                    std::mem::replace(&mut state.value, now)
                })?;
                drop(old);
                Ok(())
            }
            Self::Object(object) => {
                let object = object.bind(value.py());
                if let Ok(counter) = object.cast::<Counter>() {
                    let value = int_bits(value)?;
                    counter
                        .get()
                        .handle
                        .with(|counter| counter.add(value.wrapping_sub(counter.get())))
                } else {
                    Err(PyAttributeError::new_err(
                        "this field cannot be assigned: use its add() method",
                    ))
                }
            }
            Self::Constant(_) => Err(PyAttributeError::new_err("a static field is read-only")),
        }
    }

    /// Drops the handle (the model is being removed).
    pub(crate) fn close(&self, py: Python<'_>) {
        match self {
            Self::Int { gauge, .. } => drop(gauge.take()),
            Self::Float { gauge, .. } => drop(gauge.take()),
            Self::Bool(flag) => drop(flag.take()),
            Self::Text(text) => drop(text.take()),
            Self::Object(object) => {
                let object = object.bind(py);
                if let Ok(counter) = object.cast::<Counter>() {
                    drop(counter.get().handle.take());
                } else if let Ok(average) = object.cast::<Average>() {
                    drop(average.get().handle.take());
                } else if let Ok(average) = object.cast::<MovingAverage>() {
                    drop(average.get().handle.take());
                } else if let Ok(timer) = object.cast::<Timer>() {
                    drop(timer.get().handle.take());
                }
            }
            Self::Constant(_) => {}
        }
    }
}

/// `UIntField(label='status.2XX')`, as the original's repr.
fn repr(field: &Bound<'_, PyAny>, label: Option<&str>) -> PyResult<String> {
    let label = match label {
        Some(label) => PyString::new(field.py(), label)
            .repr()?
            .to_cow()?
            .into_owned(),
        None => "None".to_owned(),
    };
    Ok(format!("{}(label={label})", field.get_type().name()?))
}

/// Maps a library error on adding a field to the Python exception.
pub(crate) fn add_error(name: &str, error: AddFieldError) -> PyErr {
    match error {
        AddFieldError::DuplicateName(_) => {
            DuplicateFieldName::new_err(format!("a field named {name:?} exists already"))
        }
        other => PyValueError::new_err(format!("cannot add field {name:?}: {other}")),
    }
}

/// A writable field definition (the base of `UIntField`, `CounterField`,
/// ...): a data descriptor on a model class.
#[pyclass(frozen, subclass, module = "mmstats._native")]
pub struct Field {
    pub(crate) id: u64,
    kind: FieldKind,
    /// The field's name in the file (before the model's label prefix);
    /// `None`: the attribute's name.
    #[pyo3(get)]
    label: Option<String>,
    unit: Unit,
    description: String,
}

#[pymethods]
impl Field {
    #[new]
    #[pyo3(signature = (kind, label = None, *, size = None, initial = None, timer = None, unit = None, description = None))]
    fn new(
        kind: &str,
        label: Option<String>,
        size: Option<usize>,
        initial: Option<&Bound<'_, PyAny>>,
        timer: Option<Py<PyAny>>,
        unit: Option<&str>,
        description: Option<String>,
    ) -> PyResult<Self> {
        let kind = FieldKind::parse(kind, size, initial, timer)?;
        let unit = match unit {
            Some(name) => crate::convert::unit(Some(name))?,
            None => kind.default_unit(),
        };
        Ok(Self {
            id: next_id(),
            kind,
            label: label.filter(|label| !label.is_empty()),
            unit,
            description: description.unwrap_or_default(),
        })
    }

    fn __get__(
        slf: &Bound<'_, Self>,
        instance: Option<&Bound<'_, PyAny>>,
        _owner: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match instance {
            None => Ok(slf.clone().into_any().unbind()),
            Some(instance) => {
                Model::with_slot(instance, slf.get().id, |slot| slot.get(instance.py()))
            }
        }
    }

    fn __set__(&self, instance: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        Model::with_slot(instance, self.id, |slot| slot.set(value))
    }

    /// The unit's name in the format (`""` for none).
    #[getter]
    fn unit(&self) -> &'static str {
        self.unit.name()
    }

    /// The field's one-line description.
    #[getter]
    fn description(&self) -> &str {
        &self.description
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr(slf.as_any(), slf.get().label.as_deref())
    }
}

impl Field {
    /// Adds the field to `file` under `attribute`'s name (or the label).
    pub(crate) fn create(
        &self,
        py: Python<'_>,
        file: &StatsFile,
        attribute: &str,
    ) -> PyResult<Slot> {
        let name = self.label.as_deref().unwrap_or(attribute);
        let mut spec = FieldSpec::new(name)
            .unit(self.unit)
            .describe(&self.description);
        let fail = |error| add_error(name, error);
        Ok(match &self.kind {
            FieldKind::Int(width) => Slot::Int {
                width: *width,
                gauge: HandleCell::new(file.gauge(spec).map_err(fail)?),
            },
            FieldKind::Float { single } => Slot::Float {
                single: *single,
                gauge: HandleCell::new(file.float_gauge(spec).map_err(fail)?),
            },
            FieldKind::Bool { initial } => {
                let flag = file.flag(spec).map_err(fail)?;
                flag.set(*initial);
                Slot::Bool(HandleCell::new(flag))
            }
            FieldKind::Text { size } => {
                if *size > crate::MAX_STRING_SIZE {
                    return Err(PyValueError::new_err(format!(
                        "string field {name:?}: size {size} is over the format's {} bytes",
                        crate::MAX_STRING_SIZE
                    )));
                }
                spec = spec.capacity(*size);
                Slot::Text(HandleCell::new(TextState {
                    text: file.text(spec).map_err(fail)?,
                    value: PyString::new(py, "").unbind(),
                }))
            }
            FieldKind::Counter => Slot::Object(
                Py::new(
                    py,
                    Counter {
                        handle: HandleCell::new(file.counter(spec).map_err(fail)?),
                    },
                )?
                .into_any(),
            ),
            FieldKind::Average => Slot::Object(
                Py::new(
                    py,
                    Average {
                        handle: HandleCell::new(file.average(spec).map_err(fail)?),
                    },
                )?
                .into_any(),
            ),
            FieldKind::MovingAverage { size } => Slot::Object(
                Py::new(
                    py,
                    MovingAverage {
                        handle: HandleCell::new(
                            file.moving_average(spec.capacity(*size)).map_err(fail)?,
                        ),
                    },
                )?
                .into_any(),
            ),
            FieldKind::Timer { size, clock } => Slot::Object(
                Py::new(
                    py,
                    Timer {
                        handle: HandleCell::new(
                            file.moving_average(spec.capacity(*size)).map_err(fail)?,
                        ),
                        clock: clock.clone_ref(py),
                        current: std::sync::Mutex::new(None),
                    },
                )?
                .into_any(),
            ),
        })
    }
}

/// What a static field stores.
#[derive(Clone, Copy, Debug)]
enum StaticKind {
    Int(IntWidth),
    Float { single: bool },
    Text,
}

/// A static (read-only) field definition (the base of `StaticUIntField`,
/// `StaticTextField`, ...): its value is set once when the model is made,
/// from `value` or what calling `value` returns. A non-data descriptor,
/// as in the original.
#[pyclass(frozen, subclass, module = "mmstats._native")]
pub struct StaticField {
    pub(crate) id: u64,
    kind: StaticKind,
    /// The field's name in the file (`None`: the attribute's name).
    #[pyo3(get)]
    label: Option<String>,
    /// The value, or a callable returning it.
    #[pyo3(get)]
    value: Option<Py<PyAny>>,
    unit: Unit,
    description: String,
    /// The library publishes this field itself (`sys.pid`, ...): the
    /// model only keeps the value for reading.
    published_by_library: bool,
}

/// The capacity of a `StaticTextField` (as the original's `c_char * 256`).
const STATIC_TEXT_SIZE: usize = 256;

#[pymethods]
impl StaticField {
    #[new]
    #[pyo3(signature = (kind, label = None, value = None, *, unit = None, description = None, _published_by_library = false))]
    fn new(
        kind: &str,
        label: Option<String>,
        value: Option<Py<PyAny>>,
        unit: Option<&str>,
        description: Option<String>,
        _published_by_library: bool,
    ) -> PyResult<Self> {
        let kind = match kind {
            "uint" => StaticKind::Int(IntWidth::U32),
            "int64" => StaticKind::Int(IntWidth::I64),
            "uint64" => StaticKind::Int(IntWidth::U64),
            "float" => StaticKind::Float { single: true },
            "double" => StaticKind::Float { single: false },
            "text" => StaticKind::Text,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown static field kind {other:?}"
                )));
            }
        };
        Ok(Self {
            id: next_id(),
            kind,
            label: label.filter(|label| !label.is_empty()),
            value,
            unit: crate::convert::unit(unit)?,
            description: description.unwrap_or_default(),
            published_by_library: _published_by_library,
        })
    }

    fn __get__(
        slf: &Bound<'_, Self>,
        instance: Option<&Bound<'_, PyAny>>,
        _owner: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match instance {
            None => Ok(slf.clone().into_any().unbind()),
            Some(instance) => {
                Model::with_slot(instance, slf.get().id, |slot| slot.get(instance.py()))
            }
        }
    }

    /// The unit's name in the format (`""` for none).
    #[getter]
    fn unit(&self) -> &'static str {
        self.unit.name()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr(slf.as_any(), slf.get().label.as_deref())
    }
}

impl StaticField {
    /// Resolves the value and adds the field (a constant) to `file`.
    pub(crate) fn create(
        &self,
        py: Python<'_>,
        file: &StatsFile,
        attribute: &str,
    ) -> PyResult<Slot> {
        let name = self.label.as_deref().unwrap_or(attribute);
        let value = self
            .value
            .as_ref()
            .ok_or_else(|| {
                PyValueError::new_err(format!("static field {name:?}: value must be set"))
            })?
            .bind(py);
        let value = if value.is_callable() {
            value.call0()?
        } else {
            value.clone()
        };
        let spec = FieldSpec::new(name)
            .unit(self.unit)
            .describe(&self.description)
            .constant();
        let fail = |error| add_error(name, error);
        let published = !self.published_by_library;
        let stored: Py<PyAny> = match self.kind {
            StaticKind::Int(width) => {
                let number = width.wrap(&value)?;
                if published {
                    file.gauge(spec).map_err(fail)?.set(number);
                }
                number.into_pyobject(py)?.into_any().unbind()
            }
            StaticKind::Float { single } => {
                let number = float_value(&value, single)?;
                if published {
                    file.float_gauge(spec).map_err(fail)?.set(number);
                }
                number.into_pyobject(py)?.into_any().unbind()
            }
            StaticKind::Text => {
                let text = text_value(&value)?;
                let stored = if published {
                    file.text(spec.capacity(STATIC_TEXT_SIZE))
                        .map_err(fail)?
                        .set(&text)
                } else {
                    text.len()
                };
                PyString::new(py, &text[..stored]).into_any().unbind()
            }
        };
        Ok(Slot::Constant(stored))
    }
}
