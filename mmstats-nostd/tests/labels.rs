//! Labels (format 2.2) through the writer and the reader.

mod common;

use common::{to_bytes, words};
use mmstats_nostd::layout::{ENTRY_LEN, ENTRY_LEN_LABELS};
use mmstats_nostd::{
    AddFieldError, ByteImage, FieldSpec, LabelError, Region, RegionOptions, RegionView,
};

fn labelled_options() -> RegionOptions {
    RegionOptions {
        labels: true,
        ..RegionOptions::default()
    }
}

/// (name, labels as text, value) of every live counter.
fn counters(bytes: &[u8]) -> Vec<(String, String, u64)> {
    let image = ByteImage::new(bytes);
    let view = RegionView::open(&image).unwrap();
    let mut out = Vec::new();
    let mut scratch = [0u64; 8];
    for index in 0..view.field_count().unwrap() {
        let Some(field) = view.entry(index).unwrap() else {
            continue;
        };
        if let Ok(mmstats_nostd::Value::Counter(v)) = view.read(&field, &mut scratch, 10) {
            out.push((field.name.to_string(), field.labels.to_string(), v));
        }
    }
    out
}

#[test]
fn labelled_fields_share_a_name_and_keep_their_labels() {
    let memory = words(4096);
    let mut region = Region::create(&memory, &labelled_options()).unwrap();
    assert!(region.has_label_room());
    let a = region
        .counter(FieldSpec::new("conn.bytes_in").labels(&[("conn", "1234"), ("app", "web")]))
        .unwrap();
    let b = region
        .counter(FieldSpec::new("conn.bytes_in").labels(&[("conn", "1235")]))
        .unwrap();
    let plain = region.counter("hits").unwrap();
    a.add(1);
    b.add(2);
    plain.add(3);
    let bytes = to_bytes(&memory);
    let image = ByteImage::new(&bytes);
    let view = RegionView::open(&image).unwrap();
    assert_eq!(view.prologue().entry_len as usize, ENTRY_LEN_LABELS);
    assert_eq!(view.prologue().minor, 2);
    assert_eq!(
        counters(&bytes),
        vec![
            (
                "conn.bytes_in".to_owned(),
                r#"{app="web",conn="1234"}"#.to_owned(),
                1
            ),
            ("conn.bytes_in".to_owned(), r#"{conn="1235"}"#.to_owned(), 2),
            ("hits".to_owned(), String::new(), 3),
        ]
    );
}

#[test]
fn a_reused_slot_carries_the_new_fields_labels_only() {
    let memory = words(4096);
    let mut region = Region::create(&memory, &labelled_options()).unwrap();
    let first = region
        .dynamic(0, |r| {
            r.counter(FieldSpec::new("c").labels(&[("conn", "a-long-value-of-many-bytes")]))
        })
        .unwrap();
    first.retire(0);
    let second = region
        .dynamic(1, |r| {
            r.counter(FieldSpec::new("c").labels(&[("conn", "2")]))
        })
        .unwrap();
    assert_eq!(second.slot().index(), 0, "the slot was reused");
    second.add(7);
    let bytes = to_bytes(&memory);
    assert_eq!(
        counters(&bytes),
        vec![("c".to_owned(), r#"{conn="2"}"#.to_owned(), 7)]
    );
}

#[test]
fn bad_labels_and_regions_without_room_are_typed_errors() {
    let memory = words(4096);
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    assert!(!region.has_label_room());
    assert_eq!(
        region
            .counter(FieldSpec::new("x").labels(&[("k", "v")]))
            .unwrap_err(),
        AddFieldError::NoLabelRoom
    );
    let bytes = to_bytes(&memory);
    let view_bytes = ByteImage::new(&bytes);
    let view = RegionView::open(&view_bytes).unwrap();
    assert_eq!(view.prologue().entry_len as usize, ENTRY_LEN);
    assert_eq!(view.field_count().unwrap(), 0, "nothing was written");

    let memory = words(4096);
    let mut region = Region::create(&memory, &labelled_options()).unwrap();
    assert_eq!(
        region
            .counter(FieldSpec::new("x").labels(&[("9", "v")]))
            .unwrap_err(),
        AddFieldError::InvalidLabels(LabelError::InvalidKey)
    );
    assert_eq!(
        region
            .counter(FieldSpec::new("x").labels(&[("k", "v"), ("k", "w")]))
            .unwrap_err(),
        AddFieldError::InvalidLabels(LabelError::DuplicateKey)
    );
    assert_eq!(region.field_count(), 0);
}
