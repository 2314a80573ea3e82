//! The hosted layer: stats files and shm objects made by the `mmstats`
//! library (`StatsFile::builder(..).create()`).
//!
//! Handles are heap objects the caller owns: made by a `mmstats_file_*`
//! call, released by the kind's `*_free`. Each holds the `mmstats` handle,
//! which keeps the file's mapping alive, so a handle stays valid after
//! `mmstats_file_close` (the file goes when the last handle is freed).
//!
//! # Safety
//!
//! The unsafe code here turns the caller's pointers back into the boxes
//! this module made. The contract (in the header): a handle pointer is
//! NULL (an error code, never a crash) or one this library returned and
//! the caller has not freed; string and output pointers are NULL or valid
//! for the call.

// The exported functions are called from C, where `unsafe` does not
// exist: their pointer contract is the module's `# Safety` above and each
// function's header comment, and every pointer is checked for NULL.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::boxed::Box;
use std::ffi::c_char;

use mmstats_std::{CreateError, StatsFile};

use crate::args;
use crate::cell::{mmstats_counter_cell, mmstats_float_cell, mmstats_gauge_cell, word_ptr};
use crate::spec::mmstats_field_spec;
use crate::status::mmstats_status;

/// An open stats file (or shm object). Opaque; thread-safe: any thread may
/// add fields or call `mmstats_file_*` on it at the same time.
pub struct mmstats_file {
    file: StatsFile,
}

/// A counter in a stats file (single writer). Opaque.
pub struct mmstats_counter {
    inner: mmstats_std::Counter,
}

/// A signed 64-bit gauge in a stats file (single writer). Opaque.
pub struct mmstats_gauge {
    inner: mmstats_std::Gauge,
}

/// A `double` gauge in a stats file (single writer). Opaque.
pub struct mmstats_float {
    inner: mmstats_std::FloatGauge,
}

/// A bounded UTF-8 string in a stats file (single writer). Opaque.
pub struct mmstats_text {
    inner: mmstats_std::Text,
}

/// A histogram of `uint64_t` values in a stats file (single writer). Opaque.
pub struct mmstats_histogram {
    inner: mmstats_std::Histogram,
}

/// How to make a stats file. Zero-initialise, set `name`, set the rest as
/// needed (zero/NULL/false: the default). Read during the call only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmstats_file_options {
    /// File name without extension, NUL-terminated UTF-8 (required).
    pub name: *const c_char,
    /// Directory to publish in (NULL: `$MMSTATS_DIR` or the default).
    pub dir: *const c_char,
    /// Publish a POSIX shm object (`/dev/shm/mmstats-NAME`) instead of a
    /// file; `dir` is then ignored.
    pub shm: bool,
    /// Keep the file when the writer closes it (default: unlink it).
    pub keep: bool,
    /// Region size in bytes (0: the default; rounded up to 4 KiB).
    pub size: u64,
    /// Label prefix put before every field name (NULL: none).
    pub prefix: *const c_char,
}

fn status_of(result: Result<(), mmstats_status>) -> mmstats_status {
    match result {
        Ok(()) => mmstats_status::MMSTATS_OK,
        Err(status) => status,
    }
}

fn create_status(error: &CreateError) -> mmstats_status {
    match error {
        CreateError::Directory(_) => mmstats_status::MMSTATS_UNTRUSTED_DIRECTORY,
        CreateError::NameTaken { .. } => mmstats_status::MMSTATS_NAME_TAKEN,
        CreateError::Region { source, .. } => mmstats_status::from(*source),
        CreateError::DefaultField { source, .. } => add_status(source.clone()),
        CreateError::UnknownGroup { .. } => mmstats_status::MMSTATS_UNKNOWN_GROUP,
        _ => mmstats_status::MMSTATS_IO,
    }
}

fn add_status(error: mmstats_std::AddFieldError) -> mmstats_status {
    match error {
        mmstats_std::AddFieldError::Region(inner) => mmstats_status::from(inner),
        _ => mmstats_status::MMSTATS_DUPLICATE_NAME,
    }
}

/// Writes `Box::new(value)` to `*out`.
///
/// # Safety
///
/// `out` is valid for a pointer write (checked non-NULL by the caller).
unsafe fn put<T>(out: *mut *mut T, value: T) {
    // SAFETY: by this function's contract.
    unsafe { out.write(Box::into_raw(Box::new(value))) };
}

