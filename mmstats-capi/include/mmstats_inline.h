/*
 * mmstats C ABI: inline updates through cells (included by mmstats.h;
 * hand-written, not generated).
 *
 * A call into the library costs more than a counter update itself (one
 * relaxed load and one relaxed store of an 8-byte word, which Rust
 * inlines). A cell is a pointer to a field's value word, filled from a
 * checked handle by mmstats_counter_to_cell / mmstats_fw_counter_to_cell
 * (and the gauge and float variants); the functions below then update the
 * word in the caller's code, doing exactly what mmstats-nostd's
 * Counter::add, Gauge::set/add and FloatGauge::set/add do:
 *
 *   value = relaxed load of the word;  relaxed store of value + n
 *
 * Relaxed is enough because each word is an independent value that no
 * reader infers other memory from, and a field has one writer, whose load
 * reads its own last store (mmstats-nostd/src/handles.rs).
 *
 * The rules (docs/C.md, "Inline cells"):
 * - Ownership: a cell points into the region; it never owns anything and
 *   is never freed. A hosted cell is valid while the handle it came from
 *   lives (until mmstats_counter_free & co.; using it after that may touch
 *   unmapped memory). A firmware cell is valid while the region's words
 *   buffer lives; it does not point into the handle struct. After
 *   mmstats_fw_region_create over the same buffer, old cells (like old
 *   handles) write harmlessly into the new region: fill them again.
 * - Threading: the cell and its handle are one field with ONE writer:
 *   update through the cell or the handle, from one thread (or interrupt
 *   context) at a time; copies of a cell are the same writer. *_get may
 *   run anywhere beside the writer. Readers in other processes never
 *   block the writer and never see a torn value.
 * - A zeroed cell (word == NULL, for example from a failed *_to_cell)
 *   makes every function return MMSTATS_NULL_ARGUMENT; nothing else is
 *   checked (that is the point), so a cell must come from a *_to_cell
 *   call and not be written by hand.
 *
 * Where the C compiler has lock-free 64-bit atomics (x86-64, AArch64,
 * ARMv7-A, ...), the updates are GCC/Clang __atomic builtins with
 * __ATOMIC_RELAXED, the same instructions Rust emits. Elsewhere (Cortex-M3
 * and M4 have no 64-bit atomic instructions; mmstats-nostd takes
 * portable-atomic there) they call mmstats_cell_load_portable and
 * mmstats_cell_store_portable, the library's own atomic word, so C and
 * Rust make the same word atomic the same way. Define MMSTATS_CELL_PORTABLE
 * before including mmstats.h to force the calls (the tests do, to check
 * both paths).
 */
#ifndef MMSTATS_INLINE_H
#define MMSTATS_INLINE_H

#ifndef MMSTATS_H
#error "include mmstats.h (it includes mmstats_inline.h)"
#endif

#include <string.h>

#if !defined(MMSTATS_CELL_PORTABLE) && defined(__GCC_ATOMIC_LLONG_LOCK_FREE) && \
    __GCC_ATOMIC_LLONG_LOCK_FREE == 2
/** 1 when cells use __atomic builtins, 0 when they call the library. */
#define MMSTATS_CELL_NATIVE 1
#else
#define MMSTATS_CELL_NATIVE 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The one relaxed load and the one relaxed store every cell update is
 * made of. Not for direct use. */
static inline uint64_t mmstats_cell_load_(const uint64_t *word) {
#if MMSTATS_CELL_NATIVE
    /* Relaxed: the writer reads its own last store; a reader wants only
     * this word's value (see the top of this file). */
    return __atomic_load_n(word, __ATOMIC_RELAXED);
#else
    return mmstats_cell_load_portable(word);
#endif
}

static inline void mmstats_cell_store_(uint64_t *word, uint64_t value) {
#if MMSTATS_CELL_NATIVE
    /* Relaxed: an independent value with one writer. */
    __atomic_store_n(word, value, __ATOMIC_RELAXED);
#else
    mmstats_cell_store_portable(word, value);
#endif
}

