//! Ctrl-C or a CI timeout's SIGTERM: stop injecting, stop waiting, and
//! still tear the lab down (an exit on the signal would leave it behind).

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SigHandler, Signal, signal};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::Relaxed);
}

pub(crate) fn install() {
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        if let Err(e) = unsafe { signal(sig, SigHandler::Handler(on_signal)) } {
            eprintln!("chaos: cannot handle {sig}: {e} (an interrupted run leaves its lab)");
        }
    }
}

pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}
