//! Event rings for std programs: each record gets the wall-clock time (ns
//! since the Unix epoch) and the calling thread's id; spans record enter
//! and exit so `mmdump tail --spans` can print their durations.
//!
//! A ring has one producer (`Send`, not `Sync`): give each thread its own
//! ring, or its own file. Readers follow it with `RegionView::poll_ring` (as
//! `mmdump tail` does); the
//! format is `docs/FORMAT.md` §5.7.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! let stats = mmstats::StatsFile::builder("srv").dir(dir.path()).create().unwrap();
//! let events = stats
//!     .event_ring(mmstats::FieldSpec::new("events").capacity(256))
//!     .unwrap();
//! events.event(1, &[42, 7]);        // event 1 with two values
//! events.text(2, "client hung up"); // event 2 with a short text
//! {
//!     let _span = events.span(3, "handle request"); // enter now, exit on drop
//! }
//! assert_eq!(events.appended(), 4);
//! ```

use mmstats_nostd::FieldSpec;

use crate::error::AddFieldError;
use crate::handles::Stat;
use crate::os;
use crate::publish::{Handle, StatsFile};

/// An event ring with one producer (see the module docs).
#[derive(Debug)]
pub struct EventRing {
    ring: Handle<mmstats_nostd::EventRing<'static>>,
}

impl Stat for EventRing {
    fn register(file: &StatsFile, spec: FieldSpec<'_>) -> Result<Self, AddFieldError> {
        Ok(Self {
            ring: file.with_region(&spec, |region, spec| region.event_ring(spec))?,
        })
    }
}

impl EventRing {
    /// Appends event `event` with up to `payload_words` values (more are
    /// cut); returns its sequence number. Never waits.
    #[inline]
    pub fn event(&self, event: u32, values: &[u64]) -> u64 {
        self.ring
            .event(os::now_ns(), os::cached_tid(), event, values)
    }

    /// Appends event `event` with a short text (cut at a character
    /// boundary to `8 × payload_words` bytes).
    #[inline]
    pub fn text(&self, event: u32, text: &str) -> u64 {
        self.ring.text(os::now_ns(), os::cached_tid(), event, text)
    }

    /// Starts a span named `name` (cut to `8 × (payload_words - 1)`
    /// bytes): an enter record now, an exit record when the guard drops.
    #[inline]
    #[must_use = "the span ends when the guard is dropped"]
    pub fn span(&self, event: u32, name: &str) -> Span<'_> {
        Span {
            ring: self,
            event,
            id: self.enter(event, name),
        }
    }

    /// Appends a span-enter record; returns the span's id for
    /// [`EventRing::exit`].
    #[inline]
    pub fn enter(&self, event: u32, name: &str) -> u64 {
        self.ring.enter(os::now_ns(), os::cached_tid(), event, name)
    }

    /// Appends the exit record of span `span`.
    #[inline]
    pub fn exit(&self, event: u32, span: u64) -> u64 {
        self.ring.exit(os::now_ns(), os::cached_tid(), event, span)
    }

    /// [`EventRing::enter`] with a timestamp the caller read (ns since the
    /// Unix epoch, [`crate::os::now_ns`]), for a caller that also needs it
    /// (a span's duration) and reads the clock once.
    #[inline]
    pub fn enter_at(&self, unix_ns: u64, event: u32, name: &str) -> u64 {
        self.ring.enter(unix_ns, os::cached_tid(), event, name)
    }

    /// [`EventRing::exit`] with a timestamp the caller read.
    #[inline]
    pub fn exit_at(&self, unix_ns: u64, event: u32, span: u64) -> u64 {
        self.ring.exit(unix_ns, os::cached_tid(), event, span)
    }

    /// Records appended so far.
    #[must_use]
    pub fn appended(&self) -> u64 {
        self.ring.appended()
    }

    /// Records the ring holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.ring.shape().capacity()
    }

    /// Whether the ring is a dynamic field (retired when dropped).
    #[must_use]
    pub fn is_dynamic(&self) -> bool {
        self.ring.is_dynamic()
    }
}

/// A span in progress: writes its exit record when dropped.
#[derive(Debug)]
pub struct Span<'r> {
    ring: &'r EventRing,
    event: u32,
    id: u64,
}

impl Span<'_> {
    /// The span's id (unique per ring).
    #[must_use]
    pub const fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Span<'_> {
    fn drop(&mut self) {
        self.ring.exit(self.event, self.id);
    }
}

impl StatsFile {
    /// Adds an event ring of the spec's `capacity` records (default 64)
    /// with `payload_words` payload words each (default 4).
    pub fn event_ring<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<crate::events::EventRing, AddFieldError> {
        self.add(spec)
    }
}