/// Creates a stats file (or shm object) and stores its handle in `*out`.
///
/// Ownership: `options` and its strings are read during the call only. The
/// caller owns `*out` and releases it with `mmstats_file_close`.
/// Threading: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_file_create(
    options: *const mmstats_file_options,
    out: *mut *mut mmstats_file,
) -> mmstats_status {
    status_of((|| {
        // SAFETY: NULL or valid for the call, by the documented contract.
        let options = unsafe { options.as_ref() }.ok_or(mmstats_status::MMSTATS_NULL_ARGUMENT)?;
        if out.is_null() {
            return Err(mmstats_status::MMSTATS_NULL_ARGUMENT);
        }
        // SAFETY: documented contract of string arguments.
        let name = unsafe { args::required_str(options.name) }?;
        // SAFETY: as above.
        let dir = unsafe { args::optional_str(options.dir) }?;
        // SAFETY: as above.
        let prefix = unsafe { args::optional_str(options.prefix) }?;
        let mut builder = StatsFile::builder(name).keep(options.keep);
        builder = match (options.shm, dir) {
            (true, _) => builder.shm(),
            (false, Some(dir)) => builder.dir(dir),
            (false, None) => builder,
        };
        if options.size != 0 {
            let size = usize::try_from(options.size)
                .map_err(|_| mmstats_status::MMSTATS_REGION_TOO_LARGE)?;
            builder = builder.size(size);
        }
        if let Some(prefix) = prefix {
            builder = builder.prefix(prefix);
        }
        let file = builder.create().map_err(|error| create_status(&error))?;
        // SAFETY: `out` is non-NULL (checked) and valid by the contract.
        unsafe { put(out, mmstats_file { file }) };
        Ok(())
    })())
}

/// Releases the caller's handle of the file. The file stays mapped while
/// field handles made from it exist; when the last goes it is marked
/// closed for readers and unlinked (unless made with `keep`, or
/// `mmstats_file_set_keep(file, true)` was called). NULL: does nothing.
///
/// Ownership: `file` must not be used after this call.
/// Threading: not while another call uses `file`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_file_close(file: *mut mmstats_file) {
    if !file.is_null() {
        // SAFETY: a pointer from mmstats_file_create not freed before, by
        // the documented contract; ownership comes back here.
        drop(unsafe { Box::from_raw(file) });
    }
}

/// The file's handle behind `file`.
///
/// # Safety
///
/// `file` is NULL or a live handle from `mmstats_file_create`.
unsafe fn file_ref<'h>(file: *const mmstats_file) -> Result<&'h StatsFile, mmstats_status> {
    // SAFETY: by this function's contract.
    unsafe { file.as_ref() }
        .map(|file| &file.file)
        .ok_or(mmstats_status::MMSTATS_NULL_ARGUMENT)
}

/// Chooses whether the file stays on disk after the writer closes it.
///
/// Threading: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_file_set_keep(file: *const mmstats_file, keep: bool) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of handle pointers.
        unsafe { file_ref(file) }?.set_keep(keep);
        Ok(())
    })())
}

/// Stores the current time as the file's heartbeat (readers see the
/// writer alive). Threading: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_file_heartbeat(file: *const mmstats_file) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of handle pointers.
        unsafe { file_ref(file) }?.heartbeat();
        Ok(())
    })())
}

/// Copies the file's path, NUL-terminated, into `buf` (`len` bytes) and
/// stores its length without the NUL in `*needed` (unless `needed` is
/// NULL). When `len` is too small nothing is copied and
/// `MMSTATS_BUFFER_TOO_SMALL` is returned (with `*needed` set): call again
/// with `*needed + 1` bytes. `buf` may be NULL when `len` is 0.
///
/// Ownership: the caller owns `buf`. Threading: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_file_path(
    file: *const mmstats_file,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of handle pointers.
        let file = unsafe { file_ref(file) }?;
        let path = file.path();
        let path = path.to_str().ok_or(mmstats_status::MMSTATS_INVALID_UTF8)?;
        let bytes = path.as_bytes();
        // SAFETY: NULL or a valid size_t to write, by the contract.
        if let Some(needed) = unsafe { needed.as_mut() } {
            *needed = bytes.len();
        }
        if len <= bytes.len() {
            return Err(mmstats_status::MMSTATS_BUFFER_TOO_SMALL);
        }
        if buf.is_null() {
            return Err(mmstats_status::MMSTATS_NULL_ARGUMENT);
        }
        // SAFETY: `buf` is non-NULL and holds `len` writable bytes by the
        // contract; nothing else refers to them during the call.
        let dest = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        dest[..bytes.len()].copy_from_slice(bytes);
        // In bounds: len > bytes.len() (checked above).
        dest[bytes.len()] = 0;
        Ok(())
    })())
}

