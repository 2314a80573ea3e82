//! Dynamic fields (format 2.1): retiring, reuse of slots and value words,
//! the reuse delay, full regions, and a reader that never mixes two fields
//! of one slot while a writer churns through connections.

mod common;

use common::{Owned, read_all, words};
use core::sync::atomic::Ordering;
use mmstats_nostd::layout::{DATA_USED_WORD, EntryState, FLAG_DYNAMIC};
use mmstats_nostd::{
    AddFieldError, DEFAULT_MAX_TRIES, FieldSpec, MAX_COPY_WORDS, Padding, ReadError, Region,
    RegionOptions, RegionView, Value,
};

fn options(table_capacity: usize) -> RegionOptions {
    RegionOptions {
        table_capacity,
        ..RegionOptions::default()
    }
}

#[test]
fn a_retired_field_disappears_and_its_slot_is_reused_after_the_delay() {
    let memory = words(1024);
    let mut region = Region::create(&memory, &options(4)).unwrap();
    region.set_reuse_delay(100);
    region.counter("static").unwrap().add(1);
    let conn = region.dynamic(0, |r| r.counter("conn.1.bytes")).unwrap();
    conn.add(10);
    assert_eq!(conn.slot().index(), 1);
    assert_eq!(conn.slot().id(), 2, "ids count registrations");

    let view = RegionView::open(&memory[..]).unwrap();
    let first = view.entry(1).unwrap().unwrap();
    assert!(first.is_dynamic());
    assert_eq!(first.flags & FLAG_DYNAMIC, FLAG_DYNAMIC);
    let mut scratch = [0u64; MAX_COPY_WORDS];
    assert_eq!(
        view.read(&first, &mut scratch, DEFAULT_MAX_TRIES),
        Ok(Value::Counter(10))
    );

    conn.retire(50);
    assert_eq!(
        view.slot(1).unwrap().0,
        EntryState::Retired { deadline: 150 }
    );
    assert_eq!(view.entry(1).unwrap(), None, "retired: not shown");
    assert_eq!(
        view.read(&first, &mut scratch, DEFAULT_MAX_TRIES),
        Err(ReadError::SlotChanged),
        "a cached entry notices"
    );
    assert_eq!(
        read_all(&view).unwrap(),
        vec![("static".to_owned(), Owned::Counter(1))]
    );

    // Before the deadline the slot is not reused: a new slot is taken.
    let other = region.dynamic(149, |r| r.counter("conn.2.bytes")).unwrap();
    assert_eq!(other.slot().index(), 2);
    // After it, the retired slot (and its value word) is.
    let again = region.dynamic(150, |r| r.counter("conn.3.bytes")).unwrap();
    assert_eq!(again.slot().index(), 1);
    assert_eq!(again.slot().id(), 4);
    let reused = view.entry(1).unwrap().unwrap();
    assert_eq!(reused.name, "conn.3.bytes");
    assert_eq!(reused.value_word, first.value_word, "value words reused");
    assert_eq!(
        view.read(&reused, &mut scratch, DEFAULT_MAX_TRIES),
        Ok(Value::Counter(0)),
        "starts from its own initial value"
    );
    assert_eq!(
        view.read(&first, &mut scratch, DEFAULT_MAX_TRIES),
        Err(ReadError::SlotChanged),
        "the old entry never reads the new field"
    );
    other.retire(151);
    again.retire(151);
}

#[test]
fn static_fields_keep_the_2_0_numbering() {
    let memory = words(1024);
    let mut region = Region::create(&memory, &options(4)).unwrap();
    region.counter("a").unwrap();
    region.gauge("b").unwrap();
    let view = RegionView::open(&memory[..]).unwrap();
    for index in 0..2 {
        let entry = view.entry(index).unwrap().unwrap();
        assert_eq!(entry.id, index as u64 + 1);
        assert!(!entry.is_dynamic());
    }
}

#[test]
fn a_full_table_is_a_typed_error_that_names_waiting_slots() {
    let memory = words(1024);
    let mut region = Region::create(&memory, &options(2)).unwrap();
    region.set_reuse_delay(10);
    let a = region.dynamic(0, |r| r.gauge("a")).unwrap();
    let b = region.dynamic(0, |r| r.gauge("b")).unwrap();
    let full = region.dynamic(0, |r| r.gauge("c")).unwrap_err();
    assert_eq!(full, AddFieldError::TableFull { capacity: 2 });
    assert!(full.is_full());
    a.retire(0);
    let waiting = region.dynamic(5, |r| r.gauge("c")).unwrap_err();
    assert_eq!(
        waiting,
        AddFieldError::TableFullPendingReuse {
            capacity: 2,
            waiting: 1
        }
    );
    assert!(waiting.is_full());
    assert!(waiting.to_string().contains("reuse delay"), "{waiting}");
    let c = region.dynamic(10, |r| r.gauge("c")).unwrap();
    assert_eq!(c.slot().index(), 0);
    // Static fields never take retired slots.
    b.retire(10);
    assert_eq!(
        region.counter("static").unwrap_err(),
        AddFieldError::TableFull { capacity: 2 }
    );
    // Invalid fields are not "full".
    assert!(!AddFieldError::EmptyName.is_full());
    c.retire(11);
}

