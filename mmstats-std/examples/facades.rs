//! A program instrumented only with the `metrics` macros and `tracing`
//! spans and events, published through mmstats' recorder and layer:
//! `cargo run -p mmstats --features metrics,tracing --example facades`.
//!
//! Set-up is the only mmstats code (file, recorder, layer); the work below
//! knows nothing of mmstats. It serves a few "requests" on two threads,
//! prints the file's path, and keeps the file until its stdin closes (or
//! Enter), so a reader can look: `mmdump --json PATH`,
//! `mmdump tail --spans PATH`, `mmdump trace PATH`.
//! `--dir DIR` puts the file in DIR instead of the default directory.

#[cfg(not(all(feature = "metrics", feature = "tracing")))]
fn main() {
    eprintln!("the facades example needs --features metrics,tracing");
    std::process::exit(2);
}

/// A request, as a program already instrumented for `metrics` and
/// `tracing` handles it.
#[cfg(all(feature = "metrics", feature = "tracing"))]
fn serve(method: &'static str, round: u64) {
    let span = tracing::info_span!("request", method, round);
    let _request = span.enter();
    metrics::counter!("requests", "method" => method).increment(1);
    {
        let _db = tracing::info_span!("db").entered();
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    metrics::histogram!("latency", "method" => method).record(0.000_25);
    metrics::gauge!("inflight").set(1.0);
    tracing::info!("served");
}

#[cfg(all(feature = "metrics", feature = "tracing"))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{BufRead, Write};
    use tracing_subscriber::layer::SubscriberExt;

    let mut builder = mmstats::StatsFile::builder("facades").size(1 << 20);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => builder = builder.dir(args.next().ok_or("--dir takes a directory")?),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let file = builder.create()?;
    mmstats::metrics_recorder::MmstatsRecorder::new(file.clone())?.install()?;
    let layer = mmstats::tracing_layer::MmstatsLayer::builder(file.clone())
        .label_fields(&["method"])
        .build()?;
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;

    metrics::describe_counter!("requests", metrics::Unit::Count, "requests served");
    metrics::describe_histogram!("latency", metrics::Unit::Seconds, "time to answer");
    let worker = std::thread::Builder::new()
        .name("worker".into())
        .spawn(|| {
            for round in 0..5 {
                serve("PUT", round);
            }
        })?;
    for round in 0..10 {
        serve("GET", round);
    }
    worker.join().map_err(|_| "the worker panicked")?;

    println!("{}", file.path().display());
    std::io::stdout().flush()?;
    // Keep the file (and the worker's ring, now in the pool) until told.
    let _ = std::io::stdin().lock().read_line(&mut String::new());
    Ok(())
}
