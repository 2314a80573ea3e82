//! The cross-process torture test behind the `mmstats-torture` binary.
//!
//! A *writer* process publishes multi-word values (strings of 200 bytes
//! and of the 4096-byte maximum, and averages, each with 2 and with 3
//! latch copies) and rewrites all of them as fast as it can, every value a
//! self-checking pattern of its round number `k`. *Reader* processes map
//! the file read-only, read every value through [`RegionView`] (the public
//! reader of `mmstats-nostd`), and check each one against the pattern its
//! own content names: a value mixing two writes fails the check (it is
//! *torn*). The parent kills the writer with `SIGKILL` in mid-stream, and
//! the readers then check that every value is still readable, consistent,
//! and no longer changes, and that [`mmstats::read_file`] calls the writer
//! dead.
//!
//! Format 2.1 kinds join in: each round also records one value into a
//! histogram and appends one record to an event ring. A ring record's
//! payload is a pattern of its own sequence number (the round), so a torn
//! or misplaced record fails its check; readers follow the ring with a
//! [`RingCursor`] and count what they get and what the writer overwrote
//! first. A histogram's words are independent (FORMAT.md §5.4), so while
//! the writer runs readers check only that its count and bucket total
//! never go back; after the kill (a quiescent point) the count equals the
//! bucket total and the writer's round (or the round before), and the
//! sum, minimum and maximum are exactly those of the values of rounds 1 to
//! count.
//!
//! Readers retry a value themselves (one attempt per
//! [`RegionView::read`] call) so that retries can be counted; like
//! `mmdump` they give up after [`DEFAULT_MAX_TRIES`] attempts.
//!
//! This library holds the patterns and their checks; [`writer`] and
//! [`reader`] hold the two processes' loops, which the `mmstats-torture`
//! binary starts.
//!
//! [`RegionView`]: mmstats_nostd::RegionView
//! [`RegionView::read`]: mmstats_nostd::RegionView::read
//! [`RingCursor`]: mmstats_nostd::RingCursor
//! [`DEFAULT_MAX_TRIES`]: mmstats_nostd::DEFAULT_MAX_TRIES

use mmstats_nostd::Payload;

pub mod reader;
pub mod writer;

pub use reader::{ReaderRunError, ReaderTally, run_reader};
pub use writer::{WriterRunError, run_writer};

/// A text field of the torture test: name, capacity, latch copies.
pub const TEXT_FIELDS: [(&str, usize, u16); 4] = [
    ("torture.text200.b2", 200, 2),
    ("torture.text200.b3", 200, 3),
    ("torture.text4096.b2", 4096, 2),
    ("torture.text4096.b3", 4096, 3),
];
/// An average field of the torture test: name, latch copies.
pub const AVERAGE_FIELDS: [(&str, u16); 2] = [("torture.avg.b2", 2), ("torture.avg.b3", 3)];
/// The counter holding the writer's round number.
pub const ROUND_FIELD: &str = "torture.round";
/// The histogram that gets [`histogram_value_for`] of every round.
pub const HISTOGRAM_FIELD: &str = "torture.histogram";
/// The event ring that gets one record per round, [`ring_payload_for`].
pub const RING_FIELD: &str = "torture.ring";
/// Records the ring holds (readers are lapped now and then).
pub const RING_CAPACITY: usize = 1024;
/// Event id of the ring's records.
pub const RING_EVENT: u32 = 0x7047;

/// A value that does not match the pattern it claims to be part of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Torn {
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Torn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// SplitMix64's output function: a cheap, well-mixed hash of `x`.
#[must_use]
pub const fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The string written in round `k` to a field of `capacity` bytes (at
/// least 32), into `out`: `k` as 16 hex digits, then 8-byte words of
/// printable ASCII (`'0'..='o'`) derived from `k`, the capacity and the
/// word's position, cut to a length between `capacity - 15` and
/// `capacity` that also depends on `k`. Two rounds' words differ with
/// probability 1 - 2^-48, so a copy mixing two writes is caught.
pub fn text_for(k: u64, capacity: usize, out: &mut Vec<u8>) {
    out.clear();
    let len = capacity - (mix(k ^ capacity as u64) % 16) as usize;
    out.extend_from_slice(format!("{k:016x}").as_bytes());
    let base = mix(k) ^ ((capacity as u64) << 48);
    let mut word = 2u64;
    while out.len() < len {
        // Six bits per byte, moved into '0'..='o': printable, one word at
        // a time.
        let bits = (mix(base ^ word) & 0x3F3F_3F3F_3F3F_3F3F) + 0x3030_3030_3030_3030;
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&bits.to_le_bytes()[..take]);
        word += 1;
    }
}

/// Checks a string read from a field of `capacity` bytes against the
/// pattern of the round its first 16 characters name; returns that round.
/// `expected` is scratch space.
pub fn check_text(text: &str, capacity: usize, expected: &mut Vec<u8>) -> Result<u64, Torn> {
    let k = text
        .get(..16)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| Torn {
            reason: format!("string does not start with a round number: {:.40?}", text),
        })?;
    if k == 0 {
        // Round 0 is the initial, empty value; it has no header.
        return Err(Torn {
            reason: "round 0 claimed by a non-empty string".into(),
        });
    }
    text_for(k, capacity, expected);
    if text.as_bytes() == expected.as_slice() {
        Ok(k)
    } else {
        let at = text
            .bytes()
            .zip(expected.iter())
            .position(|(a, &b)| a != b)
            .unwrap_or(text.len().min(expected.len()));
        Err(Torn {
            reason: format!(
                "{capacity}-byte string claims round {k} but differs from it at byte {at} \
                 (length {}, expected {})",
                text.len(),
                expected.len()
            ),
        })
    }
}

