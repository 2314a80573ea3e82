//! Rounds: every case measured once per round, the rounds interleaved
//! (every case of round 1, then every case of round 2, ...), so that the
//! drift of a shared machine falls on every case alike; a ratio is taken
//! within each round and reported as min / median / max over the rounds.
//! Also what the report says about the machine: CPU model, logical CPUs
//! and the load average.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::{Case, measure};

/// Minimum, median and maximum of a set of per-round values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Smallest value.
    pub min: f64,
    /// Median (the upper one for an even count).
    pub median: f64,
    /// Largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` if there are none.
    #[must_use]
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        Some(Self {
            min: *sorted.first()?,
            median: sorted[sorted.len() / 2],
            max: *sorted.last()?,
        })
    }

    /// The spread of `numerator[i] / denominator[i]`, round by round.
    #[must_use]
    pub fn of_ratios(numerator: &[f64], denominator: &[f64]) -> Option<Self> {
        let ratios: Vec<f64> = numerator
            .iter()
            .zip(denominator)
            .map(|(n, d)| n / d)
            .collect();
        Self::of(&ratios)
    }

    /// `median (min-max)` with `decimals` decimals.
    #[must_use]
    pub fn show(&self, decimals: usize) -> String {
        format!(
            "{:.*} ({:.*}-{:.*})",
            decimals, self.median, decimals, self.min, decimals, self.max
        )
    }
}

impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.show(2))
    }
}

/// Per case, the median ns/op of each round, in the order measured.
#[derive(Clone, Debug, Default)]
pub struct Rounds {
    /// Case names in the order given.
    pub order: Vec<String>,
    /// Case name to its per-round ns/op.
    pub ns: BTreeMap<String, Vec<f64>>,
    /// Rounds measured.
    pub rounds: usize,
}

impl Rounds {
    /// Per-round ns/op of `name`.
    #[must_use]
    pub fn per_round(&self, name: &str) -> Option<&[f64]> {
        self.ns.get(name).map(Vec::as_slice)
    }

    /// Spread of the ns/op of `name` over the rounds.
    #[must_use]
    pub fn spread(&self, name: &str) -> Option<Spread> {
        Spread::of(self.per_round(name)?)
    }

    /// Spread over the rounds of `name / base`, taken within each round.
    #[must_use]
    pub fn ratio(&self, name: &str, base: &str) -> Option<Spread> {
        Spread::of_ratios(self.per_round(name)?, self.per_round(base)?)
    }
}

/// Measures every case `rounds` times (at least once), round after round,
/// each time for `budget` (see [`measure`]); `progress` gets the case name
/// before each measurement.
pub fn measure_rounds(
    cases: &mut [Case],
    rounds: usize,
    budget: Duration,
    mut progress: impl FnMut(usize, &str),
) -> Rounds {
    let rounds = rounds.max(1);
    let mut result = Rounds {
        order: cases.iter().map(|c| c.name.clone()).collect(),
        ns: BTreeMap::new(),
        rounds,
    };
    for round in 0..rounds {
        for case in cases.iter_mut() {
            progress(round, &case.name);
            let timing = measure(&mut case.run, budget);
            result
                .ns
                .entry(case.name.clone())
                .or_default()
                .push(timing.median_ns);
        }
    }
    result
}

/// The machine a report ran on.
#[derive(Clone, Debug)]
pub struct Machine {
    /// `model name` of `/proc/cpuinfo`, or "unknown CPU".
    pub cpu_model: String,
    /// CPUs this process may run on.
    pub logical_cpus: usize,
    /// Distinct (physical id, core id) pairs of `/proc/cpuinfo` (0: unknown).
    pub cores: usize,
}

impl Machine {
    /// Reads `/proc/cpuinfo` and the CPUs available.
    #[must_use]
    pub fn this() -> Self {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let value = |line: &str| line.split_once(':').map(|(_, v)| v.trim().to_owned());
        let cpu_model = info
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(value)
            .unwrap_or_else(|| "unknown CPU".into());
        let mut cores = std::collections::BTreeSet::new();
        let mut physical = String::new();
        for line in info.lines() {
            if line.starts_with("physical id") {
                physical = value(line).unwrap_or_default();
            } else if line.starts_with("core id") {
                cores.insert((physical.clone(), value(line).unwrap_or_default()));
            }
        }
        Self {
            cpu_model,
            logical_cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cores: cores.len(),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} logical CPUs, {} cores), {} {}",
            self.cpu_model,
            self.logical_cpus,
            if self.cores == 0 {
                "?".to_owned()
            } else {
                self.cores.to_string()
            },
            std::env::consts::OS,
            std::env::consts::ARCH
        )
    }
}

/// The 1, 5 and 15 minute load averages of `/proc/loadavg`, as written
/// there; "unknown" where there is none.
#[must_use]
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_min_median_max() {
        let spread = Spread::of(&[3.0, 1.0, 2.0, f64::NAN]).unwrap();
        assert_eq!((spread.min, spread.median, spread.max), (1.0, 2.0, 3.0));
        assert_eq!(spread.show(1), "2.0 (1.0-3.0)");
        assert!(Spread::of(&[]).is_none());
    }

    #[test]
    fn ratios_are_taken_round_by_round() {
        let spread = Spread::of_ratios(&[2.0, 9.0, 4.0], &[1.0, 3.0, 4.0]).unwrap();
        assert_eq!((spread.min, spread.median, spread.max), (1.0, 2.0, 3.0));
    }

    #[test]
    fn every_case_is_measured_once_per_round_in_order() {
        let mut seen = Vec::new();
        let mut cases = vec![Case::each("t", "a", || {}), Case::each("t", "b", || {})];
        let rounds = measure_rounds(&mut cases, 2, Duration::from_millis(1), |round, name| {
            seen.push(format!("{round}{name}"));
        });
        assert_eq!(seen, ["0a", "0b", "1a", "1b"]);
        assert_eq!(rounds.per_round("a").unwrap().len(), 2);
        assert!(rounds.ratio("a", "b").is_some());
        assert!(rounds.ratio("a", "missing").is_none());
    }
}
