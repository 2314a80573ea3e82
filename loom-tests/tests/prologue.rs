//! Loom models of the prologue's state and generation words.
//!
//! - A reader never trusts a region before its writer published it: while
//!   `Region::create` runs, `RegionView::open` reports "bad magic" or "not
//!   ready", or returns the complete prologue.
//! - A region re-created under a reader is noticed: a reader that read a
//!   value written after the re-creation began gets `still_valid() ==
//!   false`.
#![cfg(loom)]

use std::sync::Arc as StdArc;

use loom::thread;
use loom_tests::{Executions, builder, leaked_words};
use mmstats_nostd::layout::{PROLOGUE_LEN, STATE_READY};
use mmstats_nostd::{DEFAULT_MAX_TRIES, OpenError, Region, RegionOptions, RegionView, Value};

const WORDS: usize = 32 + 32 + 4;

fn options() -> RegionOptions {
    RegionOptions {
        table_capacity: 1,
        generation: 0,
        pid: 4242,
        start_time: 77,
        boot_id: 0xB007,
        created_ns: 1_700_000_000_000_000_000,
        labels: false,
    }
}

#[test]
fn reader_never_trusts_a_region_before_it_is_ready() {
    let executions = StdArc::new(Executions::new(
        "prologue: open while the region is created",
    ));
    let counter = StdArc::clone(&executions);
    builder(3).check(move || {
        counter.tick();
        let words = leaked_words(WORDS);
        let writer = thread::spawn(move || {
            let mut region = Region::create(words, &options()).unwrap();
            region.counter("c").unwrap().add(3);
        });
        let reader = thread::spawn(move || match RegionView::open(words) {
            Err(OpenError::BadMagic | OpenError::NotReady) => {}
            Err(other) => panic!("a region being created gave {other}"),
            Ok(view) => {
                let p = *view.prologue();
                assert_eq!(p.state, STATE_READY);
                assert_eq!(p.generation, 1);
                assert_eq!(
                    (p.pid, p.start_time, p.boot_id, p.created_ns),
                    (4242, 77, 0xB007, 1_700_000_000_000_000_000)
                );
                assert_eq!(p.region_len, (WORDS * 8) as u64);
                assert_eq!((p.table_offset, p.table_capacity), (PROLOGUE_LEN as u64, 1));
                assert_eq!(p.data_offset, (PROLOGUE_LEN + 256) as u64);
                let count = view.field_count().unwrap();
                assert!(count <= 1);
                if count == 1 {
                    let field = view.entry(0).unwrap().unwrap();
                    assert_eq!(field.name.as_str(), "c");
                    let mut scratch = [0u64; 1];
                    let value = view.read(&field, &mut scratch, DEFAULT_MAX_TRIES);
                    assert!(matches!(value, Ok(Value::Counter(0 | 3))), "{value:?}");
                }
                assert!(view.still_valid());
            }
        });
        writer.join().unwrap();
        reader.join().unwrap();
    });
    drop(executions);
}

#[test]
fn recreation_is_noticed_by_still_valid() {
    let executions = StdArc::new(Executions::new(
        "prologue: re-create while a reader reads a value",
    ));
    let counter = StdArc::clone(&executions);
    builder(3).check(move || {
        counter.tick();
        let words = leaked_words(WORDS);
        // Generation 1: counter "c" = 42, opened by the reader beforehand.
        {
            let mut region = Region::create(words, &options()).unwrap();
            region.counter("c").unwrap().add(42);
        }
        let view = RegionView::open(words).unwrap();
        assert_eq!(view.prologue().generation, 1);
        let field = view.entry(0).unwrap().unwrap();

        // Generation 2 over the same words: the same field, other values.
        let writer = thread::spawn(move || {
            let mut region = Region::create(words, &options()).unwrap();
            assert_eq!(region.generation(), 2);
            region.counter("c").unwrap().add(7);
        });
        let reader = thread::spawn(move || {
            let mut scratch = [0u64; 1];
            let value = view.read(&field, &mut scratch, DEFAULT_MAX_TRIES).unwrap();
            let valid = view.still_valid();
            match value {
                Value::Counter(42) => {}
                Value::Counter(0 | 7) => assert!(
                    !valid,
                    "a value of the re-created region was accepted as generation 1"
                ),
                other => panic!("unexpected {other:?}"),
            }
        });
        writer.join().unwrap();
        reader.join().unwrap();
    });
    drop(executions);
}