/// The value recorded into the histogram in round `k`: spread over many
/// buckets (0 to 2^20).
#[must_use]
pub const fn histogram_value_for(k: u64) -> u64 {
    mix(k) >> 44
}

/// The payload of the ring record appended in round `k` (its sequence
/// number).
#[must_use]
pub const fn ring_payload_for(k: u64) -> [u64; 4] {
    [k, mix(k), !k, k.rotate_left(29) ^ 0x5A5A_5A5A_5A5A_5A5A]
}

/// Checks a ring record: its payload is the pattern of its sequence
/// number.
pub fn check_ring_record(seq: u64, event: u32, payload: &Payload<'_>) -> Result<(), Torn> {
    let expected = ring_payload_for(seq);
    match payload {
        Payload::Values(values) if event == RING_EVENT && *values == expected.as_slice() => Ok(()),
        other => Err(Torn {
            reason: format!("ring record {seq} (event {event:#x}) holds {other:?}"),
        }),
    }
}

/// Count, sum, minimum and maximum of the histogram values of rounds 1 to
/// `rounds`.
#[must_use]
pub fn histogram_summary_for(rounds: u64) -> (u64, u64, u64, u64) {
    (1..=rounds).fold((rounds, 0, u64::MAX, 0), |(n, sum, min, max), k| {
        let v = histogram_value_for(k);
        (n, sum.wrapping_add(v), min.min(v), max.max(v))
    })
}

/// The sum and count written in round `k`.
#[must_use]
pub fn average_for(k: u64) -> (f64, u64) {
    (k as f64 * 1.5, k)
}

/// Checks an average against the pattern of the round its count names;
/// returns that round.
pub fn check_average(sum: f64, count: u64) -> Result<u64, Torn> {
    if average_for(count).0.to_bits() == sum.to_bits() {
        Ok(count)
    } else {
        Err(Torn {
            reason: format!("average sum {sum} does not belong with count {count}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_check_and_name_their_round() {
        let mut bytes = Vec::new();
        let mut scratch = Vec::new();
        for capacity in [200, 4096] {
            for k in [1, 2, 3, 1 << 40, u64::MAX] {
                text_for(k, capacity, &mut bytes);
                let text = std::str::from_utf8(&bytes).unwrap();
                assert!(text.len() <= capacity && text.len() > capacity - 16);
                assert!(text.bytes().all(|b| b.is_ascii_graphic()));
                assert_eq!(check_text(text, capacity, &mut scratch), Ok(k));
            }
        }
        assert_eq!(check_average(7.5, 5), Ok(5));
    }

    #[test]
    fn a_value_mixing_two_writes_is_caught() {
        let (mut one, mut two, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        for capacity in [200, 4096] {
            for (a, b) in [(1, 2), (1, 3), (100, 102), (7, 7 + (1 << 32))] {
                text_for(a, capacity, &mut one);
                text_for(b, capacity, &mut two);
                let (one, two) = (
                    std::str::from_utf8(&one).unwrap(),
                    std::str::from_utf8(&two).unwrap(),
                );
                let n = one.len().min(two.len());
                // Every 8-byte word boundary: the head of one write, the
                // tail of the other (what a torn latch copy would hold).
                for split in (8..n).step_by(8) {
                    if one[..split] == two[..split] {
                        // The heads agree (the high hex digits of the
                        // round): this "mix" is simply the other write.
                        continue;
                    }
                    let mixed = format!("{}{}", &one[..split], &two[split..n]);
                    assert!(
                        check_text(&mixed, capacity, &mut scratch).is_err(),
                        "rounds {a}/{b} split at {split} passed"
                    );
                }
                // The other's length word with this one's bytes.
                if one.len() != two.len() {
                    let cut = &one[..one.len().min(two.len())];
                    if cut.len() != one.len() {
                        assert!(check_text(cut, capacity, &mut scratch).is_err());
                    }
                }
            }
        }
        let (sum, _) = average_for(10);
        assert!(check_average(sum, 11).is_err());
        // A ring record whose payload belongs to another sequence number,
        // or mixes two, is caught.
        let good = ring_payload_for(41);
        assert!(check_ring_record(41, RING_EVENT, &Payload::Values(&good)).is_ok());
        assert!(check_ring_record(42, RING_EVENT, &Payload::Values(&good)).is_err());
        let next = ring_payload_for(42);
        for split in 1..4 {
            let mut mixed = good;
            mixed[split..].copy_from_slice(&next[split..]);
            assert!(check_ring_record(41, RING_EVENT, &Payload::Values(&mixed)).is_err());
        }
        assert!(check_ring_record(41, RING_EVENT + 1, &Payload::Values(&good)).is_err());
        assert!(check_text("not a round", 200, &mut scratch).is_err());
    }
}
