//! Publishing: file creation rules, every kind through a real file, the
//! `stats!` macro, naming, removal, shared memory objects.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use mmstats::{
    AddFieldError, CreateError, FieldSpec, FieldValue, Liveness, StatsFile, Unit, read_file, stats,
};

fn value(stats: &mmstats::FileStats, name: &str) -> FieldValue {
    stats
        .fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name}"))
        .value
        .clone()
}

#[test]
fn every_kind_round_trips_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("all")
        .dir(dir.path())
        .prefix("t.")
        .create()
        .unwrap();
    let counter = file.counter("counter").unwrap();
    let shared = file.shared_counter("shared").unwrap();
    let gauge = file.gauge("gauge").unwrap();
    let shared_gauge = file.shared_gauge("shared_gauge").unwrap();
    let float = file
        .float_gauge(FieldSpec::new("float").unit(Unit::Ratio))
        .unwrap();
    let flag = file.flag("flag").unwrap();
    let stamp = file.timestamp("stamp").unwrap();
    let text = file.text(FieldSpec::new("text").capacity(200)).unwrap();
    let average = file.average("average").unwrap();
    let timer = file.timer("timer").unwrap();

    counter.add(41);
    counter.incr();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..1000 {
                    shared.incr();
                    shared_gauge.add(2);
                }
            });
        }
    });
    gauge.set(-3);
    float.set(0.75);
    flag.set(true);
    stamp.set_now();
    text.set(&"é".repeat(150));
    average.add(1.0);
    average.add(2.0);
    timer.record(std::time::Duration::from_millis(500));

    let read = read_file(file.path()).unwrap();
    assert_eq!(read.liveness, Liveness::Alive);
    assert_eq!(read.pid, Some(u64::from(std::process::id())));
    assert_eq!(value(&read, "t.counter"), FieldValue::Counter(42));
    assert_eq!(
        value(&read, "t.shared"),
        FieldValue::Counter(4000),
        "no lost increments"
    );
    assert_eq!(value(&read, "t.shared_gauge"), FieldValue::Gauge(8000));
    assert_eq!(value(&read, "t.gauge"), FieldValue::Gauge(-3));
    assert_eq!(value(&read, "t.float"), FieldValue::Float(0.75));
    assert_eq!(value(&read, "t.flag"), FieldValue::Bool(true));
    let FieldValue::Timestamp(ns) = value(&read, "t.stamp") else {
        panic!()
    };
    assert!(ns.abs_diff(mmstats::os::now_ns()) < 60_000_000_000);
    assert_eq!(
        value(&read, "t.text"),
        FieldValue::Text("é".repeat(100)),
        "cut at 200 bytes"
    );
    assert_eq!(
        value(&read, "t.average"),
        FieldValue::Average { sum: 3.0, count: 2 }
    );
    assert_eq!(
        value(&read, "t.timer"),
        FieldValue::Average { sum: 0.5, count: 1 }
    );
    let timer_field = read.fields.iter().find(|f| f.name == "t.timer").unwrap();
    assert_eq!(timer_field.unit, "seconds");
    assert_eq!(
        value(&read, "sys.pid"),
        FieldValue::Gauge(i64::from(std::process::id()))
    );
    assert!(matches!(value(&read, "sys.program"), FieldValue::Text(ref p) if !p.is_empty()));
}

#[test]
fn files_are_private_named_by_pattern_and_removed_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("web").dir(dir.path()).create().unwrap();
    let path = file.path();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let tid = mmstats::os::tid();
    assert!(
        name.ends_with(&format!("-{}-{tid}-web.mmstats", std::process::id())),
        "{name}"
    );
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left behind"
    );
    let hits = file.counter("hits").unwrap();
    drop(file);
    assert!(path.exists(), "handles keep the file");
    hits.incr();
    drop(hits);
    assert!(!path.exists(), "removed with the last handle");
}

#[test]
fn close_now_unlinks_while_handles_live_and_frees_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("gone")
        .dir(dir.path())
        .keep(true)
        .create()
        .unwrap();
    let path = file.path();
    let hits = file.counter("hits").unwrap();
    let opened = std::fs::File::open(&path).unwrap();
    file.close_now();
    assert!(
        !path.exists(),
        "unlinked although handles live and keep is set"
    );
    hits.incr();
    let len = opened.metadata().unwrap().len();
    let read = mmstats::read_open_file(&path, opened, len).unwrap();
    assert_eq!(
        read.liveness,
        Liveness::Closed,
        "readers that had it open see it closed"
    );
    // The name is free: a new file takes it, and the old handles' final
    // drop leaves the new file alone.
    let again = StatsFile::builder("gone").dir(dir.path()).create().unwrap();
    assert_eq!(again.path(), path);
    file.close_now();
    drop((file, hits));
    assert!(
        path.exists(),
        "the new file is not removed by the old one's drop"
    );
    drop(again);
    assert!(!path.exists());
}

