//! What a field holds ([`Kind`]) and what it measures ([`Unit`]).

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
}

impl Kind {
    /// Every kind this version knows, in code order.
    pub const ALL: [Self; 7] = [
        Self::Counter,
        Self::Gauge,
        Self::Float,
        Self::Bool,
        Self::Timestamp,
        Self::String,
        Self::Average,
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
        }
    }

    /// The storage shape of this kind; `param` is the entry's parameter
    /// (a string's capacity in bytes).
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
        }
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
        assert_eq!(Kind::from_code(8), None);
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
}