#[test]
fn dynamic_must_add_exactly_one_field() {
    let memory = words(1024);
    let mut region = Region::create(&memory, &options(4)).unwrap();
    assert_eq!(
        region.dynamic(0, |_| Ok(())).unwrap_err(),
        AddFieldError::DynamicNeedsOneField
    );
    assert_eq!(
        region
            .dynamic(0, |r| {
                r.counter("one")?;
                r.counter("two")
            })
            .unwrap_err(),
        AddFieldError::DynamicNeedsOneField
    );
    // The first field of the failed call was retired at once.
    let view = RegionView::open(&memory[..]).unwrap();
    assert_eq!(view.field_count().unwrap(), 1);
    assert!(matches!(
        view.slot(0).unwrap().0,
        EntryState::Retired { .. }
    ));
    assert_eq!(view.entry(0).unwrap(), None);
}

#[test]
fn slots_of_another_size_are_reused_without_losing_value_words() {
    let memory = words(4096);
    let mut region = Region::create(&memory, &options(3)).unwrap();
    // One word first, so the next value does not start on a 64-byte line.
    region.counter("first").unwrap();
    let big = region
        .dynamic(0, |r| r.text(FieldSpec::new("big").capacity(64)))
        .unwrap();
    assert_eq!(big.slot().index(), 1);
    let used_after_big = memory[DATA_USED_WORD].load(Ordering::Relaxed);
    big.retire(0);
    // A counter fits in the string's words: no new value words.
    let small = region.dynamic(0, |r| r.counter("small")).unwrap();
    assert_eq!(small.slot().index(), 1);
    assert_eq!(
        memory[DATA_USED_WORD].load(Ordering::Relaxed),
        used_after_big
    );
    let view = RegionView::open(&memory[..]).unwrap();
    let entry = view.entry(1).unwrap().unwrap();
    assert_eq!(entry.value_words, 1);
    small.retire(0);
    // A 64-byte-aligned field needs aligned words: taken fresh, in a new
    // slot while the table has room.
    let padded = region
        .dynamic(0, |r| {
            r.counter(FieldSpec::new("padded").padding(Padding::Line64))
        })
        .unwrap();
    assert_eq!(padded.slot().index(), 2);
    padded.retire(0);
    // With the table full, a slot whose words are too small gets new words.
    let larger = region
        .dynamic(0, |r| r.text(FieldSpec::new("larger").capacity(512)))
        .unwrap();
    let entry = view.entry(larger.slot().index()).unwrap().unwrap();
    assert_eq!(entry.name, "larger");
    assert!(memory[DATA_USED_WORD].load(Ordering::Relaxed) > used_after_big);
    larger.retire(0);
}

#[test]
fn a_server_opening_and_closing_connections_forever_never_fills_the_region() {
    let memory = words(4096);
    // Three connections of three fields stay open; each tick opens one and
    // closes one; slots wait three ticks: 9 live + 3 × 3 retired.
    let mut region = Region::create(&memory, &options(18)).unwrap();
    region.set_reuse_delay(3);
    let mut open: std::collections::VecDeque<_> = std::collections::VecDeque::new();
    let mut data_used = None;
    // Fewer ticks under miri, which interprets every load and store (and
    // whose borrow tracking grows with every reuse of a slot); the steady
    // state comes after a handful of ticks either way (slots wait 3 ticks).
    let (ticks, steady): (u64, u64) = if cfg!(miri) { (24, 10) } else { (20_000, 1000) };
    for now in 0..ticks {
        // Three fields per connection, up to three connections open.
        let bytes_name = format!("conn.{now}.bytes");
        let state_name = format!("conn.{now}.state");
        let avg_name = format!("conn.{now}.latency");
        let bytes = region
            .dynamic(now, |r| r.counter(bytes_name.as_str()))
            .unwrap();
        let state = region
            .dynamic(now, |r| r.text(FieldSpec::new(&state_name).capacity(16)))
            .unwrap();
        let latency = region
            .dynamic(now, |r| r.average(avg_name.as_str()))
            .unwrap();
        bytes.add(now);
        state.set("open");
        latency.add(1.0);
        open.push_back((bytes, state, latency));
        if open.len() > 3 {
            let (bytes, state, latency) = open.pop_front().unwrap();
            bytes.retire(now);
            state.retire(now);
            latency.retire(now);
        }
        if now == steady {
            data_used = Some(memory[DATA_USED_WORD].load(Ordering::Relaxed));
        }
    }
    assert_eq!(
        memory[DATA_USED_WORD].load(Ordering::Relaxed),
        data_used.unwrap(),
        "steady state: value words are reused, never allocated again"
    );
    let view = RegionView::open(&memory[..]).unwrap();
    let fields = read_all(&view).unwrap();
    assert_eq!(fields.len(), 9, "three open connections, three fields each");
    let last = ticks - 1;
    assert!(fields.contains(&(format!("conn.{last}.bytes"), Owned::Counter(last))));
    assert!(fields.contains(&(format!("conn.{last}.state"), Owned::Text("open".into()))));
}

