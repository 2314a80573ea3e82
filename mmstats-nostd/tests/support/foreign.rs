//! Re-serialises a region image as a machine of the other byte order
//! stores it: every number byte-swapped, names, descriptions and string
//! bytes left in memory order (docs/FORMAT.md §1). Shared by the scan
//! tests of `mmstats-nostd` and the `mmdump --image` tests of
//! `mmstats-std` (included with `#[path]`).

use mmstats_nostd::layout::{EntryRecord, Prologue};
use mmstats_nostd::{ByteImage, Kind, RegionView};

fn swap_word_at(bytes: &mut [u8], offset: usize) {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[offset..offset + 8]);
    bytes[offset..offset + 8].copy_from_slice(&u64::from_ne_bytes(word).swap_bytes().to_ne_bytes());
}

/// The 32 words at `offset`, as this machine loads them.
fn words_at(bytes: &[u8], offset: usize) -> [u64; 32] {
    let mut words = [0u64; 32];
    for (index, word) in words.iter_mut().enumerate() {
        let at = offset + index * 8;
        *word = u64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap());
    }
    words
}

fn put_words(bytes: &mut [u8], offset: usize, words: [u64; 32]) {
    for (index, word) in words.iter().enumerate() {
        let at = offset + index * 8;
        bytes[at..at + 8].copy_from_slice(&word.to_ne_bytes());
    }
}

/// `native` (a whole region, in this machine's order) in the other order.
pub fn foreign(native: &[u8]) -> Vec<u8> {
    let image = ByteImage::new(native);
    let view = RegionView::open(&image).expect("a valid native region");
    let p = *view.prologue();
    assert_eq!(p.header_len, 256, "this helper knows 2.0 prologues only");
    assert_eq!(p.entry_len, 256, "this helper knows 2.0 entries only");
    let count = view.field_count().expect("a valid field count");
    let fields: Vec<_> = (0..count)
        .map(|i| view.entry(i).expect("a valid entry").expect("a live entry"))
        .collect();
    let mut out = native.to_vec();

    let mut prologue = Prologue::from_words(words_at(native, 0));
    prologue.swap_numbers();
    put_words(&mut out, 0, prologue.to_words());
    for index in 0..count {
        let at = p.table_offset as usize + index * 256;
        let mut entry = EntryRecord::from_words(words_at(native, at));
        entry.swap_numbers();
        put_words(&mut out, at, entry.to_words());
    }
    for field in &fields {
        let start = field.value_word * 8;
        match field.kind.expect("a known kind") {
            Kind::String => {
                swap_word_at(&mut out, start);
                for copy in 0..field.buffers {
                    swap_word_at(&mut out, start + 8 + copy * field.copy_words * 8);
                }
            }
            Kind::Average => {
                for word in 0..1 + field.buffers * field.copy_words {
                    swap_word_at(&mut out, start + word * 8);
                }
            }
            _ => swap_word_at(&mut out, start),
        }
    }
    out
}
