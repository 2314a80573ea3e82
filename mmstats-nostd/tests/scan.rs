//! Finding regions in memory images with `scan::RegionScanner`: regions at
//! any 8-byte-aligned offset, in either byte order, among random bytes;
//! no false region in random data, even with the magic planted in it; a
//! region cut by the end of the image reported, never read.

mod common;
#[path = "support/foreign.rs"]
mod support;

use common::{Owned, Rng, read_all, to_bytes, words};
use mmstats_nostd::layout::{BYTE_ORDER_MARK, MAGIC, MAJOR};
use mmstats_nostd::scan::RegionScanner;
use mmstats_nostd::{
    ByteImage, ByteOrder, FieldSpec, OpenError, Padding, Region, RegionOptions, Unit,
};
use support::foreign;

/// A region of `word_count` words with a few fields; `tag` goes into a
/// counter so that regions can be told apart.
fn region_bytes(word_count: usize, tag: u64) -> Vec<u8> {
    let memory = words(word_count);
    let mut region = Region::create(
        &memory,
        &RegionOptions {
            table_capacity: 5,
            ..RegionOptions::default()
        },
    )
    .unwrap();
    region.counter("tag").unwrap().add(tag);
    region.gauge("g").unwrap().set(-7);
    region
        .float_gauge(FieldSpec::new("temp").unit(Unit::Celsius))
        .unwrap()
        .set(36.6);
    region
        .text(FieldSpec::new("state").capacity(16))
        .unwrap()
        .set("running");
    region.average("avg").unwrap().add(2.0);
    to_bytes(&memory)
}

fn random_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&rng.next().to_ne_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Every region the scanner reports, as (byte offset, fields); panics on a
/// damaged candidate.
fn regions(bytes: &[u8]) -> Vec<(usize, Vec<(String, Owned)>)> {
    let image = ByteImage::new(bytes);
    RegionScanner::new(&image)
        .map(|found| match &found.region {
            Ok(view) => (found.offset(), read_all(view).unwrap()),
            Err(error) => panic!("damaged at {}: {error}", found.offset()),
        })
        .collect()
}

#[test]
fn regions_are_found_at_any_aligned_offset_among_random_bytes() {
    let mut rng = Rng(0x5EED_0001);
    let first = region_bytes(256, 1);
    let second = region_bytes(300, 2);
    let mut image = random_bytes(&mut rng, 1 << 16);
    // Not page- or line-aligned: only 8-byte-aligned.
    let (at_first, at_second) = (8 * 37, 40_000);
    image[at_first..at_first + first.len()].copy_from_slice(&first);
    image[at_second..at_second + second.len()].copy_from_slice(&second);

    let found = regions(&image);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].0, at_first);
    assert_eq!(found[1].0, at_second);
    assert_eq!(found[0].1[0], ("tag".into(), Owned::Counter(1)));
    assert_eq!(found[1].1[0], ("tag".into(), Owned::Counter(2)));
    assert_eq!(
        found[0].1[3],
        ("state".into(), Owned::Text("running".into()))
    );
    assert_eq!(found[0].1.len(), 5);
}

#[test]
fn a_region_at_offset_zero_and_back_to_back_regions() {
    let a = region_bytes(256, 10);
    let b = region_bytes(256, 11);
    let image = [a.clone(), b].concat();
    let found = regions(&image);
    assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), [0, a.len()]);
}

#[test]
fn the_magic_inside_a_region_is_data_not_a_second_region() {
    // A counter whose value is the magic and a gauge after it holding a
    // byte-order mark: inside the region, so not a candidate. Packed, so
    // that the two values are adjacent like a prologue's first words.
    let memory = words(256);
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    region
        .counter(FieldSpec::new("looks_like_magic").padding(Padding::Packed))
        .unwrap()
        .add(u64::from_ne_bytes(MAGIC));
    let mut mark = [0u8; 8];
    mark[..4].copy_from_slice(&BYTE_ORDER_MARK.to_ne_bytes());
    mark[4..6].copy_from_slice(&MAJOR.to_ne_bytes());
    region
        .gauge(FieldSpec::new("looks_like_mark").padding(Padding::Packed))
        .unwrap()
        .set(i64::from_ne_bytes(mark));
    let image = to_bytes(&memory);
    let scan_image = ByteImage::new(&image);
    let mut scanner = RegionScanner::new(&scan_image);
    let found: Vec<_> = scanner.by_ref().collect();
    assert_eq!(found.len(), 1);
    assert!(found[0].region.is_ok());
    assert_eq!(scanner.ignored(), 0);

    // The same bytes past the end of a region are a (damaged) candidate:
    // the scan does look there.
    let value_at = image
        .chunks_exact(8)
        .enumerate()
        .skip(1)
        .find(|(_, word)| *word == MAGIC)
        .unwrap()
        .0
        * 8;
    let mut tail = vec![0u8; 64];
    tail.extend_from_slice(&image[value_at..value_at + 16]);
    tail.resize(64 + 512, 0);
    let tail_image = ByteImage::new(&tail);
    let found: Vec<_> = RegionScanner::new(&tail_image).collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].offset(), 64);
    assert!(found[0].region.is_err());
}

