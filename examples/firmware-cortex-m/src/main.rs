//! Example firmware for QEMU's `lm3s6965evb` board (a TI LM3S6965,
//! Cortex-M3): publishes its stats in a static mmstats region, the way a
//! firmware author would, so that a RAM dump (debug probe, crash dump,
//! emulator) can be read back with `mmdump --image`.
//!
//! - a 4 KiB [`RegionBuffer`] in `.bss` (zeroed at reset by cortex-m-rt);
//! - counters, gauges, a float gauge, a flag, an average and two strings,
//!   updated by the main loop;
//! - one counter updated by the SysTick interrupt handler (1 kHz), its one
//!   writer, handed over through a `Mutex`.
//!
//! Run it: `cargo run --release` in this directory (QEMU, `Ctrl-a x`
//! quits). Read it: dump the RAM (QEMU monitor: `stop`, then
//! `pmemsave 0x20000000 0x10000 "ram.bin"`), then
//! `mmdump --image ram.bin --base 0x20000000`. `docs/EMBEDDED.md` has the
//! whole walk-through.
#![no_std]
#![no_main]

use core::cell::RefCell;

use cortex_m::interrupt::{self, Mutex};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use mmstats_nostd::{Counter, FieldSpec, Region, RegionBuffer, RegionOptions, Unit};
use panic_halt as _;

/// The region: 4 KiB of RAM, 128-byte aligned, zeroed at reset.
static STATS: RegionBuffer<512> = RegionBuffer::new();

/// The SysTick handler's counter. The handler is its only writer; `main`
/// creates it and moves it in here before enabling the interrupt.
static TICKS: Mutex<RefCell<Option<Counter<'static>>>> = Mutex::new(RefCell::new(None));

/// SysTick reload for 1 kHz at the board's 12 MHz system clock.
const TICK_RELOAD: u32 = 12_000 - 1;

/// What the firmware says it is; `mmdump` shows it as `fw.build`.
const BUILD: &str = concat!("firmware-cortex-m ", env!("CARGO_PKG_VERSION"));

#[entry]
fn main() -> ! {
    let options = RegionOptions {
        table_capacity: 12,
        ..RegionOptions::default()
    };
    // A firmware has no process id, start time or clock: those prologue
    // words stay 0 ("unknown").
    let mut region = Region::create(STATS.words(), &options).unwrap();
    region.set_prefix("fw.").unwrap();

    let state = region.text(FieldSpec::new("state").capacity(24)).unwrap();
    state.set("booting");
    region.constant_text("build", BUILD).unwrap();
    let loops = region
        .counter(FieldSpec::new("loops").describe("main loop iterations"))
        .unwrap();
    let ticks = region
        .counter(FieldSpec::new("ticks").describe("SysTick interrupts, 1 kHz"))
        .unwrap();
    let samples = region
        .counter(FieldSpec::new("sensor.samples").unit(Unit::Events))
        .unwrap();
    let tx_bytes = region
        .counter(FieldSpec::new("uart.tx_bytes").unit(Unit::Bytes))
        .unwrap();
    let queue = region
        .gauge(FieldSpec::new("queue.depth").describe("messages waiting"))
        .unwrap();
    let temp = region
        .float_gauge(FieldSpec::new("temp").unit(Unit::Celsius))
        .unwrap();
    let reading = region
        .average(FieldSpec::new("sensor.reading").unit(Unit::Volts))
        .unwrap();
    let healthy = region.flag("healthy").unwrap();

    interrupt::free(|cs| TICKS.borrow(cs).replace(Some(ticks)));
    let mut core = cortex_m::Peripherals::take().unwrap();
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(TICK_RELOAD);
    core.SYST.clear_current();
    core.SYST.enable_counter();
    core.SYST.enable_interrupt();

    healthy.set(true);
    state.set("running");

    // A made-up sensor: xorshift32 noise.
    let mut noise: u32 = 0x2545_F491;
    loop {
        loops.incr();
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        // About one loop in 256 takes a sample.
        if noise & 0xFF == 0 {
            let bits = noise >> 8;
            samples.incr();
            let millivolts = 3000 + bits % 300;
            reading.add(f64::from(millivolts) / 1000.0);
            temp.set(20.0 + f64::from(bits % 100) / 10.0);
            queue.set(i64::from(bits % 16));
            tx_bytes.add(u64::from(bits % 64));
        }
    }
}

#[exception]
fn SysTick() {
    interrupt::free(|cs| {
        if let Some(ticks) = TICKS.borrow(cs).borrow().as_ref() {
            ticks.incr();
        }
    });
}
