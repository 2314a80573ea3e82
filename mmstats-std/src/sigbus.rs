//! Surviving a stats file that shrinks while a reader has it mapped.
//!
//! Touching a page of a `MAP_SHARED` file mapping that lies past the end of
//! the file raises `SIGBUS`, which kills the process by default. A reader
//! must survive that: files are shared, and anyone who may write to the
//! directory can truncate one. This module installs (once, at the first
//! read mapping) a `SIGBUS` handler that, for an address inside a
//! registered read mapping, maps private zero pages over the whole mapping
//! (`mmap(2)` with `MAP_FIXED`), records the fault, and returns: the load
//! is retried and reads zeros, and the reader, which checks whether its
//! mapping faulted after each read, reports "truncated while reading"
//! instead of trusting those zeros. A `SIGBUS` at any other
//! address goes to the handler that was installed before, or to the
//! default action.
//!
//! # No limit on protected mappings
//!
//! Registered ranges live in a table of fixed-size chunks linked by atomic
//! pointers. A registration claims a free slot; when every slot is taken
//! it allocates a new chunk (outside any signal handler) and links it at
//! the end. Chunks are never freed, so the handler can walk them without
//! locks or allocation; a released slot is reused by the next
//! registration. The table's memory is bounded by the largest number of
//! read mappings open at once (32 bytes a slot, rounded up to a chunk),
//! itself bounded by the kernel's `vm.max_map_count`; the handler's walk is
//! linear in that number. A registration that cannot be made (no memory
//! for a chunk, the handler could not be installed or was replaced) is an
//! error ([`ProtectionError`]): no mapping is ever read unprotected
//! without the caller knowing.
//!
//! # Programs with their own `SIGBUS` handler
//!
//! A handler installed before the library's first read mapping is chained
//! to. A program that installs its own handler *after* that replaces the
//! library's, and its readers would die of the next truncation. The
//! library notices: each new read mapping checks (one `sigaction(2)`
//! query) that the installed handler is still this module's, and reads of
//! mappings already open check again at most once every
//! [`RECHECK_INTERVAL_MS`] milliseconds per process (a coarse clock read
//! otherwise, a few nanoseconds: the fast snapshot path costs about a
//! hundred, the query about 250). When the handler is not ours, reads and
//! new readers fail with [`ProtectionError::HandlerReplaced`] ("SIGBUS
//! handler replaced; see mmstats::sigbus contract") instead of reading
//! unprotected. Reads within [`RECHECK_INTERVAL_MS`] of a replacement, or
//! racing it on another thread, can still be unprotected: install handlers
//! before opening readers.
//!
//! The contract for a program that handles `SIGBUS` itself:
//!
//! 1. call [`set_chained`] (before installing the handler, or at least
//!    before the next read), which tells the library to stop checking;
//! 2. at the start of its handler (installed with `SA_SIGINFO`), call
//!    [`handle`] with the signal number and the `siginfo_t` pointer the
//!    kernel passed, and return at once if it returns `true`: the fault
//!    was in a reader's mapping and is repaired;
//! 3. otherwise handle the signal as it would have.
//!
//! [`check_protection`] says whether reads are protected now.
//!
//! # Writers are not protected
//!
//! A writer's own mapping (`WriteMap` in the crate's `map` module) is not
//! registered: the writer owns its file (created private, its pages
//! reserved with `fallocate`), so only its own user can shrink it; and a
//! writer whose stores went to private zero pages would lose its stats
//! without telling anyone, worse than the crash.
//!
//! # Safety
//!
//! `unsafe` is denied at the crate root and allowed only in `map`, `sigbus`
//! and `publish`, each with a `# Safety` section like this one.
//! Here: `sigaction(2)`, the handler itself, and the never-freed chunks of the
//! table. The handler only uses async-signal-safe operations: atomic
//! loads and stores on memory that is never freed, `mmap(2)`,
//! `sigaction(2)` and `raise(3)`. The atomics here are process-local (no
//! byte of this table is shared with another process), so they are the
//! standard library's, not the `mmstats_nostd::Word`s that shared
//! memory goes through.

use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence};
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::fmt;
use std::sync::OnceLock;

/// Slots in a chunk of the table (a chunk is 8 KiB on 64-bit machines).
const CHUNK_SLOTS: usize = 256;