/** Adds `n` to the counter (wrapping at 2^64), as mmstats_counter_add. */
static inline enum mmstats_status mmstats_counter_cell_add(mmstats_counter_cell cell, uint64_t n) {
    if (cell.word == NULL) return MMSTATS_NULL_ARGUMENT;
    mmstats_cell_store_(cell.word, mmstats_cell_load_(cell.word) + n);
    return MMSTATS_OK;
}

/** Adds one to the counter, as mmstats_counter_incr. */
static inline enum mmstats_status mmstats_counter_cell_incr(mmstats_counter_cell cell) {
    return mmstats_counter_cell_add(cell, 1);
}

/** Stores the counter's value in `*out`. */
static inline enum mmstats_status mmstats_counter_cell_get(mmstats_counter_cell cell,
                                                           uint64_t *out) {
    if (cell.word == NULL || out == NULL) return MMSTATS_NULL_ARGUMENT;
    *out = mmstats_cell_load_(cell.word);
    return MMSTATS_OK;
}

/** Sets the gauge, as mmstats_gauge_set. */
static inline enum mmstats_status mmstats_gauge_cell_set(mmstats_gauge_cell cell, int64_t value) {
    if (cell.word == NULL) return MMSTATS_NULL_ARGUMENT;
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits); /* two's complement, as Rust's `as u64` */
    mmstats_cell_store_(cell.word, bits);
    return MMSTATS_OK;
}

/** Adds `delta` (may be negative; wrapping) to the gauge, as mmstats_gauge_add. */
static inline enum mmstats_status mmstats_gauge_cell_add(mmstats_gauge_cell cell, int64_t delta) {
    if (cell.word == NULL) return MMSTATS_NULL_ARGUMENT;
    uint64_t bits;
    memcpy(&bits, &delta, sizeof bits);
    mmstats_cell_store_(cell.word, mmstats_cell_load_(cell.word) + bits);
    return MMSTATS_OK;
}

/** Stores the gauge's value in `*out`. */
static inline enum mmstats_status mmstats_gauge_cell_get(mmstats_gauge_cell cell, int64_t *out) {
    if (cell.word == NULL || out == NULL) return MMSTATS_NULL_ARGUMENT;
    uint64_t bits = mmstats_cell_load_(cell.word);
    memcpy(out, &bits, sizeof bits);
    return MMSTATS_OK;
}

/** Sets the float gauge (its IEEE 754 bits), as mmstats_float_set. */
static inline enum mmstats_status mmstats_float_cell_set(mmstats_float_cell cell, double value) {
    if (cell.word == NULL) return MMSTATS_NULL_ARGUMENT;
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    mmstats_cell_store_(cell.word, bits);
    return MMSTATS_OK;
}

/** Adds `delta` to the float gauge, as mmstats_float_add. */
static inline enum mmstats_status mmstats_float_cell_add(mmstats_float_cell cell, double delta) {
    if (cell.word == NULL) return MMSTATS_NULL_ARGUMENT;
    uint64_t bits = mmstats_cell_load_(cell.word);
    double value;
    memcpy(&value, &bits, sizeof value);
    value += delta;
    memcpy(&bits, &value, sizeof bits);
    mmstats_cell_store_(cell.word, bits);
    return MMSTATS_OK;
}

/** Stores the float gauge's value in `*out`. */
static inline enum mmstats_status mmstats_float_cell_get(mmstats_float_cell cell, double *out) {
    if (cell.word == NULL || out == NULL) return MMSTATS_NULL_ARGUMENT;
    uint64_t bits = mmstats_cell_load_(cell.word);
    memcpy(out, &bits, sizeof bits);
    return MMSTATS_OK;
}

#ifdef __cplusplus
}  // extern "C"
#endif

#endif /* MMSTATS_INLINE_H */
