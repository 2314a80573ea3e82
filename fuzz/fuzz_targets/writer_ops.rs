//! Arbitrary sequences of writer operations (every kind, updates, fields
//! added later, prefix changes, close, re-create) checked against a model
//! after every operation (see `mmstats_fuzz_checks::writer_ops`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mmstats_fuzz_checks::writer_ops(data);
});
