//! Loom models of the multi-writer handles: `SharedCounter` and
//! `SharedGauge` lose no update however their `fetch_add`s interleave, and
//! a concurrent reader only sees values some prefix of the updates made.
#![cfg(loom)]

use std::sync::Arc as StdArc;

use loom::thread;
use loom_tests::{Executions, builder, leaked_words};
use mmstats_nostd::{
    DEFAULT_MAX_TRIES, FieldSpec, Padding, Region, RegionOptions, RegionView, Value,
};

const THREADS: u64 = 2;
const EACH: u64 = 2;

#[test]
fn shared_counter_loses_no_increment() {
    let executions = StdArc::new(Executions::new("shared counter: 2 threads x 2 increments"));
    let counter = StdArc::clone(&executions);
    builder(3).check(move || {
        counter.tick();
        let words = leaked_words(32 + 2 * 32 + 4);
        let mut region = Region::create(
            words,
            &RegionOptions {
                table_capacity: 2,
                ..RegionOptions::default()
            },
        )
        .unwrap();
        let hits: &'static _ = Box::leak(Box::new(
            region
                .shared_counter(
                    // Packed: the model is about fetch_add; the region is small.
                    FieldSpec::new("hits").padding(Padding::Packed),
                )
                .unwrap(),
        ));
        let level: &'static _ = Box::leak(Box::new(
            region
                .shared_gauge(FieldSpec::new("level").padding(Padding::Packed))
                .unwrap(),
        ));
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                thread::spawn(move || {
                    for _ in 0..EACH {
                        hits.incr();
                        level.add(3);
                        level.sub(1);
                    }
                })
            })
            .collect();
        let reader = thread::spawn(move || {
            let view = RegionView::open(words).unwrap();
            let field = view.entry(0).unwrap().unwrap();
            let mut scratch = [0u64; 1];
            match view.read(&field, &mut scratch, DEFAULT_MAX_TRIES) {
                Ok(Value::Counter(n)) => assert!(n <= THREADS * EACH, "counter ran ahead: {n}"),
                other => panic!("unexpected {other:?}"),
            }
        });
        for worker in workers {
            worker.join().unwrap();
        }
        reader.join().unwrap();
        assert_eq!(hits.get(), THREADS * EACH, "an increment was lost");
        assert_eq!(
            level.get(),
            (THREADS * EACH * 2) as i64,
            "a gauge update was lost"
        );
        let view = RegionView::open(words).unwrap();
        let mut scratch = [0u64; 1];
        let field = view.entry(0).unwrap().unwrap();
        assert_eq!(
            view.read(&field, &mut scratch, 1),
            Ok(Value::Counter(THREADS * EACH))
        );
    });
    drop(executions);
}
