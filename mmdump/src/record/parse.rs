//! The duration and size options of `record`, `serve` and `trend`
//! (`30s`, `8d`, `64M`).

use std::fmt;
use std::time::Duration;

/// Why a duration or a size option was refused (the text is as given,
/// trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuantityError {
    /// No number where a duration was expected.
    NotADuration {
        /// The text given.
        text: String,
    },
    /// No number where a size was expected.
    NotASize {
        /// The text given.
        text: String,
    },
    /// A duration unit other than ms, s, m, h, d, w.
    UnknownDurationUnit {
        /// The unit given.
        unit: String,
    },
    /// A size unit other than K, M, G.
    UnknownSizeUnit {
        /// The unit given (upper-cased, without `B`/`iB`).
        unit: String,
    },
    /// Negative, or beyond 1e10 seconds or 1e15 bytes.
    OutOfRange {
        /// The text given.
        text: String,
    },
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotADuration { text } => {
                write!(f, "{text:?} is not a duration (such as 30s, 5m, 2h, 8d)")
            }
            Self::NotASize { text } => write!(f, "{text:?} is not a size (such as 512K, 64M, 1G)"),
            Self::UnknownDurationUnit { unit } => {
                write!(f, "unknown duration unit {unit:?} (ms, s, m, h, d, w)")
            }
            Self::UnknownSizeUnit { unit } => write!(f, "unknown size unit {unit:?} (K, M, G)"),
            Self::OutOfRange { text } => write!(f, "{text:?} is out of range"),
        }
    }
}

impl std::error::Error for QuantityError {}

/// `text` trimmed, and split into its number (digits and dots) and the
/// unit after it.
fn split_quantity(text: &str) -> (&str, &str, &str) {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    (text, number, unit)
}

/// Parses a duration: a number with `ms`, `s`, `m`, `h`, `d` or `w`
/// (`500ms`, `30s`, `5m`, `2h`, `8d`, `1w`); a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, QuantityError> {
    let (text, number, unit) = split_quantity(text);
    let value: f64 = number
        .parse()
        .map_err(|_| QuantityError::NotADuration { text: text.into() })?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        "w" => value * 7.0 * 86_400.0,
        other => {
            return Err(QuantityError::UnknownDurationUnit { unit: other.into() });
        }
    };
    if !seconds.is_finite() || !(0.0..=1e10).contains(&seconds) {
        return Err(QuantityError::OutOfRange { text: text.into() });
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a size: a number with `K`, `M` or `G` (powers of 1024,
/// optionally followed by `B` or `iB`); a bare number is bytes.
pub fn parse_size(text: &str) -> Result<u64, QuantityError> {
    let (text, number, unit) = split_quantity(text);
    let value: f64 = number
        .parse()
        .map_err(|_| QuantityError::NotASize { text: text.into() })?;
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit.trim_end_matches("IB").trim_end_matches('B');
    let factor = match unit {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(QuantityError::UnknownSizeUnit { unit: other.into() }),
    };
    let bytes = value * factor;
    if !bytes.is_finite() || !(0.0..=1e15).contains(&bytes) {
        return Err(QuantityError::OutOfRange { text: text.into() });
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("3X").is_err());
    }
}
