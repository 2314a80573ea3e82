//! Writer cost per update against the single-writer hardware limit (a
//! relaxed load plus store on a local atomic) and a locked add. Issue 4
//! extends this into the full peer comparison.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use mmstats_nostd::{FieldSpec, Region, RegionOptions, Word};

fn writes(c: &mut Criterion) {
    let memory: Vec<Word> = (0..4096).map(|_| Word::new(0)).collect();
    let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
    let counter = region.counter("counter").unwrap();
    let text = region.text(FieldSpec::new("text").capacity(200)).unwrap();
    let average = region.average("average").unwrap();

    let mut group = c.benchmark_group("write");
    let local = AtomicU64::new(0);
    group.bench_function("baseline: relaxed load+store", |b| {
        b.iter(|| {
            let v = local.load(Ordering::Relaxed);
            local.store(black_box(v + 1), Ordering::Relaxed);
        });
    });
    group.bench_function("baseline: fetch_add", |b| {
        b.iter(|| local.fetch_add(black_box(1), Ordering::Relaxed));
    });
    group.bench_function("counter incr", |b| b.iter(|| counter.add(black_box(1))));
    group.bench_function("average add", |b| b.iter(|| average.add(black_box(1.5))));
    let sixteen = "0123456789abcdef";
    group.bench_function("string set 16 B", |b| {
        b.iter(|| text.set(black_box(sixteen)))
    });
    group.finish();
}

criterion_group!(benches, writes);
criterion_main!(benches);
