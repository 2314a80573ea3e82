//! Scanning a memory image for regions (`mmdump --image`): throughput of
//! `mmstats_nostd::scan::RegionScanner` over a 64 MiB image of random
//! bytes holding one region, through the two word sources it runs on:
//! private bytes (`ByteImage`, pipes) and atomic words (mapped files).
//! The goal is memory speed: a 1 GiB image in well under a second.

use std::hint::black_box;

use core::sync::atomic::Ordering;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mmstats_nostd::scan::RegionScanner;
use mmstats_nostd::{ByteImage, Region, RegionOptions, Word};

const IMAGE_LEN: usize = 64 << 20;

fn image() -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut bytes = Vec::with_capacity(IMAGE_LEN);
    while bytes.len() < IMAGE_LEN {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        bytes.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_ne_bytes());
    }
    let memory: Vec<Word> = (0..512).map(|_| Word::new(0)).collect();
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    region.counter("found").unwrap().incr();
    let at = IMAGE_LEN / 2;
    for (index, word) in memory.iter().enumerate() {
        let value = word.load(Ordering::Relaxed).to_ne_bytes();
        bytes[at + index * 8..at + index * 8 + 8].copy_from_slice(&value);
    }
    bytes
}

fn scan(c: &mut Criterion) {
    let bytes = image();
    let words: Vec<Word> = bytes
        .chunks_exact(8)
        .map(|chunk| Word::new(u64::from_ne_bytes(chunk.try_into().unwrap())))
        .collect();
    let mut group = c.benchmark_group("scan 64 MiB");
    group.throughput(Throughput::Bytes(IMAGE_LEN as u64));
    group.sample_size(20);
    group.bench_function("ByteImage (private bytes)", |b| {
        b.iter(|| {
            let image = ByteImage::new(black_box(&bytes));
            assert_eq!(RegionScanner::new(&image).count(), 1);
        });
    });
    group.bench_function("atomic words (mapped file)", |b| {
        b.iter(|| assert_eq!(RegionScanner::new(black_box(words.as_slice())).count(), 1));
    });
    group.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
