//! Loom models of the latch cell, run on mmstats-nostd's own code through
//! its `sync` module.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use mmstats_nostd::latch::{LatchError, LatchLocation, LatchWriter, read_latch};
use mmstats_nostd::{ByteOrder, Word};

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

fn model(buffers: usize, writes: u64, readers: usize, preemptions: usize) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(preemptions);
    builder.check(move || {
        let words: Arc<Vec<Word>> = Arc::new(
            (0..1 + buffers * COPY_WORDS)
                .map(|_| Word::new(0))
                .collect(),
        );
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
                    let mut out = [0u64; COPY_WORDS];
                    match read_latch(&words[..], location(buffers), 3, &mut out, |_| COPY_WORDS) {
                        Ok(read) => {
                            assert!(read.sequence <= writes);
                            assert_eq!(
                                out,
                                [pattern(read.sequence, 0), pattern(read.sequence, 1)],
                                "torn or mismatched copy"
                            );
                        }
                        Err(LatchError::WriterTooFast { tries }) => assert_eq!(tries, 3),
                        Err(other) => panic!("{other}"),
                    }
                })
            })
            .collect();
        writer.join().unwrap();
        for handle in handles {
            handle.join().unwrap();
        }
    });
}

#[test]
fn two_buffers_one_reader() {
    model(2, 3, 1, 3);
}

#[test]
fn three_buffers_one_reader() {
    model(3, 4, 1, 3);
}
