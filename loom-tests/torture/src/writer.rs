//! The writer process: one stats file, every value rewritten round after
//! round.

use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use mmstats_nostd::FieldSpec;

use mmstats::events::EventRing;
use mmstats::{AddFieldError, Average, Counter, CreateError, Histogram, StatsFile, Text};

use crate::{
    AVERAGE_FIELDS, HISTOGRAM_FIELD, RING_CAPACITY, RING_EVENT, RING_FIELD, ROUND_FIELD,
    TEXT_FIELDS, average_for, histogram_value_for, ring_payload_for, text_for,
};

/// Why the writer process stopped before it was killed.
#[derive(Debug)]
#[non_exhaustive]
pub enum WriterRunError {
    /// The stats file could not be created.
    Create(CreateError),
    /// A field could not be added to it.
    AddField {
        /// The field's name.
        name: &'static str,
        /// Why.
        source: AddFieldError,
    },
    /// `ready PATH` could not be written to stdout.
    Stdout(io::Error),
    /// A text pattern was not UTF-8 (a bug in [`text_for`]).
    ///
    /// [`text_for`]: crate::text_for
    PatternNotUtf8(std::str::Utf8Error),
}

impl std::fmt::Display for WriterRunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Create(error) => write!(f, "cannot create the stats file: {error}"),
            Self::AddField { name, source } => write!(f, "cannot add {name}: {source}"),
            Self::Stdout(error) => write!(f, "cannot write to stdout: {error}"),
            Self::PatternNotUtf8(error) => write!(f, "a text pattern is not UTF-8: {error}"),
        }
    }
}

impl std::error::Error for WriterRunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Create(error) => Some(error),
            Self::AddField { source, .. } => Some(source),
            Self::Stdout(error) => Some(error),
            Self::PatternNotUtf8(error) => Some(error),
        }
    }
}

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
pub fn run_writer(dir: &Path, max_seconds: u64) -> Result<(), WriterRunError> {
    let file = StatsFile::builder("torture")
        .dir(dir)
        .size(256 * 1024)
        .table_capacity(16)
        .create()
        .map_err(WriterRunError::Create)?;
    let named = |name: &'static str| move |source| WriterRunError::AddField { name, source };
    let fields = WriterFields {
        round: file.counter(ROUND_FIELD).map_err(named(ROUND_FIELD))?,
        texts: TEXT_FIELDS
            .iter()
            .map(|&(name, capacity, buffers)| {
                file.text(FieldSpec::new(name).capacity(capacity).buffers(buffers))
                    .map(|text| (text, capacity))
                    .map_err(named(name))
            })
            .collect::<Result<_, _>>()?,
        averages: AVERAGE_FIELDS
            .iter()
            .map(|&(name, buffers)| {
                file.average(FieldSpec::new(name).buffers(buffers))
                    .map_err(named(name))
            })
            .collect::<Result<_, _>>()?,
        histogram: file
            .histogram(
                FieldSpec::new(HISTOGRAM_FIELD)
                    .precision(4)
                    .highest(1 << 20),
            )
            .map_err(named(HISTOGRAM_FIELD))?,
        ring: file
            .event_ring(
                FieldSpec::new(RING_FIELD)
                    .capacity(RING_CAPACITY)
                    .payload_words(4),
            )
            .map_err(named(RING_FIELD))?,
    };
    let mut out = io::stdout().lock();
    writeln!(out, "ready {}", file.path().display()).map_err(WriterRunError::Stdout)?;
    out.flush().map_err(WriterRunError::Stdout)?;
    drop(out);

    let started = Instant::now();
    let mut text = Vec::with_capacity(4096);
    let mut k = 0u64;
    loop {
        k += 1;
        fields.round.incr();
        for (handle, capacity) in &fields.texts {
            text_for(k, *capacity, &mut text);
            handle.set(std::str::from_utf8(&text).map_err(WriterRunError::PatternNotUtf8)?);
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
