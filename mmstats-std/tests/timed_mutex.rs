//! `TimedMutex`: wait and hold histograms, contention records, poisoning.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use mmstats::timed_mutex::HOLD_SAMPLE;
use mmstats::{Field, FieldValue, HistogramSnapshot, StatsFile};

fn field(stats: &StatsFile, name: &str) -> Field {
    mmstats::read_file(stats.path())
        .unwrap()
        .fields
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

fn histogram(stats: &StatsFile, name: &str) -> HistogramSnapshot {
    match field(stats, name).value {
        FieldValue::Histogram(h) => h,
        other => panic!("{name} is not a histogram: {other:?}"),
    }
}

#[test]
fn uncontended_locks_record_zero_waits_and_a_sample_of_holds() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("lock").dir(dir.path()).create().unwrap();
    let lock = stats.timed_mutex("state", 0u64).unwrap();
    let rounds = 10 * u64::from(HOLD_SAMPLE);
    for _ in 0..rounds {
        *lock.lock() += 1;
    }
    assert_eq!(*lock.lock(), rounds);
    let wait = histogram(&stats, "state.wait_ns");
    assert_eq!(wait.total(), rounds + 1);
    assert_eq!(wait.max_value(), Some(0), "nobody waited");
    // Acquisitions 0, 16, 32, ... are timed: 10 of the first 160, and the
    // 161st is the 11th.
    assert_eq!(histogram(&stats, "state.hold_ns").total(), 11);
    assert_eq!(
        field(&stats, "state.contention").value,
        FieldValue::EventRing {
            appended: 0,
            capacity: 128,
            payload_words: 1
        }
    );
}

#[test]
fn a_contended_lock_records_the_wait_the_hold_and_a_ring_record() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("lock").dir(dir.path()).create().unwrap();
    let lock = Arc::new(stats.timed_mutex("state", ()).unwrap());
    let held = Arc::new(Barrier::new(2));
    let holder = {
        let lock = Arc::clone(&lock);
        let held = Arc::clone(&held);
        std::thread::spawn(move || {
            let _guard = lock.lock();
            held.wait();
            std::thread::sleep(Duration::from_millis(20));
        })
    };
    held.wait();
    drop(lock.lock()); // waits about 20 ms for the holder
    holder.join().unwrap();

    let wait = histogram(&stats, "state.wait_ns");
    assert_eq!(wait.total(), 2);
    assert!(
        wait.max_value().unwrap() >= 10_000_000,
        "waited {:?} ns",
        wait.max_value()
    );
    let hold = histogram(&stats, "state.hold_ns");
    // The holder's hold (sampled: the first acquisition) of 20 ms or more,
    // and the waiter's (timed: it waited).
    assert_eq!(hold.total(), 2);
    assert!(hold.max_value().unwrap() >= 20_000_000);
    let FieldValue::EventRing { appended, .. } = field(&stats, "state.contention").value else {
        panic!("not a ring")
    };
    assert_eq!(appended, 1);
}

#[test]
fn a_panic_while_holding_does_not_poison() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("lock").dir(dir.path()).create().unwrap();
    let lock = Arc::new(stats.timed_mutex("state", 1u32).unwrap());
    let panicker = {
        let lock = Arc::clone(&lock);
        std::thread::spawn(move || {
            let _guard = lock.lock();
            panic!("while holding");
        })
    };
    assert!(panicker.join().is_err());
    *lock.lock() += 1;
    assert_eq!(*lock.lock(), 2);
}
