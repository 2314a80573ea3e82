//! Memory mappings of regions, seen as atomic words.
//!
//! # Safety
//!
//! `unsafe` is denied at the crate root and allowed only in `map`, `sigbus`
//! and `publish`, each with a `# Safety` section like this one.
//! This one turns a memory mapping into `&[Word]`:
//!
//! - mappings come from memmap2's [`MmapRaw`], which never hands out
//!   `&[u8]`, so no reference to plain bytes of shared memory ever exists:
//!   all access is through the atomic words;
//! - a mapping is page-aligned (so 8-byte aligned) and its length is cut
//!   to whole words;
//! - a read-only mapping is only exposed through [`LiveWords`], whose only
//!   operation is a `Relaxed` atomic load: the one access Rust permits on
//!   read-only memory;
//! - writer handles get `&'static [Word]` from [`WriteMap::words_static`],
//!   whose contract is that the map outlives them; the std handles keep it
//!   alive with an `Arc`.
//!
//! Read mappings are registered with [`crate::sigbus`] before they are
//! read, so a file truncated under a reader is survived; a mapping that
//! cannot be protected is not made (the error says why), and reads check
//! that the protection is still in force ([`ReadMap::protected`]). Write
//! mappings are not registered: the writer owns its file (see the
//! `sigbus` module's "Writers are not protected").

use std::fs::File;
use std::io;

#[cfg(test)]
use memmap2::MmapMut;
use memmap2::{MmapOptions, MmapRaw};
use mmstats_nostd::{Word, WordSource};

use crate::sigbus;

/// Converts a mapping into a word slice.
///
/// # Safety
///
/// `raw` must stay mapped, at the same address, for `'a`, and every access
/// through the slice must be atomic (if the mapping is read-only: `Relaxed`
/// loads only).
unsafe fn words_of<'a>(raw: &MmapRaw) -> &'a [Word] {
    let start = raw.as_mut_ptr().cast::<Word>();
    let len = raw.len() / core::mem::size_of::<Word>();
    debug_assert!(start.is_aligned(), "mmap returns page-aligned memory");
    // SAFETY: `start` is page-aligned (mmap), hence aligned for `Word`;
    // the mapping spans `raw.len()` bytes, which cover `len` whole words,
    // and the caller keeps it mapped for `'a`. Every bit pattern is a valid
    // `Word` (same validity as `u64`), and the caller restricts access to
    // atomics, so sharing the memory with other processes and threads
    // forms no data race.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// A read-write shared mapping that a writer publishes a region in.
#[derive(Debug)]
pub(crate) struct WriteMap {
    raw: MmapRaw,
}

impl WriteMap {
    /// Maps the first `len` bytes of `file` shared and writable
    /// (`mmap(2)` with `PROT_READ | PROT_WRITE`, `MAP_SHARED`).
    pub(crate) fn shared(file: &File, len: usize) -> io::Result<Self> {
        let raw = MmapOptions::new().len(len).map_raw(file)?;
        Ok(Self { raw })
    }

    /// Maps `len` bytes of anonymous private memory (for tests and miri).
    #[cfg(test)]
    pub(crate) fn anonymous(len: usize) -> io::Result<Self> {
        Ok(Self {
            raw: MmapRaw::from(MmapMut::map_anon(len)?),
        })
    }

    /// The words of the mapping.
    #[cfg(test)]
    pub(crate) fn words(&self) -> &[Word] {
        // SAFETY: the slice borrows `self`, which owns the mapping; `Word`
        // is only accessed atomically.
        unsafe { words_of(&self.raw) }
    }

    /// The words of the mapping, with the borrow detached from `self`.
    ///
    /// # Safety
    ///
    /// The caller must keep this `WriteMap` alive (not dropped) for as long
    /// as the returned slice, or anything derived from it, is used. Moving
    /// the `WriteMap` is fine: the mapping's address does not depend on
    /// where the struct lives.
    pub(crate) unsafe fn words_static(&self) -> &'static [Word] {
        // SAFETY: forwarded to the caller: the mapping outlives every use.
        unsafe { words_of(&self.raw) }
    }

    /// Writes dirty pages back to the file and waits (`msync(2)` with
    /// `MS_SYNC`).
    pub(crate) fn flush(&self) -> io::Result<()> {
        self.raw.flush()
    }
}

