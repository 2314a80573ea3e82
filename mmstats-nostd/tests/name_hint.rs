//! `RegionView::entry_name_hint`: the unchecked name a reader looking for a
//! few names among many compares before reading an entry in full.

mod common;
#[path = "support/foreign.rs"]
mod support;

use common::{to_bytes, words};
use mmstats_nostd::{ByteImage, FieldSpec, NAME_MAX, Region, RegionOptions, RegionView};

fn hints_and_names(bytes: &[u8]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let image = ByteImage::new(bytes);
    let view = RegionView::open(&image).unwrap();
    let mut buf = [0u8; NAME_MAX];
    let count = view.field_count().unwrap();
    let hints = (0..count)
        .map(|i| view.entry_name_hint(i, &mut buf).unwrap().to_vec())
        .collect();
    let names = (0..count)
        .map(|i| view.entry(i).unwrap().unwrap().name.as_bytes().to_vec())
        .collect();
    // Past the published entries (zeros) and past the table: no hint.
    assert_eq!(view.entry_name_hint(count, &mut buf), None);
    assert_eq!(view.entry_name_hint(1 << 20, &mut buf), None);
    (hints, names)
}

#[test]
fn the_hint_is_the_stored_name_in_either_byte_order() {
    let memory = words(4096);
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    let _short = region.counter("a").unwrap();
    let long = "x".repeat(NAME_MAX - 3) + ".ok";
    let _long = region.counter(FieldSpec::new(&long)).unwrap();
    let _odd = region.gauge("seventeen.bytes.x").unwrap();
    let native = to_bytes(&memory);
    let (hints, names) = hints_and_names(&native);
    assert_eq!(hints, names);
    assert!(hints.contains(&long.into_bytes()));
    let (hints, names_swapped) = hints_and_names(&support::foreign(&native));
    assert_eq!(hints, names_swapped);
    assert_eq!(names_swapped, names);
}
