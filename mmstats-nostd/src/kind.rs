//! What a field holds ([`Kind`]) and what it measures ([`Unit`]).

use crate::histogram::HistogramShape;
use crate::layout::{MAX_BUFFERS, MAX_MOVING_SAMPLES, MAX_STRING_CAPACITY, MAX_WINDOW_SLOTS};
use crate::ring::RingShape;

/// The kind of a field: how its value words are laid out and what they mean.
///
/// Codes are stable: new kinds get new codes in a minor version, and a reader
/// skips a code it does not know (the entry still says where the value is).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Kind {
    /// Monotonic `u64` (wraps at 2^64). One word.
    Counter = 1,
    /// Signed `i64`, two's complement. One word.
    Gauge = 2,
    /// IEEE-754 `f64`, its bits in one word.
    Float = 3,
    /// One word: 0 is false, anything else true.
    Bool = 4,
    /// Nanoseconds since the Unix epoch, `u64`; 0 means unset. One word.
    Timestamp = 5,
    /// Bounded UTF-8 string in a latch cell: each copy is a length word
    /// followed by `ceil(capacity / 8)` data words.
    String = 6,
    /// Sum (`f64` bits) and count (`u64`) in a latch cell, read together.
    Average = 7,
    /// Log-linear histogram of `u64` values (format 2.1): count, sum, min,
    /// max and buckets, each an independent word (see [`crate::histogram`]).
    Histogram = 8,
    /// Mean of the last N samples (2.1): sum, count in the window and total
    /// in a latch cell, then the writer's window of N samples.
    MovingAverage = 9,
    /// Mean over a time window (2.1): sum, count, total and the time of the
    /// last update in a latch cell, then the window length and the writer's
    /// sub-windows.
    WindowAverage = 10,
    /// Single-producer ring of fixed-size event records (2.1; see
    /// [`crate::ring`]).
    EventRing = 11,
}

/// How a kind's value is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One word, updated in place.
    Single,
    /// A latch cell: a sequence word and `buffers` copies of `copy_words`.
    Latched {
        /// Words in one copy.
        copy_words: usize,
    },
    /// A block of independent words, each updated in place (`buffers = 1`):
    /// a histogram's summary and buckets, an event ring's records.
    /// `copy_words` is the entry's `copy_words`; the value may be longer.
    Block {
        /// The entry's `copy_words`.
        copy_words: usize,
    },
}

impl Kind {
    /// Every kind this version knows, in code order.
    pub const ALL: [Self; 11] = [
        Self::Counter,
        Self::Gauge,
        Self::Float,
        Self::Bool,
        Self::Timestamp,
        Self::String,
        Self::Average,
        Self::Histogram,
        Self::MovingAverage,
        Self::WindowAverage,
        Self::EventRing,
    ];

