//! Reading C arguments: NUL-terminated strings and field specs.
//!
//! # Safety
//!
//! Every function here takes pointers from C. The ABI's documented
//! contract (in the header) is that a non-NULL string pointer points to a
//! NUL-terminated string, and a spec's `labels` to `label_count` labels,
//! valid for the duration of the call; NULL is checked here and reported.

use core::ffi::{CStr, c_char};

use mmstats_nostd::{FieldSpec, Unit, labels::LABELS_MAX};

use crate::spec::{mmstats_field_spec, mmstats_label};
use crate::status::mmstats_status;

/// The labels of a spec, borrowed from the caller's strings.
pub(crate) type LabelPairs<'s> = heapless::Vec<(&'s str, &'s str), LABELS_MAX>;

/// A string argument that must not be NULL.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string valid for `'s`.
pub(crate) unsafe fn required_str<'s>(ptr: *const c_char) -> Result<&'s str, mmstats_status> {
    // SAFETY: forwarded from the caller's contract.
    unsafe { optional_str(ptr) }?.ok_or(mmstats_status::MMSTATS_NULL_ARGUMENT)
}

/// A string argument that may be NULL (`None`).
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string valid for `'s`.
pub(crate) unsafe fn optional_str<'s>(
    ptr: *const c_char,
) -> Result<Option<&'s str>, mmstats_status> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string
    // that lives for 's.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str()
        .map(Some)
        .map_err(|_| mmstats_status::MMSTATS_INVALID_UTF8)
}

/// The spec's labels as (key, value) pairs.
///
/// # Safety
///
/// `spec.labels` is NULL or points to `spec.label_count` labels whose
/// strings follow [`optional_str`]'s contract, all valid for `'s`.
pub(crate) unsafe fn label_pairs<'s>(
    spec: &mmstats_field_spec,
) -> Result<LabelPairs<'s>, mmstats_status> {
    let mut pairs = LabelPairs::new();
    if spec.label_count == 0 {
        return Ok(pairs);
    }
    if spec.labels.is_null() {
        return Err(mmstats_status::MMSTATS_NULL_ARGUMENT);
    }
    let count = spec.label_count as usize;
    if count > LABELS_MAX {
        return Err(mmstats_status::MMSTATS_INVALID_LABELS);
    }
    // SAFETY: non-NULL, and the caller promises `label_count` labels (at
    // most LABELS_MAX here).
    let labels: &[mmstats_label] = unsafe { core::slice::from_raw_parts(spec.labels, count) };
    for label in labels {
        // SAFETY: the label strings follow the caller's contract.
        let key = unsafe { required_str(label.key) }?;
        // SAFETY: as above.
        let value = unsafe { required_str(label.value) }?;
        // Cannot overflow: count <= LABELS_MAX.
        pairs
            .push((key, value))
            .map_err(|_| mmstats_status::MMSTATS_INVALID_LABELS)?;
    }
    Ok(pairs)
}

/// Reads the spec behind `spec` (checked for NULL).
///
/// # Safety
///
/// `spec` is NULL or points to a spec valid for the call.
pub(crate) unsafe fn spec_ref<'s>(
    spec: *const mmstats_field_spec,
) -> Result<&'s mmstats_field_spec, mmstats_status> {
    // SAFETY: NULL or a valid spec, by the caller's contract.
    unsafe { spec.as_ref() }.ok_or(mmstats_status::MMSTATS_NULL_ARGUMENT)
}

/// Builds the `mmstats-nostd` spec from the C spec; `pairs` holds the
/// labels (from [`label_pairs`]).
///
/// # Safety
///
/// `spec`'s strings follow [`optional_str`]'s contract, valid for `'s`.
pub(crate) unsafe fn field_spec<'s>(
    spec: &mmstats_field_spec,
    pairs: &'s [(&'s str, &'s str)],
) -> Result<FieldSpec<'s>, mmstats_status> {
    // SAFETY: forwarded from the caller's contract.
    let name = unsafe { required_str(spec.name) }?;
    // SAFETY: as above.
    let description = unsafe { optional_str(spec.description) }?.unwrap_or("");
    let unit = u16::try_from(spec.unit)
        .ok()
        .and_then(Unit::from_code)
        .ok_or(mmstats_status::MMSTATS_INVALID_PARAMETER)?;
    let mut made = FieldSpec::new(name)
        .describe(description)
        .unit(unit)
        .labels(pairs);
    if spec.capacity != 0 {
        made = made.capacity(spec.capacity as usize);
    }
    if spec.precision != 0 {
        let bits =
            u8::try_from(spec.precision).map_err(|_| mmstats_status::MMSTATS_INVALID_PARAMETER)?;
        made = made.precision(bits);
    }
    if spec.highest != 0 {
        made = made.highest(spec.highest);
    }
    Ok(made)
}
