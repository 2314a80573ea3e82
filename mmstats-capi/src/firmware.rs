//! The firmware layer: a region in the caller's buffer, no allocator.
//!
//! The caller provides all storage: the buffer of 8-byte words the region
//! lives in (usually a `static`), a [`mmstats_fw_region`] for the writer's
//! state, and one small struct per handle. The library writes
//! `mmstats-nostd`'s `Region` and handles into that storage and tags it
//! with a per-kind magic word, checked on every call: a NULL pointer, a
//! zeroed struct, or a struct of another kind returns an error code
//! instead of being used.
//!
//! # Safety
//!
//! The unsafe code here stores `mmstats-nostd` values in the opaque words
//! of caller-provided structs and reads them back after checking the magic
//! word. The contract (in the header): storage pointers are NULL or point
//! to writable structs of the named type; the words buffer lives, and is
//! used through this region only, as long as the region or any handle
//! made from it is used; the caller does not write the structs itself
//! except to zero them.

// The exported functions are called from C, where `unsafe` does not
// exist: their pointer contract is the module's `# Safety` above and each
// function's header comment, and every pointer is checked for NULL.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use core::ffi::c_char;
use core::mem::{align_of, size_of};

use mmstats_nostd::{Counter, FloatGauge, Gauge, Histogram, Region, RegionOptions, Text, Word};

use crate::args;
use crate::cell::{mmstats_counter_cell, mmstats_float_cell, mmstats_gauge_cell, word_ptr};
use crate::spec::mmstats_field_spec;
use crate::status::mmstats_status;

/// 64-bit words in [`mmstats_fw_region`]'s opaque storage.
pub const MMSTATS_FW_REGION_WORDS: usize = 64;
/// 64-bit words in each firmware handle's opaque storage.
pub const MMSTATS_FW_HANDLE_WORDS: usize = 8;

/// The writer's state of a region in a caller's buffer. Provide one per
/// region (a `static`, zero-initialised, is the usual place) and fill it
/// with `mmstats_fw_region_create`. Its contents are private; it may be
/// moved (copied with memcpy) while no call uses it.
#[repr(C)]
pub struct mmstats_fw_region {
    _magic: u32,
    _reserved: u32,
    _storage: [u64; MMSTATS_FW_REGION_WORDS],
}

/// How to make a firmware region. NULL in `mmstats_fw_region_create`
/// means all defaults (zero everywhere).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct mmstats_fw_region_options {
    /// Field-table entries (0: one per 448 bytes of buffer with labels,
    /// 320 without).
    pub table_capacity: u32,
    /// Room for labels (format 2.2): 384-byte table entries instead of 256.
    pub labels: bool,
    /// Writer's process id (0: unknown).
    pub pid: u64,
    /// Creation time, nanoseconds since the Unix epoch (0: unknown).
    pub created_ns: u64,
}

/// A counter in a firmware region (filled by `mmstats_fw_region_counter`).
/// Contents private; zero-initialise before the first use.
#[repr(C)]
pub struct mmstats_fw_counter {
    _magic: u32,
    _reserved: u32,
    _storage: [u64; MMSTATS_FW_HANDLE_WORDS],
}

/// A signed 64-bit gauge in a firmware region. Contents private.
#[repr(C)]
pub struct mmstats_fw_gauge {
    _magic: u32,
    _reserved: u32,
    _storage: [u64; MMSTATS_FW_HANDLE_WORDS],
}

/// A `double` gauge in a firmware region. Contents private.
#[repr(C)]
pub struct mmstats_fw_float {
    _magic: u32,
    _reserved: u32,
    _storage: [u64; MMSTATS_FW_HANDLE_WORDS],
}

/// A bounded UTF-8 string in a firmware region. Contents private.
#[repr(C)]
pub struct mmstats_fw_text {
    _magic: u32,
    _reserved: u32,
    _storage: [u64; MMSTATS_FW_HANDLE_WORDS],
}

