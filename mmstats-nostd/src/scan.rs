//! Finding regions inside a larger memory image: a RAM dump taken over a
//! debug probe or by an emulator, a core file, a raw flash or disk image.
//!
//! A region is 8-byte aligned in the memory it was written to, so the
//! scanner looks for the 8-byte magic at every 8-byte-aligned offset of the
//! image (a word compare per word, no allocation), and validates the header
//! behind each match with [`RegionView::open_at`], the same checks a reader
//! of a stats file makes. What it yields:
//!
//! - `Ok(`[`RegionView`]`)` for every region whose prologue validates,
//!   after which the scan resumes past the region's end (a value that
//!   happens to hold the magic is data, not a second region);
//! - `Err(`[`OpenError`]`)` for every match that carries the magic *and*
//!   a valid byte-order mark but fails validation: a region cut by the end
//!   of the image, a future major version, a region caught initialising,
//!   a corrupt header. These are reported, never guessed at;
//! - nothing for a match whose byte-order mark is invalid: eight bytes
//!   equal to the magic with anything else behind them are not a region
//!   header (the magic as a constant in a program's read-only data, a copy
//!   in a reader's buffer). They are counted in
//!   [`RegionScanner::ignored`].
//!
//! Random data holds the magic at a given offset with probability 2^-64,
//! and a valid mark right after it with a further 2^-31; a reported region
//! also needs every prologue check to pass. So random bytes never yield a
//! region, and hardly ever a damaged candidate.
//!
//! ```
//! use mmstats_nostd::scan::RegionScanner;
//! use mmstats_nostd::{ByteImage, Region, RegionBuffer, RegionOptions};
//!
//! static STATS: RegionBuffer<128> = RegionBuffer::new();
//! let mut region = Region::create(STATS.words(), &RegionOptions::default()).unwrap();
//! region.counter("boots").unwrap().incr();
//!
//! // A "RAM image": 4 KiB of other bytes, then the region's bytes.
//! let mut ram = [0xA5u8; 4096 + 1024];
//! for (index, word) in STATS.words().iter().enumerate() {
//!     let value = word.load(core::sync::atomic::Ordering::Relaxed);
//!     ram[4096 + index * 8..4096 + index * 8 + 8].copy_from_slice(&value.to_ne_bytes());
//! }
//! let image = ByteImage::new(&ram);
//! let mut scanner = RegionScanner::new(&image);
//! let found = scanner.next().unwrap();
//! assert_eq!(found.offset(), 4096);
//! let view = found.region.unwrap();
//! assert_eq!(view.field_count().unwrap(), 1);
//! assert!(scanner.next().is_none());
//! ```

use crate::layout::{ByteOrder, MAGIC};
use crate::reader::{OpenError, RegionView};
use crate::source::WordSource;

/// One find: where, and what.
#[derive(Debug)]
pub struct Found<'s, S: WordSource + ?Sized> {
    /// Word index in the source where the magic is (byte offset / 8).
    pub word: usize,
    /// The validated region; or why a candidate that carries the magic and
    /// a valid byte-order mark is not one (cut by the end of the image,
    /// unsupported version, not ready, corrupt): report it, do not read it.
    pub region: Result<RegionView<'s, S>, OpenError>,
}

impl<S: WordSource + ?Sized> Found<'_, S> {
    /// Byte offset of the find from the start of the source (saturating
    /// on a source too large to address in bytes, which none is).
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.word.saturating_mul(8)
    }
}

/// Iterates over the format-2 regions of a [`WordSource`] holding a memory
/// image (see the module docs). Allocates nothing; every load is
/// bounds-checked by the source.
#[derive(Debug)]
pub struct RegionScanner<'s, S: WordSource + ?Sized> {
    source: &'s S,
    next_word: usize,
    /// The search for the magic stops before this word (see
    /// [`RegionScanner::limit_to`]).
    end_word: usize,
    ignored: usize,
}

impl<'s, S: WordSource + ?Sized> RegionScanner<'s, S> {
    /// Scans `source` from its first word.
    #[must_use]
    pub const fn new(source: &'s S) -> Self {
        Self {
            source,
            next_word: 0,
            end_word: usize::MAX,
            ignored: 0,
        }
    }

    /// Limits the search for the magic to words `start..end` from now on
    /// (never going back before [`RegionScanner::position`]): a caller that
    /// knows where an image holds data (a sparse file's data extents, from
    /// `lseek(SEEK_DATA)`) scans only those, so the holes, which hold no
    /// magic, cost neither time nor memory. Regions found are still
    /// validated against the whole source.
    pub fn limit_to(&mut self, start: usize, end: usize) {
        self.next_word = self.next_word.max(start);
        self.end_word = end;
    }

