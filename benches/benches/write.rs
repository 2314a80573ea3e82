//! Writer cost per update: mmstats, its baselines and its peers, in one run
//! (the cases are defined once in `mmstats_benches`).

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use mmstats_benches::{Case, baseline_cases, bench_dir, mmstats_write_cases, peers};

fn writes(c: &mut Criterion) {
    let dir = bench_dir();
    let mut cases: Vec<Case> = baseline_cases();
    cases.extend(mmstats_write_cases(dir.path()));
    cases.extend(peers::peer_write_cases());
    let mut group = c.benchmark_group("write");
    for case in &mut cases {
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

criterion_group!(benches, writes);
criterion_main!(benches);
