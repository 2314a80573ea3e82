//! Format 2.1 kinds (histogram, moving and window averages, event ring)
//! and retired slots: round trips over live words and byte images, a region
//! of the other byte order, and hostile images (every truncation, random
//! flips and words) that must give values or typed errors, never a panic.

mod common;

use common::{Owned, Rng, read_all, to_bytes, words};
use mmstats_nostd::layout::{ENTRY_LEN, EntryRecord, PROLOGUE_LEN, Prologue};
use mmstats_nostd::ring::{PAYLOAD_SPAN_ENTER, PAYLOAD_TEXT, RECORD_HEADER_WORDS};
use mmstats_nostd::{
    ByteImage, FieldSpec, Kind, OpenError, Payload, Region, RegionOptions, RegionView, RingCursor,
    RingEvent, WordSource,
};

/// A region with one field of every 2.1 kind, a retired dynamic slot and a
/// live one, as bytes.
fn sample_region() -> Vec<u8> {
    let memory = words(2048);
    let mut region = Region::create(
        &memory,
        &RegionOptions {
            table_capacity: 8,
            ..RegionOptions::default()
        },
    )
    .unwrap();
    let histogram = region
        .histogram(FieldSpec::new("h").precision(2).highest(1000))
        .unwrap();
    for value in [3, 70, 900, 5000] {
        histogram.record(value);
    }
    let moving = region
        .moving_average(FieldSpec::new("m").capacity(4))
        .unwrap();
    for sample in [1.0, 2.0, 3.0, 4.0, 5.0] {
        moving.add(sample);
    }
    let window = region
        .window_average(FieldSpec::new("w").window(100).slots(4))
        .unwrap();
    window.record(2.0, 1000);
    window.record(4.0, 1010);
    let ring = region
        .event_ring(FieldSpec::new("r").capacity(4).payload_words(3))
        .unwrap();
    ring.event(1, 7, 1, &[11, 12]);
    ring.text(2, 7, 2, "héllo");
    let span = ring.enter(3, 7, 3, "work");
    ring.exit(9, 7, 3, span);
    ring.event(10, 7, 4, &[]);
    region.dynamic(0, |r| r.counter("gone")).unwrap().retire(0);
    let live = region.dynamic(0, |r| r.gauge("conn.1")).unwrap();
    live.set(-5);
    to_bytes(&memory)
}

fn expected() -> Vec<(String, Owned)> {
    vec![
        (
            "h".into(),
            Owned::Histogram(4, 3 + 70 + 900 + 5000, 3, 5000, {
                // Precision 2, highest 1000 (top 9, 36 buckets): 3 exact,
                // 70 in 64..=79 (index 5·4 + 4 - 4 = 20), 900 in 896..=1023
                // (index 8·4 + 7 - 4 = 35), 5000 past the range, in the
                // last bucket (35).
                let mut buckets = vec![0u64; 36];
                buckets[3] = 1;
                buckets[20] = 1;
                buckets[35] = 2;
                buckets
            }),
        ),
        ("m".into(), Owned::MovingAverage(14.0, 4, 5, 4)),
        ("w".into(), Owned::WindowAverage(6.0, 2, 2, 1010, 100)),
        ("r".into(), Owned::EventRing(5, 4)),
        ("conn.1".into(), Owned::Gauge(-5)),
    ]
}

#[derive(Debug, PartialEq)]
enum Seen {
    Record(u64, u64, u64, u32, String),
    Missed(u64),
}

/// Every record of ring field `r`, from the oldest.
fn ring_records<S: WordSource + ?Sized>(view: &RegionView<'_, S>) -> Vec<Seen> {
    let count = view.field_count().unwrap();
    let field = (0..count)
        .filter_map(|index| view.entry(index).unwrap())
        .find(|field| field.name == "r")
        .unwrap();
    let mut scratch = vec![0u64; field.scratch_words()];
    let mut seen = Vec::new();
    view.poll_ring(&field, &mut RingCursor::at(1), &mut scratch, 100, |event| {
        seen.push(match event {
            RingEvent::Missed(n) => Seen::Missed(n),
            RingEvent::Record(r) => Seen::Record(
                r.seq,
                r.timestamp,
                r.thread,
                r.event,
                match r.payload {
                    Payload::Values(v) => format!("{v:?}"),
                    Payload::Text(t) => format!("text {t}"),
                    Payload::SpanEnter { span, name } => format!("enter {span} {name}"),
                    Payload::SpanExit { span } => format!("exit {span}"),
                    other => format!("{other:?}"),
                },
            ),
        });
    })
    .unwrap();
    seen
}

#[test]
fn histograms_averages_and_rings_round_trip_live_and_from_an_image() {
    let bytes = sample_region();
    let image = ByteImage::new(&bytes);
    let view = RegionView::open(&image).unwrap();
    assert_eq!(view.prologue().minor, 2);
    assert_eq!(read_all(&view).unwrap(), expected());
    assert_eq!(
        ring_records(&view),
        vec![
            Seen::Missed(1),
            Seen::Record(2, 2, 7, 2, "text héllo".into()),
            Seen::Record(3, 3, 7, 3, "enter 1 work".into()),
            Seen::Record(4, 9, 7, 3, "exit 1".into()),
            Seen::Record(5, 10, 7, 4, "[]".into()),
        ]
    );
}

fn swap_word_at(bytes: &mut [u8], word: usize) {
    let at = word * 8;
    let mut chunk = [0u8; 8];
    chunk.copy_from_slice(&bytes[at..at + 8]);
    bytes[at..at + 8].copy_from_slice(&u64::from_ne_bytes(chunk).swap_bytes().to_ne_bytes());
}

