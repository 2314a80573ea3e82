//! `mmdump`, the operator's tool for mmstats files: list, dump, tree, get,
//! watch, tail, trace, munin, clean, `--image`, and with the `serve` feature
//! (default) `serve` (Prometheus, JSON API, dashboard), `record` (SQLite
//! history) and `trend` (charts); plus the demo writer. The binaries
//! (`mmdump`, `mmstats-demo`) are thin: the work is in these modules, so
//! the integration tests and the benchmarks can call it. The torture test
//! is its own crate, `mmstats-torture` (`loom-tests/torture/`).
//!
//! Programs that publish or read stats depend on the `mmstats` library
//! alone; nothing here is needed for that.
#![deny(unsafe_code)]

pub mod demo;
pub mod dump;
pub mod glob;
pub mod image;
#[cfg(feature = "push")]
pub mod push;
#[cfg(feature = "serve")]
pub mod record;
#[cfg(feature = "serve")]
pub mod serve;
#[allow(unsafe_code)]
pub mod signals;
pub mod tail;
pub mod trace;
#[cfg(feature = "serve")]
pub mod trend;
pub mod value_text;
