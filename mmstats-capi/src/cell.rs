//! Cells: a pointer to a field's 8-byte value word, for the `static
//! inline` updates of `include/mmstats_inline.h`.
//!
//! A call through the ABI costs more than the update itself (a relaxed
//! load and store of one word, which Rust inlines): the cell lets C do the
//! same update in its own code. The `*_to_cell` functions of the firmware
//! and hosted layers fill a cell from a checked handle; the header's
//! inline functions then do exactly what `mmstats_nostd::Counter::add`,
//! `Gauge::set`/`add` and `FloatGauge::set`/`add` do: a `Relaxed` load of
//! the word (the single writer's own last store) and a `Relaxed` store of
//! the new value. Why `Relaxed` is enough is in `mmstats-nostd`'s
//! `handles` module: each word is an independent value and there is one
//! writer per field.
//!
//! On targets whose C compiler has no lock-free 64-bit atomics (Cortex-M3
//! and M4: no `ldrexd`), where `mmstats-nostd` gets its atomics from
//! `portable-atomic`, the inline functions call
//! [`mmstats_cell_load_portable`] and [`mmstats_cell_store_portable`]
//! instead, which go through the same `portable-atomic` word as the Rust
//! handles, so C and Rust never disagree on how a word is made atomic.
//!
//! # Safety
//!
//! The two exported functions take a word pointer that the header's
//! inline functions have checked for NULL and that came from a
//! `*_to_cell` call (the header's contract), so it points to a live,
//! 8-byte aligned value word of a region.

// Called from C (no `unsafe` there): the pointer contract is the module's
// `# Safety` and the header comments; NULL is checked.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use core::sync::atomic::Ordering;

use mmstats_nostd::Word;

/// A counter's value word (`uint64_t`, the count). Filled by
/// `mmstats_counter_to_cell` or `mmstats_fw_counter_to_cell`; updated with
/// `mmstats_counter_cell_incr`/`_add` from `mmstats_inline.h`. A zeroed
/// cell (`word == NULL`) makes those return `MMSTATS_NULL_ARGUMENT`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmstats_counter_cell {
    /// The value word. Use it only through the inline functions.
    pub word: *mut u64,
}

/// A signed gauge's value word (`int64_t` in two's complement). Filled by
/// `mmstats_gauge_to_cell` or `mmstats_fw_gauge_to_cell`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmstats_gauge_cell {
    /// The value word. Use it only through the inline functions.
    pub word: *mut u64,
}

/// A float gauge's value word (the IEEE 754 bits of a `double`). Filled
/// by `mmstats_float_to_cell` or `mmstats_fw_float_to_cell`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmstats_float_cell {
    /// The value word. Use it only through the inline functions.
    pub word: *mut u64,
}

/// The pointer to `word` a cell holds.
pub(crate) fn word_ptr(word: &Word) -> *mut u64 {
    word.as_ptr()
}

/// The word behind a cell's pointer.
///
/// # Safety
///
/// `word` is non-NULL and came from [`word_ptr`] on a word that is still
/// live (the module's `# Safety`).
unsafe fn word_at<'w>(word: *const u64) -> &'w Word {
    // SAFETY: by this function's contract: a live, aligned Word (an atomic
    // with u64's size and alignment), shared access only.
    unsafe { &*word.cast::<Word>() }
}

/// A `Relaxed` load of a cell's word through `portable-atomic`: what the
/// inline functions of `mmstats_inline.h` use on targets without lock-free
/// 64-bit atomics. Not for direct use. NULL: returns 0.
///
/// Threading: any thread (a reader beside the writer is fine).
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_cell_load_portable(word: *const u64) -> u64 {
    if word.is_null() {
        return 0;
    }
    // SAFETY: non-NULL; from a `*_to_cell` call, by the header's contract.
    // Relaxed: the single writer's load of its own last store (see the
    // module docs).
    unsafe { word_at(word) }.load(Ordering::Relaxed)
}

/// A `Relaxed` store to a cell's word through `portable-atomic` (see
/// `mmstats_cell_load_portable`). Not for direct use. NULL: does nothing.
///
/// Threading: the field's one writer only.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_cell_store_portable(word: *mut u64, value: u64) {
    if word.is_null() {
        return;
    }
    // SAFETY: as in mmstats_cell_load_portable. Relaxed: an independent
    // value, one writer (module docs).
    unsafe { word_at(word) }.store(value, Ordering::Relaxed);
}
