//! The footprint probe of `docs/EMBEDDED.md`: a firmware whose main loop
//! updates 8 counters. With the `stats` feature they are published in a
//! static mmstats region; without it they are plain local `u64`s doing the
//! same work, so `size` on the two ELF files shows what the stats cost in
//! flash and RAM.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use panic_halt as _;

/// Names of the published counters.
#[cfg(feature = "stats")]
const NAMES: [&str; 8] = [
    "rx.frames",
    "tx.frames",
    "rx.errors",
    "tx.errors",
    "adc.samples",
    "irq.count",
    "wdt.kicks",
    "loops",
];

/// A region that holds exactly the prologue, 8 entries and 8 packed
/// values: 256 + 8 * 256 + 8 * 8 = 2368 bytes. One writer on one core has
/// no false sharing to avoid, so the counters opt out of the default
/// 64-byte lines (`Padding::Packed`), which would need 448 bytes more.
#[cfg(feature = "stats")]
static STATS: mmstats_nostd::RegionBuffer<296> = mmstats_nostd::RegionBuffer::new();

#[cfg(feature = "stats")]
#[entry]
fn main() -> ! {
    use mmstats_nostd::{FieldSpec, Padding, Region, RegionOptions};

    let options = RegionOptions {
        table_capacity: NAMES.len(),
        ..RegionOptions::default()
    };
    let mut region = Region::create(STATS.words(), &options).unwrap();
    let counters = NAMES.map(|name| {
        region
            .counter(FieldSpec::new(name).padding(Padding::Packed))
            .unwrap()
    });
    let mut event: u32 = 1;
    loop {
        event = event.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        for (index, counter) in counters.iter().enumerate() {
            if event & (1 << index) != 0 {
                counter.incr();
            }
        }
    }
}

#[cfg(not(feature = "stats"))]
#[entry]
fn main() -> ! {
    let mut counters = [0u64; 8];
    let mut event: u32 = 1;
    loop {
        event = event.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        for (index, counter) in counters.iter_mut().enumerate() {
            if event & (1 << index) != 0 {
                *counter += 1;
            }
        }
        core::hint::black_box(&mut counters);
    }
}
