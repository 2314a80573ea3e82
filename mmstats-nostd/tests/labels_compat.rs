//! A format-2.2 region built by hand, byte by byte as docs/FORMAT.md §4.1
//! describes it: two counters of one name, `web.conn.bytes_in`, told apart
//! by their label `conn`, in 384-byte entries whose offset-42 word is the
//! label length.

mod common;

use common::{Owned, read_all};
use mmstats_nostd::layout::{EntryRecord, Prologue};
use mmstats_nostd::{ByteImage, EntryError, RegionView};

const ENTRY_LEN: usize = 384;

/// The region: prologue, a table of two 384-byte entries, two value words.
fn labelled_region() -> Vec<u8> {
    build(false)
}

/// [`labelled_region`], in this machine's byte order or the other one
/// (numbers swapped; names and label bytes never are).
fn build(swapped: bool) -> Vec<u8> {
    let table_offset = 256;
    let data_offset = table_offset + 2 * ENTRY_LEN;
    let region_len = data_offset + 16;
    let mut bytes = vec![0u8; region_len];
    let mut p: Prologue = bytemuck::Zeroable::zeroed();
    p.magic = mmstats_nostd::layout::MAGIC;
    p.byte_order = mmstats_nostd::layout::BYTE_ORDER_MARK;
    p.major = 2;
    p.minor = 2;
    p.header_len = 256;
    p.entry_len = ENTRY_LEN as u32;
    p.region_len = region_len as u64;
    p.state = 1;
    p.generation = 1;
    p.table_offset = table_offset as u64;
    p.table_capacity = 2;
    p.field_count = 2;
    p.data_offset = data_offset as u64;
    p.data_len = 16;
    if swapped {
        p.swap_numbers();
    }
    bytes[..256].copy_from_slice(bytemuck::bytes_of(&p));
    for (index, (conn, value)) in [("1234", 10u64), ("1235", 20)].into_iter().enumerate() {
        let mut e: EntryRecord = bytemuck::Zeroable::zeroed();
        let name = b"web.conn.bytes_in";
        e.state = 1;
        e.id = index as u64 + 1;
        e.value_offset = (data_offset + index * 8) as u64;
        e.value_len = 8;
        e.kind = 1;
        e.buffers = 1;
        e.copy_words = 1;
        e.name_len = name.len() as u16;
        e.name[..name.len()].copy_from_slice(name);
        let labels = format!("conn={conn}\0");
        // Offset 42: `labels_len` in 2.2 (reserved, 0, in 2.0 and 2.1).
        e.labels_len = labels.len() as u16;
        if swapped {
            e.swap_numbers();
        }
        let value = if swapped { value.swap_bytes() } else { value };
        let at = table_offset + index * ENTRY_LEN;
        bytes[at..at + 256].copy_from_slice(bytemuck::bytes_of(&e));
        bytes[at + 256..at + 256 + labels.len()].copy_from_slice(labels.as_bytes());
        bytes[data_offset + index * 8..data_offset + index * 8 + 8]
            .copy_from_slice(&value.to_ne_bytes());
    }
    bytes
}

/// What the 2.1 reader of this repository (commit e41c669) made of it,
/// checked by this test in commit 656d048 with that reader: it accepts
/// minor 2 and 384-byte entries (it strides by `entry_len`), ignores the
/// offset-42 word and the bytes past 256, and shows the two fields under
/// one name, without their labels. The 2.2 reader shows the same fields
/// and values, each with its label: the names alone are what 2.1 saw.
#[test]
fn a_2_2_region_reads_as_labelled_fields_and_as_the_2_1_reader_saw_it() {
    let bytes = labelled_region();
    let image = ByteImage::new(&bytes);
    let view = RegionView::open(&image).unwrap();
    let fields = read_all(&view).unwrap();
    assert_eq!(
        fields,
        vec![
            ("web.conn.bytes_in".to_owned(), Owned::Counter(10)),
            ("web.conn.bytes_in".to_owned(), Owned::Counter(20)),
        ]
    );
    let labels: Vec<Vec<(String, String)>> = (0..2)
        .map(|i| {
            let field = view.entry(i).unwrap().unwrap();
            field
                .labels
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .collect();
    assert_eq!(
        labels,
        vec![
            vec![("conn".to_owned(), "1234".to_owned())],
            vec![("conn".to_owned(), "1235".to_owned())],
        ]
    );
}

/// A change made to a good region.
type Corruption = Box<dyn Fn(&mut Vec<u8>)>;

/// Hostile label bytes are a problem of that one field, never a panic:
/// a length past the entry, bytes without their terminator, a bad key,
/// unsorted keys, and labels in a 256-byte entry.
#[test]
fn bad_label_bytes_are_a_per_field_error() {
    let at = |index: usize| 256 + index * ENTRY_LEN;
    let cases: Vec<(&str, Corruption)> = vec![
        (
            "length past the entry",
            Box::new(move |b: &mut Vec<u8>| {
                b[at(0) + 42..at(0) + 44].copy_from_slice(&129u16.to_ne_bytes())
            }),
        ),
        (
            "no terminator",
            Box::new(move |b: &mut Vec<u8>| b[at(0) + 256 + 9] = b'x'),
        ),
        (
            "bad key",
            Box::new(move |b: &mut Vec<u8>| b[at(0) + 256] = b'-'),
        ),
        (
            "control character in the value",
            Box::new(move |b: &mut Vec<u8>| b[at(0) + 256 + 6] = 0x07),
        ),
    ];
    for (what, corrupt) in cases {
        let mut bytes = labelled_region();
        corrupt(&mut bytes);
        let image = ByteImage::new(&bytes);
        let view = RegionView::open(&image).unwrap();
        assert_eq!(view.field_count().unwrap(), 2);
        match view.entry(0) {
            Err(EntryError::BadLabels { index: 0, .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
        let other = view.entry(1).unwrap().unwrap();
        assert_eq!(other.labels.get("conn"), Some("1235"), "{what}");
    }
    // Labels claimed in a region whose entries have no room for them.
    let mut bytes = labelled_region();
    bytes[20..24].copy_from_slice(&256u32.to_ne_bytes());
    let image = ByteImage::new(&bytes);
    let view = RegionView::open(&image).unwrap();
    assert!(matches!(
        view.entry(0),
        Err(EntryError::BadLabels { index: 0, .. })
    ));
}

#[test]
fn labels_read_the_same_in_the_other_byte_order() {
    let bytes = build(true);
    let image = ByteImage::new(&bytes);
    let view = RegionView::open(&image).unwrap();
    assert_eq!(view.byte_order(), mmstats_nostd::ByteOrder::Swapped);
    let fields = read_all(&view).unwrap();
    assert_eq!(
        fields[1],
        ("web.conn.bytes_in".to_owned(), Owned::Counter(20))
    );
    let second = view.entry(1).unwrap().unwrap();
    assert_eq!(second.labels.to_string(), r#"{conn="1235"}"#);
}
