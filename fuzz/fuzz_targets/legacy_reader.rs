//! The legacy v1 parser on arbitrary bytes, plus a structured round trip
//! for inputs that do not start with the version byte (see
//! `mmstats_fuzz_checks::legacy_bytes`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mmstats_fuzz_checks::legacy_bytes(data));
