//! Field definitions: what a model class holds
//! (`status2xx = UIntField(label='status.2XX')`). A definition is shared
//! by every instance of the class; each instance has its own [`Slot`]
//! (the handle in its file).
//!
//! Three families, as in the original:
//! - [`Field`] (integers, floats, bools, strings): a data descriptor.
//!   Reading the attribute returns the value, assigning it stores through
//!   the handle; the instance's slot is found by the definition's id.
//!   (An assignment on a model mostly never reaches `__set__`: the
//!   model's own `__setattr__`, in `attribute`, stores plain fields
//!   itself and leaves the descriptor the rest.)
//! - [`ObjectField`] (counters, averages, timers): the attribute is an
//!   object with `incr()`/`add()`/`value`. The model puts that object in
//!   the instance's `__dict__` when it opens, so `stats.errors` is a plain
//!   attribute read (the class attribute is no descriptor at all and reads
//!   as the definition on the class).
//! - [`StaticField`]: a value set once; a non-data descriptor.
//!
//! The 0.8 classes (`UIntField`, `CounterField`, ...) are subclasses
//! defined here, with the original's constructor signatures.

use std::sync::atomic::{AtomicU64, Ordering};

use mmstats::{AddFieldError, FieldSpec, StatsFile, Unit};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::convert::{DuplicateFieldName, IntWidth, float_value, text_value};
use crate::model::Model;
use crate::slot::{Slot, TextState};
use crate::values::{Average, Counter, HandleCell, MovingAverage, Removed, Timer};

/// The longest string field the format holds (bytes).
pub(crate) const MAX_STRING_SIZE: usize = 4096;

/// Ids of field definitions: unique in the process, never reused.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What every definition has: its id, name, unit and description.
#[derive(Debug)]
pub(crate) struct Common {
    pub(crate) id: u64,
    /// The field's name in the file (before the model's label prefix);
    /// `None`: the attribute's name.
    label: Option<String>,
    unit: Unit,
    description: String,
}

impl Common {
    fn new(
        label: Option<String>,
        unit: Option<&str>,
        default_unit: Unit,
        description: Option<String>,
    ) -> PyResult<Self> {
        let unit = match unit {
            Some(name) => crate::convert::unit(Some(name))?,
            None => default_unit,
        };
        Ok(Self {
            // Relaxed: only uniqueness matters, which the atomic RMW gives.
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            label: label.filter(|label| !label.is_empty()),
            unit,
            description: description.unwrap_or_default(),
        })
    }

    /// The name in the file: the label, else the attribute's name.
    fn name<'a>(&'a self, attribute: &'a str) -> &'a str {
        self.label.as_deref().unwrap_or(attribute)
    }

    fn spec<'a>(&'a self, attribute: &'a str) -> FieldSpec<'a> {
        FieldSpec::new(self.name(attribute))
            .unit(self.unit)
            .describe(&self.description)
    }

    /// `UIntField(label='status.2XX')`, as the original's repr.
    fn repr(&self, field: &Bound<'_, PyAny>) -> PyResult<String> {
        let label = match &self.label {
            Some(label) => PyString::new(field.py(), label)
                .repr()?
                .to_cow()?
                .into_owned(),
            None => "None".to_owned(),
        };
        Ok(format!("{}(label={label})", field.get_type().name()?))
    }
}

/// Maps a library error on adding a field to the Python exception.
fn add_error(name: &str, error: AddFieldError) -> PyErr {
    match error {
        AddFieldError::DuplicateName(_) => {
            DuplicateFieldName::new_err(format!("a field named {name:?} exists already"))
        }
        other => PyValueError::new_err(format!("cannot add field {name:?}: {other}")),
    }
}

/// What a plain field stores.
#[derive(Debug)]
enum ScalarKind {
    /// A gauge holding a C integer of this width.
    Int(IntWidth),
    /// A float gauge (`single`: rounded to a C `float`).
    Float { single: bool },
    /// A bool, starting at `initial`.
    Bool { initial: bool },
    /// A string of at most `size` bytes.
    Text { size: usize },
}

/// A plain field definition (integers, floats, bools, strings): a data
/// descriptor. The base of `UIntField`, `StringField`, ...
#[pyclass(frozen, subclass, module = "mmstats.fields")]
pub struct Field {
    common: Common,
    kind: ScalarKind,
}