/// A histogram of `uint64_t` values in a firmware region. Contents private.
#[repr(C)]
pub struct mmstats_fw_histogram {
    _magic: u32,
    _reserved: u32,
    _storage: [u64; MMSTATS_FW_HANDLE_WORDS],
}

/// Storage the library fills with a value of type `Inner`.
trait Storage: Sized {
    type Inner;
    const MAGIC: u32;
    fn magic(&self) -> u32;
    fn set_magic(&mut self, magic: u32);
    fn words(&self) -> *const u64;
    fn words_mut(&mut self) -> *mut u64;

    /// Writes `inner` into the storage and tags it.
    fn fill(&mut self, inner: Self::Inner) {
        let words = self.words_mut();
        // SAFETY: the storage is at least size_of::<Inner>() bytes and
        // 8-byte aligned (check_fits, at compile time for every kind), and
        // ours to write (&mut self). The old contents are plain values
        // without drop glue worth running (references into the caller's
        // buffer), so overwriting without dropping is fine.
        unsafe { words.cast::<Self::Inner>().write(inner) };
        self.set_magic(Self::MAGIC);
    }

    /// The value in the storage behind `ptr`, if it was filled; shared, so
    /// a reader and the writer of a handle may call at the same time (its
    /// words are atomics).
    ///
    /// # Safety
    ///
    /// `ptr` is NULL or points to a valid struct of this type that no
    /// call fills meanwhile.
    unsafe fn get<'h>(ptr: *const Self) -> Result<&'h Self::Inner, mmstats_status>
    where
        Self: 'h,
    {
        // SAFETY: NULL or valid, by the caller's contract.
        let storage = unsafe { ptr.as_ref() }.ok_or(mmstats_status::MMSTATS_NULL_ARGUMENT)?;
        if storage.magic() != Self::MAGIC {
            return Err(mmstats_status::MMSTATS_BAD_HANDLE);
        }
        let words = storage.words();
        // SAFETY: the magic says `fill` wrote an Inner here (the caller
        // only zeroes the struct, which clears the magic), aligned and in
        // bounds (check_fits).
        Ok(unsafe { &*words.cast::<Self::Inner>() })
    }

    /// Like [`Storage::get`], for the region, whose calls need it
    /// exclusively.
    ///
    /// # Safety
    ///
    /// As [`Storage::get`], and no other call uses the struct meanwhile
    /// (region calls are documented as not concurrent).
    unsafe fn get_mut<'h>(ptr: *mut Self) -> Result<&'h mut Self::Inner, mmstats_status>
    where
        Self: 'h,
    {
        // SAFETY: NULL or valid, by the caller's contract.
        let storage = unsafe { ptr.as_mut() }.ok_or(mmstats_status::MMSTATS_NULL_ARGUMENT)?;
        if storage.magic() != Self::MAGIC {
            return Err(mmstats_status::MMSTATS_BAD_HANDLE);
        }
        let words = storage.words_mut();
        // SAFETY: as in `get`; the borrow of the storage is unique by the
        // caller's contract.
        Ok(unsafe { &mut *words.cast::<Self::Inner>() })
    }
}

const fn check_fits<T>(words: usize) {
    assert!(size_of::<T>() <= words * 8);
    assert!(align_of::<T>() <= 8);
}

macro_rules! storage {
    ($name:ident, $inner:ty, $magic:expr, $words:expr) => {
        const _: () = check_fits::<$inner>($words);
        impl Storage for $name {
            type Inner = $inner;
            const MAGIC: u32 = $magic;
            fn magic(&self) -> u32 {
                self._magic
            }
            fn set_magic(&mut self, magic: u32) {
                self._magic = magic;
            }
            fn words(&self) -> *const u64 {
                self._storage.as_ptr()
            }
            fn words_mut(&mut self) -> *mut u64 {
                self._storage.as_mut_ptr()
            }
        }
    };
}

