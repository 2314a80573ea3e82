//! Writer-to-reader round trips of every kind, over live words and over a
//! copied byte image.

mod common;

use common::{Owned, read_all, to_bytes, words};
use mmstats_nostd::{
    AddFieldError, ByteImage, DEFAULT_MAX_TRIES, FieldSpec, Kind, MAX_COPY_WORDS, Padding, Region,
    RegionOptions, RegionState, RegionView, Unit, Value,
};

#[test]
fn every_kind_round_trips() {
    let memory = words(2048);
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    region.set_prefix("app.").unwrap();
    let counter = region.counter("requests").unwrap();
    let shared = region.shared_counter("shared").unwrap();
    let gauge = region.gauge("inflight").unwrap();
    let shared_gauge = region.shared_gauge("workers").unwrap();
    let float = region.float_gauge("load").unwrap();
    let flag = region.flag("healthy").unwrap();
    let stamp = region.timestamp("last_seen").unwrap();
    let text = region.text(FieldSpec::new("version").capacity(12)).unwrap();
    let average = region.average("latency").unwrap();
    region.constant_gauge("pid", 4242).unwrap();
    region.constant_text("program", "démo").unwrap();
    region.constant_timestamp("created", 17).unwrap();

    counter.add(u64::MAX - 1);
    counter.incr();
    shared.add(5);
    shared.incr();
    gauge.set(-3);
    gauge.sub(4);
    shared_gauge.set(10);
    shared_gauge.decr();
    float.set(0.75);
    float.add(0.125);
    flag.set(true);
    stamp.set_ns(1_700_000_000_123_456_789);
    assert_eq!(text.set("v1.2-ü-long-tail"), 12, "cut at the capacity");
    average.add(1.5);
    average.add(2.5);

    let expect = vec![
        ("app.requests".to_owned(), Owned::Counter(u64::MAX)),
        ("app.shared".to_owned(), Owned::Counter(6)),
        ("app.inflight".to_owned(), Owned::Gauge(-7)),
        ("app.workers".to_owned(), Owned::Gauge(9)),
        ("app.load".to_owned(), Owned::Float(0.875)),
        ("app.healthy".to_owned(), Owned::Bool(true)),
        (
            "app.last_seen".to_owned(),
            Owned::Timestamp(1_700_000_000_123_456_789),
        ),
        (
            "app.version".to_owned(),
            Owned::Text("v1.2-ü-long".to_owned()),
        ),
        ("app.latency".to_owned(), Owned::Average(4.0, 2)),
        ("app.pid".to_owned(), Owned::Gauge(4242)),
        ("app.program".to_owned(), Owned::Text("démo".to_owned())),
        ("app.created".to_owned(), Owned::Timestamp(17)),
    ];
    let live = RegionView::open(&memory[..]).unwrap();
    assert_eq!(read_all(&live).unwrap(), expect);

    let bytes = to_bytes(&memory);
    let image = ByteImage::new(&bytes);
    let copied = RegionView::open(&image).unwrap();
    assert_eq!(read_all(&copied).unwrap(), expect);
    assert_eq!(copied.prologue(), live.prologue());
}

#[test]
fn metadata_round_trips() {
    let memory = words(1024);
    let mut region = Region::create(
        &memory,
        &RegionOptions {
            table_capacity: 4,
            generation: 9,
            pid: 77,
            start_time: 1234,
            boot_id: 55,
            created_ns: 66,
            labels: false,
        },
    )
    .unwrap();
    region
        .counter(
            FieldSpec::new("bytes_out")
                .unit(Unit::Bytes)
                .describe("bytes sent to clients")
                .padding(Padding::Line128),
        )
        .unwrap();
    region
        .average(FieldSpec::new("avg").buffers(5).padding(Padding::Line64))
        .unwrap();
    region.heartbeat(99);

    let view = RegionView::open(&memory[..]).unwrap();
    let p = view.prologue();
    assert_eq!(
        (
            p.generation,
            p.pid,
            p.start_time,
            p.boot_id,
            p.created_ns,
            p.table_capacity
        ),
        (9, 77, 1234, 55, 66, 4)
    );
    assert_eq!(view.heartbeat_ns(), 99);
    assert_eq!(view.state(), RegionState::Ready);
    let bytes_out = view.entry(0).unwrap().unwrap();
    assert_eq!(bytes_out.kind, Some(Kind::Counter));
    assert_eq!(bytes_out.unit, Some(Unit::Bytes));
    assert_eq!(bytes_out.description, "bytes sent to clients");
    assert_eq!((bytes_out.value_word * 8) % 128, 0, "padded to 128 bytes");
    let avg = view.entry(1).unwrap().unwrap();
    assert_eq!((avg.buffers, avg.copy_words), (5, 2));
    assert_eq!((avg.value_word * 8) % 64, 0, "padded to 64 bytes");
    assert_ne!(
        avg.value_word,
        bytes_out.value_word + 1,
        "no sharing of the line"
    );

    region.close();
    assert_eq!(view.state(), RegionState::Closed);
    assert!(view.still_valid(), "closing keeps the values readable");
}

