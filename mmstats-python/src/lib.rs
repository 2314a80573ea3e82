//! The native part of the Python package `mmstats`: the field descriptors,
//! the model base class and the objects behind counters, averages and
//! timers, all writing through the `mmstats` library's [`StatsFile`] and
//! handles. The format lives in the library alone; this crate only maps
//! the original Python API (mmstats 0.8) onto it.
//!
//! Layers, bottom up: `convert` (Python values to the words the handles
//! take), `values` (the pyclasses `Counter`, `Average`, `MovingAverage`,
//! `Timer`), `field` (the descriptors: a field definition on a class),
//! `model` (the instance: one stats file and its handles). The pure Python
//! part (`python/mmstats/`) names the field classes of 0.8 and subclasses
//! these.
//!
//! Threads: every handle sits behind a `Mutex`; a lock is only taken
//! around library calls (never around a call into Python), so it is never
//! held while the GIL is released and is never contended under the GIL.
//!
//! [`StatsFile`]: mmstats::StatsFile

use pyo3::prelude::*;

mod convert;
mod field;
mod model;
mod values;

pyo3::create_exception!(
    _native,
    DuplicateFieldName,
    pyo3::exceptions::PyException,
    "Cannot add 2 fields with the same name to MmStats instances"
);

/// The module `mmstats._native`.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    field::register(module)?;
    module.add_class::<model::Model>()?;
    module.add_class::<values::Counter>()?;
    module.add_class::<values::Average>()?;
    module.add_class::<values::MovingAverage>()?;
    module.add_class::<values::Timer>()?;
    module.add_class::<values::TimerContext>()?;
    module.add(
        "DuplicateFieldName",
        module.py().get_type::<DuplicateFieldName>(),
    )?;
    module.add("DEFAULT_DIR", mmstats::default_dir().display().to_string())?;
    module.add("DEFAULT_SIZE", mmstats::DEFAULT_SIZE)?;
    module.add("MAX_STRING_SIZE", MAX_STRING_SIZE)?;
    Ok(())
}

/// The longest string field the format holds (bytes).
pub(crate) const MAX_STRING_SIZE: usize = 4096;