storage!(
    mmstats_fw_region,
    Region<'static>,
    0x6d6d_5247,
    MMSTATS_FW_REGION_WORDS
);
storage!(
    mmstats_fw_counter,
    Counter<'static>,
    0x6d6d_4331,
    MMSTATS_FW_HANDLE_WORDS
);
storage!(
    mmstats_fw_gauge,
    Gauge<'static>,
    0x6d6d_4732,
    MMSTATS_FW_HANDLE_WORDS
);
storage!(
    mmstats_fw_float,
    FloatGauge<'static>,
    0x6d6d_4633,
    MMSTATS_FW_HANDLE_WORDS
);
storage!(
    mmstats_fw_text,
    Text<'static>,
    0x6d6d_5434,
    MMSTATS_FW_HANDLE_WORDS
);
storage!(
    mmstats_fw_histogram,
    Histogram<'static>,
    0x6d6d_4835,
    MMSTATS_FW_HANDLE_WORDS
);

fn status_of(result: Result<(), mmstats_status>) -> mmstats_status {
    match result {
        Ok(()) => mmstats_status::MMSTATS_OK,
        Err(status) => status,
    }
}

/// Makes a region over `words[0..word_count]` (its whole length) and
/// publishes an empty field table; fills `region`.
///
/// `words` must be 8-byte aligned (`uint64_t` arrays are; on 32-bit ARM
/// too) or `MMSTATS_MISALIGNED` is returned. If the buffer held a region
/// already, readers see it restart with a new generation; handles made
/// from the old region still write into the buffer (harmless but
/// meaningless): make them again.
///
/// Ownership: the caller owns `region` and `words`; `words` must stay
/// valid (a `static`) while the region or any of its handles is used, and
/// be written only through this library. `options` is read during the call
/// only (NULL: defaults).
/// Threading: not concurrently with any other call on the same `region`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_region_create(
    region: *mut mmstats_fw_region,
    words: *mut u64,
    word_count: usize,
    options: *const mmstats_fw_region_options,
) -> mmstats_status {
    status_of((|| {
        // SAFETY: NULL or a valid struct, by the documented contract.
        let region = unsafe { region.as_mut() }.ok_or(mmstats_status::MMSTATS_NULL_ARGUMENT)?;
        if words.is_null() {
            return Err(mmstats_status::MMSTATS_NULL_ARGUMENT);
        }
        if !(words as usize).is_multiple_of(align_of::<Word>()) {
            return Err(mmstats_status::MMSTATS_MISALIGNED);
        }
        // SAFETY: NULL or valid for the call, by the documented contract.
        let options = unsafe { options.as_ref() }.copied().unwrap_or_default();
        // SAFETY: non-NULL, aligned for Word (checked), `word_count` words
        // the caller promises live and are used only through this region
        // as long as it or its handles are used (the 'static stands for
        // that promise). Word is an atomic u64 with u64's size, so shared
        // access from several handles is sound.
        let words: &'static [Word] =
            unsafe { core::slice::from_raw_parts(words.cast::<Word>(), word_count) };
        let made = Region::create(
            words,
            &RegionOptions {
                table_capacity: options.table_capacity as usize,
                pid: options.pid,
                created_ns: options.created_ns,
                labels: options.labels,
                ..RegionOptions::default()
            },
        )?;
        region.fill(made);
        Ok(())
    })())
}

/// Sets the label prefix put before the names of fields added from now on
/// (for example `"fw."`).
///
/// Ownership: `prefix` is copied. Threading: not concurrently with any
/// other call on the same `region`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_region_set_prefix(
    region: *mut mmstats_fw_region,
    prefix: *const c_char,
) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of the region pointer.
        let region = unsafe { mmstats_fw_region::get_mut(region) }?;
        // SAFETY: documented contract of string arguments.
        let prefix = unsafe { args::required_str(prefix) }?;
        region.set_prefix(prefix)?;
        Ok(())
    })())
}