/// How often, at most, reads re-check that the installed `SIGBUS`
/// handler is still this module's (one `sigaction(2)` query per process
/// per interval, whatever the number of readers and reads).
pub const RECHECK_INTERVAL_MS: u64 = 10;

/// The low two bits of a slot's state word; the bits above count the
/// slot's registrations, so a handler that read a range while the slot
/// was released and claimed again sees the state change and skips it.
const TAG_MASK: u64 = 0b11;
const FREE: u64 = 0;
const CLAIMED: u64 = 1;
const ACTIVE: u64 = 2;
/// The step of the registration count in a state word.
const GENERATION: u64 = 0b100;

struct Slot {
    state: AtomicU64,
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

struct Chunk {
    slots: [Slot; CHUNK_SLOTS],
    /// Slots claimed (a hint: chunks that look full are skipped).
    in_use: AtomicUsize,
    /// The next chunk, null for the last; set once, never freed.
    next: AtomicPtr<Chunk>,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SLOT: Slot = Slot {
    state: AtomicU64::new(FREE),
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};

/// The first chunk of the table; the others hang off its `next`.
static FIRST: Chunk = Chunk {
    slots: [EMPTY_SLOT; CHUNK_SLOTS],
    in_use: AtomicUsize::new(0),
    next: AtomicPtr::new(ptr::null_mut()),
};

static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);
/// Whether installing the handler succeeded (or the `errno` why not).
static INSTALLED: OnceLock<Result<(), i32>> = OnceLock::new();
/// The `SIGBUS` disposition in force before ours, to chain to.
static PREVIOUS: OnceLock<PreviousAction> = OnceLock::new();
/// The program said its own handler calls [`handle`] first.
static CHAINED: AtomicBool = AtomicBool::new(false);
/// The last handler check: its time (coarse monotonic milliseconds)
/// shifted left by one, and in the low bit whether the handler was
/// replaced. `NEVER_CHECKED` before the first.
static LAST_CHECK: AtomicU64 = AtomicU64::new(NEVER_CHECKED);
const NEVER_CHECKED: u64 = 0;

struct PreviousAction(libc::sigaction);

// SAFETY: a `sigaction` is plain data (a handler address, flags and a
// mask); it is written once before the handler is installed and only read
// afterwards.
unsafe impl Sync for PreviousAction {}
// SAFETY: as above: plain data.
unsafe impl Send for PreviousAction {}

/// Why a read mapping is not protected against `SIGBUS`, so is not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtectionError {
    /// `sigaction(2)` failed installing the handler.
    InstallFailed {
        /// The system's error number.
        errno: i32,
    },
    /// Another `SIGBUS` handler was installed after the library's, and the
    /// program did not say ([`set_chained`]) that it calls [`handle`].
    HandlerReplaced,
    /// No memory for another chunk of the table of protected mappings.
    OutOfMemory,
}

impl fmt::Display for ProtectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InstallFailed { errno } => write!(
                f,
                "installing the SIGBUS handler failed: {}",
                std::io::Error::from_raw_os_error(*errno)
            ),
            Self::HandlerReplaced => {
                f.write_str("SIGBUS handler replaced; see mmstats::sigbus contract")
            }
            Self::OutOfMemory => f.write_str("no memory to protect another mapping against SIGBUS"),
        }
    }
}

impl std::error::Error for ProtectionError {}

/// A read mapping's registration; unregisters on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    slot: &'static Slot,
    chunk: &'static Chunk,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("start", &self.start.load(Ordering::Relaxed))
            .field("len", &self.len.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunk").finish_non_exhaustive()
    }
}

impl Registration {
    /// Protects `[start, start + len)` against `SIGBUS`: installs the
    /// handler if needed, checks it is still the one in force, and
    /// registers the range.
    pub(crate) fn new(start: usize, len: usize) -> Result<Self, ProtectionError> {
        install()?;
        check_now()?;
        Self::claim(start, len)
    }

