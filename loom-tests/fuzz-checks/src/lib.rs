//! What the fuzz targets check, callable from the fuzz targets (the
//! cargo-fuzz crate `fuzz/`, its own workspace, depends on this crate by
//! path) and from ordinary `cargo test` on stable (this crate's
//! `tests/fuzz_corpus.rs` replays every input checked in under
//! `fuzz/corpus/`; mmdump's `tests/python_reader.rs` uses the seeds).
//!
//! Each check panics when it finds a bug, and only then:
//! - [`region_bytes`]: the format-2 reader on arbitrary bytes gives values
//!   or typed errors, the same ones over a copied image and over live
//!   atomic words, and the same ones when read twice; event rings are
//!   followed from their oldest record, records in order, never one being
//!   written, every one counted;
//! - [`legacy_bytes`]: the legacy v1 parser on arbitrary bytes returns
//!   fields or an error, never panics; inputs not starting with the legacy
//!   version byte are instead decoded as records, written out as a legacy
//!   file and parsed back, which must give exactly those records;
//! - [`writer_ops`]: an arbitrary sequence of writer operations (create a
//!   region, add fields of every kind, format 2.1 included, update them,
//!   change the label prefix, close, re-create; add dynamic fields, retire
//!   them and reuse their slots under the reuse delay, with an explicit
//!   clock; follow event rings) leaves the region reading back exactly what
//!   a simple model of those operations says, after every operation:
//!   histograms' count, sum, min, max and every bucket; moving and window
//!   averages (integer samples, so that sums are exact in any order);
//!   the records, and the exact gaps, a `RingCursor` gets; retired fields
//!   gone, entries read before a retirement refused (`SlotChanged`) even
//!   once the slot holds another field; the exact typed error of every
//!   refused add, a full region included.

mod legacy_reader;
mod region_reader;
mod seeds;
mod writer_model;

pub use legacy_reader::*;
pub use region_reader::*;
pub use seeds::*;
pub use writer_model::*;

/// Largest region (in words) a writer scenario creates.
pub const MAX_SCENARIO_WORDS: usize = 4096;