/// Stores the time of a heartbeat (nanoseconds since the Unix epoch) in
/// the region's header, so readers see the writer alive.
///
/// Threading: not concurrently with any other call on the same `region`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_region_heartbeat(
    region: *mut mmstats_fw_region,
    unix_ns: u64,
) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of the region pointer.
        let region = unsafe { mmstats_fw_region::get_mut(region) }?;
        region.heartbeat(unix_ns);
        Ok(())
    })())
}

/// Marks the region closed for readers and empties `region` (later calls
/// on it return `MMSTATS_BAD_HANDLE`). Handles made from it still write
/// into the buffer, harmlessly.
///
/// Threading: not concurrently with any other call on the same `region`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_region_close(region: *mut mmstats_fw_region) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of the region pointer.
        let made = unsafe { mmstats_fw_region::get_mut(region) }?;
        made.close();
        // SAFETY: get() succeeded, so `region` is a valid, non-NULL struct.
        unsafe { (*region)._magic = 0 };
        Ok(())
    })())
}

/// Adds a field described by `spec` with `add` and fills `out`.
fn add_field<S: Storage>(
    region: *mut mmstats_fw_region,
    spec: *const mmstats_field_spec,
    out: *mut S,
    add: impl FnOnce(
        &mut Region<'static>,
        mmstats_nostd::FieldSpec<'_>,
    ) -> Result<S::Inner, mmstats_nostd::AddFieldError>,
) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of the region pointer.
        let region = unsafe { mmstats_fw_region::get_mut(region) }?;
        // SAFETY: documented contract of the spec pointer.
        let spec = unsafe { args::spec_ref(spec) }?;
        // SAFETY: documented contract of the handle pointer.
        let out = unsafe { out.as_mut() }.ok_or(mmstats_status::MMSTATS_NULL_ARGUMENT)?;
        // SAFETY: the spec's strings follow the documented contract.
        let pairs = unsafe { args::label_pairs(spec) }?;
        // SAFETY: as above.
        let field = unsafe { args::field_spec(spec, &pairs) }?;
        out.fill(add(region, field)?);
        Ok(())
    })())
}

/// Adds a counter (one writer) and fills `out`.
///
/// Ownership: `spec` and its strings are read during the call only; the
/// caller owns `out`. Threading: not concurrently with any other call on
/// the same `region`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_region_counter(
    region: *mut mmstats_fw_region,
    spec: *const mmstats_field_spec,
    out: *mut mmstats_fw_counter,
) -> mmstats_status {
    add_field(region, spec, out, |region, spec| region.counter(spec))
}

/// Adds a signed 64-bit gauge (one writer) and fills `out`.
///
/// Ownership and threading as `mmstats_fw_region_counter`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_region_gauge(
    region: *mut mmstats_fw_region,
    spec: *const mmstats_field_spec,
    out: *mut mmstats_fw_gauge,
) -> mmstats_status {
    add_field(region, spec, out, |region, spec| region.gauge(spec))
}

/// Adds a `double` gauge (one writer) and fills `out`.
///
/// Ownership and threading as `mmstats_fw_region_counter`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_region_float(
    region: *mut mmstats_fw_region,
    spec: *const mmstats_field_spec,
    out: *mut mmstats_fw_float,
) -> mmstats_status {
    add_field(region, spec, out, |region, spec| region.float_gauge(spec))
}

/// Adds a string of `spec->capacity` bytes (default 64, at most 4096; one
/// writer) and fills `out`.
///
/// Ownership and threading as `mmstats_fw_region_counter`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_region_text(
    region: *mut mmstats_fw_region,
    spec: *const mmstats_field_spec,
    out: *mut mmstats_fw_text,
) -> mmstats_status {
    add_field(region, spec, out, |region, spec| region.text(spec))
}

