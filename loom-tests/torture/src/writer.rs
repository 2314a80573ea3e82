//! The writer process: one stats file, every value rewritten round after
//! round.

use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use mmstats_nostd::FieldSpec;

use mmstats::events::EventRing;
use mmstats::{Average, Counter, Histogram, StatsFile, Text};

use crate::{
    AVERAGE_FIELDS, HISTOGRAM_FIELD, RING_CAPACITY, RING_EVENT, RING_FIELD, ROUND_FIELD,
    TEXT_FIELDS, average_for, histogram_value_for, ring_payload_for, text_for,
};

/// The writer's handles.
struct WriterFields {
    round: Counter,
    texts: Vec<(Text, usize)>,
    averages: Vec<Average>,
    histogram: Histogram,
    ring: EventRing,
}

/// Runs the writer: creates the stats file in `dir`, prints `ready PATH`
/// on stdout, then rewrites every value, round after round, until killed
/// or until `max_seconds` have passed (a safety net should its parent
/// vanish).
pub fn run_writer(dir: &Path, max_seconds: u64) -> Result<(), Box<dyn std::error::Error>> {
    let file = StatsFile::builder("torture")
        .dir(dir)
        .size(256 * 1024)
        .table_capacity(16)
        .create()?;
    let fields = WriterFields {
        round: file.counter(ROUND_FIELD)?,
        texts: TEXT_FIELDS
            .iter()
            .map(|&(name, capacity, buffers)| {
                file.text(FieldSpec::new(name).capacity(capacity).buffers(buffers))
                    .map(|text| (text, capacity))
            })
            .collect::<Result<_, _>>()?,
        averages: AVERAGE_FIELDS
            .iter()
            .map(|&(name, buffers)| file.average(FieldSpec::new(name).buffers(buffers)))
            .collect::<Result<_, _>>()?,
        histogram: file.histogram(
            FieldSpec::new(HISTOGRAM_FIELD)
                .precision(4)
                .highest(1 << 20),
        )?,
        ring: file.event_ring(
            FieldSpec::new(RING_FIELD)
                .capacity(RING_CAPACITY)
                .payload_words(4),
        )?,
    };
    let mut out = io::stdout().lock();
    writeln!(out, "ready {}", file.path().display())?;
    out.flush()?;
    drop(out);

    let started = Instant::now();
    let mut text = Vec::with_capacity(4096);
    let mut k = 0u64;
    loop {
        k += 1;
        fields.round.incr();
        for (handle, capacity) in &fields.texts {
            text_for(k, *capacity, &mut text);
            handle.set(std::str::from_utf8(&text)?);
        }
        let (sum, count) = average_for(k);
        for average in &fields.averages {
            average.set(sum, count);
        }
        fields.histogram.record(histogram_value_for(k));
        fields.ring.event(RING_EVENT, &ring_payload_for(k));
        if k.is_multiple_of(4096) && started.elapsed().as_secs() >= max_seconds {
            return Ok(());
        }
    }
}