impl Field {
    fn build(
        kind: ScalarKind,
        label: Option<String>,
        unit: Option<&str>,
        description: Option<String>,
    ) -> PyResult<Self> {
        Ok(Self {
            common: Common::new(label, unit, Unit::None, description)?,
            kind,
        })
    }

    pub(crate) fn id(&self) -> u64 {
        self.common.id
    }

    /// Adds the field to `file` under `attribute`'s name (or the label).
    pub(crate) fn create(
        &self,
        py: Python<'_>,
        file: &StatsFile,
        attribute: &str,
    ) -> PyResult<Slot> {
        let name = self.common.name(attribute);
        let spec = self.common.spec(attribute);
        let fail = |error| add_error(name, error);
        Ok(match &self.kind {
            ScalarKind::Int(width) => Slot::Int {
                width: *width,
                gauge: file.shared_gauge(spec).map_err(fail)?,
            },
            ScalarKind::Float { single } => Slot::Float {
                single: *single,
                gauge: file.shared_float_gauge(spec).map_err(fail)?,
            },
            ScalarKind::Bool { initial } => {
                let flag = file.flag(spec).map_err(fail)?;
                flag.set(*initial);
                Slot::Bool(HandleCell::new(flag))
            }
            ScalarKind::Text { size } => {
                if *size > MAX_STRING_SIZE {
                    return Err(PyValueError::new_err(format!(
                        "string field {name:?}: size {size} is over the format's {} bytes",
                        MAX_STRING_SIZE
                    )));
                }
                Slot::Text(HandleCell::new(TextState {
                    text: file.text(spec.capacity(*size)).map_err(fail)?,
                    value: PyString::new(py, "").unbind(),
                }))
            }
        })
    }
}

#[pymethods]
impl Field {
    fn __get__(
        slf: &Bound<'_, Self>,
        instance: Option<&Bound<'_, PyAny>>,
        _owner: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match instance {
            None => Ok(slf.clone().into_any().unbind()),
            Some(instance) => Model::with_slot(instance, slf.get().common.id, |slot| {
                slot.get(instance.py())
            }),
        }
    }

    fn __set__(&self, instance: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        Model::with_slot(instance, self.common.id, |slot| slot.set(value))
    }

    /// The field's name in the file (`None`: the attribute's name).
    #[getter]
    fn label(&self) -> Option<&str> {
        self.common.label.as_deref()
    }

    /// The unit's name in the format (`""` for none).
    #[getter]
    fn unit(&self) -> &'static str {
        self.common.unit.name()
    }

    /// The field's one-line description.
    #[getter]
    fn description(&self) -> &str {
        &self.common.description
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        slf.get().common.repr(slf.as_any())
    }
}

/// What a complex field's object is.
#[derive(Debug)]
enum ObjectKind {
    Counter,
    Average,
    MovingAverage { size: usize },
    Timer { size: usize, clock: Py<PyAny> },
}

/// A complex field definition (counters, averages, timers): the attribute
/// of an instance is an object (`Counter`, `Average`, `MovingAverage`,
/// `Timer`) the model puts in the instance's `__dict__`.
#[pyclass(frozen, subclass, module = "mmstats.fields")]
pub struct ObjectField {
    common: Common,
    kind: ObjectKind,
}

impl ObjectField {
    fn build(
        kind: ObjectKind,
        label: Option<String>,
        unit: Option<&str>,
        description: Option<String>,
    ) -> PyResult<Self> {
        let default_unit = match kind {
            ObjectKind::Timer { .. } => Unit::Seconds,
            _ => Unit::None,
        };
        Ok(Self {
            common: Common::new(label, unit, default_unit, description)?,
            kind,
        })
    }

    pub(crate) fn id(&self) -> u64 {
        self.common.id
    }

