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
