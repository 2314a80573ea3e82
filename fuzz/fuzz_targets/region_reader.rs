//! The format-2 reader on arbitrary bytes: it must return values or typed
//! errors, never panic or read out of bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmstats_nostd::{ByteImage, MAX_COPY_WORDS, RegionView};

fuzz_target!(|data: &[u8]| {
    let image = ByteImage::new(data);
    let Ok(view) = RegionView::open(&image) else {
        return;
    };
    let Ok(count) = view.field_count() else {
        return;
    };
    let mut scratch = [0u64; MAX_COPY_WORDS];
    for index in 0..count {
        if let Ok(Some(field)) = view.entry(index) {
            let _ = view.read(&field, &mut scratch, 4);
        }
    }
    let _ = view.still_valid();
});
