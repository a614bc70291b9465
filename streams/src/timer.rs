//! A timer: a wait on the monotonic clock that `interrupt` can end. An event loop
//! whose runtime cannot drop an in-flight call (componentize-py's) sleeps on it and interrupts
//! it when an earlier deadline is scheduled or the program ends, so no wait outlives its use
//! (WORKAROUNDS.md, W7).

use crate::bindings::wasi::clocks::monotonic_clock;
use crate::timeout::bounded;
use crate::types::ErrorCode;
use std::cell::Cell;
use std::future::Future;
use wasio_core::notify::Notify;

/// One timer; at most one wait at a time.
#[derive(Default)]
pub struct Timer {
    /// A wait is in progress.
    waiting: Cell<bool>,
    /// Notified by `interrupt`.
    interrupt: Notify,
}

/// Clears `waiting` however the wait ends (including the caller dropping it).
struct Waiting<'a>(&'a Cell<bool>);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl Timer {
    /// A timer with no wait in progress (the contract's constructor).
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits `duration` nanoseconds; `interrupted` if `interrupt` ends it first, `busy` if a
    /// wait is already in progress.
    pub fn wait(&self, duration: u64) -> impl Future<Output = Result<(), ErrorCode>> + '_ {
        let already = self.waiting.replace(true);
        let waiting = (!already).then(|| Waiting(&self.waiting));
        let interrupted = self.interrupt.listen();
        async move {
            let Some(_waiting) = waiting else {
                return Err(ErrorCode::Busy);
            };
            let sleep = async {
                monotonic_clock::wait_for(duration).await;
                Ok(())
            };
            bounded(None, interrupted, sleep).await
        }
    }

    /// Ends the wait in progress, if any, with `interrupted`.
    pub fn interrupt(&self) {
        self.interrupt.notify();
    }
}
