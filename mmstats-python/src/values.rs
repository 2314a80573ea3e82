//! The objects a model's complex fields return (`stats.errors` of a
//! `CounterField` is a [`Counter`]): each holds its `mmstats` handle and
//! does one library call per update.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::{PyDeprecationWarning, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::{float_value, int_bits};

/// A handle of a removed model's file is gone: updates are an error (the
/// original raised on a removed model too), never a write into a file
/// nobody reads.
pub(crate) struct HandleCell<H> {
    handle: Mutex<Option<H>>,
}

impl<H> HandleCell<H> {
    pub(crate) fn new(handle: H) -> Self {
        Self {
            handle: Mutex::new(Some(handle)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<H>> {
        // A panic inside a library call cannot leave a handle half
        // updated in a way the next call would mind: take the lock anyway.
        self.handle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `work` on the handle (no Python code may run inside `work`:
    /// the lock is held).
    #[inline]
    pub(crate) fn with<R>(&self, work: impl FnOnce(&H) -> R) -> PyResult<R> {
        match self.lock().as_ref() {
            Some(handle) => Ok(work(handle)),
            None => Err(removed_error()),
        }
    }

    /// Runs `work` on the handle, which it may change (no Python code
    /// may run inside `work`: the lock is held).
    #[inline]
    pub(crate) fn with_mut<R>(&self, work: impl FnOnce(&mut H) -> R) -> PyResult<R> {
        match self.lock().as_mut() {
            Some(handle) => Ok(work(handle)),
            None => Err(removed_error()),
        }
    }

    /// Drops the handle (the model was removed). Returns it so that the
    /// caller drops it after the lock is released.
    pub(crate) fn take(&self) -> Option<H> {
        self.lock().take()
    }
}

/// The error of a field used after `remove()`.
pub(crate) fn removed_error() -> PyErr {
    PyValueError::new_err("the stats file was removed: no further updates")
}

/// Whether a model's file was removed: shared by the model and the
/// objects of its complex fields, checked before every update.
pub(crate) type Removed = Arc<AtomicBool>;

/// Fails once the model was removed.
#[inline]
pub(crate) fn check_open(removed: &AtomicBool) -> PyResult<()> {
    // Relaxed: a flag set by `remove()` under the GIL, which every
    // caller holds too; it orders nothing else.
    if removed.load(Ordering::Relaxed) {
        Err(removed_error())
    } else {
        Ok(())
    }
}

/// The counter of a `CounterField` (kind counter: `u64`, monotonic). A
/// shared counter handle (`fetch_add`): no lock on the write path.
#[pyclass(frozen, module = "mmstats._native")]
pub struct Counter {
    pub(crate) handle: mmstats::SharedCounter,
    pub(crate) removed: Removed,
}

#[pymethods]
impl Counter {
    /// Increment the counter by `amount` (default 1; wraps at 2**64).
    #[pyo3(signature = (amount = None))]
    fn incr(&self, amount: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let amount = match amount {
            None => 1,
            Some(amount) => int_bits(amount)?,
        };
        check_open(&self.removed)?;
        self.handle.add(amount);
        Ok(())
    }

    /// Deprecated spelling of `incr` (as in the original).
    #[pyo3(signature = (n = None))]
    fn inc(&self, py: Python<'_>, n: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        PyErr::warn(
            py,
            &py.get_type::<PyDeprecationWarning>(),
            c"inc(n=...) is deprecated. Use incr(amount=...)",
            1,
        )?;
        self.incr(n)
    }

    /// The current count.
    #[getter]
    fn value(&self) -> PyResult<u64> {
        check_open(&self.removed)?;
        Ok(self.handle.get())
    }

    /// Sets the count (readers see a counter that went back as a reset).
    #[setter]
    fn set_value(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = int_bits(value)?;
        check_open(&self.removed)?;
        // One writer at a time (the GIL): read, then add the difference.
        self.handle.add(value.wrapping_sub(self.handle.get()));
        Ok(())
    }

    fn __repr__(&self) -> String {
        if self.removed.load(Ordering::Relaxed) {
            "<mmstats Counter (removed)>".to_owned()
        } else {
            format!("<mmstats Counter value={}>", self.handle.get())
        }
    }
}

/// The running average of an `AverageField` (kind average: readers see
/// the mean, the sum and the count, read together).
#[pyclass(frozen, module = "mmstats._native")]
pub struct Average {
    pub(crate) handle: HandleCell<mmstats::Average>,
}

#[pymethods]
impl Average {
    /// Add a new value to the average.
    fn add(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let sample = float_value(value, false)?;
        self.handle.with(|average| average.add(sample))
    }

    /// The mean so far (0.0 before the first value).
    #[getter]
    fn value(&self) -> PyResult<f64> {
        self.handle.with(|average| average.mean().unwrap_or(0.0))
    }

    /// Restarts the average from this one value.
    #[setter]
    fn set_value(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = float_value(value, false)?;
        self.handle.with(|average| average.set(value, 1))
    }

    /// Values added so far (new: the original kept it private).
    #[getter]
    fn count(&self) -> PyResult<u64> {
        self.handle.with(|average| average.get().1)
    }
}

/// The moving average of a `MovingAverageField` (kind moving_average:
/// the mean of the last `size` values).
#[pyclass(frozen, module = "mmstats._native")]
pub struct MovingAverage {
    pub(crate) handle: HandleCell<mmstats::MovingAverage>,
}

#[pymethods]
impl MovingAverage {
    /// Add a new value to the moving average.
    fn add(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let sample = float_value(value, false)?;
        self.handle.with(|average| average.add(sample))
    }

    /// The mean of the window (0.0 before the first value).
    #[getter]
    fn value(&self) -> PyResult<f64> {
        self.handle.with(|average| average.mean().unwrap_or(0.0))
    }

    /// The window: how many of the last values the mean covers.
    #[getter]
    fn size(&self) -> PyResult<usize> {
        self.handle.with(|average| average.window())
    }
}

/// The state of one timing (`with stats.timer as ctx:`), as the
/// original's `_TimerContext`.
#[pyclass(module = "mmstats._native")]
pub struct TimerContext {
    /// When the timing started (the timer's clock).
    #[pyo3(get)]
    start: f64,
    /// When it stopped (`None` while running).
    #[pyo3(get)]
    end: Option<f64>,
    clock: Py<PyAny>,
}

fn clock_now(clock: &Bound<'_, PyAny>) -> PyResult<f64> {
    clock.call0()?.extract()
}

#[pymethods]
impl TimerContext {
    /// The timer's clock now.
    fn get_time(&self, py: Python<'_>) -> PyResult<f64> {
        clock_now(self.clock.bind(py))
    }

    /// True once the timing stopped.
    #[getter]
    fn done(&self) -> bool {
        self.end.is_some()
    }

    /// Seconds from start to stop (to now while running).
    #[getter]
    fn elapsed(&self, py: Python<'_>) -> PyResult<f64> {
        match self.end {
            Some(end) => Ok(end - self.start),
            None => Ok(self.get_time(py)? - self.start),
        }
    }

    /// Stops the timing (without recording it; the timer's `stop` does).
    fn stop(&mut self, py: Python<'_>) -> PyResult<()> {
        self.end = Some(self.get_time(py)?);
        Ok(())
    }
}

/// The timer of a `TimerField`: a moving average of durations in seconds
/// (kind moving_average, unit seconds), with `start`/`stop` and a context
/// manager.
#[pyclass(frozen, module = "mmstats._native")]
pub struct Timer {
    pub(crate) handle: HandleCell<mmstats::MovingAverage>,
    pub(crate) clock: Py<PyAny>,
    pub(crate) current: Mutex<Option<Py<TimerContext>>>,
}

impl Timer {
    fn current(&self) -> MutexGuard<'_, Option<Py<TimerContext>>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl Timer {
    /// Start the timer.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let start = clock_now(self.clock.bind(py))?;
        let context = Py::new(
            py,
            TimerContext {
                start,
                end: None,
                clock: self.clock.clone_ref(py),
            },
        )?;
        // The old context (if any) is dropped after the lock is released.
        let old = self.current().replace(context);
        drop(old);
        Ok(())
    }

    /// Stop the timer and add the elapsed time to the moving average.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let context = self
            .current()
            .as_ref()
            .map(|context| context.clone_ref(py))
            .ok_or_else(|| PyRuntimeError::new_err("the timer was not started"))?;
        let elapsed = {
            let mut context = context.bind(py).borrow_mut();
            context.stop(py)?;
            context.elapsed(py)?
        };
        self.handle.with(|average| average.add(elapsed))
    }

    fn __enter__(&self, py: Python<'_>) -> PyResult<Py<TimerContext>> {
        self.start(py)?;
        self.current()
            .as_ref()
            .map(|context| context.clone_ref(py))
            .ok_or_else(|| PyRuntimeError::new_err("the timer was not started"))
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.stop(py)?;
        Ok(false)
    }

    /// The last timing's elapsed seconds (0.0 before the first).
    #[getter]
    fn last(&self, py: Python<'_>) -> PyResult<f64> {
        let context = self.current().as_ref().map(|context| context.clone_ref(py));
        match context {
            None => Ok(0.0),
            Some(context) => context.bind(py).borrow().elapsed(py),
        }
    }

    /// Add a duration in seconds measured elsewhere.
    fn add(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let sample = float_value(value, false)?;
        self.handle.with(|average| average.add(sample))
    }

    /// The mean of the last `size` timings, in seconds.
    #[getter]
    fn value(&self) -> PyResult<f64> {
        self.handle.with(|average| average.mean().unwrap_or(0.0))
    }

    /// The window: how many of the last timings the mean covers.
    #[getter]
    fn size(&self) -> PyResult<usize> {
        self.handle.with(|average| average.window())
    }
}