    /// Adds the field to `file` and makes its object.
    pub(crate) fn create(
        &self,
        py: Python<'_>,
        file: &StatsFile,
        attribute: &str,
        removed: &Removed,
    ) -> PyResult<Py<PyAny>> {
        let name = self.common.name(attribute);
        let spec = self.common.spec(attribute);
        let fail = |error| add_error(name, error);
        let window = |size: usize| {
            if size == 0 || size > MAX_WINDOW {
                Err(PyValueError::new_err(format!(
                    "field {name:?}: size must be 1 to {MAX_WINDOW}"
                )))
            } else {
                Ok(size)
            }
        };
        Ok(match &self.kind {
            ObjectKind::Counter => Py::new(
                py,
                Counter {
                    handle: file.shared_counter(spec).map_err(fail)?,
                    removed: removed.clone(),
                },
            )?
            .into_any(),
            ObjectKind::Average => Py::new(
                py,
                Average {
                    handle: HandleCell::new(file.average(spec).map_err(fail)?),
                },
            )?
            .into_any(),
            ObjectKind::MovingAverage { size } => Py::new(
                py,
                MovingAverage {
                    handle: HandleCell::new(
                        file.moving_average(spec.capacity(window(*size)?))
                            .map_err(fail)?,
                    ),
                },
            )?
            .into_any(),
            ObjectKind::Timer { size, clock } => Py::new(
                py,
                Timer {
                    handle: HandleCell::new(
                        file.moving_average(spec.capacity(window(*size)?))
                            .map_err(fail)?,
                    ),
                    clock: clock.clone_ref(py),
                    current: std::sync::Mutex::new(None),
                },
            )?
            .into_any(),
        })
    }
}

/// The largest moving-average window the format's readers accept.
const MAX_WINDOW: usize = 4096;

#[pymethods]
impl ObjectField {
    /// The field's name in the file (`None`: the attribute's name).
    #[getter]
    fn label(&self) -> Option<&str> {
        self.common.label.as_deref()
    }

    /// The unit's name in the format (`""` for none).
    #[getter]
    fn unit(&self) -> &'static str {
        self.common.unit.name()
    }

    /// The field's one-line description.
    #[getter]
    fn description(&self) -> &str {
        &self.common.description
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        slf.get().common.repr(slf.as_any())
    }
}

/// What a static field stores.
#[derive(Clone, Copy, Debug)]
enum StaticKind {
    Int(IntWidth),
    Float { single: bool },
    Text,
}

/// The capacity of a `StaticTextField` (the original's `c_char * 256`).
const STATIC_TEXT_SIZE: usize = 256;

/// A static (read-only) field definition: its value is set once when the
/// model opens, from `value` or what calling `value` returns (a constant
/// in the file). A non-data descriptor, as in the original.
#[pyclass(frozen, subclass, module = "mmstats.fields")]
pub struct StaticField {
    common: Common,
    kind: StaticKind,
    value: Option<Py<PyAny>>,
    /// The library publishes this field itself (`sys.pid`, ...): the
    /// model only keeps the value for reading.
    published_by_library: bool,
}

impl StaticField {
    fn build(
        kind: StaticKind,
        label: Option<String>,
        value: Option<Py<PyAny>>,
        options: StaticOptions<'_>,
    ) -> PyResult<Self> {
        Ok(Self {
            common: Common::new(label, options.unit, Unit::None, options.description)?,
            kind,
            value,
            published_by_library: options.published_by_library,
        })
    }

    pub(crate) fn id(&self) -> u64 {
        self.common.id
    }

