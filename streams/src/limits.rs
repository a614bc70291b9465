//! The host's limits for the run (`wasio:host/limits`): how many connections may be open at once,
//! the largest write queue a connection may have, and the run's memory limit, under a share of
//! which the connections' buffers are kept (the [`Budget`]; see wasio-core's `budget` module).
//!
//! The host enforces the connection limit itself, on every socket of the run, and so reports
//! none here (counting here too would count the provider's connections twice); the accept pumps
//! await `wasio:host/limits.socket-room` instead. The count below only applies if a host reports
//! a limit: every connection then holds a [`Slot`] from the moment it is made or accepted until
//! it is fully closed (the slot lives in the connection's [`Settings`](crate::conn::Settings)),
//! accept pumps wait for a slot and opening a connection fails at once.
//!
//! Every connection reports what its buffers hold to the budget as it changes
//! ([`RunLimits::rebudget`]); while the budget is spent, accept pumps wait and receive pumps read
//! only for a waiting read.

use crate::bindings::wasio::host::limits;
use crate::types::ErrorCode;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasio_core::budget::{Budget, Transition};
use wasio_core::notify::Notify;

/// The run's limits and the count of open connections.
pub struct RunLimits {
    max_connections: Option<usize>,
    write_queue_cap: usize,
    open: Cell<usize>,
    /// A slot was released.
    pub released: Notify,
    /// The bytes all connections hold in buffers, against the run's share for them.
    budget: RefCell<Budget>,
    /// The budget became spent, or has room again.
    pub pressure: Notify,
}

thread_local! {
    static RUN_LIMITS: Rc<RunLimits> = {
        let limits = limits::get();
        Rc::new(RunLimits {
            max_connections: limits.max_connections.map(|m| m as usize),
            write_queue_cap: usize::try_from(limits.write_queue_cap).unwrap_or(usize::MAX),
            open: Cell::new(0),
            released: Notify::default(),
            budget: RefCell::new(Budget::for_memory_limit(limits.max_memory)),
            pressure: Notify::default(),
        })
    };
}

/// The run's limits (read from the host on first use).
pub fn run_limits() -> Rc<RunLimits> {
    RUN_LIMITS.with(Rc::clone)
}

/// One open connection counted against `max-connections`; dropping it releases the place.
pub struct Slot(Rc<RunLimits>);

impl Drop for Slot {
    fn drop(&mut self) {
        let open = &self.0.open;
        open.set(open.get().saturating_sub(1));
        self.0.released.notify();
    }
}

impl RunLimits {
    /// A slot if the run is below its connection limit.
    pub fn try_slot(self: &Rc<Self>) -> Option<Slot> {
        let open = self.open.get();
        if self.max_connections.is_some_and(|max| open >= max) {
            return None;
        }
        self.open.set(open + 1);
        Some(Slot(self.clone()))
    }

    /// True while the connections' buffers are over the budget: no reading ahead, no accepting.
    pub fn under_pressure(&self) -> bool {
        self.budget.borrow().spent()
    }

    /// Records that a connection's buffers hold `now` bytes where they held `before`; wakes the
    /// pumps when backpressure starts or ends.
    pub fn rebudget(&self, before: usize, now: usize) {
        if before == now {
            return;
        }
        let transition = self.budget.borrow_mut().change(before, now);
        if transition != Transition::None {
            self.pressure.notify();
        }
    }

    /// The connection's write queue cap: the one asked for, never above the host's (which is the
    /// default).
    pub fn write_queue_cap(&self, requested: Option<u64>) -> usize {
        match requested {
            Some(cap) => usize::try_from(cap)
                .unwrap_or(usize::MAX)
                .min(self.write_queue_cap),
            None => self.write_queue_cap,
        }
    }
}

/// A slot for a connection the app opens; at the limit, the error asyncio's `OSError(EMFILE)`
/// stands for.
pub fn slot() -> Result<Slot, ErrorCode> {
    let limits = run_limits();
    limits.try_slot().ok_or_else(|| {
        ErrorCode::Other(Some(format!(
            "too many open connections: this run may have {} open at once (the host's \
             max-connections limit)",
            limits.max_connections.unwrap_or(usize::MAX)
        )))
    })
}
