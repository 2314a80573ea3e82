//! The checks behind the fuzz targets. The same file is compiled into
//! `mmstats-std/tests/fuzz_corpus.rs`, which replays `fuzz/corpus/` on
//! stable as part of `cargo test --workspace`.

pub mod checks;