/// Adds a field to the file and stores a new handle in `*out`.
fn add_field<T>(
    file: *const mmstats_file,
    spec: *const mmstats_field_spec,
    out: *mut *mut T,
    add: impl FnOnce(&StatsFile, mmstats_nostd::FieldSpec<'_>) -> Result<T, mmstats_std::AddFieldError>,
) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of handle pointers.
        let file = unsafe { file_ref(file) }?;
        // SAFETY: documented contract of spec pointers.
        let spec = unsafe { args::spec_ref(spec) }?;
        if out.is_null() {
            return Err(mmstats_status::MMSTATS_NULL_ARGUMENT);
        }
        // SAFETY: the spec's strings follow the documented contract.
        let pairs = unsafe { args::label_pairs(spec) }?;
        // SAFETY: as above.
        let field = unsafe { args::field_spec(spec, &pairs) }?;
        let made = add(file, field).map_err(add_status)?;
        // SAFETY: `out` is non-NULL (checked) and valid by the contract.
        unsafe { put(out, made) };
        Ok(())
    })())
}

/// Adds a counter and stores its handle in `*out`.
///
/// Ownership: `spec` and its strings are read during the call only; the
/// caller owns `*out` and releases it with `mmstats_counter_free`.
/// Threading: any thread (fields are added under the file's lock).
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_file_counter(
    file: *const mmstats_file,
    spec: *const mmstats_field_spec,
    out: *mut *mut mmstats_counter,
) -> mmstats_status {
    add_field(file, spec, out, |file, spec| {
        file.counter(spec).map(|inner| mmstats_counter { inner })
    })
}

/// Adds a signed 64-bit gauge; release with `mmstats_gauge_free`.
/// Ownership and threading as `mmstats_file_counter`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_file_gauge(
    file: *const mmstats_file,
    spec: *const mmstats_field_spec,
    out: *mut *mut mmstats_gauge,
) -> mmstats_status {
    add_field(file, spec, out, |file, spec| {
        file.gauge(spec).map(|inner| mmstats_gauge { inner })
    })
}

/// Adds a `double` gauge; release with `mmstats_float_free`.
/// Ownership and threading as `mmstats_file_counter`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_file_float(
    file: *const mmstats_file,
    spec: *const mmstats_field_spec,
    out: *mut *mut mmstats_float,
) -> mmstats_status {
    add_field(file, spec, out, |file, spec| {
        file.float_gauge(spec).map(|inner| mmstats_float { inner })
    })
}

/// Adds a string of `spec->capacity` bytes (default 64, at most 4096);
/// release with `mmstats_text_free`.
/// Ownership and threading as `mmstats_file_counter`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_file_text(
    file: *const mmstats_file,
    spec: *const mmstats_field_spec,
    out: *mut *mut mmstats_text,
) -> mmstats_status {
    add_field(file, spec, out, |file, spec| {
        file.text(spec).map(|inner| mmstats_text { inner })
    })
}

/// Adds a histogram (precision and range from `spec`); release with
/// `mmstats_histogram_free`.
/// Ownership and threading as `mmstats_file_counter`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_file_histogram(
    file: *const mmstats_file,
    spec: *const mmstats_field_spec,
    out: *mut *mut mmstats_histogram,
) -> mmstats_status {
    add_field(file, spec, out, |file, spec| {
        file.histogram(spec)
            .map(|inner| mmstats_histogram { inner })
    })
}

/// The object behind a handle pointer.
///
/// # Safety
///
/// `ptr` is NULL or a live handle this module returned.
unsafe fn live<'h, T>(ptr: *const T) -> Result<&'h T, mmstats_status> {
    // SAFETY: by this function's contract.
    unsafe { ptr.as_ref() }.ok_or(mmstats_status::MMSTATS_NULL_ARGUMENT)
}

