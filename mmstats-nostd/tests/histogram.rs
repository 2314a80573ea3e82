//! Histograms through a region: the quantiles a reader computes are within
//! the stated relative error of the exact (nearest-rank) quantiles of known
//! data, at several precisions and for several distributions; the summary
//! (count, sum, min, max, mean) is exact.

mod common;

use common::{Rng, words};
use mmstats_nostd::{
    DEFAULT_MAX_TRIES, FieldSpec, HistogramShape, Region, RegionOptions, RegionView, Value,
};

const QUANTILES: [f64; 9] = [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0];

/// The exact nearest-rank quantile: the value of rank `ceil(q·n)` (at
/// least 1) in sorted order.
fn exact(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn datasets() -> Vec<(&'static str, Vec<u64>)> {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    // Fewer values under miri, which interprets every access; the error
    // bound holds for any data.
    let n = if cfg!(miri) { 200 } else { 100_000 };
    let uniform = (0..n).map(|_| rng.next() % 1_000_000).collect();
    // Log-uniform from 1 ns to one hour: every octave of the range.
    let log_uniform = (0..n)
        .map(|_| {
            let unit = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            (unit * (3.6e12f64).ln()).exp() as u64
        })
        .collect();
    // Latencies: 90 % near 100 µs, 10 % near 50 ms, a few 2 s outliers.
    let bimodal = (0..n)
        .map(|i| {
            let jitter = rng.next() % 20_000;
            match i % 1000 {
                0 => 2_000_000_000 + jitter,
                1..=100 => 50_000_000 + jitter * 100,
                _ => 90_000 + jitter,
            }
        })
        .collect();
    let small = (0..n).map(|_| rng.next() % 40).collect();
    let constant = vec![123_456_789; n.min(1000)];
    vec![
        ("uniform 0..1e6", uniform),
        ("log-uniform 1ns..1h", log_uniform),
        ("bimodal latencies", bimodal),
        ("small integers", small),
        ("constant", constant),
    ]
}

/// Records `data` into a histogram of `precision` bits in a region, reads
/// it back through a `RegionView`, and returns the worst relative error of
/// the quantiles.
fn worst_error(precision: u8, data: &[u64]) -> f64 {
    // One entry and room for the largest histogram here (8,964 words at 8
    // bits, 1,220 at 5): miri interprets every word the region has, so no
    // more than the precision needs.
    let memory = words(if precision <= 5 { 2 * 1024 } else { 16 * 1024 });
    let options = RegionOptions {
        table_capacity: 1,
        ..RegionOptions::default()
    };
    let mut region = Region::create(&memory, &options).unwrap();
    let histogram = region
        .histogram(FieldSpec::new("latency").precision(precision))
        .unwrap();
    for &value in data {
        histogram.record(value);
    }
    let view = RegionView::open(&memory[..]).unwrap();
    let entry = view.entry(0).unwrap().unwrap();
    let mut scratch = vec![0u64; entry.scratch_words()];
    let Value::Histogram(snapshot) = view.read(&entry, &mut scratch, DEFAULT_MAX_TRIES).unwrap()
    else {
        panic!("not a histogram");
    };
    let mut sorted = data.to_vec();
    sorted.sort_unstable();
    assert_eq!(snapshot.count, data.len() as u64);
    assert_eq!(snapshot.total(), data.len() as u64);
    assert_eq!(snapshot.sum, data.iter().sum::<u64>());
    assert_eq!(snapshot.min_value(), sorted.first().copied());
    assert_eq!(snapshot.max_value(), sorted.last().copied());
    let mean = data.iter().map(|&v| v as f64).sum::<f64>() / data.len() as f64;
    assert!((snapshot.mean().unwrap() - mean).abs() <= mean * 1e-12);
    let bound = snapshot.shape.relative_error();
    let mut worst = 0.0f64;
    for q in QUANTILES {
        let want = exact(&sorted, q);
        let got = snapshot.quantile(q).unwrap();
        let error = if want == 0 {
            assert_eq!(got, 0, "q={q}");
            0.0
        } else {
            (got as f64 - want as f64).abs() / want as f64
        };
        assert!(
            error <= bound,
            "precision {precision}, q={q}: got {got}, exact {want}, error {error} > bound {bound}"
        );
        worst = worst.max(error);
    }
    worst
}

#[test]
fn quantiles_are_within_the_stated_error_of_exact_quantiles() {
    // Under miri the two smallest precisions (a read copies every bucket
    // word through the latch and a quantile scans them all, and miri
    // interprets each step: precision 5 alone took more than ten minutes).
    let precisions: &[u8] = if cfg!(miri) {
        &[2, 3]
    } else {
        &[2, 3, 5, 7, 8]
    };
    for &precision in precisions {
        let bound = HistogramShape::new(precision, 3_600_000_000_000)
            .unwrap()
            .relative_error();
        let mut worst = 0.0f64;
        for (name, data) in datasets() {
            let error = worst_error(precision, &data);
            println!("precision {precision:2} {name:22} worst error {error:.6} (bound {bound:.6})");
            worst = worst.max(error);
        }
        println!(
            "precision {precision:2}: worst measured {:.4} % against a bound of {:.4} %",
            worst * 100.0,
            bound * 100.0
        );
        // The bound is tight enough to matter: the data does get near it.
        if precision <= 5 {
            assert!(worst > bound / 8.0, "test data too easy for p={precision}");
        }
    }
}

#[test]
fn values_past_the_range_are_counted_and_bound_by_the_maximum() {
    let memory = words(8192);
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    let histogram = region
        .histogram(FieldSpec::new("h").precision(3).highest(1000))
        .unwrap();
    for value in [10, 20, 30, 5_000_000] {
        histogram.record(value);
    }
    let view = RegionView::open(&memory[..]).unwrap();
    let entry = view.entry(0).unwrap().unwrap();
    assert_eq!(entry.histogram_shape().unwrap().highest(), 1023);
    let mut scratch = vec![0u64; entry.scratch_words()];
    let Value::Histogram(snapshot) = view.read(&entry, &mut scratch, 1).unwrap() else {
        panic!();
    };
    assert_eq!(snapshot.quantile(1.0), Some(5_000_000));
    assert_eq!(snapshot.quantile(0.5), Some(20));
    assert_eq!(snapshot.count, 4);
}

#[test]
fn histogram_parameters_are_checked() {
    let memory = words(8192);
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    for spec in [
        FieldSpec::new("h").precision(0),
        FieldSpec::new("h").precision(13),
        FieldSpec::new("h").precision(12).highest(u64::MAX),
    ] {
        assert!(matches!(
            region.histogram(spec),
            Err(mmstats_nostd::AddFieldError::InvalidParameter { .. })
        ));
    }
    // A region too small for the buckets: a typed error, nothing written.
    let small = words(512);
    let mut region = Region::create(&small, &RegionOptions::default()).unwrap();
    assert!(matches!(
        region.histogram("h"),
        Err(mmstats_nostd::AddFieldError::DataFull { .. })
    ));
    assert_eq!(region.field_count(), 0);
}

#[test]
fn a_reader_during_recording_sees_counts_that_never_go_backwards() {
    let memory = words(16 * 1024);
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    let histogram = region.histogram(FieldSpec::new("h").precision(4)).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let done = &done;
    std::thread::scope(|scope| {
        // The histogram moves to its one writer thread (it is not Sync).
        scope.spawn(move || {
            let mut rng = Rng(7);
            for _ in 0..if cfg!(miri) { 500 } else { 2_000_000 } {
                histogram.record(rng.next() % 100_000);
            }
            done.store(true, std::sync::atomic::Ordering::Release);
        });
        let view = RegionView::open(&memory[..]).unwrap();
        let entry = view.entry(0).unwrap().unwrap();
        let mut scratch = vec![0u64; entry.scratch_words()];
        let mut previous = vec![0u64; entry.scratch_words()];
        let mut snapshots = 0;
        // Under miri (every load interpreted) ten snapshots taken while the
        // writer records are enough; natively, as many as fit.
        let enough = |snapshots: u32| cfg!(miri) && snapshots >= 10;
        while !done.load(std::sync::atomic::Ordering::Acquire) && !enough(snapshots) {
            let Value::Histogram(snapshot) = view.read(&entry, &mut scratch, 1).unwrap() else {
                panic!();
            };
            // Every word is one the writer stored: bucket counts and the
            // count only grow; the snapshot's quantiles come from its own
            // bucket total.
            if snapshot.total() > 0 {
                let median = snapshot.quantile(0.5).unwrap();
                assert!(median < 100_000 + 100_000 / 16);
            }
            let _ = snapshot;
            for (now, before) in scratch[4..].iter().zip(&previous[4..]) {
                assert!(now >= before);
            }
            assert!(scratch[0] >= previous[0]);
            previous.copy_from_slice(&scratch);
            snapshots += 1;
        }
        assert!(snapshots > 0);
    });
}
