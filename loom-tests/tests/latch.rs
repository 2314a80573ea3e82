//! Loom models of the latch cell (`mmstats_nostd::latch`), run on the
//! crate's own writer and reader through its `sync` module.
//!
//! What every model checks, in every interleaving loom explores:
//! - a read returns the words of exactly one complete write (never a mix),
//!   and that write is the one its sequence number names;
//! - reads in one thread never go back in time;
//! - the retry bound: a read is retried only when the writer completed
//!   `buffers - 1` writes during the attempt, so with `W` writes in all a
//!   read retries at most `W / (buffers - 1)` times, gives up only when
//!   that many attempts were lapped, and with `W <= buffers - 2` never
//!   retries at all.
#![cfg(loom)]

use std::sync::Arc as StdArc;

use loom::sync::Arc;
use loom::thread;
use loom_tests::{Executions, builder, leaked_words};
use mmstats_nostd::latch::{LatchError, LatchLocation, LatchWriter, read_latch};
use mmstats_nostd::{
    ByteOrder, DEFAULT_MAX_TRIES, FieldSpec, Region, RegionOptions, RegionView, Value, Word,
};

const COPY_WORDS: usize = 2;

fn location(buffers: usize) -> LatchLocation {
    LatchLocation {
        seq_index: 0,
        buffers,
        copy_words: COPY_WORDS,
        order: ByteOrder::Native,
    }
}

/// Value of word `i` of write `k`: a reader can tell every word's write.
fn pattern(k: u64, i: usize) -> u64 {
    k * 10 + i as u64
}

#[derive(Clone, Copy, Debug)]
struct LatchModel {
    buffers: usize,
    writes: u64,
    readers: usize,
    /// Reads each reader makes, one after the other.
    reads_each: usize,
    max_tries: u32,
    preemptions: usize,
}

impl LatchModel {
    fn run(self, name: &'static str) {
        let LatchModel {
            buffers,
            writes,
            readers,
            reads_each,
            max_tries,
            preemptions,
        } = self;
        // A read can be lapped at most this many times in all.
        let lappable = writes / (buffers as u64 - 1);
        let executions = StdArc::new(Executions::new(name));
        let counter = StdArc::clone(&executions);
        builder(preemptions).check(move || {
            counter.tick();
            let words: Arc<Vec<Word>> =
                Arc::new((0..1 + buffers * COPY_WORDS).map(|_| Word::new(0)).collect());
            LatchWriter::new(&words, buffers, COPY_WORDS)
                .unwrap()
                .init(&[pattern(0, 0), pattern(0, 1)]);

            let writer_words = Arc::clone(&words);
            let writer = thread::spawn(move || {
                let latch = LatchWriter::new(&writer_words, buffers, COPY_WORDS).unwrap();
                for k in 1..=writes {
                    latch.write(COPY_WORDS, |i| pattern(k, i));
                }
            });
            let handles: Vec<_> = (0..readers)
                .map(|_| {
                    let words = Arc::clone(&words);
                    thread::spawn(move || {
                        let mut last = 0;
                        for _ in 0..reads_each {
                            let mut out = [0u64; COPY_WORDS];
                            match read_latch(
                                &words[..],
                                location(buffers),
                                max_tries,
                                &mut out,
                                |_| COPY_WORDS,
                            ) {
                                Ok(read) => {
                                    assert!(read.sequence <= writes, "sequence from nowhere");
                                    assert_eq!(
                                        out,
                                        [pattern(read.sequence, 0), pattern(read.sequence, 1)],
                                        "torn or mismatched copy"
                                    );
                                    assert!(read.sequence >= last, "read went back in time");
                                    assert!(read.retries < max_tries);
                                    assert!(
                                        u64::from(read.retries) <= lappable,
                                        "retried {} times, but only {lappable} laps were possible",
                                        read.retries
                                    );
                                    last = read.sequence;
                                }
                                Err(LatchError::WriterTooFast { tries }) => {
                                    assert_eq!(tries, max_tries);
                                    assert!(
                                        u64::from(tries) <= lappable,
                                        "gave up after {tries} tries, but only {lappable} laps were possible"
                                    );
                                }
                                Err(other) => panic!("{other}"),
                            }
                        }
                    })
                })
                .collect();
            writer.join().unwrap();
            for handle in handles {
                handle.join().unwrap();
            }
        });
        drop(executions);
    }
}

#[test]
fn two_buffers_one_reader() {
    LatchModel {
        buffers: 2,
        writes: 3,
        readers: 1,
        reads_each: 1,
        max_tries: 3,
        preemptions: 3,
    }
    .run("latch: 2 buffers, 3 writes, 1 reader");
}

#[test]
fn two_buffers_reads_stay_in_order() {
    LatchModel {
        buffers: 2,
        writes: 2,
        readers: 1,
        reads_each: 2,
        max_tries: 2,
        preemptions: 3,
    }
    .run("latch: 2 buffers, 2 writes, 1 reader reading twice");
}

#[test]
fn two_buffers_two_readers() {
    LatchModel {
        buffers: 2,
        writes: 2,
        readers: 2,
        reads_each: 1,
        max_tries: 2,
        preemptions: 2,
    }
    .run("latch: 2 buffers, 2 writes, 2 readers");
}

#[test]
fn three_buffers_one_reader() {
    LatchModel {
        buffers: 3,
        writes: 4,
        readers: 1,
        reads_each: 1,
        max_tries: 3,
        preemptions: 3,
    }
    .run("latch: 3 buffers, 4 writes, 1 reader");
}

#[test]
fn three_buffers_two_readers() {
    LatchModel {
        buffers: 3,
        writes: 3,
        readers: 2,
        reads_each: 1,
        max_tries: 2,
        preemptions: 2,
    }
    .run("latch: 3 buffers, 3 writes, 2 readers");
}

/// With three copies, one concurrent write can never make a reader retry:
/// `lappable` is 0, so the model asserts a first-try success every time.
#[test]
fn three_buffers_one_write_never_retries() {
    LatchModel {
        buffers: 3,
        writes: 1,
        readers: 1,
        reads_each: 1,
        max_tries: 1,
        preemptions: 3,
    }
    .run("latch: 3 buffers, 1 write, 1 reader, 1 try");
}

/// The `Average` handle and `RegionView::read`: sum and count always come
/// from the same update (every sample is 1.0, so sum == count).
#[test]
fn average_handle_reads_sum_and_count_together() {
    let executions = StdArc::new(Executions::new("average handle: 3 samples, 1 reader"));
    let counter = StdArc::clone(&executions);
    builder(3).check(move || {
        counter.tick();
        let words = leaked_words(32 + 32 + 8);
        let mut region = Region::create(
            words,
            &RegionOptions {
                table_capacity: 1,
                ..RegionOptions::default()
            },
        )
        .unwrap();
        let average = region.average(FieldSpec::new("avg").buffers(2)).unwrap();
        let writer = thread::spawn(move || {
            for _ in 0..3 {
                average.add(1.0);
            }
        });
        let reader = thread::spawn(move || {
            let view = RegionView::open(words).unwrap();
            let field = view.entry(0).unwrap().unwrap();
            let mut scratch = [0u64; 2];
            match view.read(&field, &mut scratch, DEFAULT_MAX_TRIES) {
                Ok(Value::Average { sum, count }) => {
                    assert!(count <= 3);
                    assert_eq!(sum, count as f64, "sum and count from different updates");
                }
                other => panic!("unexpected {other:?}"),
            }
        });
        writer.join().unwrap();
        reader.join().unwrap();
    });
    drop(executions);
}
