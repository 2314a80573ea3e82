//! An event ring written at full speed by one thread and followed by
//! another: every record delivered is whole (its payload matches its
//! sequence number), sequence numbers only grow, and delivered + missed is
//! exactly the number of records appended.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::words;
use mmstats_nostd::{FieldSpec, Payload, Region, RegionOptions, RegionView, RingCursor, RingEvent};

/// Records appended: fewer under miri, which interprets every access.
const RECORDS: u64 = if cfg!(miri) { 1_000 } else { 400_000 };
/// Records per burst before the writer takes a breath.
const BURST: u64 = if cfg!(miri) { 300 } else { 4096 };

fn payload(seq: u64) -> [u64; 3] {
    [seq.wrapping_mul(0x9E37_79B9_7F4A_7C15), !seq, seq << 7]
}

#[test]
fn a_follower_gets_whole_records_and_counts_every_miss() {
    let memory = words(8192);
    let mut region = Region::create(
        &memory,
        &RegionOptions {
            table_capacity: 4,
            ..RegionOptions::default()
        },
    )
    .unwrap();
    let ring = region
        .event_ring(FieldSpec::new("events").capacity(256).payload_words(3))
        .unwrap();
    let done = AtomicBool::new(false);
    let done = &done;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for seq in 1..=RECORDS {
                let p = payload(seq);
                assert_eq!(ring.event(seq, 1, 5, &p), seq);
                // Bursts at full speed (the follower gets lapped), then a
                // breath (it catches up): both paths are exercised.
                if seq % BURST == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            }
            done.store(true, Ordering::Release);
        });
        let view = RegionView::open(&memory[..]).unwrap();
        let field = view.entry(0).unwrap().unwrap();
        let mut scratch = vec![0u64; field.scratch_words()];
        let mut cursor = RingCursor::at(1);
        let (mut delivered, mut missed, mut last, mut polls) = (0u64, 0u64, 0u64, 0u64);
        loop {
            let finished = done.load(Ordering::Acquire);
            let poll = view
                .poll_ring(
                    &field,
                    &mut cursor,
                    &mut scratch,
                    1000,
                    |event| match event {
                        RingEvent::Record(record) => {
                            assert!(record.seq > last, "sequence went back");
                            last = record.seq;
                            assert_eq!(record.timestamp, record.seq);
                            assert_eq!(record.event, 5);
                            assert_eq!(record.payload, Payload::Values(&payload(record.seq)));
                        }
                        RingEvent::Missed(n) => {
                            assert!(n > 0);
                            last += n;
                        }
                    },
                )
                .unwrap();
            delivered += poll.delivered;
            missed += poll.missed;
            polls += 1;
            if finished && cursor.next() > RECORDS {
                break;
            }
        }
        assert_eq!(delivered + missed, RECORDS, "every record accounted for");
        println!("{delivered} delivered, {missed} missed in {polls} polls");
        assert!(delivered > 0);
        assert_eq!(last, RECORDS);
    });
}