#[test]
fn kept_files_stay_closed() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("kept")
        .dir(dir.path())
        .keep(true)
        .mode(0o640)
        .create()
        .unwrap();
    let path = file.path();
    file.counter("c").unwrap().add(5);
    drop(file);
    let read = read_file(&path).unwrap();
    assert_eq!(read.liveness, Liveness::Closed);
    assert_eq!(value(&read, "c"), FieldValue::Counter(5));
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o640);
}

#[test]
fn the_same_name_twice_is_refused_while_the_first_lives() {
    let dir = tempfile::tempdir().unwrap();
    let first = StatsFile::builder("dup").dir(dir.path()).create().unwrap();
    match StatsFile::builder("dup").dir(dir.path()).create() {
        Err(CreateError::NameTaken { path, occupant }) => {
            assert_eq!(path, first.path());
            assert_eq!(occupant, mmstats::Occupant::LiveWriter);
        }
        other => panic!("expected NameTaken by a live writer, got {other:?}"),
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn duplicate_and_invalid_fields_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("x").dir(dir.path()).create().unwrap();
    file.counter("a").unwrap();
    assert_eq!(
        file.gauge("a").unwrap_err(),
        AddFieldError::DuplicateName("a".into())
    );
    assert_eq!(
        file.counter("sys.pid").unwrap_err(),
        AddFieldError::DuplicateName("sys.pid".into())
    );
    assert!(matches!(
        file.counter("bad\u{1b}name"),
        Err(AddFieldError::Region(_))
    ));
}

#[test]
fn a_symlinked_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    match StatsFile::builder("s").dir(&link).create() {
        Err(CreateError::Directory(inner)) => {
            assert_eq!(inner.dir(), link);
            assert!(inner.to_string().contains("symbolic link"), "{inner}");
        }
        other => panic!("expected a Directory error, got {other:?}"),
    }
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
}

#[test]
fn a_missing_directory_is_created_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let stats_dir = dir.path().join("stats");
    let _file = StatsFile::builder("m").dir(&stats_dir).create().unwrap();
    assert_eq!(std::fs::metadata(&stats_dir).unwrap().mode() & 0o777, 0o700);
}

#[test]
fn a_world_writable_directory_without_sticky_bit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(matches!(
        StatsFile::builder("w").dir(dir.path()).create(),
        Err(CreateError::Directory(_))
    ));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert!(StatsFile::builder("w").dir(dir.path()).create().is_ok());
}

#[test]
fn shared_memory_objects_work() {
    let file = StatsFile::builder(&format!("shm-test-{}", std::process::id()))
        .shm()
        .create()
        .unwrap();
    file.counter("hits").unwrap().add(3);
    let path = file.path();
    assert!(path.starts_with("/dev/shm"));
    assert!(
        path.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("mmstats.")
    );
    let read = read_file(&path).unwrap();
    assert_eq!(value(&read, "hits"), FieldValue::Counter(3));
    drop(file);
    assert!(!path.exists(), "shm object unlinked on drop");
}

stats! {
    /// Stats declared with the macro.
    struct ServerStats {
        /// Requests served.
        requests: mmstats::Counter,
        /// Bytes sent.
        bytes: mmstats::Counter { unit: Unit::Bytes },
        /// Version of the build, a long description that is cut at the eighty-byte limit of the format.
        version: mmstats::Text { capacity: 16, name: "build.version" },
        /// Time per request.
        latency: mmstats::Timer,
    }
}

#[test]
fn the_stats_macro_registers_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("macro")
        .dir(dir.path())
        .prefix("srv.")
        .create()
        .unwrap();
    let stats = ServerStats::register(&file).unwrap();
    stats.requests.incr();
    stats.bytes.add(512);
    stats.version.set("1.2.3");
    stats.latency.time(|| ());
    let read = read_file(file.path()).unwrap();
    let field = |name: &str| read.fields.iter().find(|f| f.name == name).unwrap().clone();
    assert_eq!(field("srv.requests").description, "Requests served.");
    assert_eq!(field("srv.bytes").unit, "bytes");
    assert_eq!(
        field("srv.build.version").value,
        FieldValue::Text("1.2.3".into())
    );
    assert_eq!(field("srv.build.version").description.len(), 80);
    assert!(matches!(
        field("srv.latency").value,
        FieldValue::Average { count: 1, .. }
    ));
    assert!(
        ServerStats::register(&file).is_err(),
        "registering twice collides"
    );
}

#[test]
fn handles_are_send_and_single_writer_handles_are_not_sync() {
    fn is_send<T: Send>() {}
    fn is_sync<T: Sync>() {}
    is_send::<mmstats::Counter>();
    is_send::<mmstats::Text>();
    is_send::<mmstats::Timer>();
    is_sync::<mmstats::SharedCounter>();
    is_sync::<mmstats::StatsFile>();
    // `Counter: !Sync` is checked by a compile-fail doctest on the crate
    // root.
}

#[test]
fn heartbeat_thread_updates_the_word() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("hb")
        .dir(dir.path())
        .heartbeat(std::time::Duration::from_millis(10))
        .create()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let region = read_file(file.path()).unwrap().region.unwrap();
        if region.heartbeat_ns != 0 {
            assert!(region.heartbeat_ns.abs_diff(mmstats::os::now_ns()) < 60_000_000_000);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no heartbeat within 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