    /// Resolves the value and adds the field (a constant) to `file`.
    pub(crate) fn create(
        &self,
        py: Python<'_>,
        file: &StatsFile,
        attribute: &str,
    ) -> PyResult<Slot> {
        let name = self.common.name(attribute);
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
        let spec = self.common.spec(attribute).constant();
        let fail = |error| add_error(name, error);
        let publish = !self.published_by_library;
        let stored: Py<PyAny> = match self.kind {
            StaticKind::Int(width) => {
                let number = width.wrap(&value)?;
                if publish {
                    file.gauge(spec).map_err(fail)?.set(number);
                }
                number.into_pyobject(py)?.into_any().unbind()
            }
            StaticKind::Float { single } => {
                let number = float_value(&value, single)?;
                if publish {
                    file.float_gauge(spec).map_err(fail)?.set(number);
                }
                number.into_pyobject(py)?.into_any().unbind()
            }
            StaticKind::Text => {
                let text = text_value(&value)?;
                let stored = if publish {
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

#[pymethods]
impl StaticField {
    fn __get__(
        slf: &Bound<'_, Self>,
        instance: Option<&Bound<'_, PyAny>>,
        _owner: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match instance {
            None => Ok(slf.clone().into_any().unbind()),
            Some(instance) => Model::with_slot(instance, slf.get().common.id, |slot| {
                slot.get(instance.py())
            }),
        }
    }

    /// The field's name in the file (`None`: the attribute's name).
    #[getter]
    fn label(&self) -> Option<&str> {
        self.common.label.as_deref()
    }

    /// The value, or the callable that gives it.
    #[getter]
    fn value(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.value.as_ref().map(|value| value.clone_ref(py))
    }

    /// The unit's name in the format (`""` for none).
    #[getter]
    fn unit(&self) -> &'static str {
        self.common.unit.name()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        slf.get().common.repr(slf.as_any())
    }
}

/// The keyword options of static fields.
struct StaticOptions<'a> {
    unit: Option<&'a str>,
    description: Option<String>,
    published_by_library: bool,
}

/// Declares the 0.8 field classes whose constructor is `(label=None)`.
macro_rules! label_only {
    ($base:ident, $build:expr; $($(#[$doc:meta])* $class:ident => $kind:expr;)*) => {
        $(
            $(#[$doc])*
            #[pyclass(frozen, extends = $base, subclass, module = "mmstats.fields")]
            pub struct $class;

            #[pymethods]
            impl $class {
                #[new]
                #[pyo3(signature = (label = None, *, unit = None, description = None))]
                fn new(
                    label: Option<String>,
                    unit: Option<&str>,
                    description: Option<String>,
                ) -> PyResult<PyClassInitializer<Self>> {
                    Ok(PyClassInitializer::from($build($kind, label, unit, description)?)
                        .add_subclass(Self))
                }
            }
        )*
    };
}

label_only! {
    Field, Field::build;
    /// 64-bit unsigned integer: a gauge (0 to 2**63-1: the format's gauge
    /// is signed).
    UInt64Field => ScalarKind::Int(IntWidth::U64);
    /// 32-bit unsigned integer: a gauge (wraps at 2**32).
    UIntField => ScalarKind::Int(IntWidth::U32);
    /// 32-bit signed integer: a gauge (wraps at 32 bits).
    IntField => ScalarKind::Int(IntWidth::I32);
    /// 16-bit signed integer: a gauge.
    ShortField => ScalarKind::Int(IntWidth::I16);
    /// 16-bit unsigned integer: a gauge.
    UShortField => ScalarKind::Int(IntWidth::U16);
    /// 8-bit signed integer: a gauge.
    ByteField => ScalarKind::Int(IntWidth::I8);
    /// 32-bit float: a float gauge holding single-precision values.
    FloatField => ScalarKind::Float { single: true };
    /// 64-bit float: a float gauge.
    DoubleField => ScalarKind::Float { single: false };
}

label_only! {
    ObjectField, ObjectField::build;
    /// Counter: the attribute has `incr(amount=1)` and `value` (kind
    /// counter).
    CounterField => ObjectKind::Counter;
    /// Running average: the attribute has `add(value)` and `value` (kind
    /// average: mean, sum and count).
    AverageField => ObjectKind::Average;
}

/// Boolean (kind bool).
#[pyclass(frozen, extends = Field, subclass, module = "mmstats.fields")]
pub struct BoolField;

#[pymethods]
impl BoolField {
    #[new]
    #[pyo3(signature = (initial = None, label = None, *, unit = None, description = None))]
    fn new(
        initial: Option<&Bound<'_, PyAny>>,
        label: Option<String>,
        unit: Option<&str>,
        description: Option<String>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let kind = ScalarKind::Bool {
            initial: match initial {
                Some(initial) => initial.is_truthy()?,
                None => false,
            },
        };
        Ok(
            PyClassInitializer::from(Field::build(kind, label, unit, description)?)
                .add_subclass(Self),
        )
    }
}

/// UTF-8 string of at most `size` bytes (cut at a character boundary).
#[pyclass(frozen, extends = Field, subclass, module = "mmstats.fields")]
pub struct StringField;

#[pymethods]
impl StringField {
    #[new]
    #[pyo3(signature = (size = 255, label = None, *, unit = None, description = None))]
    fn new(
        size: usize,
        label: Option<String>,
        unit: Option<&str>,
        description: Option<String>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let kind = ScalarKind::Text { size };
        Ok(
            PyClassInitializer::from(Field::build(kind, label, unit, description)?)
                .add_subclass(Self),
        )
    }

    /// The capacity in bytes.
    #[getter]
    fn size(slf: PyRef<'_, Self>) -> usize {
        match slf.as_super().kind {
            ScalarKind::Text { size } => size,
            _ => 0,
        }
    }
}

/// Mean of the last `size` values: the attribute has `add(value)` and
/// `value` (kind moving_average).
#[pyclass(frozen, extends = ObjectField, subclass, module = "mmstats.fields")]
pub struct MovingAverageField;

#[pymethods]
impl MovingAverageField {
    #[new]
    #[pyo3(signature = (size = 100, label = None, *, unit = None, description = None))]
    fn new(
        size: usize,
        label: Option<String>,
        unit: Option<&str>,
        description: Option<String>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let kind = ObjectKind::MovingAverage { size };
        Ok(
            PyClassInitializer::from(ObjectField::build(kind, label, unit, description)?)
                .add_subclass(Self),
        )
    }
}

/// Moving average of durations in seconds, with `start()`/`stop()` and a
/// context manager (kind moving_average, unit seconds). `timer` is the
/// clock (default `time.time`, as in the original).
#[pyclass(frozen, extends = ObjectField, subclass, module = "mmstats.fields")]
pub struct TimerField;

#[pymethods]
impl TimerField {
    #[new]
    #[pyo3(signature = (timer = None, size = 100, label = None, *, unit = None, description = None))]
    fn new(
        py: Python<'_>,
        timer: Option<Py<PyAny>>,
        size: usize,
        label: Option<String>,
        unit: Option<&str>,
        description: Option<String>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let clock = match timer {
            Some(clock) => clock,
            None => py.import("time")?.getattr("time")?.unbind(),
        };
        let kind = ObjectKind::Timer { size, clock };
        Ok(
            PyClassInitializer::from(ObjectField::build(kind, label, unit, description)?)
                .add_subclass(Self),
        )
    }
}

/// Declares the 0.8 static field classes: `(label=None, value=None)`.
macro_rules! static_fields {
    ($($(#[$doc:meta])* $class:ident => $kind:expr;)*) => {
        $(
            $(#[$doc])*
            #[pyclass(frozen, extends = StaticField, subclass, module = "mmstats.fields")]
            pub struct $class;

            #[pymethods]
            impl $class {
                #[new]
                #[pyo3(signature = (label = None, value = None, *, unit = None, description = None, _published_by_library = false))]
                fn new(
                    label: Option<String>,
                    value: Option<Py<PyAny>>,
                    unit: Option<&str>,
                    description: Option<String>,
                    _published_by_library: bool,
                ) -> PyResult<PyClassInitializer<Self>> {
                    let options = StaticOptions {
                        unit,
                        description,
                        published_by_library: _published_by_library,
                    };
                    Ok(PyClassInitializer::from(StaticField::build($kind, label, value, options)?)
                        .add_subclass(Self))
                }
            }
        )*
    };
}

static_fields! {
    /// Read-only 32-bit unsigned integer (a constant gauge).
    StaticUIntField => StaticKind::Int(IntWidth::U32);
    /// Read-only 64-bit signed integer (a constant gauge).
    StaticInt64Field => StaticKind::Int(IntWidth::I64);
    /// Read-only 64-bit unsigned integer (a constant gauge, up to 2**63-1).
    StaticUInt64Field => StaticKind::Int(IntWidth::U64);
    /// Read-only 32-bit float (a constant float gauge).
    StaticFloatField => StaticKind::Float { single: true };
    /// Read-only 64-bit float (a constant float gauge).
    StaticDoubleField => StaticKind::Float { single: false };
    /// Read-only UTF-8 string of up to 256 bytes (a constant string).
    StaticTextField => StaticKind::Text;
}

/// Adds every field class to the module.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Field>()?;
    module.add_class::<ObjectField>()?;
    module.add_class::<StaticField>()?;
    module.add_class::<UInt64Field>()?;
    module.add_class::<UIntField>()?;
    module.add_class::<IntField>()?;
    module.add_class::<ShortField>()?;
    module.add_class::<UShortField>()?;
    module.add_class::<ByteField>()?;
    module.add_class::<FloatField>()?;
    module.add_class::<DoubleField>()?;
    module.add_class::<BoolField>()?;
    module.add_class::<StringField>()?;
    module.add_class::<CounterField>()?;
    module.add_class::<AverageField>()?;
    module.add_class::<MovingAverageField>()?;
    module.add_class::<TimerField>()?;
    module.add_class::<StaticUIntField>()?;
    module.add_class::<StaticInt64Field>()?;
    module.add_class::<StaticUInt64Field>()?;
    module.add_class::<StaticFloatField>()?;
    module.add_class::<StaticDoubleField>()?;
    module.add_class::<StaticTextField>()?;
    Ok(())
}
