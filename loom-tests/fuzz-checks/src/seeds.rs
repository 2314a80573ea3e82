//! Seed inputs for the corpus: a region with every kind, its byte-swapped
//! twin, and deterministic bytes for the structured targets.

use core::sync::atomic::Ordering;
use mmstats_nostd::layout::{ENTRY_LEN, EntryRecord, Prologue};
use mmstats_nostd::{
    ByteImage, FieldSpec, Kind, Padding, Region, RegionOptions, RegionView, Unit, Word,
};

/// A region with one field of every kind (2.1 kinds included) and a few
/// updates, a retired dynamic field, and a slot retired and reused by
/// another dynamic field, as bytes in this machine's order: a seed for
/// the reader target.
#[must_use]
pub fn seed_region() -> Vec<u8> {
    let words: Vec<Word> = (0..1024).map(|_| Word::new(0)).collect();
    let mut region = Region::create(
        &words,
        &RegionOptions {
            table_capacity: 12,
            generation: 3,
            pid: 1234,
            start_time: 5678,
            boot_id: 0x1122_3344_5566_7788,
            created_ns: 1_700_000_000_000_000_000,
            labels: false,
        },
    )
    .expect("fits");
    region.set_prefix("seed.").expect("valid");
    region.counter("hits").expect("fits").add(42);
    region
        .gauge(FieldSpec::new("temp").unit(Unit::Celsius).describe("die"))
        .expect("fits")
        .set(-5);
    region
        .text(FieldSpec::new("ver").capacity(12).buffers(2))
        .expect("fits")
        .set("v1.2-ü");
    let average = region.average("lat").expect("fits");
    average.add(1.5);
    average.add(2.5);
    region
        .float_gauge(FieldSpec::new("load").padding(Padding::Line64))
        .expect("fits")
        .set(0.75);
    // 2.1: a histogram of 24 buckets (m = 2, t = 6), values in range and
    // past it.
    let histogram = region
        .histogram(
            FieldSpec::new("rtt")
                .unit(Unit::Microseconds)
                .precision(2)
                .highest(100),
        )
        .expect("fits");
    for value in [0, 3, 4, 7, 9, 100, 127, 128, 5000] {
        histogram.record(value);
    }
    histogram.record_n(12, 3);
    let moving = region
        .moving_average(FieldSpec::new("last4").capacity(4).buffers(3))
        .expect("fits");
    for sample in [1.0, 2.0, 3.0, 4.0, 5.0, 6.5] {
        moving.add(sample);
    }
    let window = region
        .window_average(FieldSpec::new("per100").window(100).slots(4))
        .expect("fits");
    window.record(10.0, 1000);
    window.record(20.0, 1010);
    window.record(30.0, 1060);
    window.tick(1100);
    // A ring of 4 records of 2 payload words, lapped: records 3 to 6 are
    // in it, of every payload kind.
    let ring = region
        .event_ring(FieldSpec::new("events").capacity(4).payload_words(2))
        .expect("fits");
    ring.event(1, 7, 1, &[1, 2]);
    ring.text(2, 7, 2, "gone");
    ring.event(3, 7, 3, &[u64::MAX, 5, 6]);
    ring.text(4, 7, 4, "hello, wörld");
    let span = ring.enter(5, 8, 5, "request");
    ring.exit(6, 8, 5, span);
    // Dynamic fields: one retired for good, one retired and its slot
    // (and value words) reused by another field.
    region.set_reuse_delay(10);
    let gone = region
        .dynamic(0, |r| r.counter("conn.1.bytes"))
        .expect("fits");
    gone.add(7);
    let replaced = region.dynamic(0, |r| r.gauge("conn.2.open")).expect("fits");
    replaced.set(1);
    let reused_index = replaced.slot().index();
    gone.retire(1);
    replaced.retire(2);
    let reused = region
        .dynamic(50, |r| r.counter("conn.3.bytes"))
        .expect("fits");
    assert_eq!(
        reused.slot().index(),
        reused_index - 1,
        "the smallest fitting slot, first"
    );
    reused.add(99);
    let reused_again = region.dynamic(50, |r| r.flag("conn.4.tls")).expect("fits");
    assert_eq!(reused_again.slot().index(), reused_index);
    reused_again.set(true);
    let _live = region
        .dynamic(60, |r| r.timestamp("conn.5.since"))
        .expect("fits");
    _live.retire(61);
    words
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
        .collect()
}

