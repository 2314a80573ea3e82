//! Replays every input checked in under `fuzz/corpus/` through the fuzz
//! targets' own checks, on stable, as part of `cargo test --workspace`; and
//! keeps the generated seed inputs in step with the writer.
//!
//! `MMSTATS_WRITE_SEEDS=1 cargo test -p mmstats-fuzz-checks --test fuzz_corpus`
//! rewrites the seeds after a deliberate format change.

use mmstats_fuzz_checks as checks;

use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// Runs `check` on every input of `target`, naming each input that fails.
fn replay(target: &str, mut check: impl FnMut(&[u8])) -> usize {
    let inputs = inputs(target);
    assert!(!inputs.is_empty(), "fuzz/corpus/{target} is empty");
    let mut failed = Vec::new();
    for (path, bytes) in &inputs {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(bytes)));
        if outcome.is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target} fails on: {failed:#?}");
    inputs.len()
}

#[test]
fn region_reader_corpus_replays() {
    let count = replay("region_reader", checks::region_bytes);
    eprintln!("region_reader: {count} inputs");
}

#[test]
fn legacy_reader_corpus_replays() {
    let count = replay("legacy_reader", checks::legacy_bytes);
    eprintln!("legacy_reader: {count} inputs");
}

#[test]
fn writer_ops_corpus_replays_and_covers_every_kind() {
    let mut coverage = checks::Coverage::default();
    let count = replay("writer_ops", |bytes| {
        coverage.merge(&checks::writer_ops(bytes));
    });
    eprintln!("writer_ops: {count} inputs, {coverage:?}");
    assert!(
        coverage.added.iter().all(|&n| n > 0),
        "some kind is never added: {coverage:?}"
    );
    for (what, n) in [
        ("refused adds", coverage.refused),
        ("dynamic fields", coverage.dynamic),
        ("labelled fields read back", coverage.labelled),
        ("reused slots", coverage.reused),
        ("reused value words", coverage.reused_words),
        ("full-region errors on dynamic adds", coverage.full),
        (
            "dynamic closures adding no field or two",
            coverage.not_one_field,
        ),
        ("retired fields", coverage.retired),
        ("stale-entry reads", coverage.stale_reads),
        ("histogram records", coverage.samples[0]),
        ("moving-average samples", coverage.samples[1]),
        ("window-average samples", coverage.samples[2]),
        ("ring appends", coverage.samples[3]),
        ("ring polls", coverage.polls[0]),
        ("ring records delivered", coverage.polls[1]),
        ("ring polls that missed records", coverage.polls[2]),
        ("updates", coverage.updates),
        ("prefix changes", coverage.prefixes),
        ("closes", coverage.closes),
        ("re-creations", coverage.recreates),
    ] {
        assert!(n > 0, "the corpus has no {what}: {coverage:?}");
    }
}

/// The generated seeds: file name and contents.
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let region = checks::seed_region();
    let mut seeds = vec![
        (
            "region_reader",
            "seed-every-kind".to_owned(),
            region.clone(),
        ),
        (
            "region_reader",
            "seed-every-kind-swapped".to_owned(),
            checks::swap_region(&region),
        ),
        (
            "region_reader",
            "seed-labels".to_owned(),
            checks::seed_labelled_region(),
        ),
    ];
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mmstats-std/tests/fixtures/legacy-v1");
    for name in ["web.mmstats", "timers.mmstats", "python-all.mmstats"] {
        let bytes = std::fs::read(fixtures.join(name)).unwrap();
        seeds.push(("legacy_reader", format!("seed-fixture-{name}"), bytes));
    }
    for (n, len) in [(1u64, 64usize), (2, 256), (3, 1024)] {
        let mut bytes = checks::seed_bytes(n, len);
        bytes[0] = 0x02; // structured mode (not the legacy version byte)
        seeds.push(("legacy_reader", format!("seed-records-{n}"), bytes));
    }
    for (n, len) in [(1u64, 32usize), (2, 128), (3, 512), (4, 2048), (5, 4096)] {
        seeds.push((
            "writer_ops",
            format!("seed-ops-{n}"),
            checks::seed_bytes(n, len),
        ));
    }
    seeds
}

#[test]
fn seeds_are_checked_in_and_current() {
    let write = std::env::var_os("MMSTATS_WRITE_SEEDS").is_some();
    for (target, name, bytes) in seeds() {
        let path = corpus_dir(target).join(&name);
        if write {
            std::fs::create_dir_all(corpus_dir(target)).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let stored = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (MMSTATS_WRITE_SEEDS=1 writes the seeds)",
                path.display()
            )
        });
        assert!(
            stored == bytes,
            "{} is stale (MMSTATS_WRITE_SEEDS=1 rewrites it)",
            path.display()
        );
    }
}

#[test]
fn the_checks_catch_what_they_claim_to() {
    // A valid region reads back whole, in either byte order.
    let region = checks::seed_region();
    let image = mmstats_nostd::ByteImage::new(&region);
    let reading = checks::read_everything(&image);
    // Twelve slots: eleven live fields (every kind, two of them in reused
    // slots) and one retired.
    assert_eq!(reading.fields.len(), 12);
    let live: Vec<_> = reading
        .fields
        .iter()
        .filter_map(|f| match f {
            Ok(Some((name, Ok(value), ring))) => Some((name.as_str(), value, ring)),
            Ok(None) => None,
            other => panic!("seed field not read: {other:?}"),
        })
        .collect();
    assert_eq!(live.len(), 11);
    assert!(matches!(reading.fields[11], Ok(None)), "the retired slot");
    let names: Vec<&str> = live.iter().map(|(name, ..)| *name).collect();
    assert_eq!(
        names,
        [
            "seed.hits",
            "seed.temp",
            "seed.ver",
            "seed.lat",
            "seed.load",
            "seed.rtt",
            "seed.last4",
            "seed.per100",
            "seed.events",
            "seed.conn.3.bytes",
            "seed.conn.4.tls",
        ]
    );
    assert_eq!(
        live[9].1,
        &checks::Owned::Counter(99),
        "the reused slot's new field"
    );
    assert_eq!(live[10].1, &checks::Owned::Bool(true));
    let Some(Ok((events, totals))) = live[8].2 else {
        panic!("the ring was not followed: {:?}", live[8].2);
    };
    assert_eq!(
        *totals,
        (4, 0, 6),
        "records 3 to 6 delivered, from the oldest"
    );
    assert!(matches!(
        &events[3],
        checks::OwnedEvent::Record {
            seq: 6,
            payload: checks::OwnedPayload::SpanExit(1),
            ..
        }
    ));
    let swapped = checks::swap_region(&region);
    let swapped_reading = checks::read_everything(&mmstats_nostd::ByteImage::new(&swapped));
    assert_eq!(swapped_reading.fields, reading.fields);
    assert_ne!(swapped, region);
    // A corrupted copy is read differently (errors are data, not panics).
    let mut corrupt = region.clone();
    corrupt[300] ^= 0xFF;
    assert_ne!(
        checks::read_everything(&mmstats_nostd::ByteImage::new(&corrupt)),
        reading
    );
}
