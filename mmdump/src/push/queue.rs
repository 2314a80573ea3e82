//! The bounded queue of request bodies waiting to be sent, and the backoff
//! between failed attempts.
//!
//! Pushing never slows a writer: the writers' files are only read. What
//! must not grow without bound is this process: bodies wait here while the
//! receiver is down, up to a byte budget; past it the oldest bodies are
//! dropped (and counted) so that the newest data gets through first once
//! the receiver is back. Bodies are sent in the order they were taken, so
//! each series' samples reach the receiver in time order, as remote write
//! asks.

use std::collections::VecDeque;
use std::time::Duration;

/// One request body and what it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The Snappy-compressed `WriteRequest`.
    pub body: Vec<u8>,
    /// Samples in it.
    pub samples: usize,
}

/// Request bodies waiting to be sent, at most `max_bytes` of them.
#[derive(Debug)]
pub struct SendQueue {
    batches: VecDeque<Batch>,
    bytes: usize,
    max_bytes: usize,
    dropped_samples: u64,
    dropped_batches: u64,
}

impl SendQueue {
    /// An empty queue holding at most `max_bytes` of bodies (at least one
    /// body is always kept, however large).
    #[must_use]
    pub fn new(max_bytes: usize) -> Self {
        Self {
            batches: VecDeque::new(),
            bytes: 0,
            max_bytes,
            dropped_samples: 0,
            dropped_batches: 0,
        }
    }

    /// Appends `batch`, dropping the oldest bodies while the queue would
    /// exceed its budget.
    pub fn push(&mut self, batch: Batch) {
        self.bytes += batch.body.len();
        self.batches.push_back(batch);
        while self.bytes > self.max_bytes && self.batches.len() > 1 {
            if let Some(old) = self.batches.pop_front() {
                self.bytes -= old.body.len();
                self.dropped_samples += old.samples as u64;
                self.dropped_batches += 1;
            }
        }
    }

    /// The oldest body, to be sent next.
    #[must_use]
    pub fn front(&self) -> Option<&Batch> {
        self.batches.front()
    }

    /// Removes the oldest body (sent, or refused for good).
    pub fn pop(&mut self) -> Option<Batch> {
        let batch = self.batches.pop_front()?;
        self.bytes -= batch.body.len();
        Some(batch)
    }

    /// Bodies waiting.
    #[must_use]
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// Whether nothing waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Bytes of bodies waiting.
    #[must_use]
    pub const fn bytes(&self) -> usize {
        self.bytes
    }

    /// Samples dropped so far because the queue was full.
    #[must_use]
    pub const fn dropped_samples(&self) -> u64 {
        self.dropped_samples
    }

    /// Bodies dropped so far because the queue was full.
    #[must_use]
    pub const fn dropped_batches(&self) -> u64 {
        self.dropped_batches
    }
}

/// Exponential backoff: `first`, doubled after each failure up to `max`,
/// back to `first` after a success. The waits are jittered by up to a
/// quarter (from `seed`, which advances) so that a fleet of pushers that
/// lost the same receiver does not retry in step.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
    seed: u64,
}

impl Backoff {
    /// A backoff from `first` to `max`.
    #[must_use]
    pub fn new(first: Duration, max: Duration, seed: u64) -> Self {
        Self {
            first,
            max: max.max(first),
            next: first,
            seed: seed | 1,
        }
    }

    /// The wait before the next attempt after a failure.
    pub fn failed(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        // xorshift64: enough to spread retries; not for secrets.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let quarter = base / 4;
        let nanos = u64::try_from(quarter.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if nanos == 0 { 0 } else { self.seed % nanos };
        base - quarter + Duration::from_nanos(jitter)
    }

    /// After a success: the next failure waits `first` again.
    pub fn succeeded(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(bytes: usize, samples: usize) -> Batch {
        Batch {
            body: vec![0; bytes],
            samples,
        }
    }

    #[test]
    fn the_oldest_bodies_go_first_when_the_budget_is_spent() {
        let mut q = SendQueue::new(250);
        q.push(batch(100, 10));
        q.push(batch(100, 20));
        assert_eq!((q.len(), q.bytes(), q.dropped_samples()), (2, 200, 0));
        q.push(batch(100, 30));
        assert_eq!((q.len(), q.bytes()), (2, 200));
        assert_eq!((q.dropped_samples(), q.dropped_batches()), (10, 1));
        assert_eq!(q.pop().unwrap().samples, 20);
        assert_eq!(q.pop().unwrap().samples, 30);
        assert!(q.pop().is_none());
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn one_body_larger_than_the_budget_is_still_kept() {
        let mut q = SendQueue::new(10);
        q.push(batch(100, 5));
        assert_eq!(q.len(), 1);
        q.push(batch(100, 6));
        assert_eq!((q.len(), q.front().unwrap().samples), (1, 6));
        assert_eq!(q.dropped_samples(), 5);
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(400), Duration::from_secs(2), 42);
        let waits: Vec<Duration> = (0..5).map(|_| b.failed()).collect();
        let bases = [400, 800, 1600, 2000, 2000];
        for (wait, base) in waits.iter().zip(bases) {
            let base = Duration::from_millis(base);
            assert!(
                *wait <= base && *wait >= base - base / 4,
                "{wait:?} vs {base:?}"
            );
        }
        b.succeeded();
        let again = b.failed();
        assert!(again <= Duration::from_millis(400) && again >= Duration::from_millis(300));
    }
}