/// Frees a handle this module returned (NULL: nothing).
///
/// # Safety
///
/// `ptr` is NULL or a live handle this module returned, not used after.
unsafe fn free<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: by this function's contract, the box is ours again.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Runs `update` on the handle behind `ptr`.
fn with<T>(ptr: *const T, update: impl FnOnce(&T)) -> mmstats_status {
    // SAFETY: documented contract of handle pointers.
    match unsafe { live(ptr) } {
        Ok(handle) => {
            update(handle);
            mmstats_status::MMSTATS_OK
        }
        Err(status) => status,
    }
}

/// Reads a value from the handle behind `ptr` into `*out`.
fn read<T, V>(ptr: *const T, out: *mut V, value: impl FnOnce(&T) -> V) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of handle pointers.
        let handle = unsafe { live(ptr) }?;
        // SAFETY: NULL or valid for a write, by the documented contract.
        let out = unsafe { out.as_mut() }.ok_or(mmstats_status::MMSTATS_NULL_ARGUMENT)?;
        *out = value(handle);
        Ok(())
    })())
}

/// Adds one to the counter.
///
/// Threading (every `mmstats_counter_*` call): one thread at a time per
/// counter handle (a single-writer field); the handle may move between
/// threads. Valid after `mmstats_file_close` of its file.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_counter_incr(counter: *const mmstats_counter) -> mmstats_status {
    with(counter, |counter| counter.inner.incr())
}

/// Adds `n` to the counter (wrapping).
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_counter_add(counter: *const mmstats_counter, n: u64) -> mmstats_status {
    with(counter, |counter| counter.inner.add(n))
}

/// Stores the counter's value in `*out`.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_counter_get(
    counter: *const mmstats_counter,
    out: *mut u64,
) -> mmstats_status {
    read(counter, out, |counter| counter.inner.get())
}

/// Stores the counter's value word in `*out`, for the inline updates of
/// `mmstats_inline.h` (`mmstats_counter_cell_incr`, `_add`, `_get`):
/// the checked calls' update, without the call.
///
/// Ownership: the word belongs to the file's mapping; the cell stays valid
/// as long as this handle does (until `mmstats_counter_free`; not after, even
/// if the file is still open). Threading: the cell and the handle are the
/// same field with one writer: update through one of them, from one thread
/// at a time; reads may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_counter_to_cell(
    counter: *const mmstats_counter,
    out: *mut mmstats_counter_cell,
) -> mmstats_status {
    read(counter, out, |counter| mmstats_counter_cell {
        word: word_ptr(counter.inner.value_word()),
    })
}

/// Releases the counter handle (the field stays in the file). NULL:
/// nothing. The handle must not be used after this call.
///
/// Ownership: releases the handle (the field stays in the file).
/// Threading: not while another call uses the handle.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_counter_free(counter: *mut mmstats_counter) {
    // SAFETY: documented contract of handle pointers.
    unsafe { free(counter) }
}

/// Sets the gauge. Threading: one thread at a time per gauge handle.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_gauge_set(gauge: *const mmstats_gauge, value: i64) -> mmstats_status {
    with(gauge, |gauge| gauge.inner.set(value))
}

/// Adds `delta` (may be negative) to the gauge.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_gauge_add(gauge: *const mmstats_gauge, delta: i64) -> mmstats_status {
    with(gauge, |gauge| gauge.inner.add(delta))
}

/// Stores the gauge's value in `*out`.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_gauge_get(gauge: *const mmstats_gauge, out: *mut i64) -> mmstats_status {
    read(gauge, out, |gauge| gauge.inner.get())
}

/// Stores the gauge's value word in `*out`, for the inline updates of
/// `mmstats_inline.h` (`mmstats_gauge_cell_set`, `_add`, `_get`):
/// the checked calls' update, without the call.
///
/// Ownership: the word belongs to the file's mapping; the cell stays valid
/// as long as this handle does (until `mmstats_gauge_free`; not after, even
/// if the file is still open). Threading: the cell and the handle are the
/// same field with one writer: update through one of them, from one thread
/// at a time; reads may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_gauge_to_cell(
    gauge: *const mmstats_gauge,
    out: *mut mmstats_gauge_cell,
) -> mmstats_status {
    read(gauge, out, |gauge| mmstats_gauge_cell {
        word: word_ptr(gauge.inner.value_word()),
    })
}