#[test]
fn random_images_hold_no_regions() {
    // Fewer and smaller images under miri, which interprets every load.
    let (seeds, len): (u64, usize) = if cfg!(miri) {
        (2, 1 << 14)
    } else {
        (8, 1 << 20)
    };
    for seed in 1..=seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let image = random_bytes(&mut rng, len);
        let scan_image = ByteImage::new(&image);
        let mut scanner = RegionScanner::new(&scan_image);
        assert_eq!(scanner.by_ref().count(), 0, "seed {seed}");
        assert_eq!(scanner.ignored(), 0, "seed {seed}");
    }
}

#[test]
fn planted_magic_with_garbage_headers_is_never_a_region() {
    let mut rng = Rng(0xBAD_C0DE);
    let mut regions_seen = 0;
    // Fewer rounds under miri, which interprets every load.
    for round in 0..if cfg!(miri) { 3 } else { 16 } {
        let mut image = random_bytes(&mut rng, 1 << 16);
        let words = image.len() / 8;
        let mut used = std::collections::BTreeSet::new();
        let mut planted = 0;
        let mut with_mark = 0;
        while planted < 64 {
            // Distinct plants that do not overlap each other's mark word,
            // none in the last word (that one is a truncated candidate).
            let word = rng.below(words - 1);
            if (word.saturating_sub(1)..=word + 1).any(|w| used.contains(&w)) {
                continue;
            }
            used.insert(word);
            let at = word * 8;
            image[at..at + 8].copy_from_slice(&MAGIC);
            planted += 1;
            // Half of them get a valid byte-order mark (either order) and a
            // plausible major version, then garbage.
            if rng.below(2) == 0 {
                let mark = if rng.below(2) == 0 {
                    BYTE_ORDER_MARK
                } else {
                    BYTE_ORDER_MARK.swap_bytes()
                };
                image[at + 8..at + 12].copy_from_slice(&mark.to_ne_bytes());
                with_mark += 1;
            }
        }
        let scan_image = ByteImage::new(&image);
        let mut scanner = RegionScanner::new(&scan_image);
        let mut damaged = 0;
        for found in scanner.by_ref() {
            assert_eq!(found.offset() % 8, 0);
            match found.region {
                Ok(_) => regions_seen += 1,
                Err(_) => damaged += 1,
            }
        }
        // Every plant is either ignored or reported as damaged; random
        // bytes after a plant make a valid mark with odds of 2^-31.
        assert_eq!(damaged, with_mark, "round {round}");
        assert_eq!(damaged + scanner.ignored(), planted, "round {round}");
    }
    assert_eq!(regions_seen, 0);
}

#[test]
fn a_region_cut_by_the_end_of_the_image_is_reported_at_every_length() {
    let region = region_bytes(256, 3);
    let mut rng = Rng(0xC0FFEE);
    let prefix = random_bytes(&mut rng, 4096);
    // Every 8th byte natively; every 56th under miri (every word would
    // take minutes there).
    let step = if cfg!(miri) { 56 } else { 8 };
    for cut in (0..region.len()).step_by(step).chain([region.len() - 1]) {
        let image = [prefix.as_slice(), &region[..cut]].concat();
        let scan_image = ByteImage::new(&image);
        let found: Vec<_> = RegionScanner::new(&scan_image).collect();
        if cut < 8 {
            assert!(found.is_empty(), "cut {cut}: no whole magic word");
            continue;
        }
        assert_eq!(found.len(), 1, "cut at {cut}");
        assert_eq!(found[0].offset(), 4096);
        match &found[0].region {
            Err(OpenError::TooShort { .. } | OpenError::Truncated { .. }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn a_region_of_the_other_byte_order_is_found_and_reads_the_same() {
    let native = region_bytes(256, 0x0102_0304_0506_0708);
    let swapped = foreign(&native);
    assert_ne!(native, swapped);
    let mut rng = Rng(77);
    let mut image = random_bytes(&mut rng, 8192);
    image[1024..1024 + swapped.len()].copy_from_slice(&swapped);

    let scan_image = ByteImage::new(&image);
    let found: Vec<_> = RegionScanner::new(&scan_image).collect();
    assert_eq!(found.len(), 1);
    let view = found[0].region.as_ref().unwrap();
    assert_eq!(view.byte_order(), ByteOrder::Swapped);
    assert_eq!(read_all(view).unwrap(), regions(&native)[0].1);
    assert_eq!(
        read_all(view).unwrap()[0],
        ("tag".into(), Owned::Counter(0x0102_0304_0506_0708))
    );
}

#[test]
fn a_region_being_initialised_is_reported_not_read() {
    let mut image = region_bytes(256, 4);
    // state word (offset 32) back to 0: "initialising".
    image[32..40].copy_from_slice(&0u64.to_ne_bytes());
    let scan_image = ByteImage::new(&image);
    let found: Vec<_> = RegionScanner::new(&scan_image).collect();
    assert_eq!(found.len(), 1);
    assert!(matches!(found[0].region, Err(OpenError::NotReady)));
}

#[test]
fn an_unaligned_image_still_scans_by_its_own_offsets() {
    // The image's bytes start at an odd address in memory: ByteImage loads
    // by copying, so offsets stay relative to the image.
    let region = region_bytes(256, 5);
    let mut buffer = vec![0u8; 1 + 512 + region.len()];
    buffer[1 + 512..].copy_from_slice(&region);
    let found = regions(&buffer[1..]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, 512);
}
