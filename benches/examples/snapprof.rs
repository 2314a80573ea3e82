//! temporary profiling helper
fn main() {
    let dir = mmstats_benches::bench_dir();
    let file = mmstats_benches::region_with_counters(dir.path(), "p", 1000);
    let mut reader = mmstats::RegionReader::open(file.path()).unwrap();
    let mut snapshot = mmstats::Snapshot::default();
    for _ in 0..1000 {
        reader.snapshot(&mut snapshot).unwrap();
    }
    std::hint::black_box(&snapshot);
}
