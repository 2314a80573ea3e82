//! Loom model of the event ring, run on mmstats-nostd's own code
//! (`ring::EventRing`, `ring::RingCursor`) through its `sync` module: a
//! follower never returns a record that was being overwritten, and counts
//! exactly the records it missed when the writer lapped it.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use mmstats_nostd::layout::ByteOrder;
use mmstats_nostd::ring::{EventRing, RingCursor, RingEvent, RingLocation, RingShape};
use mmstats_nostd::{Payload, Word};

const CAPACITY: usize = 2;
const RECORDS: u64 = 3;

fn location(shape: RingShape) -> RingLocation {
    RingLocation {
        head_word: 0,
        shape,
        order: ByteOrder::Native,
    }
}

/// Polls once; checks every record is whole and in order; returns
/// (delivered, missed) and the last sequence number accounted for.
fn poll(words: &[Word], shape: RingShape, cursor: &mut RingCursor, last: &mut u64) -> (u64, u64) {
    let mut scratch = [0u64; 8];
    let result = cursor
        .poll(
            words,
            location(shape),
            &mut scratch,
            16,
            |event| match event {
                RingEvent::Record(record) => {
                    assert_eq!(record.seq, *last + 1, "out of order");
                    *last = record.seq;
                    assert_eq!(record.timestamp, record.seq, "torn record");
                    assert_eq!(record.thread, record.seq + 1000, "torn record");
                    assert_eq!(
                        record.payload,
                        Payload::Values(&[record.seq * 10]),
                        "torn record"
                    );
                }
                RingEvent::Missed(n) => *last += n,
            },
        )
        .unwrap();
    (result.delivered, result.missed)
}

#[test]
fn a_follower_never_returns_a_torn_record_and_counts_gaps_exactly() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let shape = RingShape::new(CAPACITY, 1).unwrap();
        let words: Arc<Vec<Word>> =
            Arc::new((0..shape.value_words()).map(|_| Word::new(0)).collect());
        EventRing::init(&words, shape).unwrap();
        let writer_words = Arc::clone(&words);
        let writer = thread::spawn(move || {
            // The writer side lives in this thread (it stores the same zeros
            // again: the ring is still empty).
            let ring = EventRing::init(&writer_words, shape).unwrap();
            for seq in 1..=RECORDS {
                ring.event(seq, seq + 1000, 0, &[seq * 10]);
            }
        });
        let reader_words = Arc::clone(&words);
        let reader = thread::spawn(move || {
            let mut cursor = RingCursor::at(1);
            let mut last = 0;
            let (delivered, missed) = poll(&reader_words, shape, &mut cursor, &mut last);
            (cursor, last, delivered + missed)
        });
        writer.join().unwrap();
        let (mut cursor, mut last, mut accounted) = reader.join().unwrap();
        // After the writer is done, a last poll drains the ring: every
        // record is delivered or counted missed, exactly once.
        let (delivered, missed) = poll(&words, shape, &mut cursor, &mut last);
        accounted += delivered + missed;
        assert_eq!(accounted, RECORDS);
        assert_eq!(last, RECORDS);
        assert_eq!(cursor.next(), RECORDS + 1);
    });
}