/// Adds a histogram (precision and range from `spec`; one writer) and
/// fills `out`.
///
/// Ownership and threading as `mmstats_fw_region_counter`.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_region_histogram(
    region: *mut mmstats_fw_region,
    spec: *const mmstats_field_spec,
    out: *mut mmstats_fw_histogram,
) -> mmstats_status {
    add_field(region, spec, out, |region, spec| region.histogram(spec))
}

/// Runs `update` on the handle behind `handle`.
fn with<S: Storage>(handle: *const S, update: impl FnOnce(&S::Inner)) -> mmstats_status {
    // SAFETY: documented contract of handle pointers.
    match unsafe { S::get(handle) } {
        Ok(inner) => {
            update(inner);
            mmstats_status::MMSTATS_OK
        }
        Err(status) => status,
    }
}

/// Reads a value from the handle behind `handle` into `out`.
fn read<S: Storage, V>(
    handle: *const S,
    out: *mut V,
    value: impl FnOnce(&S::Inner) -> V,
) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of handle pointers.
        let inner = unsafe { S::get(handle) }?;
        // SAFETY: NULL or a valid V to write, by the documented contract.
        let out = unsafe { out.as_mut() }.ok_or(mmstats_status::MMSTATS_NULL_ARGUMENT)?;
        *out = value(inner);
        Ok(())
    })())
}

/// Adds one to the counter.
///
/// Threading (for every `mmstats_fw_counter_*` update): one thread or
/// interrupt context at a time per counter (it is a single-writer field);
/// readers in other processes never block it.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_counter_incr(counter: *const mmstats_fw_counter) -> mmstats_status {
    with(counter, Counter::incr)
}

/// Adds `n` to the counter (wrapping).
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_counter_add(
    counter: *const mmstats_fw_counter,
    n: u64,
) -> mmstats_status {
    with(counter, |counter| counter.add(n))
}

/// Stores the counter's value in `*out`.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_counter_get(
    counter: *const mmstats_fw_counter,
    out: *mut u64,
) -> mmstats_status {
    read(counter, out, Counter::get)
}

/// Stores the counter's value word in `*out`, for the inline updates of
/// `mmstats_inline.h` (`mmstats_counter_cell_incr`, `_add`, `_get`):
/// the checked calls' update, without the call.
///
/// Ownership: the word is in the region's buffer; the cell stays valid as
/// long as the buffer does (it does not point into `counter`, which may
/// move). If the region is made again over the buffer the cell, like the
/// handle, writes harmlessly into the new region's words: fill it again.
/// Threading: the cell and the handle are the same field with one writer:
/// update through one of them, from one thread or interrupt context at a
/// time; reads may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_counter_to_cell(
    counter: *const mmstats_fw_counter,
    out: *mut mmstats_counter_cell,
) -> mmstats_status {
    read(counter, out, |counter| mmstats_counter_cell {
        word: word_ptr(counter.value_word()),
    })
}

/// Sets the gauge. Threading: one writer at a time per gauge.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_gauge_set(
    gauge: *const mmstats_fw_gauge,
    value: i64,
) -> mmstats_status {
    with(gauge, |gauge| gauge.set(value))
}

/// Adds `delta` (may be negative) to the gauge.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_gauge_add(
    gauge: *const mmstats_fw_gauge,
    delta: i64,
) -> mmstats_status {
    with(gauge, |gauge| gauge.add(delta))
}

/// Stores the gauge's value in `*out`.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_gauge_get(
    gauge: *const mmstats_fw_gauge,
    out: *mut i64,
) -> mmstats_status {
    read(gauge, out, Gauge::get)
}

