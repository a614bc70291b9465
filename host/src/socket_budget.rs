//! The run's socket budget: `--max-connections` counted in the host, for every socket the app
//! holds, whichever interface opened it.
//!
//! # Why in the host, per socket resource
//!
//! An app composed with the provider reaches sockets three ways: the provider's TCP sockets are
//! `wasi:sockets@0.3` resources, its Unix sockets `wasio:host` `host-socket` resources, and the
//! app may import `wasi:sockets` itself (Rust's `std::net` over WASI 0.2, or 0.3 directly). All
//! of them live in the store's one resource table. Counting each socket resource once, in the
//! host, from the moment it is created (or accepted) until its resource is dropped, is exact
//! and cannot count a socket twice: the provider no longer counts connections of its own (the
//! host reports no connection limit to it through `wasio:host/limits`), it only sees the
//! host's refusals and waits.
//!
//! What is counted: TCP and UDP sockets of `wasi:sockets` 0.2 and 0.3 (created, and accepted
//! ones), and `host-socket`s (Unix connections, both ends of a socketpair, Unix listeners,
//! accepted connections). A listening socket is a socket too, so it counts. Not counted: the
//! listeners the host opened before the run (`--listen`), which the run did not open.
//!
//! # At the limit
//!
//! - Creating a socket fails: WASI 0.2 `new-socket-limit` (Rust's std reports EMFILE), WASI 0.3
//!   and `wasio:host` `other("too many open sockets ...")`. Never a trap.
//! - Accepting waits: an accept stream of the host's own (a `host-socket`'s, or a WASI 0.3
//!   `tcp-socket`'s: the host serves 0.3 TCP itself, [`crate::host_impl::wasi_tcp`]) takes a
//!   place before it accepts, so clients wait in the listen backlog, and the accepted socket
//!   holds that place by its resource-table index. The provider also awaits
//!   `wasio:host/limits.socket-room` before it reads the next connection.
//! - A WASI 0.2 `accept`, which cannot wait, fails with `new-socket-limit` and leaves the client
//!   in the backlog.
//!
//! The wiring into the linker for what wasmtime-wasi still serves (shadowing its entries for
//! these functions and the sockets' destructors, delegating to wasmtime-wasi: WASI 0.2 sockets,
//! 0.3 UDP) is in [`crate::host_impl::wasi_sockets`]; a WASI 0.2 accept is admitted through the
//! `socket_addr_check` wasmtime-wasi awaits for `TcpAccept` ([`SocketBudget::admit_accept`]).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// The count of open sockets against the run's limit (cheap to clone: clones share the count).
#[derive(Clone, Debug)]
pub struct SocketBudget(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    max: Option<usize>,
    open: AtomicUsize,
    /// Accepts waiting for a place, woken when a socket closes.
    waiting: Mutex<Vec<Waker>>,
    /// A WASI 0.2 accept that already holds its place is under way: its admission passes.
    accept_holds_place: AtomicBool,
}

/// One open socket's place in the budget; dropping it frees the place.
#[derive(Debug)]
pub struct Permit(Arc<Inner>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        let waiting = std::mem::take(
            &mut *self
                .0
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for waker in waiting {
            waker.wake();
        }
    }
}

impl SocketBudget {
    /// A budget of `max` sockets open at once (`None`: no limit, only counted).
    pub fn new(max: Option<u32>) -> Self {
        Self(Arc::new(Inner {
            max: max.map(|m| m as usize),
            open: AtomicUsize::new(0),
            waiting: Mutex::new(Vec::new()),
            accept_holds_place: AtomicBool::new(false),
        }))
    }

    /// The sockets open now.
    pub fn open(&self) -> usize {
        self.0.open.load(Ordering::Acquire)
    }

    /// A place for one more socket, if the run is below its limit.
    pub fn try_acquire(&self) -> Option<Permit> {
        let max = self.0.max.unwrap_or(usize::MAX);
        self.0
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .ok()
            .map(|_| Permit(self.0.clone()))
    }

