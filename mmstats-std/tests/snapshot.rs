//! `RegionReader::snapshot`, the polling fast path, gives the same values
//! as `read`, reuses its buffer, and follows fields that come and go.

use mmstats::{FieldSpec, FieldValue, RegionReader, Snapshot, StatsFile};

#[test]
fn snapshot_matches_read_and_follows_changes() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("snap").dir(dir.path()).create().unwrap();
    let counter = file.counter("c").unwrap();
    let text = file.text(FieldSpec::new("t").capacity(16)).unwrap();
    counter.add(5);
    text.set("hello");

    let mut reader = RegionReader::open(file.path()).unwrap();
    let mut snapshot = Snapshot::default();
    reader.snapshot(&mut snapshot).unwrap();
    let read = reader.read().unwrap();
    assert_eq!(snapshot.values.len(), read.fields.len());
    for (value, field) in snapshot.values.iter().zip(&read.fields) {
        let info = reader.field(value.slot).unwrap();
        assert_eq!(info.name.as_str(), field.name);
        assert_eq!(snapshot.field_value(value).unwrap(), field.value);
        assert_eq!(value.id, info.id);
    }
    assert!(snapshot.problems.is_empty());

    // Values move, a field appears, a dynamic one comes and goes.
    counter.add(1);
    let later = file.gauge("later").unwrap();
    later.set(-2);
    let group = file.dynamic_group("conn.1.");
    let dynamic = group.counter("bytes").unwrap();
    dynamic.add(9);
    reader.snapshot(&mut snapshot).unwrap();
    let by_name = |snapshot: &Snapshot, reader: &RegionReader, name: &str| {
        snapshot
            .values
            .iter()
            .find(|v| reader.field(v.slot).is_some_and(|f| f.name == name))
            .and_then(|v| snapshot.field_value(v))
    };
    assert_eq!(
        by_name(&snapshot, &reader, "c"),
        Some(FieldValue::Counter(6))
    );
    assert_eq!(
        by_name(&snapshot, &reader, "later"),
        Some(FieldValue::Gauge(-2))
    );
    assert_eq!(
        by_name(&snapshot, &reader, "conn.1.bytes"),
        Some(FieldValue::Counter(9))
    );
    drop(dynamic);
    reader.snapshot(&mut snapshot).unwrap();
    assert_eq!(by_name(&snapshot, &reader, "conn.1.bytes"), None, "retired");
    assert_eq!(
        by_name(&snapshot, &reader, "c"),
        Some(FieldValue::Counter(6))
    );
}

/// `read_matching`, the one-shot read of a few names (`mmdump get`),
/// gives exactly the fields `read` gives for those names, follows a
/// dynamic field that goes, and reports what `read` reports.
#[test]
fn read_matching_keeps_only_the_names_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("match")
        .dir(dir.path())
        .create()
        .unwrap();
    for i in 0..50u64 {
        file.counter(format!("c.{i}").as_str()).unwrap().add(i);
    }
    let text = file.text(FieldSpec::new("t").capacity(16)).unwrap();
    text.set("hi");
    let group = file.dynamic_group("conn.1.");
    let dynamic = group.counter("bytes").unwrap();
    dynamic.add(9);

    let mut reader = RegionReader::open(file.path()).unwrap();
    let wanted = ["c.7", "t", "conn.1.bytes", "absent"];
    let keep = |name: &str| wanted.contains(&name);
    let all = reader.read().unwrap();
    let some = reader.read_matching(&keep).unwrap();
    let expected: Vec<_> = all
        .fields
        .iter()
        .filter(|f| keep(&f.name))
        .cloned()
        .collect();
    assert_eq!(some.fields, expected);
    assert_eq!(some.fields.len(), 3);
    assert_eq!(some.problems, all.problems);
    assert_eq!(
        some.region.as_ref().map(|r| r.field_count),
        all.region.as_ref().map(|r| r.field_count)
    );
    let value = |stats: &mmstats::FileStats, name: &str| {
        stats
            .fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    };
    assert_eq!(value(&some, "c.7"), Some(FieldValue::Counter(7)));
    assert_eq!(value(&some, "t"), Some(FieldValue::Text("hi".into())));

    drop(dynamic);
    let after = reader.read_matching(&keep).unwrap();
    assert_eq!(
        value(&after, "conn.1.bytes"),
        None,
        "a retired field is gone"
    );
    assert_eq!(after.fields.len(), 2);
}
