//! Default placement: every value on 64-byte lines of its own, so that
//! fields whose handles go to different threads never share a cache line;
//! `Padding::Packed` packs them 8 bytes apart.

mod common;

use common::words;
use mmstats_nostd::layout::{FLAG_PAD_64, FLAG_PAD_128};
use mmstats_nostd::{FieldSpec, Padding, Region, RegionOptions, RegionView};

/// (byte offset of the value, flags) of fields a, b, c, d.
fn region_with(memory: &[mmstats_nostd::Word], padding: Option<Padding>) -> Vec<(usize, u32)> {
    let mut region = Region::create(
        memory,
        &RegionOptions {
            table_capacity: 8,
            ..RegionOptions::default()
        },
    )
    .unwrap();
    let spec = |name| match padding {
        Some(padding) => FieldSpec::new(name).padding(padding),
        None => FieldSpec::new(name),
    };
    region.counter(spec("a")).unwrap();
    region.gauge(spec("b")).unwrap();
    region.average(spec("c")).unwrap(); // 1 + 3 × 2 = 7 words
    region.counter(spec("d")).unwrap();
    let view = RegionView::open(memory).unwrap();
    (0..4)
        .map(|i| {
            let entry = view.entry(i).unwrap().unwrap();
            (entry.value_word * 8, entry.flags)
        })
        .collect()
}

#[test]
fn by_default_every_value_owns_its_64_byte_lines() {
    assert_eq!(Padding::default(), Padding::DEFAULT);
    assert_eq!(FieldSpec::new("x").padding, Padding::Line64);
    let memory = words(1024);
    let fields = region_with(&memory, None);
    for &(offset, flags) in &fields {
        assert_eq!(offset % 64, 0, "starts on a line");
        assert_eq!(flags & (FLAG_PAD_64 | FLAG_PAD_128), FLAG_PAD_64);
    }
    let offsets: Vec<usize> = fields.iter().map(|f| f.0).collect();
    let first = offsets[0];
    // 64 bytes per single-word value, 64 for the 56-byte average: no two
    // values share a line.
    assert_eq!(offsets, [first, first + 64, first + 128, first + 192]);
}

#[test]
fn packed_values_are_8_bytes_apart_and_line128_owns_128_bytes() {
    let memory = words(1024);
    let packed = region_with(&memory, Some(Padding::Packed));
    let offsets: Vec<usize> = packed.iter().map(|f| f.0).collect();
    let first = offsets[0];
    assert_eq!(offsets, [first, first + 8, first + 16, first + 72]);
    assert!(
        packed
            .iter()
            .all(|f| f.1 & (FLAG_PAD_64 | FLAG_PAD_128) == 0)
    );

    let memory = words(1024);
    let wide = region_with(&memory, Some(Padding::Line128));
    let offsets: Vec<usize> = wide.iter().map(|f| f.0).collect();
    let first = offsets[0];
    assert_eq!(first % 128, 0);
    assert_eq!(offsets, [first, first + 128, first + 256, first + 384]);
    assert!(
        wide.iter()
            .all(|f| f.1 & (FLAG_PAD_64 | FLAG_PAD_128) == FLAG_PAD_128)
    );
}
