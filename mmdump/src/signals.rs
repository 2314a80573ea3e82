//! Stopping cleanly on `SIGINT` and `SIGTERM`, so a writer killed from the
//! terminal still marks its files closed and unlinks them.
//!
//! # Safety
//!
//! The only module of the `mmdump` crate with `unsafe` code (its root
//! denies `unsafe_code` and allows it here alone).
//! Here: one `sigaction(2)` per signal. The handler only stores to an atomic, which
//! is async-signal-safe.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

extern "C" fn on_signal(_signal: libc::c_int) {
    // Relaxed: a flag polled by the main loop; nothing is published with it.
    STOP.store(true, Ordering::Relaxed);
}

/// Installs (once) handlers for `SIGINT` and `SIGTERM` that set a flag,
/// and returns the flag. Poll it and return from `main` to clean up.
pub fn stop_flag() -> &'static AtomicBool {
    INSTALL.call_once(|| {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: an all-zero sigaction is a valid value (empty mask,
            // no flags) that we then fill in.
            let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            // SAFETY: `action` is fully initialised; `on_signal` takes the
            // signal number, as a handler without SA_SIGINFO must, and is
            // async-signal-safe.
            unsafe { libc::sigaction(signal, &raw const action, core::ptr::null_mut()) };
        }
    });
    &STOP
}
