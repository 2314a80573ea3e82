//! Values as text: counts with separators, quantities scaled to their unit,
//! and the kinds that take more than a number to show (format 2.1): a
//! histogram as its count, rate and quantiles, moving and window averages
//! as their mean, an event ring as how far it got. (Their JSON is in
//! `dump::json`.)
//!
//! ```
//! use mmdump::value_text::{format_count, format_quantity};
//! assert_eq!(format_quantity(1_234_567.0, "nanoseconds"), "1.23ms");
//! assert_eq!(format_quantity(2048.0, "bytes"), "2KiB");
//! assert_eq!(format_count(1_048_576), "1,048,576");
//! ```

use mmstats::histogram::{HistogramSnapshot, SHOWN_QUANTILES};
use mmstats::{FieldValue, FileStats};

/// Seconds since a format-2 file was created (for rates over its life).
#[must_use]
pub fn file_age_secs(file: &FileStats) -> Option<f64> {
    let created = file.region.as_ref()?.created_ns;
    (created != 0).then(|| mmstats::os::now_ns().saturating_sub(created) as f64 / 1e9)
}

/// `1,048,576`: an integer with thousands separators.
#[must_use]
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Three significant digits, no trailing zeros: `1.23`, `12.3`, `123`,
/// `1230`.
fn three_digits(value: f64) -> String {
    let magnitude = value.abs();
    let decimals = if magnitude >= 100.0 || magnitude == 0.0 {
        0
    } else if magnitude >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A value in its unit, scaled for people: durations as `ns`, `µs`, `ms`,
/// `s`; bytes as `B`, `KiB`, `MiB`, `GiB`, `TiB`; anything else as a
/// number (three significant digits, or exact below 10 000).
#[must_use]
pub fn format_quantity(value: f64, unit: &str) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let nanos_per_unit = match unit {
        "nanoseconds" => Some(1.0),
        "microseconds" => Some(1e3),
        "milliseconds" => Some(1e6),
        "seconds" => Some(1e9),
        _ => None,
    };
    if let Some(scale) = nanos_per_unit {
        let ns = value * scale;
        let (amount, suffix) = match ns.abs() {
            n if n < 1e3 => (ns, "ns"),
            n if n < 1e6 => (ns / 1e3, "µs"),
            n if n < 1e9 => (ns / 1e6, "ms"),
            _ => (ns / 1e9, "s"),
        };
        return format!("{}{suffix}", three_digits(amount));
    }
    if unit == "bytes" {
        let mut amount = value;
        for suffix in ["B", "KiB", "MiB", "GiB"] {
            if amount.abs() < 1024.0 {
                return format!("{}{suffix}", three_digits(amount));
            }
            amount /= 1024.0;
        }
        return format!("{}TiB", three_digits(amount));
    }
    if value.fract() == 0.0 && value.abs() < 10_000.0 {
        format!("{value}")
    } else if value.abs() >= 1e6 {
        format!("{value:.3e}")
    } else {
        three_digits(value)
    }
}

/// `n=1,234 (41.2/s) mean=1.2ms p50=1.1ms p90=2ms p99=4.9ms p99.9=5ms
/// max=5.1ms`: count, rate over `elapsed_secs` (the file's age, when
/// known), mean and quantiles in `unit`.
#[must_use]
pub fn histogram_text(
    histogram: &HistogramSnapshot,
    unit: &str,
    elapsed_secs: Option<f64>,
) -> String {
    let mut out = format!("n={}", format_count(histogram.count));
    if let Some(secs) = elapsed_secs.filter(|secs| *secs > 0.0) {
        out.push_str(&format!(
            " ({}/s)",
            three_digits(histogram.count as f64 / secs)
        ));
    }
    let (Some(mean), Some(min), Some(max)) = (
        histogram.mean(),
        histogram.min_value(),
        histogram.max_value(),
    ) else {
        return out;
    };
    out.push_str(&format!(
        " mean={} min={}",
        format_quantity(mean, unit),
        format_quantity(min as f64, unit)
    ));
    for (name, q) in SHOWN_QUANTILES {
        if let Some(value) = histogram.quantile(q) {
            out.push_str(&format!(" {name}={}", format_quantity(value as f64, unit)));
        }
    }
    out.push_str(&format!(" max={}", format_quantity(max as f64, unit)));
    out
}

