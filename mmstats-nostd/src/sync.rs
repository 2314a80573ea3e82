//! The one place this crate's atomics come from.
//!
//! Every byte of a region that two processes share is read and written
//! through the types re-exported here, and nowhere else. The module picks:
//!
//! | configuration                         | `Word` / `fence` come from |
//! |---------------------------------------|-----------------------------|
//! | `--cfg loom` (model checking)         | `loom::sync::atomic`        |
//! | targets with native 64-bit atomics    | `core::sync::atomic`        |
//! | targets without them (thumbv7em, ...) | `portable_atomic`           |
//!
//! so the loom models in `loom-tests/` exercise this crate's own latch and
//! publication code, not a copy of it.
//!
//! On targets without native 64-bit atomics, `portable_atomic::AtomicU64`
//! keeps every load and store of a word single-copy atomic (it falls back
//! to a lock table or a critical section), at the price of a few more
//! instructions per access. See `docs/DESIGN.md`.

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicU64, Ordering, fence};

#[cfg(all(not(loom), target_has_atomic = "64"))]
pub use core::sync::atomic::{AtomicU64, Ordering, fence};

#[cfg(all(not(loom), not(target_has_atomic = "64")))]
pub use portable_atomic::{AtomicU64, Ordering, fence};

/// One 8-byte word of a region.
///
/// A region is an array of these; all access goes through atomic loads and
/// stores, so a concurrent reader and writer never form a data race.
pub type Word = AtomicU64;

/// Makes a zeroed word. `const` where the atomic type allows it.
#[cfg(not(loom))]
#[must_use]
pub const fn zero_word() -> Word {
    Word::new(0)
}

/// Makes a zeroed word (loom's atomics are not `const`).
#[cfg(loom)]
#[must_use]
pub fn zero_word() -> Word {
    Word::new(0)
}
