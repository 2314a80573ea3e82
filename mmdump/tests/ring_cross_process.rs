//! A writer in another process appends to an event ring at full speed;
//! this process follows it and checks every record's sequence number and
//! content, and that delivered + missed is exactly what the writer
//! appended. Then `mmdump tail` reads the ring from a third process.
//!
//! Runs under a watchdog: after 120 s the writer is killed and the test
//! fails. No test harness (`harness = false`): the same binary is the
//! writer when `MMSTATS_TEST_RING_WRITER_DIR` is set.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mmdump::tail::{Follower, Start, TailEvent, TailOptions, TailPayload};
use mmstats::{FieldSpec, FieldValue, StatsFile, read_file};

mod mmdump_common;

const WRITER_ENV: &str = "MMSTATS_TEST_RING_WRITER_DIR";
const RECORDS: u64 = 2_000_000;
const CAPACITY: usize = 1024;

const WATCHDOG: Duration = Duration::from_secs(120);

/// What record `seq` carries: its event id and payload.
fn expected(seq: u64) -> (u32, [u64; 3]) {
    (
        (seq % 1000) as u32,
        [seq, seq.wrapping_mul(0x9E37_79B9_7F4A_7C15), !seq],
    )
}

/// The writer process: appends `RECORDS` records as fast as it can, then
/// sets `done` and keeps the file until its stdin closes.
fn writer(dir: &Path) {
    let file = StatsFile::builder("ringwriter")
        .dir(dir)
        .size(1 << 20)
        .table_capacity(16)
        .create()
        .unwrap();
    let ring = file
        .event_ring(FieldSpec::new("events").capacity(CAPACITY).payload_words(3))
        .unwrap();
    let done = file.flag("done").unwrap();
    println!("{} {}", file.path().display(), mmstats::os::tid());
    std::io::stdout().flush().unwrap();
    for seq in 1..=RECORDS {
        let (event, payload) = expected(seq);
        ring.event(event, &payload);
    }
    done.set(true);
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
}

fn main() {
    if let Some(dir) = std::env::var_os(WRITER_ENV) {
        writer(Path::new(&dir));
        return;
    }
    print!("test a_follower_in_another_process_checks_every_record ... ");
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(WRITER_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    mmdump_common::kill_after(child.id(), WATCHDOG, "writer");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let (path, tid) = line.trim().rsplit_once(' ').unwrap();
    let (path, tid): (PathBuf, u64) = (path.into(), tid.parse().unwrap());

    let mut follower = Follower::new(TailOptions {
        paths: vec![path.clone()],
        start: Start::First,
        ..TailOptions::default()
    });
    let (mut last, mut delivered, mut missed, mut gaps, mut polls) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut last_time = 0;
    let started = Instant::now();
    loop {
        follower.poll(&mut |event| match event {
            TailEvent::Record(record) => {
                assert_eq!(record.seq, last + 1, "records arrive in sequence");
                last = record.seq;
                let (event, payload) = expected(record.seq);
                assert_eq!(record.event, event, "record {}", record.seq);
                assert_eq!(
                    record.payload,
                    TailPayload::Values(payload.to_vec()),
                    "record {} is torn",
                    record.seq
                );
                assert_eq!(record.thread, tid);
                assert!(record.timestamp_ns >= last_time, "time went back");
                last_time = record.timestamp_ns;
                delivered += 1;
            }
            TailEvent::Missed { count, .. } => {
                assert!(count > 0);
                last += count;
                missed += count;
                gaps += 1;
            }
            other => panic!("unexpected {other:?}"),
        });
        polls += 1;
        if last == RECORDS {
            break;
        }
        if polls % 1000 == 0 {
            // The writer is done and everything it appended is accounted
            // for, or we are still catching up.
            let done = read_file(&path)
                .unwrap()
                .fields
                .iter()
                .any(|f| f.name == "done" && f.value == FieldValue::Bool(true));
            assert!(!done || last <= RECORDS);
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(delivered + missed, RECORDS, "every record accounted for");
    assert!(delivered >= CAPACITY as u64, "at least the last ring-full");
    let totals = follower.totals();
    assert_eq!((totals.records, totals.missed), (delivered, missed));

    // A third process, `mmdump tail --once`, sees the last ring-full.
    let output = Command::new(env!("CARGO_BIN_EXE_mmdump"))
        .args(["tail", "--once", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let seqs: Vec<u64> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|line| line["type"] == "record")
        .map(|line| line["seq"].as_u64().unwrap())
        .collect();
    let expected_seqs: Vec<u64> = (RECORDS - CAPACITY as u64 + 1..=RECORDS).collect();
    assert_eq!(seqs, expected_seqs);

    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "writer exited with {status}");
    println!("ok");
    println!(
        "  {RECORDS} records in another process: {delivered} delivered and checked, \
         {missed} missed in {gaps} gaps, {polls} polls, {elapsed:.2?}"
    );
}
