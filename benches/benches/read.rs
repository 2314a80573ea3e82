//! Reader cost: a full snapshot of a region with 10, 1,000 and 100,000
//! counters through `RegionReader::snapshot` (criterion reports the time
//! per snapshot; divide by the field count for ns per field, as the
//! report binary does).

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use mmstats_benches::{bench_dir, snapshot_cases};

fn reads(c: &mut Criterion) {
    let dir = bench_dir();
    let mut group = c.benchmark_group("read");
    for (_, mut case) in snapshot_cases(dir.path()) {
        let run = &mut case.run;
        group.bench_function(case.name.as_str(), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                run(iters);
                start.elapsed()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, reads);
criterion_main!(benches);
