//! The class `mmstats._native.Model`, the base of every model class: a
//! subclass of the PyO3 class `ModelBase` ([`Model`]) with its own C-level
//! `__setattr__` (`tp_setattro`). `stats.status2xx = 5` then goes from
//! the interpreter straight to [`model_setattro`] (Python subclasses
//! inherit a C base's slot unless they define `__setattr__`), which finds
//! a plain field's slot by the name object and stores: no type lookup,
//! no descriptor call, no PyO3 trampoline, no error object. Everything
//! else takes the safe way: names that are not plain fields (and
//! deletion) go to CPython's generic assignment (`object.__setattr__`: the
//! instance's `__dict__`, or a descriptor on the class); values the fast
//! path does not take (strings, bools, ints of more than 64 bits,
//! anything not an exact int or float, a removed model) go through
//! [`AssignedSlot::set`] inside [`Python::attach`], with every check and
//! error of the descriptor path.
//!
//! PyO3 has no way to give a class a raw slot, so the class is made here
//! with `PyType_FromSpecWithBases`: the one module of the crate calling
//! the C API directly.
//!
//! # Safety
//!
//! - [`model_setattro`] is only called by CPython as the `tp_setattro` of
//!   `Model` and its subclasses: the GIL is held, `object` is a live
//!   instance of `Model` (a subclass of `ModelBase`), `name` and `value`
//!   (or NULL: delete) are live objects, all borrowed for the call. It
//!   returns 0, or -1 with an exception set, as the slot's contract asks.
//! - [`model_type`] hands CPython a spec whose name is a `'static` C string
//!   (CPython before 3.11 keeps the pointer as `tp_name`) and whose slot
//!   function has the `setattrofunc` signature.
//! - The fast path runs without PyO3's attach bookkeeping (its count of
//!   attached frames): it only uses `Bound`s of borrowed objects and
//!   atomic stores, and drops no `Py` (whose drop would consult that
//!   count); whatever can make or drop one runs inside `Python::attach`.

use std::ffi::{c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt, PyType};

use crate::model::{AssignedSlot, Model};
use crate::slot::Slot;

/// Makes the class `mmstats._native.Model` (once, at import).
pub(crate) fn model_type(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    let base = py.get_type::<Model>();
    let mut slots = [
        ffi::PyType_Slot {
            slot: ffi::Py_tp_setattro,
            pfunc: model_setattro as *mut c_void,
        },
        ffi::PyType_Slot {
            slot: ffi::Py_tp_doc,
            pfunc: c"The base class of models: ModelBase with the fast field assignment."
                .as_ptr()
                .cast_mut()
                .cast(),
        },
        ffi::PyType_Slot {
            slot: 0,
            pfunc: std::ptr::null_mut(),
        },
    ];
    let mut spec = ffi::PyType_Spec {
        name: c"mmstats._native.Model".as_ptr(),
        // 0: the base's size and item size (the PyO3 object layout).
        basicsize: 0,
        itemsize: 0,
        flags: (ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_BASETYPE) as _,
        slots: slots.as_mut_ptr(),
    };
    // SAFETY: `spec` and `slots` live through the call and are only read
    // (CPython copies the slots; the name is 'static, see `# Safety`);
    // `base` is a live type object, borrowed (the function takes a
    // reference of its own). The GIL is held (`py`).
    let made = unsafe { ffi::PyType_FromSpecWithBases(&mut spec, base.as_ptr()) };
    // SAFETY: `made` is a new reference or NULL with an exception set,
    // which `from_owned_ptr_or_err` takes over; the GIL is held.
    let made = unsafe { Bound::from_owned_ptr_or_err(py, made) }?;
    Ok(made.cast_into::<PyType>()?)
}