#[test]
fn a_reader_never_mixes_two_fields_of_one_slot() {
    // The writer reuses two slots as fast as it can; each field's name
    // carries its constant value. A reader (another thread, the real
    // 32-word entry protocol) must never pair a name with another value.
    // At the end the writer leaves one field live, which the reader must
    // then read: the race above cannot pass by reading nothing.
    let memory = words(2048);
    let mut region = Region::create(&memory, &options(2)).unwrap();
    // `enough`: the reader has checked enough reads; `done`: the writer
    // has stopped and published the field it keeps.
    let enough = std::sync::atomic::AtomicBool::new(false);
    let done = std::sync::atomic::AtomicBool::new(false);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let (last, checked, changed) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut k = 0i64;
            // Until the reader has seen enough or 3 s passed. Under miri
            // (one thread at a time, every load interpreted) a fixed number
            // of fields instead: its simulated clock is no bound.
            while !enough.load(std::sync::atomic::Ordering::Relaxed)
                && if cfg!(miri) {
                    k < 60
                } else {
                    std::time::Instant::now() < deadline
                }
            {
                k += 1;
                let name = format!("conn.{k}");
                let field = region
                    .dynamic(k as u64, |r| r.constant_gauge(name.as_str(), k))
                    .unwrap();
                if cfg!(miri) {
                    // Let the reader run while the field is live.
                    std::thread::yield_now();
                } else if k % 8 == 0 {
                    // Now and then a field lives a little longer, so that
                    // reads that succeed are not rare.
                    for _ in 0..2_000 {
                        std::hint::spin_loop();
                    }
                }
                field.retire(k as u64);
            }
            k += 1;
            let name = format!("conn.{k}");
            let kept = region
                .dynamic(k as u64, |r| r.constant_gauge(name.as_str(), k))
                .unwrap();
            // Release: the reader's acquire load of `done` then sees the
            // kept field published.
            done.store(true, std::sync::atomic::Ordering::Release);
            (k, kept)
        });
        let view = RegionView::open(&memory[..]).unwrap();
        let mut scratch = [0u64; MAX_COPY_WORDS];
        let (mut checked, mut changed) = (0u64, 0u64);
        let mut scan = |checked: &mut u64, changed: &mut u64| {
            let mut seen = Vec::new();
            let count = view.field_count().unwrap();
            for index in 0..count {
                let Some(entry) = view.entry(index).unwrap() else {
                    continue;
                };
                match view.read(&entry, &mut scratch, DEFAULT_MAX_TRIES) {
                    Ok(Value::Gauge(value)) => {
                        assert_eq!(entry.name, format!("conn.{value}").as_str());
                        *checked += 1;
                        seen.push(value);
                    }
                    Err(ReadError::SlotChanged) => *changed += 1,
                    other => panic!("{other:?}"),
                }
            }
            seen
        };
        loop {
            // Acquire: pairs with the writer's release store (see there).
            let finished = done.load(std::sync::atomic::Ordering::Acquire);
            let seen = scan(&mut checked, &mut changed);
            if finished {
                let (last, _kept) = writer.join().unwrap();
                assert_eq!(seen, [last], "the kept field, and only it, is live");
                break (last, checked, changed);
            }
            if checked >= 100_000 {
                // Relaxed: a stop request; `done` carries the publication.
                enough.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    println!("{last} fields; checked {checked} reads, {changed} caught mid-change");
}