    /// Registers the range in the table (no handler involved).
    fn claim(start: usize, len: usize) -> Result<Self, ProtectionError> {
        loop {
            let mut last = &FIRST;
            for chunk in chunks() {
                last = chunk;
                // Relaxed: only a hint; the slot's compare-exchange decides.
                if chunk.in_use.load(Ordering::Relaxed) >= CHUNK_SLOTS {
                    continue;
                }
                for slot in &chunk.slots {
                    // Relaxed: the compare-exchange below re-checks it.
                    let state = slot.state.load(Ordering::Relaxed);
                    if state & TAG_MASK != FREE {
                        continue;
                    }
                    let generation = (state & !TAG_MASK).wrapping_add(GENERATION);
                    // Acquire on success: pairs with the Release store of
                    // FREE by the previous owner, whose last uses of the
                    // slot happen before ours.
                    if slot
                        .state
                        .compare_exchange(
                            state,
                            generation | CLAIMED,
                            Ordering::Acquire,
                            Ordering::Relaxed,
                        )
                        .is_err()
                    {
                        continue;
                    }
                    // Relaxed: a hint (above).
                    chunk.in_use.fetch_add(1, Ordering::Relaxed);
                    // Release fence: a handler whose loads see any of the
                    // stores below then sees the state changed (its Acquire
                    // fence pairs with this one), and skips the slot.
                    fence(Ordering::Release);
                    slot.start.store(start, Ordering::Relaxed);
                    slot.len.store(len, Ordering::Relaxed);
                    slot.faulted.store(false, Ordering::Relaxed);
                    // Release: the handler loads ACTIVE with Acquire and
                    // then sees this range.
                    slot.state.store(generation | ACTIVE, Ordering::Release);
                    return Ok(Self { slot, chunk });
                }
            }
            grow(last)?;
        }
    }

