//! The native part of the Python package `mmstats`: the field descriptors,
//! the model base class and the objects behind counters, averages and
//! timers, all writing through the `mmstats` library's [`StatsFile`] and
//! handles. The format lives in the library alone; this crate only maps
//! the original Python API (mmstats 0.8) onto it.
//!
//! Layers, bottom up (a module imports only those below it; the test
//! `tests/test_layers.py` checks it): `convert` (Python values to what the
//! handles take, as the original's ctypes stored them, and the package's
//! exception), `values` (the objects of complex fields: `Counter`,
//! `Average`, `MovingAverage`, `Timer`), `slot` (an instance's side of a
//! field: its handle), `model` (the instance: its file and slots, found by
//! definition id), `attribute` (the class `Model` with the fast
//! attribute assignment, the one module calling the C API directly),
//! `field` (the definitions on a class, the 0.8 field
//! classes and their descriptors), `open` (making a model's file from its
//! class's definitions). The pure Python part (`python/mmstats/`) has the
//! model classes and the module layout of 0.8.
//!
//! Threads: every handle sits behind a `Mutex`; a lock is only taken
//! around library calls (never around a call into Python), so it is never
//! held while the GIL is released and is never contended under the GIL.
//!
//! [`StatsFile`]: mmstats::StatsFile

use pyo3::prelude::*;

// The one module calling the C API directly (see its `# Safety`).
#[allow(unsafe_code)]
mod attribute;
mod convert;
mod field;
mod model;
mod open;
mod slot;
mod values;

/// The module `mmstats._native`.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    field::register(module)?;
    module.add_class::<model::Model>()?;
    module.add("Model", attribute::model_type(module.py())?)?;
    module.add_function(wrap_pyfunction!(open::open_model, module)?)?;
    module.add_class::<values::Counter>()?;
    module.add_class::<values::Average>()?;
    module.add_class::<values::MovingAverage>()?;
    module.add_class::<values::Timer>()?;
    module.add_class::<values::TimerContext>()?;
    module.add(
        "DuplicateFieldName",
        module.py().get_type::<convert::DuplicateFieldName>(),
    )?;
    module.add("DEFAULT_DIR", mmstats::default_dir().display().to_string())?;
    module.add("DEFAULT_SIZE", mmstats::DEFAULT_SIZE)?;
    module.add("MAX_STRING_SIZE", field::MAX_STRING_SIZE)?;
    Ok(())
}
