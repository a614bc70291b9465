//! The `timer` resource: a wait on the monotonic clock that `interrupt` can end. An event loop
//! whose runtime cannot drop an in-flight call (componentize-py's) sleeps on it and interrupts
//! it when an earlier deadline is scheduled or the program ends, so no wait outlives its use
//! (WORKAROUNDS.md, W7).

use crate::bindings::exports::wasio::streams::streams::GuestTimer;
use crate::bindings::exports::wasio::streams::types::ErrorCode;
use crate::bindings::wasi::clocks::monotonic_clock;
use crate::task_exit;
use crate::timeout::bounded;
use std::cell::Cell;
use wasio_core::notify::Notify;

/// One timer; at most one wait at a time.
#[derive(Default)]
pub struct TimerImpl {
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

impl GuestTimer for TimerImpl {
    fn new() -> Self {
        Self::default()
    }

    async fn wait(&self, duration: u64) -> Result<(), ErrorCode> {
        if self.waiting.replace(true) {
            return Err(ErrorCode::Busy);
        }
        let waiting = Waiting(&self.waiting);
        let interrupted = self.interrupt.listen();
        task_exit::deferred(async move {
            let _waiting = waiting;
            let sleep = async {
                monotonic_clock::wait_for(duration).await;
                Ok(())
            };
            bounded(None, interrupted, sleep).await
        })
        .await
    }

    fn interrupt(&self) {
        self.interrupt.notify();
    }
}
