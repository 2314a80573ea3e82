//! Hostile input: every prefix truncation and random corruption of a valid
//! region gives values or typed errors, never a panic or an out-of-bounds
//! read (every load is bounds-checked, so a panic is the only way to fail).

mod common;

use common::{Rng, read_all, to_bytes, words};
use core::sync::atomic::Ordering;
use mmstats_nostd::layout::{BYTE_ORDER_MARK, MAGIC, STATE_INITIALISING, STATE_WORD};
use mmstats_nostd::{ByteImage, FieldSpec, OpenError, Region, RegionOptions, RegionView};

/// Random rounds per test: fewer under miri, which interprets every load.
const ROUNDS: usize = if cfg!(miri) { 100 } else { 20_000 };

/// A small region holding one field of every kind, as bytes.
fn sample_region() -> Vec<u8> {
    let memory = words(256);
    let mut region = Region::create(
        &memory,
        &RegionOptions {
            table_capacity: 6,
            ..RegionOptions::default()
        },
    )
    .unwrap();
    region.counter("c").unwrap().add(3);
    region.gauge("g").unwrap().set(-1);
    region.float_gauge("f").unwrap().set(2.5);
    region
        .text(FieldSpec::new("t").capacity(20))
        .unwrap()
        .set("héllo");
    region.average("a").unwrap().add(1.0);
    region.flag("b").unwrap().set(true);
    to_bytes(&memory)
}

#[test]
fn every_prefix_truncation_is_a_typed_error() {
    let bytes = sample_region();
    assert_eq!(
        read_all(&RegionView::open(&ByteImage::new(&bytes)).unwrap())
            .unwrap()
            .len(),
        6
    );
    // Every length natively; every 7th under miri (which interprets every
    // load), still covering every word boundary modulo 8.
    let step = if cfg!(miri) { 7 } else { 1 };
    for len in (0..bytes.len()).step_by(step) {
        let image = ByteImage::new(&bytes[..len]);
        match RegionView::open(&image) {
            Err(OpenError::TooShort { .. } | OpenError::Truncated { .. }) => {}
            other => panic!("prefix of {len} bytes gave {other:?}"),
        }
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let original = sample_region();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut opened = 0;
    for _ in 0..ROUNDS {
        let mut bytes = original.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(bytes.len());
            bytes[at] ^= 1 << rng.below(8);
        }
        let image = ByteImage::new(&bytes);
        if let Ok(view) = RegionView::open(&image) {
            opened += 1;
            let _ = read_all(&view);
        }
    }
    assert!(opened > 0, "some flips land in values and must still open");
}

#[test]
fn random_words_in_the_header_never_panic() {
    // Targets the prologue and first entries with whole random words,
    // which byte flips rarely produce (huge offsets, wrapped lengths).
    let original = sample_region();
    let mut rng = Rng(42);
    for _ in 0..ROUNDS {
        let mut bytes = original.clone();
        let word = rng.below(32 + 2 * 32);
        if word == 0 || word == 1 {
            continue;
        }
        let value = match rng.below(4) {
            0 => u64::MAX,
            1 => rng.next() >> rng.below(64),
            2 => 1 << rng.below(64),
            _ => rng.next(),
        };
        bytes[word * 8..word * 8 + 8].copy_from_slice(&value.to_ne_bytes());
        if let Ok(view) = RegionView::open(&ByteImage::new(&bytes)) {
            let _ = read_all(&view);
        }
    }
}

#[test]
fn magic_byte_order_version_and_state_are_checked() {
    let good = sample_region();
    let open = |bytes: &[u8]| RegionView::open(&ByteImage::new(bytes)).map(|_| ());

    let mut legacy = good.clone();
    legacy[0] = 0x01;
    assert_eq!(open(&legacy), Err(OpenError::BadMagic));

    let mut order = good.clone();
    order[8..12].copy_from_slice(&0x0403_0102u32.to_ne_bytes());
    assert_eq!(
        open(&order),
        Err(OpenError::BadByteOrder { mark: 0x0403_0102 })
    );

    let mut version = good.clone();
    version[12..14].copy_from_slice(&3u16.to_ne_bytes());
    assert_eq!(
        open(&version),
        Err(OpenError::UnsupportedVersion { major: 3, minor: 2 })
    );

    let mut state = good.clone();
    state[STATE_WORD * 8..STATE_WORD * 8 + 8].copy_from_slice(&STATE_INITIALISING.to_ne_bytes());
    assert_eq!(open(&state), Err(OpenError::NotReady));
    state[STATE_WORD * 8..STATE_WORD * 8 + 8].copy_from_slice(&7u64.to_ne_bytes());
    assert_eq!(open(&state), Err(OpenError::BadState { state: 7 }));

    assert_eq!(&good[..8], &MAGIC);
    assert_eq!(&good[8..12], &BYTE_ORDER_MARK.to_ne_bytes());
}

#[test]
fn a_region_that_is_not_ready_yet_is_refused_live() {
    let memory = words(256);
    let _region = Region::create(&memory, &RegionOptions::default()).unwrap();
    memory[STATE_WORD].store(STATE_INITIALISING, Ordering::Relaxed);
    assert_eq!(
        RegionView::open(&memory[..]).unwrap_err(),
        OpenError::NotReady
    );
}
