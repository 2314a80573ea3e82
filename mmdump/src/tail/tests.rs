//! The follower, its rendering, archives and the run loop, on real
//! stats files.

use super::*;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use mmstats::{FieldSpec, StatsFile};

use crate::dump::display_name;
use crate::dump::select::Selection;
use serde_json::Value as Json;

fn follow(path: &Path, options: TailOptions) -> Follower {
    Follower::new(TailOptions {
        paths: vec![path.to_owned()],
        ..options
    })
}

fn poll(follower: &mut Follower) -> Vec<TailEvent> {
    let mut events = Vec::new();
    follower.poll(&mut |event| events.push(event));
    events
}

fn records(events: &[TailEvent]) -> Vec<(u64, TailPayload)> {
    events
        .iter()
        .filter_map(|event| match event {
            TailEvent::Record(record) => Some((record.seq, record.payload.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_ring_is_its_name_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("t").dir(dir.path()).create().unwrap();
    let rings: Vec<_> = ["7", "8"]
        .into_iter()
        .map(|conn| {
            let view = stats.with_labels(&[("conn", conn)]).unwrap();
            let ring = view.event_ring("events").unwrap();
            ring.event(conn.parse().unwrap(), &[1]);
            ring
        })
        .collect();
    let selection = Selection {
        include: vec![crate::glob::NamePattern::new("events{conn=8}")],
        ..Selection::everything()
    };
    let mut all = follow(&stats.path(), TailOptions::default());
    let events = poll(&mut all);
    let shown: Vec<(u32, String)> = events
        .iter()
        .filter_map(|event| match event {
            TailEvent::Record(record) => {
                Some((record.event, display_name(&record.ring, &record.labels)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        shown,
        [
            (7, r#"events{conn="7"}"#.to_owned()),
            (8, r#"events{conn="8"}"#.to_owned())
        ]
    );
    let text = format_text(&events[0], false).unwrap();
    assert!(text.contains(r#".mmstats:events{conn="7"} #1 "#), "{text}");
    let json = to_json(&events[0]);
    assert_eq!(json["ring"], "events");
    assert_eq!(json["labels"], serde_json::json!({"conn": "7"}));
    let mut one = follow(
        &stats.path(),
        TailOptions {
            selection,
            ..TailOptions::default()
        },
    );
    let events = poll(&mut one);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(matches!(&events[0], TailEvent::Record(r) if r.event == 8));
    drop(rings);
}

#[test]
fn records_arrive_in_order_and_gaps_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("t").dir(dir.path()).create().unwrap();
    let ring = stats
        .event_ring(FieldSpec::new("events").capacity(8).payload_words(2))
        .unwrap();
    ring.event(1, &[10]);
    ring.text(2, "hi");
    let mut follower = follow(&stats.path(), TailOptions::default());
    let events = poll(&mut follower);
    assert_eq!(
        records(&events),
        vec![
            (1, TailPayload::Values(vec![10])),
            (2, TailPayload::Text("hi".into()))
        ]
    );
    assert_eq!(poll(&mut follower), vec![]);
    for n in 0..20 {
        ring.event(3, &[n]);
    }
    let events = poll(&mut follower);
    assert_eq!(
        events[0],
        TailEvent::Missed {
            path: stats.path(),
            ring: "events".into(),
            labels: mmstats::Labels::new(),
            count: 12
        }
    );
    assert_eq!(records(&events).len(), 8);
    assert_eq!(
        follower.totals(),
        TailTotals {
            records: 10,
            missed: 12,
            rings: 1
        }
    );
    let text = format_text(&events[0], false).unwrap();
    assert!(text.ends_with(":events: missed 12 events"), "{text}");
    assert_eq!(to_json(&events[0])["missed"], 12);
}

#[test]
fn newest_skips_what_is_there_and_filters_pick_rings() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("t").dir(dir.path()).create().unwrap();
    let a = stats
        .event_ring(FieldSpec::new("a.events").capacity(4))
        .unwrap();
    let b = stats
        .event_ring(FieldSpec::new("b.events").capacity(4))
        .unwrap();
    a.event(1, &[]);
    b.event(1, &[]);
    let mut follower = follow(
        &stats.path(),
        TailOptions {
            start: Start::Newest,
            ring: Some("b.*".into()),
            ..TailOptions::default()
        },
    );
    assert_eq!(poll(&mut follower), vec![]);
    a.event(2, &[]);
    b.event(2, &[5]);
    let events = poll(&mut follower);
    assert_eq!(records(&events), vec![(2, TailPayload::Values(vec![5]))]);
    let TailEvent::Record(record) = &events[0] else {
        panic!()
    };
    assert_eq!(record.ring, "b.events");
    assert_eq!(record.thread, mmstats::os::tid());
}

#[test]
fn spans_become_durations() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("t").dir(dir.path()).create().unwrap();
    let ring = stats
        .event_ring(FieldSpec::new("events").capacity(16))
        .unwrap();
    {
        let _outer = ring.span(1, "outer");
        let _inner = ring.span(2, "inner");
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut follower = follow(
        &stats.path(),
        TailOptions {
            spans: true,
            ..TailOptions::default()
        },
    );
    let events = poll(&mut follower);
    let spans: Vec<&SpanDuration> = events
        .iter()
        .filter_map(|event| match event {
            TailEvent::Span(span) => Some(span),
            _ => None,
        })
        .collect();
    assert_eq!(spans.len(), 2);
    assert_eq!((spans[0].name.as_str(), spans[0].event), ("inner", 2));
    assert_eq!(spans[1].name, "outer");
    assert!(spans[0].duration_ns() >= 2_000_000);
    assert!(spans[1].duration_ns() >= spans[0].duration_ns());
    let text = format_text(&TailEvent::Span(spans[1].clone()), true).unwrap();
    assert!(text.contains("span \"outer\" took "), "{text}");
    // Raw enter and exit records are not printed in spans mode.
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, TailEvent::Record(_)))
            .all(|e| format_text(e, true).is_none())
    );
    assert_eq!(to_json(&TailEvent::Span(spans[0].clone()))["type"], "span");
}

#[test]
fn lost_exits_do_not_grow_memory() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("t")
        .dir(dir.path())
        .size(1 << 20)
        .table_capacity(16)
        .create()
        .unwrap();
    let ring = stats
        .event_ring(FieldSpec::new("events").capacity(4096))
        .unwrap();
    for n in 0..1000 {
        ring.enter(1, &format!("span{n}"));
    }
    let mut follower = follow(
        &stats.path(),
        TailOptions {
            spans: true,
            max_open_spans: 10,
            ..TailOptions::default()
        },
    );
    poll(&mut follower);
    assert!(follower.open_spans.len() <= 10);
    assert!(follower.span_order.len() <= 1000);
}

#[test]
fn retired_rings_end_and_new_ones_are_followed_from_their_start() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("t")
        .dir(dir.path())
        .reuse_delay(Duration::ZERO)
        .create()
        .unwrap();
    let group = stats.dynamic_group("conn.1.");
    let ring = group
        .event_ring(FieldSpec::new("events").capacity(4))
        .unwrap();
    ring.event(1, &[1]);
    let mut follower = follow(
        &stats.path(),
        TailOptions {
            start: Start::Newest,
            ..TailOptions::default()
        },
    );
    assert_eq!(poll(&mut follower), vec![]);
    drop(ring);
    let events = poll(&mut follower);
    assert!(
        matches!(&events[..], [TailEvent::RingEnded { ring, .. }] if ring == "conn.1.events"),
        "{events:?}"
    );
    // The next connection's ring takes the slot; it is new, so it is
    // read from its first record.
    let next = stats
        .dynamic_group("conn.2.")
        .event_ring(FieldSpec::new("events").capacity(4))
        .unwrap();
    next.event(9, &[2]);
    let events = poll(&mut follower);
    assert_eq!(records(&events), vec![(1, TailPayload::Values(vec![2]))]);
}

#[test]
fn archives_append_json_lines_and_refuse_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.jsonl");
    std::fs::write(&path, "{\"type\":\"earlier\"}\n").unwrap();
    let mut archive = Archive::open(&path).unwrap();
    archive
        .append(&TailEvent::Missed {
            path: "/x".into(),
            ring: "r".into(),
            labels: mmstats::Labels::new(),
            count: 3,
        })
        .unwrap();
    archive.flush().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "appended, not truncated");
    let second: Json = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["type"], "gap");
    use std::os::unix::fs::PermissionsExt;
    let fresh = dir.path().join("fresh.jsonl");
    drop(Archive::open(&fresh).unwrap());
    assert_eq!(
        std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let error = Archive::open(&link).unwrap_err();
    assert!(error.to_string().contains("link.jsonl"), "{error}");
}

#[test]
fn run_stops_after_the_records_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("t").dir(dir.path()).create().unwrap();
    let ring = stats
        .event_ring(FieldSpec::new("events").capacity(8))
        .unwrap();
    ring.text(4, "a\u{1b}[31mb");
    ring.event(5, &[1, 2, 3]);
    ring.event(6, &[]);
    let archive = dir.path().join("a.jsonl");
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let (totals, ok) = run(
        &RunOptions {
            tail: TailOptions {
                paths: vec![dir.path().to_owned()],
                ..TailOptions::default()
            },
            archive: Some(archive.clone()),
            max_records: Some(2),
            interval: Duration::from_millis(1),
            ..RunOptions::default()
        },
        &AtomicBool::new(false),
        &mut out,
        &mut notes,
    )
    .unwrap();
    assert!(ok);
    assert_eq!(totals.records, 2);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(":events #1 "), "{text}");
    assert!(text.contains("text=\"a\\u{1b}[31mb\""), "escaped: {text}");
    assert!(text.contains("values=[1, 2, 3]"), "{text}");
    assert!(!text.contains("event=6"), "stopped at the count: {text}");
    assert_eq!(
        std::fs::read_to_string(&archive).unwrap().lines().count(),
        2
    );
}