/// Rewrites a native image as a machine of the other byte order stores it.
fn foreign(native: &[u8]) -> Vec<u8> {
    let image = ByteImage::new(native);
    let view = RegionView::open(&image).unwrap();
    let count = view.field_count().unwrap();
    let mut out = native.to_vec();
    let mut prologue: Prologue = bytemuck::pod_read_unaligned(&native[..PROLOGUE_LEN]);
    prologue.swap_numbers();
    out[..PROLOGUE_LEN].copy_from_slice(bytemuck::bytes_of(&prologue));
    for index in 0..count {
        let at = PROLOGUE_LEN + index * ENTRY_LEN;
        let mut entry: EntryRecord = bytemuck::pod_read_unaligned(&native[at..at + ENTRY_LEN]);
        entry.swap_numbers();
        out[at..at + ENTRY_LEN].copy_from_slice(bytemuck::bytes_of(&entry));
        let Some(field) = view.entry(index).unwrap() else {
            continue;
        };
        let start = field.value_word;
        match field.kind.unwrap() {
            Kind::EventRing => {
                let shape = field.ring_shape().unwrap();
                for word in 0..8 {
                    swap_word_at(&mut out, start + word);
                }
                for slot in 0..shape.capacity() {
                    let record = start + 8 + slot * shape.record_words();
                    let meta = u64::from_ne_bytes(
                        native[(record + 3) * 8..(record + 4) * 8]
                            .try_into()
                            .unwrap(),
                    );
                    let kind = (meta >> 32) as u8;
                    for word in 0..RECORD_HEADER_WORDS {
                        swap_word_at(&mut out, record + word);
                    }
                    // Text stays in memory order; numbers are swapped.
                    let numbers = match kind {
                        PAYLOAD_TEXT => 0,
                        PAYLOAD_SPAN_ENTER => 1,
                        _ => shape.payload_words(),
                    };
                    for word in 0..numbers {
                        swap_word_at(&mut out, record + RECORD_HEADER_WORDS + word);
                    }
                }
            }
            Kind::String => unreachable!("not in the sample"),
            _ => {
                for word in 0..field.value_words {
                    swap_word_at(&mut out, start + word);
                }
            }
        }
    }
    out
}

#[test]
fn a_region_of_the_other_byte_order_reads_the_same() {
    let native = sample_region();
    let swapped = foreign(&native);
    assert_ne!(native, swapped);
    let image = ByteImage::new(&swapped);
    let view = RegionView::open(&image).unwrap();
    assert_eq!(read_all(&view).unwrap(), expected());
    let native_image = ByteImage::new(&native);
    assert_eq!(
        ring_records(&view),
        ring_records(&RegionView::open(&native_image).unwrap())
    );
}

/// Reads everything a reader can: values, and the ring.
fn read_everything(bytes: &[u8]) {
    let image = ByteImage::new(bytes);
    let Ok(view) = RegionView::open(&image) else {
        return;
    };
    let _ = read_all(&view);
    let Ok(count) = view.field_count() else {
        return;
    };
    let mut scratch = vec![0u64; 64];
    for index in 0..count {
        let _ = view.slot(index);
        if let Ok(Some(field)) = view.entry(index) {
            if scratch.len() < field.scratch_words() {
                scratch.resize(field.scratch_words(), 0);
            }
            for cursor in [
                RingCursor::oldest(),
                RingCursor::at(1),
                RingCursor::newest(),
            ] {
                let mut cursor = cursor;
                let _ = view.poll_ring(&field, &mut cursor, &mut scratch, 64, |_| {});
            }
        }
    }
}

#[test]
fn every_prefix_truncation_is_a_typed_error() {
    let bytes = sample_region();
    // Every length natively. Under miri, which retags every byte of each
    // prefix slice, every length through the prologue and the first
    // entries, then every 97th (it took minutes at every 7th).
    let lengths = (0..bytes.len()).filter(|&len| !cfg!(miri) || len < 1024 || len % 97 == 0);
    for len in lengths {
        let image = ByteImage::new(&bytes[..len]);
        match RegionView::open(&image) {
            Err(OpenError::TooShort { .. } | OpenError::Truncated { .. }) => {}
            other => panic!("prefix of {len} bytes gave {other:?}"),
        }
    }
}

#[test]
fn random_flips_and_words_never_panic() {
    let original = sample_region();
    let mut rng = Rng(0xDEC0_DE21);
    let table_end = (32 + 8 * 32) * 8;
    // MMSTATS_HOSTILE_ROUNDS raises the count for a longer local run (in a
    // debug build: release builds do not check arithmetic overflow).
    let rounds: u32 = std::env::var("MMSTATS_HOSTILE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(miri) { 100 } else { 20_000 });
    for round in 0..rounds {
        let mut bytes = original.clone();
        if round % 2 == 0 {
            for _ in 0..=rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] ^= 1 << rng.below(8);
            }
        } else {
            // Whole words in the header, the table, or the first values
            // (histogram shape, ring head and records).
            let word = 2 + rng.below(table_end / 8 + 200);
            let value = match rng.below(5) {
                0 => u64::MAX,
                1 => rng.next() >> rng.below(64),
                2 => 1 << rng.below(64),
                3 => rng.next() & 0xffff_ffff_00ff,
                _ => rng.next(),
            };
            if word * 8 + 8 <= bytes.len() {
                bytes[word * 8..word * 8 + 8].copy_from_slice(&value.to_ne_bytes());
            }
        }
        read_everything(&bytes);
    }
}
