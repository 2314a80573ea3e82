//! The format-2 reader on arbitrary bytes: values or typed errors, never a
//! panic or an out-of-bounds read, and the same answers over a copied
//! image and over live words (see `mmstats_fuzz_checks::region_bytes`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mmstats_fuzz_checks::region_bytes(data));