/// Stores the gauge's value word in `*out`, for the inline updates of
/// `mmstats_inline.h` (`mmstats_gauge_cell_set`, `_add`, `_get`):
/// the checked calls' update, without the call.
///
/// Ownership: the word is in the region's buffer; the cell stays valid as
/// long as the buffer does (it does not point into `gauge`, which may
/// move). If the region is made again over the buffer the cell, like the
/// handle, writes harmlessly into the new region's words: fill it again.
/// Threading: the cell and the handle are the same field with one writer:
/// update through one of them, from one thread or interrupt context at a
/// time; reads may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_gauge_to_cell(
    gauge: *const mmstats_fw_gauge,
    out: *mut mmstats_gauge_cell,
) -> mmstats_status {
    read(gauge, out, |gauge| mmstats_gauge_cell {
        word: word_ptr(gauge.value_word()),
    })
}

/// Sets the float gauge. Threading: one writer at a time per gauge.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_float_set(
    gauge: *const mmstats_fw_float,
    value: f64,
) -> mmstats_status {
    with(gauge, |gauge| gauge.set(value))
}

/// Adds `delta` to the float gauge.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_float_add(
    gauge: *const mmstats_fw_float,
    delta: f64,
) -> mmstats_status {
    with(gauge, |gauge| gauge.add(delta))
}

/// Stores the float gauge's value in `*out`.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_float_get(
    gauge: *const mmstats_fw_float,
    out: *mut f64,
) -> mmstats_status {
    read(gauge, out, FloatGauge::get)
}

/// Stores the float gauge's value word in `*out`, for the inline updates of
/// `mmstats_inline.h` (`mmstats_float_cell_set`, `_add`, `_get`):
/// the checked calls' update, without the call.
///
/// Ownership: the word is in the region's buffer; the cell stays valid as
/// long as the buffer does (it does not point into `gauge`, which may
/// move). If the region is made again over the buffer the cell, like the
/// handle, writes harmlessly into the new region's words: fill it again.
/// Threading: the cell and the handle are the same field with one writer:
/// update through one of them, from one thread or interrupt context at a
/// time; reads may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_float_to_cell(
    gauge: *const mmstats_fw_float,
    out: *mut mmstats_float_cell,
) -> mmstats_status {
    read(gauge, out, |gauge| mmstats_float_cell {
        word: word_ptr(gauge.value_word()),
    })
}

/// Sets the string to the NUL-terminated UTF-8 `value`, cut to the
/// capacity at a character boundary; stores the bytes kept in `*stored`
/// unless `stored` is NULL. Readers never see a torn string.
///
/// Ownership: `value` is copied. Threading: one writer at a time per text.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_text_set(
    text: *const mmstats_fw_text,
    value: *const c_char,
    stored: *mut usize,
) -> mmstats_status {
    status_of((|| {
        // SAFETY: documented contract of handle pointers.
        let inner = unsafe { mmstats_fw_text::get(text) }?;
        // SAFETY: documented contract of string arguments.
        let value = unsafe { args::required_str(value) }?;
        let kept = inner.set(value);
        // SAFETY: NULL or a valid size_t to write, by the documented contract.
        if let Some(stored) = unsafe { stored.as_mut() } {
            *stored = kept;
        }
        Ok(())
    })())
}

/// Records one value. Threading: one writer at a time per histogram.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_histogram_record(
    histogram: *const mmstats_fw_histogram,
    value: u64,
) -> mmstats_status {
    with(histogram, |histogram| histogram.record(value))
}

/// Records `value` `n` times.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_histogram_record_n(
    histogram: *const mmstats_fw_histogram,
    value: u64,
    n: u64,
) -> mmstats_status {
    with(histogram, |histogram| histogram.record_n(value, n))
}

/// Stores the number of values recorded in `*out`.
///
/// Ownership: the handle stays the caller's; outputs are written on
/// success only. Threading: one thread at a time updates a handle;
/// reads (`*_get`, `*_count`) may run beside the writer.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_fw_histogram_count(
    histogram: *const mmstats_fw_histogram,
    out: *mut u64,
) -> mmstats_status {
    read(histogram, out, Histogram::count)
}
