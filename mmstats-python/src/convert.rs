//! Python values to what the handles store, the way the original's ctypes
//! fields stored them: integers wrap to the field's width (a `UIntField`
//! set to -1 reads 4294967295), a `FloatField` rounds to single precision,
//! floats given to integer fields are a `TypeError`. One difference: the
//! format's gauge is a signed 64-bit word, so a `UInt64Field` refuses
//! values from 2^63 on (`OverflowError`) instead of showing them negative.

use mmstats::Unit;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

pyo3::create_exception!(
    _native,
    DuplicateFieldName,
    pyo3::exceptions::PyException,
    "Cannot add 2 fields with the same name to MmStats instances"
);

/// The C integer type of an original integer field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntWidth {
    /// `c_byte` (`ByteField`).
    I8,
    /// `c_int16` (`ShortField`).
    I16,
    /// `c_uint16` (`UShortField`).
    U16,
    /// `c_int32` (`IntField`).
    I32,
    /// `c_uint32` (`UIntField`, `StaticUIntField`).
    U32,
    /// `c_int64` (`StaticInt64Field`).
    I64,
    /// `c_uint64` (`UInt64Field`, `StaticUInt64Field`).
    U64,
}

impl IntWidth {
    /// The value the field holds after `value` is assigned: wrapped to the
    /// width as ctypes does (two's complement), as the gauge's `i64`.
    pub(crate) fn wrap(self, value: &Bound<'_, PyAny>) -> PyResult<i64> {
        self.wrap_bits(int_bits(value)?).ok_or_else(|| {
            PyOverflowError::new_err(
                "a UInt64Field holds 0 to 2**63-1 (the format's gauge is a signed 64-bit word)",
            )
        })
    }

    /// [`IntWidth::wrap`] of an int whose low 64 bits are `bits`: `None`
    /// where a `UInt64Field` refuses the value (2^63 and more).
    #[inline]
    pub(crate) fn wrap_bits(self, bits: u64) -> Option<i64> {
        Some(match self {
            Self::I8 => i64::from(bits as i8),
            Self::I16 => i64::from(bits as i16),
            Self::U16 => i64::from(bits as u16),
            Self::I32 => i64::from(bits as i32),
            Self::U32 => i64::from(bits as u32),
            Self::I64 => bits as i64,
            Self::U64 => i64::try_from(bits).ok()?,
        })
    }
}

/// The low 64 bits of a Python int (two's complement), like ctypes'
/// `PyLong_AsUnsignedLongLongMask`. Not an int (a float, a str): `TypeError`.
pub(crate) fn int_bits(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    // The common case: fits an i64 (one C call).
    if let Ok(small) = value.extract::<i64>() {
        return Ok(small as u64);
    }
    if let Ok(unsigned) = value.extract::<u64>() {
        return Ok(unsigned);
    }
    if value.is_instance_of::<pyo3::types::PyInt>() {
        // Larger than 64 bits: keep the low 64, as ctypes does.
        let masked = value.call_method1("__and__", (u64::MAX,))?;
        return masked.extract::<u64>();
    }
    Err(PyTypeError::new_err(format!(
        "int expected instead of {}",
        value.get_type().name()?
    )))
}

/// A float field's value: any real number (`float()` of it); a
/// single-precision field keeps what a C `float` keeps.
pub(crate) fn float_value(value: &Bound<'_, PyAny>, single: bool) -> PyResult<f64> {
    if value.is_instance_of::<PyString>() || value.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err("must be real number, not str"));
    }
    let double: f64 = value.extract()?;
    Ok(if single {
        f64::from(double as f32)
    } else {
        double
    })
}

/// A string field's value: a `str`, or `bytes` holding UTF-8.
pub(crate) fn text_value(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(text.to_cow()?.into_owned());
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return std::str::from_utf8(bytes.as_bytes())
            .map(str::to_owned)
            .map_err(|error| PyValueError::new_err(format!("not UTF-8: {error}")));
    }
    Err(PyTypeError::new_err(format!(
        "str or bytes expected instead of {}",
        value.get_type().name()?
    )))
}

/// A unit by the name the format uses (`"bytes"`, `"seconds"`, ...).
pub(crate) fn unit(name: Option<&str>) -> PyResult<Unit> {
    match name {
        None | Some("") => Ok(Unit::None),
        Some(name) => Unit::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = (1..=64)
                .filter_map(Unit::from_code)
                .map(Unit::name)
                .collect();
            PyValueError::new_err(format!(
                "unknown unit {name:?} (known: {})",
                known.join(", ")
            ))
        }),
    }
}
