//! The run's graceful shutdown (`wasio:host/shutdown`): the registry of the run's live servers
//! and connections, and the task that closes them when the host asks (`wasio run` on SIGINT or
//! SIGTERM).
//!
//! Every server and connection registers when it is made. The first registration spawns the
//! watcher, which waits in the host's `requested`. When that resolves, the watcher closes every
//! server with [`ServerShared::close`] and every connection with [`Conn::close`], the very code
//! behind the app's `server.close` and `writer.close` (listeners stop, socket files made with
//! `cleanup-socket` are removed, write queues are flushed before the socket closes), waits
//! until all of them are fully closed, and tells the host `finished`. From the request on, the
//! exported functions that open servers or connections fail with `closed` (one still waiting
//! ends at once), and a connection made meanwhile (an accept or connect that was under way) is
//! closed as soon as it registers.
//!
//! The app's waits end through those closes: `accept` and `serve-forever` fail with `closed`,
//! reads see EOF once the queue is flushed, `drain` and `wait-closed` return. A peer that does
//! not read keeps its connection's flush waiting; the host bounds the whole shutdown by its
//! grace period.
//!
//! The watcher is spawned from an async export's task or a task it spawned (registrations
//! happen only there): a task spawned inside a sync export would never run in wasmtime 48
//! (WORKAROUNDS.md, W2).

use crate::bindings::wasio::host::shutdown as host;
use crate::conn::Conn;
use crate::server::ServerShared;
use crate::types::ErrorCode;
use futures::future::{Either, select};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::{Pin, pin};
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

/// Where the run is in its shutdown; it only moves forward.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Nothing registered yet: no watcher.
    Idle,
    /// The watcher waits for the host's request.
    Watching,
    /// The host asked: everything is being closed, new servers and connections are refused.
    Closing,
    /// Everything registered is closed and the host was told.
    Finished,
}

/// The lists are not pruned below this length.
const MIN_PRUNE: usize = 64;

/// Weak references to the registered objects of one kind, pruned as they close.
struct Tracked<T> {
    items: Vec<Weak<T>>,
    /// Prune once `items` is this long (twice its length after the last prune, so pruning costs
    /// O(1) per registration on average and dead entries stay below half).
    prune_at: usize,
}

impl<T> Tracked<T> {
    fn new() -> Self {
        Self {
            items: Vec::new(),
            prune_at: MIN_PRUNE,
        }
    }

    fn push(&mut self, item: &Rc<T>, open: impl Fn(&T) -> bool) {
        if self.items.len() >= self.prune_at {
            self.items
                .retain(|weak| weak.upgrade().is_some_and(|item| open(&item)));
            self.prune_at = self.items.len().saturating_mul(2).max(MIN_PRUNE);
        }
        self.items.push(Rc::downgrade(item));
    }

    /// The registered objects still open.
    fn open(&self, open: impl Fn(&T) -> bool) -> Vec<Rc<T>> {
        self.items
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|item| open(item))
            .collect()
    }
}

/// The run-wide registry.
struct Registry {
    phase: Cell<Phase>,
    servers: RefCell<Tracked<ServerShared>>,
    conns: RefCell<Tracked<Conn>>,
    /// The exports waiting in [`unless_shutting_down`], woken when the phase moves to
    /// `Closing`; each removes its entry when it ends.
    waiting: RefCell<Vec<(u64, Waker)>>,
    next_waiting: Cell<u64>,
}

thread_local! {
    static REGISTRY: Rc<Registry> = Rc::new(Registry {
        phase: Cell::new(Phase::Idle),
        servers: RefCell::new(Tracked::new()),
        conns: RefCell::new(Tracked::new()),
        waiting: RefCell::new(Vec::new()),
        next_waiting: Cell::new(0),
    });
}

fn registry() -> Rc<Registry> {
    REGISTRY.with(Rc::clone)
}

impl Registry {
    /// Spawns the watcher at the first registration.
    fn watch(&self) {
        if self.phase.get() == Phase::Idle {
            self.phase.set(Phase::Watching);
            wit_bindgen::spawn_local(watcher(registry()));
        }
    }

    fn shutting_down(&self) -> bool {
        self.phase.get() >= Phase::Closing
    }
}

/// Tracks a server for the shutdown; one made during it is closed at once.
pub fn track_server(server: &Rc<ServerShared>) {
    let registry = registry();
    registry.watch();
    registry
        .servers
        .borrow_mut()
        .push(server, |s| !s.is_stopped());
    if registry.shutting_down() {
        server.close();
    }
}

/// Tracks a connection for the shutdown; one made during it is closed at once.
pub fn track_conn(conn: &Rc<Conn>) {
    let registry = registry();
    registry.watch();
    registry.conns.borrow_mut().push(conn, |c| !c.is_closed());
    if registry.shutting_down() {
        conn.close();
    }
}

/// The error of an operation refused because the run is shutting down.
fn shutting_down() -> ErrorCode {
    ErrorCode::Closed("the run is shutting down".to_string())
}

/// `closed` while the run is shutting down: the check of an export that opens connections
/// without waiting.
pub fn refuse_while_shutting_down() -> Result<(), ErrorCode> {
    if registry().shutting_down() {
        return Err(shutting_down());
    }
    Ok(())
}

/// Runs `body`, an export that opens servers or connections, unless the run is shutting down:
/// then it fails with `closed`, at once or as soon as the shutdown is requested while it waits
/// (dropping `body`, as a timeout would: whatever it opened so far is closed).
pub async fn unless_shutting_down<T>(
    body: impl Future<Output = Result<T, ErrorCode>>,
) -> Result<T, ErrorCode> {
    let registry = registry();
    let id = registry.next_waiting.get();
    registry.next_waiting.set(id.wrapping_add(1));
    let closing = Closing { registry, id };
    match select(pin!(body), closing).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(shutting_down()),
    }
}

/// Resolves once the run is shutting down. Unlike a [`Notify`](wasio_core::notify::Notify) listener
/// it takes its waker out of the registry when dropped, so the many calls that finish before any
/// shutdown leave nothing behind.
struct Closing {
    registry: Rc<Registry>,
    id: u64,
}

impl Future for Closing {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.registry.shutting_down() {
            return Poll::Ready(());
        }
        let mut waiting = self.registry.waiting.borrow_mut();
        match waiting.iter_mut().find(|(id, _)| *id == self.id) {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => waiting.push((self.id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        self.registry
            .waiting
            .borrow_mut()
            .retain(|(id, _)| *id != self.id);
    }
}

/// Waits for the host's request, closes everything, waits until it is all closed, and tells the
/// host.
async fn watcher(registry: Rc<Registry>) {
    host::requested().await;
    registry.phase.set(Phase::Closing);
    let waiting = std::mem::take(&mut *registry.waiting.borrow_mut());
    for (_, waker) in waiting {
        waker.wake();
    }
    // Connections registered while this waits (accepts and connects that were under way) were
    // closed when they registered; another round waits for them too.
    loop {
        let servers = registry.servers.borrow().open(|s| !s.is_stopped());
        let conns = registry.conns.borrow().open(|c| !c.is_closed());
        if servers.is_empty() && conns.is_empty() {
            break;
        }
        for server in &servers {
            server.close();
        }
        for conn in &conns {
            conn.close();
        }
        for server in servers {
            server.stopped().await;
        }
        for conn in conns {
            // How it closed (a lost connection's error) is the app's to see, not this task's.
            let _ = conn.wait_closed().await;
        }
    }
    registry.phase.set(Phase::Finished);
    host::finished();
}