    /// Matches of the magic skipped so far because no valid byte-order
    /// mark followed them (not region headers).
    #[must_use]
    pub const fn ignored(&self) -> usize {
        self.ignored
    }

    /// Word index where the scan resumes.
    #[must_use]
    pub const fn position(&self) -> usize {
        self.next_word
    }

    /// Index of the next word at or after `from` that equals the magic.
    fn find_magic(&self, from: usize) -> Option<usize> {
        let magic = u64::from_ne_bytes(MAGIC);
        let end = self.source.word_len().min(self.end_word);
        (from..end).find(|&index| self.source.load(index) == Some(magic))
    }
}

impl<'s, S: WordSource + ?Sized> Iterator for RegionScanner<'s, S> {
    type Item = Found<'s, S>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let word = self.find_magic(self.next_word)?;
            // Resume after this word unless a region is found (below).
            self.next_word = word + 1;
            // The byte-order mark is the first four bytes (memory order)
            // of the word after the magic; `load` returns the word's bytes
            // in memory order, read as a native integer.
            if let Some(after) = word.checked_add(1).and_then(|at| self.source.load(at)) {
                let bytes = after.to_ne_bytes();
                let mark = u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                if ByteOrder::from_mark(mark).is_none() {
                    self.ignored += 1;
                    continue;
                }
            }
            // Either a valid mark, or the image ends right after the magic
            // (a region cut short: reported as such by `open_at`).
            let region = RegionView::open_at(self.source, word);
            if let Ok(view) = &region {
                // Validated: region_len is a multiple of 8, at least
                // the 256-byte prologue, and within the source, so the
                // sum stays within the source's word count.
                let words = usize::try_from(view.prologue().region_len / 8).unwrap_or(1);
                self.next_word = word.saturating_add(words.max(1));
            }
            return Some(Found { word, region });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::layout::BYTE_ORDER_MARK;
    use crate::source::ByteImage;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn magic_without_a_mark_is_ignored_and_counted() {
        let mut bytes = vec![0u8; 4096];
        bytes[64..72].copy_from_slice(&MAGIC);
        bytes[72..76].copy_from_slice(b"junk");
        let image = ByteImage::new(&bytes);
        let mut scanner = RegionScanner::new(&image);
        assert!(scanner.next().is_none());
        assert_eq!(scanner.ignored(), 1);
    }

    #[test]
    fn unaligned_magic_is_not_a_candidate() {
        let mut bytes = vec![0u8; 4096];
        bytes[68..76].copy_from_slice(&MAGIC);
        bytes[76..80].copy_from_slice(&BYTE_ORDER_MARK.to_ne_bytes());
        let image = ByteImage::new(&bytes);
        let mut scanner = RegionScanner::new(&image);
        assert!(scanner.next().is_none());
        assert_eq!(scanner.ignored(), 0);
    }

    #[test]
    fn magic_in_the_last_word_is_a_truncated_candidate() {
        let mut bytes = vec![0u8; 1024];
        bytes[1016..].copy_from_slice(&MAGIC);
        let image = ByteImage::new(&bytes);
        let found: Vec<_> = RegionScanner::new(&image).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].offset(), 1016);
        assert!(matches!(
            found[0].region,
            Err(OpenError::TooShort { len: 8 })
        ));
    }

    #[test]
    fn a_limited_scan_skips_what_lies_outside_its_span() {
        let mut bytes = vec![0u8; 4096];
        for at in [512, 2048] {
            bytes[at..at + 8].copy_from_slice(&MAGIC);
            bytes[at + 8..at + 12].copy_from_slice(b"junk");
        }
        let image = ByteImage::new(&bytes);
        let mut scanner = RegionScanner::new(&image);
        scanner.limit_to(1024 / 8, 4096 / 8);
        assert!(scanner.next().is_none());
        assert_eq!(scanner.ignored(), 1, "only the magic at 2048 was looked at");
        // A span behind the position does not go back.
        scanner.limit_to(0, 1024 / 8);
        assert!(scanner.next().is_none());
        assert_eq!(scanner.ignored(), 1);
    }

    #[test]
    fn mark_then_garbage_is_damaged_not_a_region() {
        let mut bytes = vec![0xFFu8; 2048];
        bytes[512..520].copy_from_slice(&MAGIC);
        bytes[520..524].copy_from_slice(&BYTE_ORDER_MARK.to_ne_bytes());
        let image = ByteImage::new(&bytes);
        let found: Vec<_> = RegionScanner::new(&image).collect();
        assert_eq!(found.len(), 1);
        assert!(found[0].region.is_err());
    }
}