/// How `mmdump` shows a value of a 2.1 kind (`None` for the other kinds,
/// which `dump::display_value` handles). `elapsed_secs` is the file's age,
/// for a histogram's rate.
#[must_use]
pub fn value_text(value: &FieldValue, unit: &str, elapsed_secs: Option<f64>) -> Option<String> {
    Some(match value {
        FieldValue::Histogram(histogram) => histogram_text(histogram, unit, elapsed_secs),
        FieldValue::MovingAverage {
            sum, count, window, ..
        } => {
            if *count == 0 {
                "no samples".to_owned()
            } else {
                format!(
                    "{} (mean of the last {count} of {window})",
                    format_quantity(sum / *count as f64, unit)
                )
            }
        }
        FieldValue::WindowAverage {
            sum,
            count,
            as_of,
            window,
            ..
        } => {
            // The std writer's clock is CLOCK_MONOTONIC, shared by every
            // process of the machine: an old `as_of` means no samples and
            // no ticks since, so the window may hold fewer samples now.
            let over = format_quantity(*window as f64, "nanoseconds");
            let age = mmstats::os::monotonic_ns().saturating_sub(*as_of);
            let stale = if *as_of != 0 && age > *window {
                format!(", as of {} ago", format_quantity(age as f64, "nanoseconds"))
            } else {
                String::new()
            };
            if *count == 0 {
                format!("no samples in the last {over}{stale}")
            } else {
                format!(
                    "{} (mean of {} in the last {over}{stale})",
                    format_quantity(sum / *count as f64, unit),
                    format_count(*count)
                )
            }
        }
        FieldValue::EventRing {
            appended, capacity, ..
        } => format!(
            "{} events (ring of {}; follow with `mmdump tail`)",
            format_count(*appended),
            format_count(*capacity)
        ),
        _ => return None,
    })
}

/// A histogram of `values` (precision 5), for tests.
#[cfg(test)]
pub(crate) fn test_histogram(values: &[u64]) -> HistogramSnapshot {
    let shape = mmstats_nostd::HistogramShape::new(5, 1 << 40).unwrap();
    let mut h = HistogramSnapshot::empty(shape);
    for &v in values {
        h.buckets[shape.index_of(v)] += 1;
        h.count += 1;
        h.sum += v;
        h.min = h.min.min(v);
        h.max = h.max.max(v);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_separators() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(1_024), "1,024");
        assert_eq!(format_count(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn quantities_are_scaled_to_their_unit() {
        assert_eq!(format_quantity(999.0, "nanoseconds"), "999ns");
        assert_eq!(format_quantity(1500.0, "nanoseconds"), "1.5µs");
        assert_eq!(format_quantity(2.5e9, "nanoseconds"), "2.5s");
        assert_eq!(format_quantity(0.0125, "seconds"), "12.5ms");
        assert_eq!(format_quantity(3.0, "milliseconds"), "3ms");
        assert_eq!(format_quantity(1023.0, "bytes"), "1023B");
        assert_eq!(format_quantity(1.5 * 1024.0 * 1024.0, "bytes"), "1.5MiB");
        assert_eq!(format_quantity(42.0, ""), "42");
        assert_eq!(format_quantity(1.23456, ""), "1.23");
        assert_eq!(format_quantity(12_345_678.0, "cycles"), "1.235e7");
        assert_eq!(format_quantity(f64::NAN, ""), "NaN");
    }

    #[test]
    fn histograms_show_count_rate_and_quantiles() {
        let values: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        let text = histogram_text(&test_histogram(&values), "nanoseconds", Some(10.0));
        assert!(
            text.starts_with("n=1,000 (100/s) mean=500µs min=1µs p50="),
            "{text}"
        );
        assert!(text.contains(" p99.9="), "{text}");
        assert!(text.ends_with(" max=1ms"), "{text}");
        assert_eq!(histogram_text(&test_histogram(&[]), "", None), "n=0");
    }

    #[test]
    fn rings_and_averages_have_text() {
        let ring = FieldValue::EventRing {
            appended: 2048,
            capacity: 1024,
            payload_words: 4,
        };
        assert!(
            value_text(&ring, "", None)
                .unwrap()
                .starts_with("2,048 events")
        );
        let moving = FieldValue::MovingAverage {
            sum: 30.0,
            count: 3,
            total: 9,
            window: 3,
        };
        assert_eq!(
            value_text(&moving, "milliseconds", None).unwrap(),
            "10ms (mean of the last 3 of 3)"
        );
        assert_eq!(value_text(&FieldValue::Counter(1), "", None), None);
        let window = FieldValue::WindowAverage {
            sum: 0.0,
            count: 0,
            total: 0,
            as_of: 0,
            window: 60_000_000_000,
        };
        assert_eq!(
            value_text(&window, "", None).unwrap(),
            "no samples in the last 60s"
        );
    }
}
