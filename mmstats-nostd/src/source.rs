//! Where a reader loads words from: live shared memory, or a copied image.

use crate::sync::{Ordering, Word, fence};

/// A read-only array of 8-byte words that a reader loads from.
///
/// Every load is bounds-checked and returns `None` past the end, so a reader
/// built on this trait cannot read out of bounds whatever the bytes say.
pub trait WordSource {
    /// Number of words.
    fn word_len(&self) -> usize;

    /// The word at `index`, in the order it is stored (not byte-swapped),
    /// or `None` past the end.
    ///
    /// On live memory this is a `Relaxed` atomic load: the only ordering a
    /// load on a read-only mapping may ask for. Callers that need acquire
    /// semantics follow it with [`WordSource::acquire_fence`].
    fn load(&self, index: usize) -> Option<u64>;

    /// An acquire fence on live memory; nothing on a private image.
    fn acquire_fence(&self);
}

impl WordSource for [Word] {
    #[inline]
    fn word_len(&self) -> usize {
        self.len()
    }

    #[inline]
    fn load(&self, index: usize) -> Option<u64> {
        // Relaxed: atomicity is all a single load needs; ordering against
        // other words comes from the explicit acquire fences of the
        // protocol (sequence checks, field count, state word). Relaxed is
        // also the only ordering Rust allows on read-only mappings.
        self.get(index).map(|word| word.load(Ordering::Relaxed))
    }

    #[inline]
    fn acquire_fence(&self) {
        fence(Ordering::Acquire);
    }
}

/// A region copied into private bytes: a RAM image, a core file, a fuzz
/// input. Any length and any alignment; a trailing partial word is ignored.
#[derive(Clone, Copy, Debug)]
pub struct ByteImage<'a> {
    bytes: &'a [u8],
}

impl<'a> ByteImage<'a> {
    /// Wraps bytes for reading.
    #[must_use]
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The wrapped bytes.
    #[must_use]
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl WordSource for ByteImage<'_> {
    #[inline]
    fn word_len(&self) -> usize {
        self.bytes.len() / 8
    }

    #[inline]
    fn load(&self, index: usize) -> Option<u64> {
        let start = index.checked_mul(8)?;
        let chunk = self.bytes.get(start..start.checked_add(8)?)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        Some(u64::from_ne_bytes(word))
    }

    #[inline]
    fn acquire_fence(&self) {
        // Private memory: nobody else writes it, nothing to order.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_image_bounds_and_partial_words() {
        let bytes = [1u8, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9, 9];
        let image = ByteImage::new(&bytes);
        assert_eq!(image.word_len(), 2);
        assert_eq!(
            image.load(0),
            Some(u64::from_ne_bytes([1, 0, 0, 0, 0, 0, 0, 0]))
        );
        assert_eq!(
            image.load(1),
            Some(u64::from_ne_bytes([2, 0, 0, 0, 0, 0, 0, 0]))
        );
        assert_eq!(image.load(2), None, "partial trailing word");
        assert_eq!(image.load(usize::MAX), None, "no overflow");
    }
}
