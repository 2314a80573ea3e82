//! Memory for a region: a static buffer type, and a view of caller bytes.
//!
//! # Safety
//!
//! The only module of the crate with `unsafe` code (the crate root denies
//! `unsafe_code` and allows it here alone): one cast of a
//! caller's exclusive, 8-byte-aligned byte slice to a slice of atomic words.

use crate::sync::Word;
#[cfg(not(loom))]
use crate::sync::zero_word;

/// Zeroed, 128-byte-aligned memory for a region, usable from a `static`.
///
/// `WORDS` is the size in 8-byte words (a 4 KiB region is
/// `RegionBuffer<512>`).
///
/// ```
/// use mmstats_nostd::{Region, RegionBuffer, RegionOptions};
/// static STATS: RegionBuffer<512> = RegionBuffer::new();
/// let mut region = Region::create(STATS.words(), &RegionOptions::default()).unwrap();
/// let boots = region.counter("boots").unwrap();
/// boots.incr();
/// ```
#[repr(C, align(128))]
#[derive(Debug)]
pub struct RegionBuffer<const WORDS: usize> {
    words: [Word; WORDS],
}

#[cfg(not(loom))]
impl<const WORDS: usize> RegionBuffer<WORDS> {
    /// A zeroed buffer; `const`, so it can initialise a `static`.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            words: [const { zero_word() }; WORDS],
        }
    }
}

#[cfg(not(loom))]
impl<const WORDS: usize> Default for RegionBuffer<WORDS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const WORDS: usize> RegionBuffer<WORDS> {
    /// The buffer's words, to pass to [`crate::Region::create`] or to a
    /// reader.
    #[must_use]
    pub const fn words(&self) -> &[Word] {
        &self.words
    }

    /// Size in bytes.
    #[must_use]
    pub const fn len_bytes(&self) -> usize {
        WORDS * 8
    }
}

/// Why bytes could not be used as region words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MisalignedBuffer {
    /// Address of the first byte.
    pub address: usize,
}

impl core::fmt::Display for MisalignedBuffer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "buffer at {:#x} is not aligned to {} bytes",
            self.address,
            core::mem::align_of::<Word>()
        )
    }
}

impl core::error::Error for MisalignedBuffer {}

/// Views an exclusively borrowed, 8-byte-aligned byte buffer as region
/// words (a trailing partial word is left out).
///
/// ```
/// #[repr(align(8))]
/// struct Aligned([u8; 4096]);
/// let mut memory = Aligned([0; 4096]);
/// let words = mmstats_nostd::words_from_bytes(&mut memory.0).unwrap();
/// assert_eq!(words.len(), 512);
/// ```
#[cfg(not(loom))]
pub fn words_from_bytes(bytes: &mut [u8]) -> Result<&[Word], MisalignedBuffer> {
    let start = bytes.as_mut_ptr();
    if start.align_offset(core::mem::align_of::<Word>()) != 0 {
        return Err(MisalignedBuffer {
            address: start.addr(),
        });
    }
    let len = bytes.len() / core::mem::size_of::<Word>();
    // SAFETY: `start` comes from a `&mut [u8]`, so it is valid for reads
    // and writes of `bytes.len()` bytes, which cover `len` words, for the
    // lifetime of the returned slice, during which the exclusive borrow
    // keeps every other access out. It is aligned for `Word` (checked
    // above). `Word` (`AtomicU64`, from core or portable-atomic) has the
    // size and bit validity of `u64`, and every bit pattern of 8 bytes is a
    // valid `u64`, so the bytes are valid words. Shared access through the
    // returned slice is atomic only.
    Ok(unsafe { core::slice::from_raw_parts(start.cast::<Word>(), len) })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn misaligned_bytes_are_refused() {
        #[repr(align(8))]
        struct Aligned([u8; 64]);
        let mut memory = Aligned([0; 64]);
        assert!(words_from_bytes(&mut memory.0[1..]).is_err());
        let words = words_from_bytes(&mut memory.0[8..63]).unwrap();
        assert_eq!(words.len(), 6);
    }

    #[test]
    fn buffer_is_aligned_and_sized() {
        let buffer = RegionBuffer::<16>::new();
        assert_eq!(buffer.len_bytes(), 128);
        assert_eq!(buffer.words().as_ptr().addr() % 128, 0);
    }
}
