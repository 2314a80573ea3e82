//! Per-connection stats, a latency histogram and an event ring, published
//! until Ctrl-C: `cargo run -p mmstats --example connections`.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mmstats::{Counter, FieldSpec, HistogramTimer, StatsFile, Unit, stats};

stats! {
    /// One connection's stats: added when it opens, retired when it closes.
    pub struct ConnStats {
        /// Bytes received.
        bytes_in: Counter { unit: Unit::Bytes },
        /// Time per request (a histogram: count, mean, p50 … p99.9).
        latency: HistogramTimer,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = StatsFile::builder("server").size(1 << 20).create()?;
    let events = file.event_ring(FieldSpec::new("events").capacity(1024))?;
    println!(
        "read it with: mmdump {0}   (events: mmdump tail {0})",
        file.path().display()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    ctrlc::set_handler(move || on_signal.store(true, Ordering::Relaxed))?;
    let mut id: u64 = 1000;
    while !stop.load(Ordering::Relaxed) {
        id += 1;
        // One family of fields, `conn.bytes_in` and `conn.latency`, the
        // connection a label: readers show `conn.bytes_in{conn="1001"}`.
        let label = id.to_string();
        let conn = ConnStats::register(
            &file
                .dynamic_group("conn.")
                .with_labels(&[("conn", &label)])?,
        )?;
        {
            let _span = events.span(1, "handshake"); // enter now, exit on drop
            std::thread::sleep(Duration::from_millis(2));
        }
        for _ in 0..50 {
            conn.latency.time(|| {
                conn.bytes_in.add(512);
                std::thread::sleep(Duration::from_millis(1));
            });
        }
        events.event(2, &[id]);
        drop(conn); // the connection closed: its fields are retired
    }
    Ok(())
}