#[test]
fn fields_added_after_a_reader_opened_appear() {
    let memory = words(1024);
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    let first = region.counter("first").unwrap();
    let view = RegionView::open(&memory[..]).unwrap();
    assert_eq!(view.field_count().unwrap(), 1);
    let second = region.gauge("second").unwrap();
    first.incr();
    second.set(2);
    assert_eq!(
        read_all(&view).unwrap(),
        vec![
            ("first".to_owned(), Owned::Counter(1)),
            ("second".to_owned(), Owned::Gauge(2)),
        ]
    );
}

#[test]
fn invalid_fields_are_refused_and_leave_no_trace() {
    let memory = words(200);
    let mut region = Region::create(
        &memory,
        &RegionOptions {
            table_capacity: 2,
            ..RegionOptions::default()
        },
    )
    .unwrap();
    assert_eq!(region.counter("").unwrap_err(), AddFieldError::EmptyName);
    assert_eq!(
        region.counter("x".repeat(121).as_str()).unwrap_err(),
        AddFieldError::NameTooLong { len: 121 }
    );
    assert!(region.counter("x".repeat(120).as_str()).is_ok());
    assert_eq!(
        region.counter("bad\nname").unwrap_err(),
        AddFieldError::InvalidName
    );
    assert_eq!(
        region
            .counter(FieldSpec::new("d").describe(&"d".repeat(81)))
            .unwrap_err(),
        AddFieldError::InvalidDescription
    );
    assert_eq!(
        region.average(FieldSpec::new("a").buffers(1)).unwrap_err(),
        AddFieldError::InvalidBuffers { buffers: 1 }
    );
    assert_eq!(
        region.average(FieldSpec::new("a").buffers(17)).unwrap_err(),
        AddFieldError::InvalidBuffers { buffers: 17 }
    );
    assert_eq!(
        region.text(FieldSpec::new("t").capacity(4097)).unwrap_err(),
        AddFieldError::CapacityTooLarge { capacity: 4097 }
    );
    // 200 words: 32 prologue + 64 table leave 104 words of values.
    assert!(matches!(
        region
            .text(FieldSpec::new("big").capacity(4096))
            .unwrap_err(),
        AddFieldError::DataFull { .. }
    ));
    assert!(region.gauge("second").is_ok());
    assert_eq!(
        region.gauge("third").unwrap_err(),
        AddFieldError::TableFull { capacity: 2 }
    );
    let view = RegionView::open(&memory[..]).unwrap();
    assert_eq!(read_all(&view).unwrap().len(), 2);
}

#[test]
fn too_small_buffers_are_refused() {
    let memory = words(64);
    assert!(Region::create(&memory, &RegionOptions::default()).is_err());
    let memory = words(65);
    let region = Region::create(&memory, &RegionOptions::default()).unwrap();
    assert_eq!(region.table_capacity(), 1);
}

#[test]
fn reinitialising_moves_the_generation_and_invalidates_readers() {
    let memory = words(512);
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    region.counter("old").unwrap();
    let view = RegionView::open(&memory[..]).unwrap();
    assert_eq!(view.prologue().generation, 1);
    assert!(view.still_valid());

    let mut again = Region::create(&memory, &RegionOptions::default()).unwrap();
    assert_eq!(again.generation(), 2, "continues the old generation");
    assert!(!view.still_valid(), "the old view must notice");
    again.gauge("new").unwrap();
    let fresh = RegionView::open(&memory[..]).unwrap();
    assert_eq!(
        read_all(&fresh).unwrap(),
        vec![("new".to_owned(), Owned::Gauge(0))]
    );
}

#[test]
fn scratch_too_small_is_an_error_not_a_panic() {
    let memory = words(512);
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    let text = region.text("t").unwrap();
    text.set("hello");
    let view = RegionView::open(&memory[..]).unwrap();
    let field = view.entry(0).unwrap().unwrap();
    let mut small = [0u64; 2];
    assert!(view.read(&field, &mut small, DEFAULT_MAX_TRIES).is_err());
    let mut enough = [0u64; MAX_COPY_WORDS];
    assert_eq!(
        view.read(&field, &mut enough, DEFAULT_MAX_TRIES).unwrap(),
        Value::Text("hello")
    );
}