    /// The kind with this code, if this version knows it.
    #[must_use]
    pub const fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            1 => Self::Counter,
            2 => Self::Gauge,
            3 => Self::Float,
            4 => Self::Bool,
            5 => Self::Timestamp,
            6 => Self::String,
            7 => Self::Average,
            8 => Self::Histogram,
            9 => Self::MovingAverage,
            10 => Self::WindowAverage,
            11 => Self::EventRing,
            _ => return None,
        })
    }

    /// The code stored in an entry.
    #[must_use]
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The lower-case name used by `mmdump` and its JSON.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Float => "float",
            Self::Bool => "bool",
            Self::Timestamp => "timestamp",
            Self::String => "string",
            Self::Average => "average",
            Self::Histogram => "histogram",
            Self::MovingAverage => "moving_average",
            Self::WindowAverage => "window_average",
            Self::EventRing => "event_ring",
        }
    }

    /// The storage shape of this kind; `param` is the entry's parameter
    /// (a string's capacity in bytes, a histogram's precision and range, an
    /// event ring's capacity and payload words). For a `param` the kind
    /// does not accept, `copy_words` is 0, which no valid entry has.
    #[must_use]
    pub const fn shape(self, param: u64) -> Shape {
        match self {
            Self::Counter | Self::Gauge | Self::Float | Self::Bool | Self::Timestamp => {
                Shape::Single
            }
            Self::String => Shape::Latched {
                copy_words: 1 + (param as usize).div_ceil(8),
            },
            Self::Average => Shape::Latched { copy_words: 2 },
            Self::Histogram => Shape::Block {
                copy_words: match HistogramShape::from_param(param) {
                    Some(shape) => crate::histogram::SUMMARY_WORDS + shape.buckets(),
                    None => 0,
                },
            },
            Self::MovingAverage => Shape::Latched { copy_words: 3 },
            Self::WindowAverage => Shape::Latched { copy_words: 4 },
            Self::EventRing => Shape::Block {
                copy_words: match RingShape::from_param(param) {
                    Some(shape) => shape.record_words(),
                    None => 0,
                },
            },
        }
    }

    /// Checks an entry's `buffers`, `copy_words` and `param` against this
    /// kind (`docs/FORMAT.md` §5.2 and §8) and returns the number of words
    /// the value occupies from `value_offset` (latch cell or block, plus
    /// any words that follow it).
    pub fn check_entry(
        self,
        buffers: usize,
        copy_words: usize,
        param: u64,
    ) -> Result<usize, &'static str> {
        let mismatch = Err("value shape does not match its kind");
        match self {
            Self::String if param > MAX_STRING_CAPACITY as u64 => {
                return Err("string capacity out of range");
            }
            Self::Histogram if HistogramShape::from_param(param).is_none() => {
                return Err("histogram precision or range out of range");
            }
            Self::MovingAverage if param == 0 || param > MAX_MOVING_SAMPLES as u64 => {
                return Err("moving-average window out of range");
            }
            Self::WindowAverage if param == 0 || param > MAX_WINDOW_SLOTS as u64 => {
                return Err("window-average sub-window count out of range");
            }
            Self::EventRing if RingShape::from_param(param).is_none() => {
                return Err("event-ring capacity or record size out of range");
            }
            _ => {}
        }
        let main = match self.shape(param) {
            Shape::Single if buffers == 1 && copy_words == 1 => 1,
            Shape::Latched {
                copy_words: expected,
            } if (2..=MAX_BUFFERS).contains(&buffers) && copy_words == expected => {
                1 + buffers * copy_words
            }
            Shape::Block {
                copy_words: expected,
            } if buffers == 1 && copy_words == expected && expected > 0 => copy_words,
            _ => return mismatch,
        };
        // Bounded: param was checked above, so none of these overflow.
        Ok(main
            + match self {
                Self::MovingAverage => param as usize,
                Self::WindowAverage => 1 + 3 * param as usize,
                Self::EventRing => match RingShape::from_param(param) {
                    Some(shape) => shape.value_words() - copy_words,
                    None => return mismatch,
                },
                _ => 0,
            })
    }
}

/// What a field measures. Codes are stable; a reader shows an unknown code
/// as a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u16)]
pub enum Unit {
    /// No unit (a plain count or number).
    #[default]
    None = 0,
    /// Bytes.
    Bytes = 1,
    /// Seconds.
    Seconds = 2,
    /// Milliseconds.
    Milliseconds = 3,
    /// Microseconds.
    Microseconds = 4,
    /// Nanoseconds.
    Nanoseconds = 5,
    /// A ratio, 1.0 meaning 100%.
    Ratio = 6,
    /// Percent.
    Percent = 7,
    /// Events.
    Events = 8,
    /// Hertz.
    Hertz = 9,
    /// Degrees Celsius.
    Celsius = 10,
    /// Volts.
    Volts = 11,
    /// Amperes.
    Amperes = 12,
    /// Watts.
    Watts = 13,
    /// Bits.
    Bits = 14,
}