    /// Whether the mapping faulted (its file shrank) since registration.
    pub(crate) fn faulted(&self) -> bool {
        // Acquire: pairs with the handler's Release store.
        self.slot.faulted.load(Ordering::Acquire)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Relaxed: only this registration writes the slot while it is ACTIVE.
        let state = self.slot.state.load(Ordering::Relaxed);
        // Release: hands the slot back after our last use of it (pairs
        // with the next owner's Acquire compare-exchange).
        self.slot
            .state
            .store((state & !TAG_MASK) | FREE, Ordering::Release);
        // Relaxed: a hint.
        self.chunk.in_use.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The table's chunks, first to last.
fn chunks() -> impl Iterator<Item = &'static Chunk> {
    let mut next = Some(&FIRST);
    core::iter::from_fn(move || {
        let chunk = next?;
        // Acquire: pairs with the Release compare-exchange in `grow` that
        // linked the chunk, so its (zeroed) contents are seen.
        let pointer = chunk.next.load(Ordering::Acquire);
        // SAFETY: a non-null `next` points to a chunk `grow` allocated,
        // initialised (all zeros is a valid chunk) and never frees.
        next = unsafe { pointer.as_ref() };
        Some(chunk)
    })
}

/// Links a new chunk after `last`, unless another thread did first.
fn grow(last: &'static Chunk) -> Result<(), ProtectionError> {
    let layout = Layout::new::<Chunk>();
    // SAFETY: the layout is not zero-sized.
    let fresh = unsafe { alloc_zeroed(layout) }.cast::<Chunk>();
    if fresh.is_null() {
        return Err(ProtectionError::OutOfMemory);
    }
    // Release on success: publishes the zeroed chunk to `chunks`' Acquire
    // loads. Relaxed on failure: `chunks` loads the winner's with Acquire.
    if last
        .next
        .compare_exchange(ptr::null_mut(), fresh, Ordering::Release, Ordering::Relaxed)
        .is_err()
    {
        // SAFETY: `fresh` came from `alloc_zeroed` with this layout and was
        // never published.
        unsafe { dealloc(fresh.cast(), layout) };
    }
    Ok(())
}

/// Repairs a fault at `address` if it lies in a registered mapping: maps
/// zero pages over the whole mapping and marks it faulted.
/// Async-signal-safe.
fn repair(address: usize) -> bool {
    for chunk in chunks() {
        for slot in &chunk.slots {
            // Acquire: pairs with the Release store of ACTIVE in `claim`.
            let state = slot.state.load(Ordering::Acquire);
            if state & TAG_MASK != ACTIVE {
                continue;
            }
            let start = slot.start.load(Ordering::Relaxed);
            let len = slot.len.load(Ordering::Relaxed);
            // Acquire fence, then the state again: if the loads above saw
            // a new owner's range, the state changed (see `claim`).
            fence(Ordering::Acquire);
            if slot.state.load(Ordering::Relaxed) != state || address.wrapping_sub(start) >= len {
                continue;
            }
            if replace_with_zeros(start, len) || replace_page_with_zeros(address) {
                // Release: the reader loads it with Acquire after its reads.
                slot.faulted.store(true, Ordering::Release);
                return true;
            }
            return false;
        }
    }
    false
}

/// Maps private zero pages over `[start, start + len)`.
fn replace_with_zeros(start: usize, len: usize) -> bool {
    // SAFETY: the range is a read mapping this process owns (registered,
    // not yet unregistered; mappings unregister before they unmap), and a
    // thread is reading it now (it faulted), so it stays mapped; replacing
    // it with private zero pages changes only what this process sees
    // there, and the mapping's owner unmaps the whole range later.
    let mapped = unsafe {
        libc::mmap(
            ptr::with_exposed_provenance_mut(start),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    mapped != libc::MAP_FAILED
}

/// Maps one private zero page over the page holding `address` (when the
/// whole mapping could not be replaced).
fn replace_page_with_zeros(address: usize) -> bool {
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    replace_with_zeros(address & !(page - 1), page)
}

/// Handles a `SIGBUS` if it is a fault in a reader's mapping, for programs
/// that install their own handler (see the module's contract): returns
/// `true` if the fault was ours and is repaired, and the handler should
/// return at once; `false` if the program must handle the signal itself.
/// Async-signal-safe: call it first from a `SA_SIGINFO` handler.
///
/// # Safety
///
/// `info` must be null or the `siginfo_t` pointer the kernel passed to the
/// handler for this `signal`.
pub unsafe fn handle(signal: libc::c_int, info: *const libc::siginfo_t) -> bool {
    if signal != libc::SIGBUS || info.is_null() {
        return false;
    }
    // SAFETY: the caller passes the kernel's siginfo_t.
    let info = unsafe { &*info };
    // A signal a process sent (kill, sigqueue: si_code <= 0) carries its
    // pid there, not a fault address.
    if info.si_code <= 0 {
        return false;
    }
    // SAFETY: si_addr is the field the kernel fills for SIGBUS faults.
    let address = unsafe { info.si_addr() }.addr();
    repair(address)
}

/// Tells the library that the program's own `SIGBUS` handler calls
/// [`handle`] first (the module's contract), so reads go on when that
/// handler replaces the library's. Cannot be undone.
pub fn set_chained() {
    // Relaxed: a flag; a read that races it at worst checks once more.
    CHAINED.store(true, Ordering::Relaxed);
}

/// Whether reads are protected now: the handler is installed and still in
/// force, or the program said it chains to [`handle`]. One `sigaction(2)`
/// query.
pub fn check_protection() -> Result<(), ProtectionError> {
    install()?;
    check_now()
}

/// [`check_protection`] at most once per [`RECHECK_INTERVAL_MS`] per
/// process; in between, the last answer.
pub(crate) fn check_recent() -> Result<(), ProtectionError> {
    // Relaxed: a flag (set_chained).
    if CHAINED.load(Ordering::Relaxed) {
        return Ok(());
    }
    // Relaxed: the word is self-contained (time and answer together).
    let last = LAST_CHECK.load(Ordering::Relaxed);
    if last != NEVER_CHECKED && coarse_ms().saturating_sub(last >> 1) < RECHECK_INTERVAL_MS {
        return if last & 1 == 0 {
            Ok(())
        } else {
            Err(ProtectionError::HandlerReplaced)
        };
    }
    check_now()
}

/// Queries the installed handler and records the answer.
fn check_now() -> Result<(), ProtectionError> {
    // Relaxed: a flag (set_chained).
    if CHAINED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let ours = handler_in_force();
    let word = (coarse_ms().max(1) << 1) | u64::from(!ours);
    // Relaxed fetch_max: the latest check wins (and at the same
    // millisecond, "replaced"), whatever order threads store in.
    LAST_CHECK.fetch_max(word, Ordering::Relaxed);
    if ours {
        Ok(())
    } else {
        Err(ProtectionError::HandlerReplaced)
    }
}

/// Whether the `SIGBUS` disposition is this module's handler.
fn handler_in_force() -> bool {
    // SAFETY: an all-zero `sigaction` is a valid value for the kernel to
    // overwrite.
    let mut current: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: a null `act` only reads the current action into `current`.
    let queried = unsafe { libc::sigaction(libc::SIGBUS, ptr::null(), &raw mut current) };
    queried == 0
        && current.sa_sigaction == handler as *const () as usize
        && current.sa_flags & libc::SA_SIGINFO != 0
}

/// Milliseconds of a coarse monotonic clock (a vDSO read, no system call).
fn coarse_ms() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let clock = rustix::time::ClockId::MonotonicCoarse;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let clock = rustix::time::ClockId::Monotonic;
    let now = rustix::time::clock_gettime(clock);
    u64::try_from(now.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1000)
        .saturating_add(u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000_000)
}

fn install() -> Result<(), ProtectionError> {
    INSTALLED
        .get_or_init(install_handler)
        .map_err(|errno| ProtectionError::InstallFailed { errno })
}

fn install_handler() -> Result<(), i32> {
    let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if let Ok(page) = usize::try_from(page)
        && page.is_power_of_two()
    {
        PAGE_SIZE.store(page, Ordering::Relaxed);
    }
    // SAFETY: an all-zero `sigaction` is a valid value (SIG_DFL, empty
    // mask, no flags) for the kernel to overwrite.
    let mut previous: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
    action.sa_sigaction = handler as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
    // SAFETY: `action.sa_mask` is a valid, owned sigset_t.
    unsafe { libc::sigemptyset(&raw mut action.sa_mask) };
    // Query the current disposition first so the handler can chain to
    // it; only then install ours.
    // SAFETY: a null `act` only reads the current action into `previous`.
    if unsafe { libc::sigaction(libc::SIGBUS, ptr::null(), &raw mut previous) } != 0 {
        return Err(errno());
    }
    let _ = PREVIOUS.set(PreviousAction(previous));
    // SAFETY: `action` is fully initialised and `handler` has the
    // signature SA_SIGINFO requires; it is async-signal-safe (module docs).
    if unsafe { libc::sigaction(libc::SIGBUS, &raw const action, ptr::null_mut()) } != 0 {
        return Err(errno());
    }
    Ok(())
}

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to SA_SIGINFO handlers.
    if unsafe { handle(signal, info) } {
        return;
    }
    chain(signal, info, context);
}

/// Passes a `SIGBUS` that is not ours to whoever had it before.
fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to SA_SIGINFO handlers.
    let sent_by_a_process = unsafe { &*info }.si_code <= 0;
    let previous = PREVIOUS.get().map(|p| p.0);
    match previous {
        Some(action) if action.sa_sigaction == libc::SIG_IGN && sent_by_a_process => {
            // Ignored before us: still ignored.
        }
        Some(action)
            if action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN =>
        {
            if action.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with
                // SA_SIGINFO, so it has this signature.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { core::mem::transmute(action.sa_sigaction) };
                f(signal, info, context);
            } else {
                // SAFETY: without SA_SIGINFO the handler takes the signal
                // number only.
                let f: extern "C" fn(libc::c_int) =
                    unsafe { core::mem::transmute(action.sa_sigaction) };
                f(signal);
            }
        }
        _ => {
            // Restore the default action and return: a faulting access
            // runs again and the process dies of SIGBUS as it would have;
            // a signal a process sent is raised again (it stays pending
            // until this handler returns).
            // SAFETY: an all-zero sigaction is SIG_DFL with an empty mask.
            let mut default: libc::sigaction = unsafe { core::mem::zeroed() };
            default.sa_sigaction = libc::SIG_DFL;
            // SAFETY: `default` is a valid sigaction.
            unsafe { libc::sigaction(libc::SIGBUS, &raw const default, ptr::null_mut()) };
            if sent_by_a_process {
                // SAFETY: raise is async-signal-safe and has no preconditions.
                unsafe { libc::raise(libc::SIGBUS) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Addresses no user-space mapping can have (the top of the address
    /// space belongs to the kernel), so no real fault ever matches them.
    fn fake_range(index: usize) -> (usize, usize) {
        (usize::MAX - (1 << 28) + index * 8192, 8192)
    }

    fn chunk_count() -> usize {
        chunks().count()
    }

    /// The start of the registered range holding `address`, if any (the
    /// handler's search, without the repair).
    fn find(address: usize) -> Option<usize> {
        chunks().flat_map(|c| c.slots.iter()).find_map(|slot| {
            let state = slot.state.load(Ordering::Acquire);
            let start = slot.start.load(Ordering::Relaxed);
            let len = slot.len.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            (state & TAG_MASK == ACTIVE
                && slot.state.load(Ordering::Relaxed) == state
                && address.wrapping_sub(start) < len)
                .then_some(start)
        })
    }

    /// More mappings than the old fixed table of 1,024 held (under miri,
    /// whose interpretation makes each search slow, still two chunks).
    const MANY: usize = if cfg!(miri) { 300 } else { 1100 };

    #[test]
    fn mappings_over_several_chunks_are_all_registered_and_found() {
        let count = MANY;
        let registrations: Vec<Registration> = (0..count)
            .map(|i| {
                let (start, len) = fake_range(i);
                Registration::claim(start, len).unwrap()
            })
            .collect();
        assert!(chunk_count() * CHUNK_SLOTS >= count);
        for (i, registration) in registrations.iter().enumerate() {
            let (start, len) = fake_range(i);
            assert_eq!(find(start), Some(start), "range {i} not found");
            assert_eq!(find(start + len - 1), Some(start), "range {i} end");
            assert!(!registration.faulted());
        }
        // Distinct slots.
        let mut slots: Vec<usize> = registrations
            .iter()
            .map(|r| ptr::from_ref(r.slot).addr())
            .collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), count);
        drop(registrations);
        for i in 0..count {
            assert_eq!(find(fake_range(i).0), None, "range {i} still registered");
        }
    }

    #[test]
    fn released_slots_are_reused() {
        let count = MANY;
        let first: Vec<Registration> = (0..count)
            .map(|i| {
                let (start, len) = fake_range(count + i);
                Registration::claim(start, len).unwrap()
            })
            .collect();
        drop(first);
        let chunks_before = chunk_count();
        let second: Vec<Registration> = (0..count)
            .map(|i| {
                let (start, len) = fake_range(count + i);
                Registration::claim(start, len).unwrap()
            })
            .collect();
        // Without reuse, MANY more slots would take 2 to 5 more chunks; other
        // tests of this crate hold far fewer than a chunk's worth at once.
        assert!(
            chunk_count() <= chunks_before + 1,
            "{} chunks after reuse, {chunks_before} before",
            chunk_count()
        );
        assert_eq!(find(fake_range(count).0), Some(fake_range(count).0));
        drop(second);
    }

    #[test]
    fn a_released_slot_is_claimed_again_with_a_new_generation() {
        let (start, len) = fake_range(4000);
        let first = Registration::claim(start, len).unwrap();
        let slot = first.slot;
        let generation = slot.state.load(Ordering::Relaxed) & !TAG_MASK;
        drop(first);
        assert_eq!(
            slot.state.load(Ordering::Relaxed),
            generation | FREE,
            "released, same generation"
        );
        assert_eq!(find(start), None);
        // Claim until one of ours lands on the released slot (another test
        // may take it first: then it is not ours to look at).
        let mut held = Vec::new();
        for i in 0..CHUNK_SLOTS * 2 {
            let (start, len) = fake_range(4001 + i);
            let registration = Registration::claim(start, len).unwrap();
            let reused = ptr::eq(registration.slot, slot);
            held.push(registration);
            if reused {
                let state = slot.state.load(Ordering::Relaxed);
                assert_eq!(state & TAG_MASK, ACTIVE);
                assert!(state & !TAG_MASK > generation, "generation bumped");
                assert_eq!(find(start), Some(start));
                break;
            }
        }
    }

    #[test]
    fn protection_errors_say_what_to_read() {
        assert_eq!(
            ProtectionError::HandlerReplaced.to_string(),
            "SIGBUS handler replaced; see mmstats::sigbus contract"
        );
        assert!(
            ProtectionError::InstallFailed { errno: 22 }
                .to_string()
                .starts_with("installing the SIGBUS handler failed: ")
        );
    }
}
