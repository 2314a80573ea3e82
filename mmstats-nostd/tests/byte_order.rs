//! A region written on a machine of the other byte order reads correctly:
//! the test re-serialises a region with every number byte-swapped (bytes of
//! names and strings stay as they are, as the format says).

mod common;

use common::{read_all, to_bytes, words};
use mmstats_nostd::layout::{ENTRY_LEN, EntryRecord, PROLOGUE_LEN, Prologue};
use mmstats_nostd::{ByteImage, ByteOrder, FieldSpec, Kind, Region, RegionOptions, RegionView};

fn swap_word_at(bytes: &mut [u8], offset: usize) {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[offset..offset + 8]);
    bytes[offset..offset + 8].copy_from_slice(&u64::from_ne_bytes(word).swap_bytes().to_ne_bytes());
}

/// Rewrites a native region image as the other byte order would store it.
fn foreign(native: &[u8]) -> Vec<u8> {
    let image = ByteImage::new(native);
    let view = RegionView::open(&image).unwrap();
    let count = view.field_count().unwrap();
    let fields: Vec<_> = (0..count)
        .map(|i| view.entry(i).unwrap().unwrap())
        .collect();
    let mut out = native.to_vec();

    let mut prologue: Prologue = bytemuck::pod_read_unaligned(&native[..PROLOGUE_LEN]);
    prologue.swap_numbers();
    out[..PROLOGUE_LEN].copy_from_slice(bytemuck::bytes_of(&prologue));
    for index in 0..count {
        let at = PROLOGUE_LEN + index * ENTRY_LEN;
        let mut entry: EntryRecord = bytemuck::pod_read_unaligned(&native[at..at + ENTRY_LEN]);
        entry.swap_numbers();
        out[at..at + ENTRY_LEN].copy_from_slice(bytemuck::bytes_of(&entry));
    }
    for field in &fields {
        let start = field.value_word * 8;
        match field.kind.unwrap() {
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

#[test]
fn swapped_region_reads_the_same_values() {
    let memory = words(1024);
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    region.counter("c").unwrap().add(0x0102_0304_0506_0708);
    region.gauge("g").unwrap().set(-2);
    region.float_gauge("f").unwrap().set(-0.1);
    let text = region.text(FieldSpec::new("t").capacity(30)).unwrap();
    text.set("big-endian bytes stay in order");
    let avg = region.average("a").unwrap();
    avg.add(3.5);
    avg.add(0.25);
    region.timestamp("ts").unwrap().set_ns(123);

    let native = to_bytes(&memory);
    let swapped = foreign(&native);
    assert_ne!(native, swapped);
    let expected = read_all(&RegionView::open(&ByteImage::new(&native)).unwrap()).unwrap();
    let view_image = ByteImage::new(&swapped);
    let view = RegionView::open(&view_image).unwrap();
    assert_eq!(view.byte_order(), ByteOrder::Swapped);
    assert_eq!(
        view.byte_order().region_is_little_endian(),
        cfg!(target_endian = "big")
    );
    assert_eq!(read_all(&view).unwrap(), expected);
    assert_eq!(expected.len(), 6);
}
