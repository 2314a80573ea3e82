//! Loom model of field publication: a writer appends field-table entries
//! (`Region::gauge`, `Region::text`) while a reader scans the table with
//! `RegionView::open`, `field_count`, `entry` and `read`. A reader never
//! sees a half-written entry or an entry without its initial value: every
//! entry below the count it loaded is live and complete, and every value
//! is the initial one or a later one.
#![cfg(loom)]

use std::sync::Arc as StdArc;

use loom::thread;
use loom_tests::{Executions, builder, leaked_words};
use mmstats_nostd::{
    DEFAULT_MAX_TRIES, FieldSpec, Kind, MAX_COPY_WORDS, Padding, Region, RegionOptions, RegionView,
    Unit, Value,
};

#[test]
fn reader_never_sees_a_half_written_entry() {
    let executions = StdArc::new(Executions::new(
        "publication: 2 fields added while a reader scans",
    ));
    let counter = StdArc::clone(&executions);
    builder(3).check(move || {
        counter.tick();
        let words = leaked_words(32 + 3 * 32 + 8);
        let mut region = Region::create(
            words,
            &RegionOptions {
                table_capacity: 3,
                generation: 7,
                ..RegionOptions::default()
            },
        )
        .unwrap();
        // Packed fields: the model is about publication, and packed values
        // fit the 8 value words of this region.
        region
            .counter(FieldSpec::new("first").padding(Padding::Packed))
            .unwrap()
            .add(5);

        let writer = thread::spawn(move || {
            let late = region
                .gauge(
                    FieldSpec::new("late")
                        .unit(Unit::Bytes)
                        .describe("added later")
                        .padding(Padding::Packed),
                )
                .unwrap();
            late.set(-9);
            let text = region
                .text(
                    FieldSpec::new("late.text")
                        .capacity(8)
                        .buffers(2)
                        .padding(Padding::Packed),
                )
                .unwrap();
            text.set("abc");
        });
        let reader = thread::spawn(move || {
            let view = RegionView::open(words).unwrap();
            assert_eq!(view.prologue().generation, 7);
            let count = view.field_count().unwrap();
            assert!((1..=3).contains(&count), "count {count}");
            let mut scratch = [0u64; MAX_COPY_WORDS];
            for index in 0..count {
                let field = view
                    .entry(index)
                    .unwrap_or_else(|e| panic!("entry {index}: {e}"))
                    .unwrap_or_else(|| panic!("entry {index} below the count is not live"));
                assert_eq!(field.id, index as u64 + 1);
                let value = view.read(&field, &mut scratch, DEFAULT_MAX_TRIES).unwrap();
                match index {
                    0 => {
                        assert_eq!(field.name.as_str(), "first");
                        assert_eq!(value, Value::Counter(5));
                    }
                    1 => {
                        assert_eq!(field.name.as_str(), "late");
                        assert_eq!(field.description.as_str(), "added later");
                        assert_eq!(field.unit, Some(Unit::Bytes));
                        assert_eq!(field.kind, Some(Kind::Gauge));
                        assert!(matches!(value, Value::Gauge(0 | -9)), "{value:?}");
                    }
                    _ => {
                        assert_eq!(field.name.as_str(), "late.text");
                        assert_eq!((field.buffers, field.param), (2, 8));
                        assert!(matches!(value, Value::Text("" | "abc")), "{value:?}");
                    }
                }
            }
            assert!(view.still_valid());
        });
        writer.join().unwrap();
        reader.join().unwrap();
    });
    drop(executions);
}
