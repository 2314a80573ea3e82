//! Forged headers: a prologue that claims more than the region holds (a
//! field count past the entries written, a table or region as large as a
//! sparse file's holes) is an error for the region, found with loads
//! bounded by the entries really written, never by the claim.
//!
//! The sparse files are modelled by [`SparseSource`]: a real prefix, then
//! zeros up to a claimed length (holes), counting every load past the
//! prefix. No files, so miri runs these too.

mod common;

use core::cell::Cell;

use common::{read_all, to_bytes, words};
use mmstats_nostd::layout::{ENTRY_WORDS, FIELD_COUNT_WORD};
use mmstats_nostd::{
    ByteImage, EntryError, MAX_READER_FIELDS, MAX_READER_REGION_LEN, OpenError, Region,
    RegionOptions, RegionView, WordSource,
};

/// Word indices of prologue fields (see `layout::Prologue`).
const REGION_LEN_WORD: usize = 3;
const TABLE_OFFSET_WORD: usize = 10;
const TABLE_CAPACITY_WORD: usize = 11;
const DATA_OFFSET_WORD: usize = 13;
const DATA_LEN_WORD: usize = 14;

/// A region of three counters in a table of `capacity`, as native words.
fn sample(capacity: usize) -> Vec<u64> {
    let memory = words(128 + capacity * 32);
    let mut region = Region::create(
        &memory,
        &RegionOptions {
            table_capacity: capacity,
            ..RegionOptions::default()
        },
    )
    .unwrap();
    for name in ["a", "b", "c"] {
        region.counter(name).unwrap().add(7);
    }
    to_bytes(&memory)
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

fn bytes_of(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

/// A real prefix followed by holes (zeros) up to `len_words`; counts the
/// loads that land in the holes.
struct SparseSource {
    real: Vec<u64>,
    len_words: usize,
    hole_loads: Cell<usize>,
}

impl WordSource for SparseSource {
    fn word_len(&self) -> usize {
        self.len_words
    }

    fn load(&self, index: usize) -> Option<u64> {
        if index >= self.len_words {
            return None;
        }
        Some(self.real.get(index).copied().unwrap_or_else(|| {
            self.hole_loads.set(self.hole_loads.get() + 1);
            0
        }))
    }

    fn acquire_fence(&self) {}
}

/// The sample with its value area moved past a table of `capacity`
/// entries, the prologue claiming `count` of them: the strongest forgery,
/// every prologue check passes and the three real entries still validate.
fn forged(capacity: u64, count: u64) -> SparseSource {
    let mut real = sample(8);
    let old_data = real[DATA_OFFSET_WORD];
    let data_len = real[DATA_LEN_WORD];
    let table_offset = real[TABLE_OFFSET_WORD];
    let new_data = table_offset + capacity * 256;
    let region_len = new_data + data_len;
    // Values move to the new value area; the entries follow them.
    let values: Vec<u64> =
        real[(old_data / 8) as usize..((old_data + data_len) / 8) as usize].to_vec();
    let table = (table_offset / 8) as usize;
    for entry in 0..3 {
        real[table + entry * ENTRY_WORDS + 2] += new_data - old_data;
    }
    real.truncate(table + 3 * ENTRY_WORDS);
    real[REGION_LEN_WORD] = region_len;
    real[TABLE_CAPACITY_WORD] = capacity;
    real[FIELD_COUNT_WORD] = count;
    real[DATA_OFFSET_WORD] = new_data;
    let len_words = usize::try_from(region_len / 8).unwrap();
    let mut source = SparseSource {
        real,
        len_words,
        hole_loads: Cell::new(0),
    };
    // The values at their new place, when the table is small enough to
    // model densely (the tests of larger claims never reach a value).
    let at = (new_data / 8) as usize;
    if at + values.len() <= 1 << 20 {
        source.real.resize(at, 0);
        source.real.extend_from_slice(&values);
    }
    source
}

#[test]
fn the_unforged_model_reads_its_three_fields() {
    let source = forged(64, 3);
    let view = RegionView::open(&source).unwrap();
    let fields = read_all(&view).unwrap();
    assert_eq!(fields.len(), 3, "{fields:?}");
}

#[test]
fn a_field_count_past_the_entries_written_is_an_empty_entry() {
    let source = forged(4096, 4096);
    let view = RegionView::open(&source).unwrap();
    assert_eq!(
        view.field_count(),
        Err(OpenError::EmptyEntry {
            index: 4095,
            count: 4096
        })
    );
    // One entry of holes was loaded to find it, nothing more.
    assert!(
        source.hole_loads.get() <= ENTRY_WORDS,
        "{}",
        source.hole_loads.get()
    );
}

#[test]
fn a_hole_in_the_middle_of_the_table_stops_the_walk() {
    // Entry 9 is a copy of entry 0 (so the last published entry is not
    // empty); entries 3 to 8 are holes.
    let mut source = forged(64, 10);
    let table = (source.real[TABLE_OFFSET_WORD] / 8) as usize;
    let first: Vec<u64> = source.real[table..table + ENTRY_WORDS].to_vec();
    source.real[table + 9 * ENTRY_WORDS..table + 10 * ENTRY_WORDS].copy_from_slice(&first);
    let view = RegionView::open(&source).unwrap();
    assert_eq!(view.field_count(), Ok(10));
    assert_eq!(view.slot(3), Err(EntryError::Empty { index: 3 }));
    assert_eq!(view.entry(3), Err(EntryError::Empty { index: 3 }));
    assert!(view.entry(0).unwrap().is_some());
    let error = read_all(&view).unwrap_err();
    assert!(error.contains("field 3 is empty"), "{error}");
}

#[test]
fn a_field_count_past_the_reader_limit_is_refused_at_open() {
    let claim = MAX_READER_FIELDS as u64 + 1;
    let source = forged(claim, claim);
    assert_eq!(
        RegionView::open(&source).err(),
        Some(OpenError::TooManyFields {
            count: claim,
            limit: MAX_READER_FIELDS
        })
    );
    assert_eq!(source.hole_loads.get(), 0);
}

#[test]
fn four_billion_fields_in_a_terabyte_are_refused_without_a_load_of_the_table() {
    // 2^32 entries: the region (1 TiB and more) is past the reader's
    // length limit, and the count past its field limit.
    let mut real = sample(8);
    real[REGION_LEN_WORD] = (1 << 40) + (1 << 20);
    real[TABLE_CAPACITY_WORD] = 1 << 32;
    real[FIELD_COUNT_WORD] = 1 << 32;
    real[DATA_OFFSET_WORD] = real[TABLE_OFFSET_WORD] + (1 << 40);
    let source = SparseSource {
        real,
        len_words: usize::MAX / 8,
        hole_loads: Cell::new(0),
    };
    assert_eq!(
        RegionView::open(&source).err(),
        Some(OpenError::TooLarge {
            region_len: (1 << 40) + (1 << 20),
            limit: MAX_READER_REGION_LEN
        })
    );
    assert_eq!(source.hole_loads.get(), 0);
}

#[test]
fn a_region_length_past_the_limit_is_refused_even_with_a_small_table() {
    let mut real = sample(8);
    real[REGION_LEN_WORD] = MAX_READER_REGION_LEN + 8;
    let source = SparseSource {
        real,
        len_words: usize::MAX / 8,
        hole_loads: Cell::new(0),
    };
    assert!(matches!(
        RegionView::open(&source),
        Err(OpenError::TooLarge { .. })
    ));
}

#[test]
fn a_count_at_the_limit_with_holes_loads_one_entry_of_holes() {
    let claim = MAX_READER_FIELDS as u64;
    let source = forged(claim, claim);
    let view = RegionView::open(&source).unwrap();
    assert!(matches!(
        view.field_count(),
        Err(OpenError::EmptyEntry { index, .. }) if index == MAX_READER_FIELDS - 1
    ));
    assert!(source.hole_loads.get() <= ENTRY_WORDS);
}

#[test]
fn a_real_region_in_bytes_still_reads_and_a_zeroed_entry_is_empty() {
    let real = sample(8);
    let bytes = bytes_of(&real);
    let image = ByteImage::new(&bytes);
    let view = RegionView::open(&image).unwrap();
    assert_eq!(read_all(&view).unwrap().len(), 3);
    // Zero entry 1 of three: the walk reports it, entry 2 is still there.
    let mut words = real.clone();
    let table = (words[TABLE_OFFSET_WORD] / 8) as usize;
    words[table + ENTRY_WORDS..table + 2 * ENTRY_WORDS].fill(0);
    let bytes = bytes_of(&words);
    let image = ByteImage::new(&bytes);
    let view = RegionView::open(&image).unwrap();
    assert_eq!(view.field_count(), Ok(3));
    assert_eq!(view.slot(1), Err(EntryError::Empty { index: 1 }));
    assert!(view.entry(2).unwrap().is_some());
}