/// Releases the gauge handle. NULL: nothing. Not used after.
///
/// Ownership: releases the handle (the field stays in the file).
/// Threading: not while another call uses the handle.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_gauge_free(gauge: *mut mmstats_gauge) {
    // SAFETY: documented contract of handle pointers.
    unsafe { free(gauge) }
}

/// Sets the float gauge. Threading: one thread at a time per handle.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_float_set(gauge: *const mmstats_float, value: f64) -> mmstats_status {
    with(gauge, |gauge| gauge.inner.set(value))
}

/// Adds `delta` to the float gauge.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_float_add(gauge: *const mmstats_float, delta: f64) -> mmstats_status {
    with(gauge, |gauge| gauge.inner.add(delta))
}

/// Stores the float gauge's value in `*out`.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_float_get(gauge: *const mmstats_float, out: *mut f64) -> mmstats_status {
    read(gauge, out, |gauge| gauge.inner.get())
}

/// Stores the float gauge's value word in `*out`, for the inline updates of
/// `mmstats_inline.h` (`mmstats_float_cell_set`, `_add`, `_get`):
/// the checked calls' update, without the call.
///
/// Ownership: the word belongs to the file's mapping; the cell stays valid
/// as long as this handle does (until `mmstats_float_free`; not after, even
/// if the file is still open). Threading: the cell and the handle are the
/// same field with one writer: update through one of them, from one thread
/// at a time; reads may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_float_to_cell(
    gauge: *const mmstats_float,
    out: *mut mmstats_float_cell,
) -> mmstats_status {
    read(gauge, out, |gauge| mmstats_float_cell {
        word: word_ptr(gauge.inner.value_word()),
    })
}

/// Releases the float gauge handle. NULL: nothing. Not used after.
///
/// Ownership: releases the handle (the field stays in the file).
/// Threading: not while another call uses the handle.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_float_free(gauge: *mut mmstats_float) {
    // SAFETY: documented contract of handle pointers.
    unsafe { free(gauge) }
}

/// Sets the string to the NUL-terminated UTF-8 `value`, cut to the
/// capacity at a character boundary; stores the bytes kept in `*stored`
/// unless `stored` is NULL. Readers never see a torn string.
///
/// Ownership: `value` is copied. Threading: one thread at a time per handle.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_text_set(
    text: *const mmstats_text,
    value: *const c_char,
    stored: *mut usize,
) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of handle pointers.
        let text = unsafe { live(text) }?;
        // SAFETY: documented contract of string arguments.
        let value = unsafe { args::required_str(value) }?;
        let kept = text.inner.set(value);
        // SAFETY: NULL or valid for a write, by the documented contract.
        if let Some(stored) = unsafe { stored.as_mut() } {
            *stored = kept;
        }
        Ok(())
    })())
}

/// Releases the text handle. NULL: nothing. Not used after.
///
/// Ownership: releases the handle (the field stays in the file).
/// Threading: not while another call uses the handle.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_text_free(text: *mut mmstats_text) {
    // SAFETY: documented contract of handle pointers.
    unsafe { free(text) }
}

/// Records one value. Threading: one thread at a time per handle.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_histogram_record(
    histogram: *const mmstats_histogram,
    value: u64,
) -> mmstats_status {
    with(histogram, |histogram| histogram.inner.record(value))
}

/// Records `value` `n` times.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_histogram_record_n(
    histogram: *const mmstats_histogram,
    value: u64,
    n: u64,
) -> mmstats_status {
    with(histogram, |histogram| histogram.inner.record_n(value, n))
}

/// Stores the number of values recorded in `*out`.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_histogram_count(
    histogram: *const mmstats_histogram,
    out: *mut u64,
) -> mmstats_status {
    read(histogram, out, |histogram| histogram.inner.count())
}

/// Releases the histogram handle. NULL: nothing. Not used after.
///
/// Ownership: releases the handle (the field stays in the file).
/// Threading: not while another call uses the handle.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_histogram_free(histogram: *mut mmstats_histogram) {
    // SAFETY: documented contract of handle pointers.
    unsafe { free(histogram) }
}
