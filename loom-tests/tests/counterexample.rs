//! A model that must fail: the original Python mmstats' double buffer,
//! written here as the counter-example (it is not mmstats code).
//!
//! The original kept two copies of a value and one index byte naming the
//! copy to fill next; a reader read the index and then the *other* copy.
//! With no sequence number, a reader that is slow between its loads sees
//! the writer flip the index twice and overwrite the very copy it is
//! reading. `ANCHORS.md` reports this tearing in practice (about 1 % of
//! string reads); here loom finds an interleaving that tears even with
//! sequentially consistent atomics, which shows that the latch models'
//! assertions do catch a torn value when there is one.
#![cfg(loom)]

use std::sync::Arc as StdArc;

use core::sync::atomic::Ordering::SeqCst;
use loom::sync::Arc;
use loom::thread;
use loom_tests::{Executions, builder};
use mmstats_nostd::Word;

/// Word `i` of write `k`.
fn pattern(k: u64, i: usize) -> u64 {
    k * 10 + i as u64
}

/// `words[0]` is the index of the copy to fill next; copies of two words
/// each follow.
struct LegacyDoubleBuffer {
    words: Vec<Word>,
}

impl LegacyDoubleBuffer {
    fn new() -> Self {
        let words: Vec<Word> = (0..5).map(|_| Word::new(0)).collect();
        // Copy 1 holds write 0; copy 0 is filled next.
        words[3].store(pattern(0, 0), SeqCst);
        words[4].store(pattern(0, 1), SeqCst);
        Self { words }
    }

    fn write(&self, k: u64) {
        let index = self.words[0].load(SeqCst) as usize;
        for i in 0..2 {
            self.words[1 + index * 2 + i].store(pattern(k, i), SeqCst);
        }
        self.words[0].store((index ^ 1) as u64, SeqCst);
    }

    fn read(&self) -> [u64; 2] {
        let complete = (self.words[0].load(SeqCst) as usize) ^ 1;
        [0, 1].map(|i| self.words[1 + complete * 2 + i].load(SeqCst))
    }
}

#[test]
#[should_panic(expected = "torn")]
fn legacy_index_flip_tears() {
    let executions = StdArc::new(Executions::new("legacy index flip (must fail)"));
    let counter = StdArc::clone(&executions);
    builder(3).check(move || {
        counter.tick();
        let cell = Arc::new(LegacyDoubleBuffer::new());
        let writer_cell = Arc::clone(&cell);
        let writer = thread::spawn(move || {
            for k in 1..=3 {
                writer_cell.write(k);
            }
        });
        let [first, second] = cell.read();
        let k = first / 10;
        assert_eq!(
            [first, second],
            [pattern(k, 0), pattern(k, 1)],
            "torn read: words of two different writes"
        );
        writer.join().unwrap();
    });
    drop(executions);
}