/// A read-only shared mapping of a region someone else writes, protected
/// against the file shrinking underneath it (see [`crate::sigbus`]): for
/// tools that read a file's words themselves (scanners, checkers), where
/// [`crate::RegionReader`] does not fit. Check [`ReadMap::faulted`] after
/// reading: what was read from vanished pages is zeros.
#[derive(Debug)]
pub struct ReadMap {
    // Declared before `raw`, so dropped first: the range is unregistered
    // before it is unmapped, and the handler never repairs an address
    // that something else may have been mapped at since.
    guard: sigbus::Registration,
    raw: MmapRaw,
}

impl ReadMap {
    /// Maps the first `len` bytes of `file` shared and read-only
    /// (`mmap(2)` with `PROT_READ`, `MAP_SHARED`), and registers the range
    /// so that a `SIGBUS` from a later truncation is survived. If the
    /// range cannot be protected, the error wraps a
    /// [`sigbus::ProtectionError`] (readers turn it into
    /// [`crate::ReadFailure::SigbusUnprotected`]).
    pub fn shared(file: &File, len: usize) -> io::Result<Self> {
        let raw = MmapOptions::new().len(len).map_raw_read_only(file)?;
        let guard =
            sigbus::Registration::new(raw.as_ptr().addr(), raw.len()).map_err(io::Error::other)?;
        Ok(Self { guard, raw })
    }

    /// Whether reads are still protected against `SIGBUS` (checked at
    /// most every [`sigbus::RECHECK_INTERVAL_MS`]): call before reading.
    pub fn protected(&self) -> Result<(), sigbus::ProtectionError> {
        sigbus::check_recent()
    }

    /// The mapping's words, for loading only.
    pub fn words(&self) -> LiveWords<'_> {
        LiveWords {
            // SAFETY: the slice borrows `self`, which owns the mapping, and
            // `LiveWords` only ever performs `Relaxed` atomic loads, which
            // Rust permits on read-only memory.
            words: unsafe { words_of(&self.raw) },
        }
    }

    /// Whether a page of the mapping vanished (the file was truncated)
    /// since it was mapped: what was read from it since may be zeros.
    pub fn faulted(&self) -> bool {
        self.guard.faulted()
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the mapping is empty (never, for a mapping that succeeded).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.len() == 0
    }
}

/// The protection failure an error of [`ReadMap::shared`] wraps, if that
/// is why it failed.
pub(crate) fn protection_error(error: &io::Error) -> Option<sigbus::ProtectionError> {
    error.get_ref()?.downcast_ref().copied()
}

/// Words of a read-only mapping: loads only.
#[derive(Clone, Copy, Debug)]
pub struct LiveWords<'a> {
    words: &'a [Word],
}

impl WordSource for LiveWords<'_> {
    #[inline]
    fn word_len(&self) -> usize {
        self.words.word_len()
    }

    #[inline]
    fn load(&self, index: usize) -> Option<u64> {
        // Relaxed only (see `WordSource for [Word]`).
        self.words.load(index)
    }

    #[inline]
    fn acquire_fence(&self) {
        self.words.acquire_fence();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::Ordering;

    #[test]
    fn anonymous_map_is_zeroed_words() {
        let map = WriteMap::anonymous(4096).unwrap();
        let words = map.words();
        assert_eq!(words.len(), 512);
        assert!(words.iter().all(|w| w.load(Ordering::Relaxed) == 0));
        words[511].store(7, Ordering::Relaxed);
        assert_eq!(words[511].load(Ordering::Relaxed), 7);
    }
}