/// A region with room for labels (format 2.2): labelled fields of one
/// name, a field without labels, and a labelled dynamic field whose slot
/// was reused by one with shorter labels; a seed for the reader target.
#[must_use]
pub fn seed_labelled_region() -> Vec<u8> {
    let words: Vec<Word> = (0..512).map(|_| Word::new(0)).collect();
    let mut region = Region::create(
        &words,
        &RegionOptions {
            table_capacity: 5,
            generation: 2,
            labels: true,
            ..RegionOptions::default()
        },
    )
    .expect("fits");
    for (conn, value) in [("1234", 10), ("1235", 20)] {
        region
            .counter(FieldSpec::new("web.conn.bytes_in").labels(&[("conn", conn), ("app", "web")]))
            .expect("fits")
            .add(value);
    }
    region.gauge("web.inflight").expect("fits").set(2);
    let gone = region
        .dynamic(0, |r| {
            r.counter(
                FieldSpec::new("web.conn.requests").labels(&[("conn", "a-long-connection-id")]),
            )
        })
        .expect("fits");
    gone.retire(0);
    let reused = region
        .dynamic(1, |r| {
            r.counter(FieldSpec::new("web.conn.requests").labels(&[("conn", "7")]))
        })
        .expect("fits");
    reused.add(3);
    words
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
        .collect()
}

/// `native` (a region in this machine's order) as a machine of the other
/// byte order would have stored it: every number swapped, byte strings
/// left alone.
#[must_use]
pub fn swap_region(native: &[u8]) -> Vec<u8> {
    let image = ByteImage::new(native);
    let view = RegionView::open(&image).expect("a valid region");
    let count = view.field_count().expect("a valid count");
    let fields: Vec<_> = (0..count)
        .filter_map(|i| view.entry(i).ok().flatten())
        .collect();
    let mut out = native.to_vec();
    let swap_word = |out: &mut [u8], at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&out[at..at + 8]);
        out[at..at + 8].copy_from_slice(&u64::from_ne_bytes(word).swap_bytes().to_ne_bytes());
    };
    let words_at = |bytes: &[u8], at: usize| -> [u64; 32] {
        let mut words = [0u64; 32];
        for (index, word) in words.iter_mut().enumerate() {
            let mut chunk = [0u8; 8];
            chunk.copy_from_slice(&bytes[at + index * 8..at + index * 8 + 8]);
            *word = u64::from_ne_bytes(chunk);
        }
        words
    };
    let put_words = |out: &mut [u8], at: usize, words: [u64; 32]| {
        for (index, word) in words.iter().enumerate() {
            out[at + index * 8..at + index * 8 + 8].copy_from_slice(&word.to_ne_bytes());
        }
    };
    let mut prologue = Prologue::from_words(words_at(native, 0));
    prologue.swap_numbers();
    put_words(&mut out, 0, prologue.to_words());
    let table = view.prologue().table_offset as usize;
    for index in 0..count {
        let at = table + index * ENTRY_LEN;
        let mut entry = EntryRecord::from_words(words_at(native, at));
        entry.swap_numbers();
        put_words(&mut out, at, entry.to_words());
    }
    for field in &fields {
        let start = field.value_word * 8;
        match field.kind {
            Some(Kind::String) => {
                swap_word(&mut out, start);
                for copy in 0..field.buffers {
                    swap_word(&mut out, start + 8 + copy * field.copy_words * 8);
                }
            }
            Some(Kind::EventRing) => {
                // Numbers, except text payloads (bytes in memory order).
                let shape = field.ring_shape().expect("a valid ring");
                for word in 0..mmstats_nostd::ring::HEADER_WORDS {
                    swap_word(&mut out, start + word * 8);
                }
                for slot in 0..shape.capacity() {
                    let record = start
                        + (mmstats_nostd::ring::HEADER_WORDS + slot * shape.record_words()) * 8;
                    let mut meta = [0u8; 8];
                    meta.copy_from_slice(&native[record + 24..record + 32]);
                    let kind = (u64::from_ne_bytes(meta) >> 32) as u8;
                    let numbers = match kind {
                        mmstats_nostd::ring::PAYLOAD_TEXT => 4,
                        mmstats_nostd::ring::PAYLOAD_SPAN_ENTER => 5,
                        _ => shape.record_words(),
                    };
                    for word in 0..numbers {
                        swap_word(&mut out, record + word * 8);
                    }
                }
            }
            // Every other kind's value words are all numbers: a single
            // word, an average's or a moving or window average's latch
            // cell and working words, a histogram's summary and buckets.
            _ => {
                for word in 0..field.value_words {
                    swap_word(&mut out, start + word * 8);
                }
            }
        }
    }
    out
}

/// Deterministic pseudo-random bytes (xorshift64*), for seeds of the
/// structured targets.
#[must_use]
pub fn seed_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}
