//! A server's stats, published until Ctrl-C: `cargo run -p mmstats --example server`.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mmstats::{Counter, Gauge, StatsFile, Text, Timer, Unit, stats};

stats! {
    /// What the server publishes.
    pub struct ServerStats {
        /// Requests served.
        requests: Counter,
        /// Response bytes sent.
        bytes_out: Counter { unit: Unit::Bytes },
        /// Requests in progress.
        inflight: Gauge,
        /// Build version.
        version: Text { capacity: 32 },
        /// Time to handle a request.
        handle: Timer { name: "handle.seconds" },
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = StatsFile::builder("server").prefix("server.").create()?;
    let stats = ServerStats::register(&file)?;
    stats.version.set("v1.2");
    println!("publishing {}", file.path().display());
    println!("read it with: mmdump {}", file.path().display());

    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    ctrlc::set_handler(move || on_signal.store(true, Ordering::Relaxed))?;
    while !stop.load(Ordering::Relaxed) {
        stats.inflight.set(1);
        stats.handle.time(|| {
            stats.requests.incr();
            stats.bytes_out.add(512);
            std::thread::sleep(Duration::from_millis(1));
        });
        stats.inflight.set(0);
    }
    Ok(()) // the file is unlinked when `file` and its handles drop
}