/// The `tp_setattro` of `Model`: see the module doc.
///
/// # Safety
///
/// Called by CPython only, with the GIL held: `object` a live instance of
/// `Model`, `name` a live object, `value` a live object or NULL (delete).
unsafe extern "C" fn model_setattro(
    object: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    // A panic must not cross into C: it becomes a RuntimeError.
    let done = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: CPython calls the slot with the GIL held (see above).
        let py = unsafe { Python::assume_attached() };
        if value.is_null() {
            // SAFETY: as `generic_setattro` asks, from the slot's arguments.
            return unsafe { generic_setattro(object, name, value) };
        }
        // SAFETY: `object` is a live object borrowed for the call, never
        // NULL (the slot's contract); the GIL is held.
        let instance = unsafe { Borrowed::from_ptr(py, object) };
        // SAFETY: the same for `name` (any object: only the table's
        // interned strs match; the generic path checks that it is a str).
        let name_object = unsafe { Borrowed::from_ptr(py, name) };
        // SAFETY: the same for `value` (not NULL: checked above).
        let value_object = unsafe { Borrowed::from_ptr(py, value) };
        // SAFETY: `object` is an instance of `Model`, so of `ModelBase`:
        // CPython calls a type's `tp_setattro` for its instances only, the
        // slot is inherited by subtypes only (a class that copies
        // `Model.__setattr__` gets the slot function only if it is a
        // subtype, else a wrapper that checks the type), and a subtype's
        // instances have the base's layout.
        let instance = unsafe { instance.cast_unchecked::<Model>() };
        let assigned = Model::assigned_slot(&instance, &name_object);
        let Some(assigned) = assigned else {
            // SAFETY: as `generic_setattro` asks, from the slot's arguments.
            return unsafe { generic_setattro(object, name, value) };
        };
        if store_fast(&assigned, &value_object) {
            return 0;
        }
        Python::attach(|py| match assigned.set(&value_object) {
            Ok(()) => 0,
            Err(error) => {
                error.restore(py);
                -1
            }
        })
    }));
    done.unwrap_or_else(|_| {
        Python::attach(|py| {
            PyRuntimeError::new_err("mmstats: panic in Model.__setattr__").restore(py);
        });
        -1
    })
}

/// CPython's generic assignment (`object.__setattr__`), or deletion
/// (`value` NULL).
///
/// # Safety
///
/// The GIL is held; `object` and `name` are live objects, `value` a live
/// object or NULL, all borrowed for the call.
unsafe fn generic_setattro(
    object: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: the caller's guarantees are the function's requirements; it
    // checks that `name` is a str itself and takes no references.
    unsafe { ffi::PyObject_GenericSetAttr(object, name, value) }
}

/// The store of an exact int into an integer field or an exact float into
/// a float field, with no error possible: `true` if done. Everything
/// else (`false`) takes [`AssignedSlot::set`], which raises what the
/// descriptor raised.
#[inline]
fn store_fast(assigned: &AssignedSlot<'_>, value: &Bound<'_, PyAny>) -> bool {
    // Relaxed: see `check_open` (a removed model takes the slow path,
    // which raises).
    if assigned.removed.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    match assigned.slot {
        Slot::Int { width, gauge } if value.is_exact_instance_of::<PyInt>() => {
            let mut overflow: c_int = 0;
            // SAFETY: `value` is a live exact int (checked above), the
            // GIL is held; for an exact int the call runs no Python code
            // and sets no exception (a value beyond 64 bits sets
            // `overflow`).
            let small = unsafe { ffi::PyLong_AsLongLongAndOverflow(value.as_ptr(), &mut overflow) };
            if overflow != 0 {
                return false;
            }
            match width.wrap_bits(small as u64) {
                Some(stored) => {
                    gauge.set(stored);
                    true
                }
                None => false,
            }
        }
        Slot::Float { single, gauge } if value.is_exact_instance_of::<PyFloat>() => {
            let double = value
                .cast::<PyFloat>()
                .map_or(f64::NAN, |float| float.value());
            gauge.set(if *single {
                f64::from(double as f32)
            } else {
                double
            });
            true
        }
        _ => false,
    }
}
