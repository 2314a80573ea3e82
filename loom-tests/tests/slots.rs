//! Loom models of slot reuse (format 2.1), run on mmstats-nostd's own
//! protocol code (`slot::SlotWriter`, `slot::read_slot`) through its `sync`
//! module: a reader never pairs one field's entry with another field's
//! value, and a retired handle's last update never lands on the field that
//! reuses its slot.
#![cfg(loom)]

use core::sync::atomic::Ordering;
use loom::sync::Arc;
use loom::thread;
use mmstats_nostd::Word;
use mmstats_nostd::layout::{ByteOrder, EntryState};
use mmstats_nostd::slot::{SlotRead, SlotWriter, read_slot};

/// Word 0 state, 1 id, 2 "name" (the entry body), 3 the value.
const NAME: usize = 2;
const VALUE: usize = 3;

fn slot_words() -> Arc<Vec<Word>> {
    Arc::new((0..4).map(|_| Word::new(0)).collect())
}

/// Publishes field `id` in a fresh slot, as an append does: entry and
/// value first, then live and the id (here the publication stores stand in
/// for the field count's release store).
fn publish(words: &[Word], id: u64) {
    let slot = SlotWriter::new(words).unwrap();
    slot.begin_rewrite();
    words[NAME].store(id, Ordering::Relaxed);
    words[VALUE].store(id * 100, Ordering::Relaxed);
    slot.publish(id);
}

/// What a reader may keep: the name of field `k` with a value of field `k`
/// (its initial value `100k`, or `100k + 1` after its one update).
fn check(read: SlotRead<(u64, u64)>) {
    match read {
        SlotRead::Live {
            id,
            value: (name, value),
        } => {
            assert_eq!(name, id, "entry of another field");
            assert!(
                value == id * 100 || value == id * 100 + 1,
                "id {id} value {value}"
            );
        }
        SlotRead::NotLive(_) | SlotRead::Changed => {}
        SlotRead::OutOfBounds => panic!("out of bounds"),
    }
}

#[test]
fn a_reader_never_mixes_fields_of_a_reused_slot() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let words = slot_words();
        publish(&words, 1);
        let writer_words = Arc::clone(&words);
        let writer = thread::spawn(move || {
            let words = &writer_words[..];
            let slot = SlotWriter::new(words).unwrap();
            // Field 1's handle updates its value, then it is retired, then
            // the slot is reused for field 2, whose handle updates it too.
            words[VALUE].store(101, Ordering::Relaxed);
            slot.retire(0);
            slot.begin_rewrite();
            words[NAME].store(2, Ordering::Relaxed);
            words[VALUE].store(200, Ordering::Relaxed);
            slot.publish(2);
            words[VALUE].store(201, Ordering::Relaxed);
        });
        let reader_words = Arc::clone(&words);
        let reader = thread::spawn(move || {
            let words = &reader_words[..];
            // An uncached read (entry and value), then a cached one that
            // expects field 1 (value only).
            check(read_slot(words, 0, ByteOrder::Native, None, |_| {
                (
                    words[NAME].load(Ordering::Relaxed),
                    words[VALUE].load(Ordering::Relaxed),
                )
            }));
            let cached = read_slot(words, 0, ByteOrder::Native, Some(1), |_| {
                words[VALUE].load(Ordering::Relaxed)
            });
            if let SlotRead::Live { id, value } = cached {
                assert_eq!(id, 1);
                assert!(value == 100 || value == 101, "field 1 read {value}");
            }
        });
        writer.join().unwrap();
        reader.join().unwrap();
    });
}

#[test]
fn a_retired_handles_last_update_happens_before_the_reuse() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let words = slot_words();
        publish(&words, 1);
        // Thread A owns field 1: its last update, then the retire.
        let old_words = Arc::clone(&words);
        let old = thread::spawn(move || {
            old_words[VALUE].store(101, Ordering::Relaxed);
            SlotWriter::new(&old_words).unwrap().retire(0);
        });
        // Thread B is the region's writer: it reuses the slot once it sees
        // it retired (SlotWriter::state is the scan's acquire load).
        let new_words = Arc::clone(&words);
        let new = thread::spawn(move || {
            let slot = SlotWriter::new(&new_words).unwrap();
            while !matches!(slot.state(), EntryState::Retired { .. }) {
                thread::yield_now();
            }
            slot.begin_rewrite();
            new_words[NAME].store(2, Ordering::Relaxed);
            new_words[VALUE].store(200, Ordering::Relaxed);
            slot.publish(2);
        });
        old.join().unwrap();
        new.join().unwrap();
        assert_eq!(
            words[VALUE].load(Ordering::Relaxed),
            200,
            "the old field's update overwrote the new field's value"
        );
        assert_eq!(words[1].load(Ordering::Relaxed), 2);
    });
}
