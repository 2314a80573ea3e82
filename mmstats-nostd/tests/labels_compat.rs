//! A format-2.2 region built by hand, byte by byte as docs/FORMAT.md §4.1
//! describes it: two counters of one name, `web.conn.bytes_in`, told apart
//! by their label `conn`, in 384-byte entries whose offset-42 word is the
//! label length.

mod common;

use common::{Owned, read_all};
use mmstats_nostd::layout::{EntryRecord, Prologue};
use mmstats_nostd::{ByteImage, RegionView};

const ENTRY_LEN: usize = 384;

/// The region: prologue, a table of two 384-byte entries, two value words.
fn labelled_region() -> Vec<u8> {
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
        e.reserved = labels.len() as u16;
        let at = table_offset + index * ENTRY_LEN;
        bytes[at..at + 256].copy_from_slice(bytemuck::bytes_of(&e));
        bytes[at + 256..at + 256 + labels.len()].copy_from_slice(labels.as_bytes());
        bytes[data_offset + index * 8..data_offset + index * 8 + 8]
            .copy_from_slice(&value.to_ne_bytes());
    }
    bytes
}

/// What the 2.1 reader of this repository (commit e41c669) makes of it:
/// it accepts minor 2 and 384-byte entries (it strides by `entry_len`),
/// ignores the offset-42 word and the bytes past 256, and so shows the
/// two fields under one name, without their labels.
#[test]
fn a_2_1_reader_shows_a_2_2_region_as_the_same_name_twice() {
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
}