impl Unit {
    /// The unit with this code, if this version knows it.
    #[must_use]
    pub const fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            0 => Self::None,
            1 => Self::Bytes,
            2 => Self::Seconds,
            3 => Self::Milliseconds,
            4 => Self::Microseconds,
            5 => Self::Nanoseconds,
            6 => Self::Ratio,
            7 => Self::Percent,
            8 => Self::Events,
            9 => Self::Hertz,
            10 => Self::Celsius,
            11 => Self::Volts,
            12 => Self::Amperes,
            13 => Self::Watts,
            14 => Self::Bits,
            _ => return None,
        })
    }

    /// The code stored in an entry.
    #[must_use]
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The lower-case name used by `mmdump` ("" for [`Unit::None`]).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Bytes => "bytes",
            Self::Seconds => "seconds",
            Self::Milliseconds => "milliseconds",
            Self::Microseconds => "microseconds",
            Self::Nanoseconds => "nanoseconds",
            Self::Ratio => "ratio",
            Self::Percent => "percent",
            Self::Events => "events",
            Self::Hertz => "hertz",
            Self::Celsius => "celsius",
            Self::Volts => "volts",
            Self::Amperes => "amperes",
            Self::Watts => "watts",
            Self::Bits => "bits",
        }
    }

    /// The unit with this name (as [`Unit::name`] spells it).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        (0..=14)
            .filter_map(Self::from_code)
            .find(|unit| unit.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_codes_round_trip_and_unknown_codes_are_none() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(Kind::from_code(0), None);
        assert_eq!(Kind::from_code(12), None);
        assert_eq!(Kind::from_code(u16::MAX), None);
    }

    #[test]
    fn unit_codes_and_names_round_trip() {
        for code in 0..=14 {
            let unit = Unit::from_code(code).unwrap();
            assert_eq!(unit.code(), code);
            assert_eq!(Unit::from_name(unit.name()), Some(unit));
        }
        assert_eq!(Unit::from_code(15), None);
    }

    #[test]
    fn string_shape_rounds_capacity_up_to_words() {
        assert_eq!(Kind::String.shape(0), Shape::Latched { copy_words: 1 });
        assert_eq!(Kind::String.shape(1), Shape::Latched { copy_words: 2 });
        assert_eq!(Kind::String.shape(8), Shape::Latched { copy_words: 2 });
        assert_eq!(Kind::String.shape(9), Shape::Latched { copy_words: 3 });
        assert_eq!(Kind::Counter.shape(99), Shape::Single);
    }

    #[test]
    fn new_kinds_check_their_shape_and_count_trailing_words() {
        let histogram = HistogramShape::new(3, 1000).unwrap();
        let words = 4 + histogram.buckets();
        assert_eq!(
            Kind::Histogram.check_entry(1, words, histogram.param()),
            Ok(words)
        );
        assert!(
            Kind::Histogram
                .check_entry(2, words, histogram.param())
                .is_err()
        );
        assert!(
            Kind::Histogram
                .check_entry(1, words + 1, histogram.param())
                .is_err()
        );
        assert!(Kind::Histogram.check_entry(1, words, 0).is_err());
        assert_eq!(Kind::MovingAverage.check_entry(3, 3, 10), Ok(1 + 9 + 10));
        assert!(Kind::MovingAverage.check_entry(3, 3, 0).is_err());
        assert_eq!(Kind::WindowAverage.check_entry(2, 4, 5), Ok(1 + 8 + 1 + 15));
        let ring = RingShape::new(16, 2).unwrap();
        assert_eq!(
            Kind::EventRing.check_entry(1, 6, ring.param()),
            Ok(8 + 16 * 6)
        );
        assert!(Kind::EventRing.check_entry(1, 5, ring.param()).is_err());
        assert_eq!(Kind::Counter.check_entry(1, 1, 0), Ok(1));
        assert!(Kind::Counter.check_entry(2, 1, 0).is_err());
        assert_eq!(Kind::String.check_entry(2, 2, 8), Ok(5));
        assert!(Kind::String.check_entry(2, 514, 4097).is_err());
    }
}
