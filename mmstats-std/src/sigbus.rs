//! Surviving a stats file that shrinks while a reader has it mapped.
//!
//! Touching a page of a `MAP_SHARED` file mapping that lies past the end of
//! the file raises `SIGBUS`, which kills the process by default. A reader
//! must survive that: files are shared, and anyone who may write to the
//! directory can truncate one. This module installs (once) a `SIGBUS`
//! handler that, for an address inside a registered read mapping, maps a
//! private zero page over the faulting page (`mmap(2)` with `MAP_FIXED`),
//! records the fault, and returns: the load is retried and reads zeros, and
//! the reader, which checks [`Registration::faulted`] after each snapshot,
//! reports "truncated while reading" instead of trusting those zeros.
//! A `SIGBUS` at any other address goes to the handler that was installed
//! before, or to the default action.
//!
//! # Safety
//!
//! One of the two modules of this crate with `unsafe` code (with `map`):
//! `sigaction(2)` and the handler itself. The handler only uses
//! async-signal-safe operations: atomic loads and stores on statics,
//! `mmap(2)`, and `sigaction(2)`/`raise`-free fallthrough to the default
//! action by resetting the disposition and returning (the faulting
//! instruction runs again and takes the default action).

use std::sync::Once;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

/// How many read mappings can be protected at once. Readers that map more
/// files than this at the same time still work; the extra mappings are
/// just not protected (and counted, see [`unprotected_mappings`]).
const SLOTS: usize = 1024;

const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const ACTIVE: u8 = 2;

struct Slot {
    state: AtomicU8,
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SLOT: Slot = Slot {
    state: AtomicU8::new(FREE),
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};

static TABLE: [Slot; SLOTS] = [EMPTY_SLOT; SLOTS];
static UNPROTECTED: AtomicUsize = AtomicUsize::new(0);
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();
/// The `SIGBUS` disposition in force before ours, to chain to.
static PREVIOUS: OnceLock<PreviousAction> = OnceLock::new();

struct PreviousAction(libc::sigaction);

// SAFETY: a `sigaction` is plain data (a handler address, flags and a
// mask); it is written once before the handler is installed and only read
// afterwards.
unsafe impl Sync for PreviousAction {}
// SAFETY: as above: plain data.
unsafe impl Send for PreviousAction {}

/// A read mapping's registration; unregisters on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    slot: Option<usize>,
}

impl Registration {
    /// Protects `[start, start + len)` against `SIGBUS`.
    pub(crate) fn new(start: usize, len: usize) -> Self {
        install();
        for (index, slot) in TABLE.iter().enumerate() {
            // Acquire on success: pairs with the Release store of FREE by
            // the previous owner, so its stores are not reordered after ours.
            if slot
                .state
                .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // Relaxed: published by the Release store of ACTIVE below.
                slot.start.store(start, Ordering::Relaxed);
                slot.len.store(len, Ordering::Relaxed);
                slot.faulted.store(false, Ordering::Relaxed);
                // Release: the handler loads ACTIVE with Acquire and then
                // sees this range.
                slot.state.store(ACTIVE, Ordering::Release);
                return Self { slot: Some(index) };
            }
        }
        UNPROTECTED.fetch_add(1, Ordering::Relaxed);
        Self { slot: None }
    }

    /// Whether a page of the range faulted since registration.
    pub(crate) fn faulted(&self) -> bool {
        // Acquire: pairs with the handler's Release store.
        self.slot
            .is_some_and(|index| TABLE[index].faulted.load(Ordering::Acquire))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(index) = self.slot {
            // Release: hands the slot back after our last use of it.
            TABLE[index].state.store(FREE, Ordering::Release);
        }
    }
}

/// Mappings that could not be protected because every slot was taken.
#[must_use]
pub fn unprotected_mappings() -> usize {
    UNPROTECTED.load(Ordering::Relaxed)
}

fn install() {
    INSTALL.call_once(|| {
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
        let queried =
            unsafe { libc::sigaction(libc::SIGBUS, core::ptr::null(), &raw mut previous) };
        if queried != 0 {
            return;
        }
        let _ = PREVIOUS.set(PreviousAction(previous));
        // SAFETY: `action` is fully initialised and `handler` has the
        // signature SA_SIGINFO requires; it is async-signal-safe (module docs).
        unsafe { libc::sigaction(libc::SIGBUS, &raw const action, core::ptr::null_mut()) };
    });
}

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers.
    let info_ref = unsafe { &*info };
    // SAFETY: si_addr is the field defined for SIGBUS.
    let address = unsafe { info_ref.si_addr() }.addr();
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    for slot in &TABLE {
        // Acquire: pairs with the Release store of ACTIVE in `new`.
        if slot.state.load(Ordering::Acquire) != ACTIVE {
            continue;
        }
        let start = slot.start.load(Ordering::Relaxed);
        let len = slot.len.load(Ordering::Relaxed);
        if address < start || address - start >= len {
            continue;
        }
        let page_start = address & !(page - 1);
        // SAFETY: the page lies inside a read mapping this process owns
        // (registered, not yet unregistered); replacing it with a private
        // zero page changes only what this process sees there, and the
        // mapping's owner unmaps the whole range, this page included.
        let mapped = unsafe {
            libc::mmap(
                core::ptr::with_exposed_provenance_mut(page_start),
                page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if mapped != libc::MAP_FAILED {
            // Release: the reader loads it with Acquire after its reads.
            slot.faulted.store(true, Ordering::Release);
            return;
        }
    }
    chain(signal, info, context);
}

/// Passes a `SIGBUS` that is not ours to whoever had it before.
fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let previous = PREVIOUS.get().map(|p| p.0);
    match previous {
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
            // Restore the default action and return: the faulting access
            // runs again and the process dies of SIGBUS as it would have.
            // SAFETY: an all-zero sigaction is SIG_DFL with an empty mask.
            let mut default: libc::sigaction = unsafe { core::mem::zeroed() };
            default.sa_sigaction = libc::SIG_DFL;
            // SAFETY: `default` is a valid sigaction.
            unsafe { libc::sigaction(libc::SIGBUS, &raw const default, core::ptr::null_mut()) };
        }
    }
}
