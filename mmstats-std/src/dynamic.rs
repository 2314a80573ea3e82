//! Dynamic fields that fall back to an overflow field when the region is
//! full: a server keeps counting (in aggregate) instead of failing when a
//! connection cannot get fields of its own.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! use std::sync::Arc;
//! let stats = mmstats::StatsFile::builder("srv")
//!     .dir(dir.path())
//!     .table_capacity(7) // 5 default fields, the overflow counter, one more
//!     .create()
//!     .unwrap();
//! let overflow = Arc::new(stats.shared_counter("conn.overflow.bytes").unwrap());
//! let first = stats.dynamic_group("conn.1.").counter_or("bytes", &overflow).unwrap();
//! let second = stats.dynamic_group("conn.2.").counter_or("bytes", &overflow).unwrap();
//! assert!(!first.is_overflow());
//! assert!(second.is_overflow(), "the table is full");
//! second.add(100);
//! assert_eq!(overflow.get(), 100);
//! ```

use std::sync::Arc;

use mmstats_nostd::FieldSpec;

use crate::error::AddFieldError;
use crate::publish::{Counter, Gauge, SharedCounter, SharedGauge, StatsFile};

/// A counter of its own, or the shared overflow counter when the region
/// had no room for it.
#[derive(Debug)]
pub enum CounterOrOverflow {
    /// The field itself.
    Field(Counter),
    /// The overflow field (shared with other fields that did not fit).
    Overflow(Arc<SharedCounter>),
}

impl CounterOrOverflow {
    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        match self {
            Self::Field(counter) => counter.add(n),
            Self::Overflow(counter) => counter.add(n),
        }
    }

    /// Adds one.
    #[inline]
    pub fn incr(&self) {
        self.add(1);
    }

    /// Whether this is the overflow field.
    #[must_use]
    pub const fn is_overflow(&self) -> bool {
        matches!(self, Self::Overflow(_))
    }
}

/// A gauge of its own, or the shared overflow gauge when the region had no
/// room for it. Only relative updates: on the overflow gauge they add up
/// over every field that fell back to it.
#[derive(Debug)]
pub enum GaugeOrOverflow {
    /// The field itself.
    Field(Gauge),
    /// The overflow field.
    Overflow(Arc<SharedGauge>),
}

impl GaugeOrOverflow {
    /// Adds `delta`.
    #[inline]
    pub fn add(&self, delta: i64) {
        match self {
            Self::Field(gauge) => gauge.add(delta),
            Self::Overflow(gauge) => gauge.add(delta),
        }
    }

    /// Subtracts `delta`.
    #[inline]
    pub fn sub(&self, delta: i64) {
        self.add(delta.wrapping_neg());
    }

    /// Adds one.
    #[inline]
    pub fn incr(&self) {
        self.add(1);
    }

    /// Subtracts one.
    #[inline]
    pub fn decr(&self) {
        self.add(-1);
    }

    /// Whether this is the overflow field.
    #[must_use]
    pub const fn is_overflow(&self) -> bool {
        matches!(self, Self::Overflow(_))
    }
}

impl StatsFile {
    /// Adds a counter, or hands back `overflow` if the region is full
    /// (table or value area: [`AddFieldError::is_full`]). Other errors
    /// (a bad or duplicate name) are returned.
    pub fn counter_or<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
        overflow: &Arc<SharedCounter>,
    ) -> Result<CounterOrOverflow, AddFieldError> {
        match self.counter(spec) {
            Ok(counter) => Ok(CounterOrOverflow::Field(counter)),
            Err(error) if error.is_full() => Ok(CounterOrOverflow::Overflow(Arc::clone(overflow))),
            Err(error) => Err(error),
        }
    }

    /// Adds a gauge, or hands back `overflow` if the region is full.
    pub fn gauge_or<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
        overflow: &Arc<SharedGauge>,
    ) -> Result<GaugeOrOverflow, AddFieldError> {
        match self.gauge(spec) {
            Ok(gauge) => Ok(GaugeOrOverflow::Field(gauge)),
            Err(error) if error.is_full() => Ok(GaugeOrOverflow::Overflow(Arc::clone(overflow))),
            Err(error) => Err(error),
        }
    }
}