    /// A place for one more socket, or `Pending` until a socket closes (the waker is woken).
    pub fn poll_acquire(&self, cx: &mut Context<'_>) -> Poll<Permit> {
        // Registering under the lock a release takes too: a release between the attempt and
        // the registration cannot be missed.
        let mut waiting = self
            .0
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(permit) = self.try_acquire() {
            return Poll::Ready(permit);
        }
        if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
            waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// `Ready` once the run is below its limit (taking nothing), or `Pending` until a socket
    /// closes (the waker is woken).
    pub fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut waiting = self
            .0
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.open() < self.0.max.unwrap_or(usize::MAX) {
            return Poll::Ready(());
        }
        if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
            waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Resolves once a connection wasmtime-wasi has just accepted may be handed to the app: at
    /// once while [`holding_accept`](Self::holding_accept) runs (the accept holds its place),
    /// otherwise once the run is below its limit. wasmtime-wasi awaits it (as its
    /// `socket_addr_check` for `TcpAccept`) after accept(2) and before it accepts the next
    /// connection, so a waiting admission holds the listener's queue back.
    ///
    /// Cancel safety: dropping it takes nothing (it reserves no place).
    pub fn admit_accept(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let budget = self.clone();
        std::future::poll_fn(move |cx| {
            if budget.0.accept_holds_place.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            budget.poll_room(cx)
        })
    }

    /// Runs `accept`, an accept that already holds a place in the budget, with its admission
    /// ([`admit_accept`](Self::admit_accept)) passing at once.
    pub fn holding_accept<R>(&self, accept: impl FnOnce() -> R) -> R {
        self.0.accept_holds_place.store(true, Ordering::Release);
        let result = accept();
        self.0.accept_holds_place.store(false, Ordering::Release);
        result
    }

    /// The sentence an app reads when it may open no more sockets.
    pub fn exhausted(&self) -> String {
        format!(
            "too many open sockets: this run may have {} open at once (wasio run \
             --max-connections), counting connections, listeners and UDP sockets",
            self.0.max.unwrap_or(usize::MAX)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::task::Wake;

    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn permits_count_up_to_the_limit_and_free_on_drop() {
        let budget = SocketBudget::new(Some(2));
        let a = budget.try_acquire();
        let b = budget.try_acquire();
        assert!(a.is_some() && b.is_some());
        assert!(budget.try_acquire().is_none());
        assert_eq!(budget.open(), 2);
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(budget.poll_acquire(&mut cx).is_pending());
        drop(a);
        assert!(
            flag.0.load(Ordering::SeqCst),
            "a waiting accept was not woken"
        );
        assert_eq!(budget.open(), 1);
        let Poll::Ready(c) = budget.poll_acquire(&mut cx) else {
            unreachable!("no place after a socket closed")
        };
        drop((b, c));
        assert_eq!(budget.open(), 0);
        assert!(budget.exhausted().contains("may have 2 open at once"));
        let unlimited = SocketBudget::new(None);
        let many: Vec<_> = (0..1000).filter_map(|_| unlimited.try_acquire()).collect();
        assert_eq!(many.len(), 1000);
    }

    #[test]
    fn accepts_are_admitted_only_below_the_limit_or_holding_a_place() {
        let budget = SocketBudget::new(Some(1));
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let held = budget.try_acquire();
        let mut admit = std::pin::pin!(budget.admit_accept());
        assert!(admit.as_mut().poll(&mut cx).is_pending());
        // A 0.2 accept holds its place already: its admission passes at the limit.
        assert!(
            budget
                .holding_accept(|| admit.as_mut().poll(&mut cx))
                .is_ready()
        );
        let mut admit = std::pin::pin!(budget.admit_accept());
        assert!(admit.as_mut().poll(&mut cx).is_pending());
        drop(held);
        assert!(
            flag.0.load(Ordering::SeqCst),
            "a waiting accept was not woken"
        );
        assert!(admit.as_mut().poll(&mut cx).is_ready());
        assert_eq!(budget.open(), 0, "an admission took a place");
        let unlimited = SocketBudget::new(None);
        assert!(
            std::pin::pin!(unlimited.admit_accept())
                .poll(&mut cx)
                .is_ready()
        );
    }
}
