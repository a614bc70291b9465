//! One connection's shared state: what its reader, writer, pumps and server share.
//!
//! - `transport`: what keeps the socket open and its byte streams ([`Opened`], [`Streams`]).
//! - `read_side` / `write_side`: the reader's and the writer's operations on the state; they
//!   only touch buffers and wake tasks, never do I/O, which keeps every read cancel safe and lets
//!   `write` be a sync call. The state is split the same way: `ReadState` (the read side and the
//!   receive pump write it) and `WriteState` (the write side and the send pump); the write side
//!   only reads the read half (a stored error, whether a loss can still be noticed), and only
//!   this module's loss and close act on both.
//! - `receive_pump` / `send_pump`: the two background tasks that move the bytes, spawned inside
//!   the provider (they outlive the export call that created them). The completion futures of
//!   `send` / `receive` are always awaited: their error is the connection's error.
//! - `detach`: `start_tls`'s hand-over of the raw streams.
//!
//! The connection's lifecycle (open, eof sent, detaching, closing, aborted, lost, closed) is
//! [`wasio_core::lifecycle`]'s state machine; this module acts on what its transitions return.
//!
//! Memory: a connection reports what its buffers hold (read buffer, the receive in flight, write
//! queue) to the run's budget ([`crate::limits`]) whenever that changes. While the budget is
//! spent the receive pump reads only for a waiting read, in small receives, and cancels a
//! read-ahead receive in flight; a pump that waits holds no receive buffer and trims its read
//! buffer to the bytes it holds.

mod detach;
mod read_side;
mod receive_pump;
mod send_pump;
mod transport;
mod write_side;

use crate::limits::{RunLimits, Slot};
use crate::tls::TlsInfo;
use crate::types::{ErrorCode, ExtraInfo, PeerCredentials, SocketAddress};
use detach::Handback;
use receive_pump::receive_pump;
use send_pump::send_pump;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasio_core::budget;
use wasio_core::flow::ReadFlow;
use wasio_core::lifecycle::{Lifecycle, Loss};
use wasio_core::notify::Notify;
use wasio_core::{Demand, ReadBuffer, WriteQueue};

pub use transport::{Completion, Opened, Settings, Streams, TcpOption, Transport};

/// Something told when a connection has fully closed (its server, for `wait_closed`).
pub trait CloseObserver {
    /// Called once, when the connection is closed.
    fn connection_closed(&self);
}

/// Mutable per-connection state: the read half, the write half, and the lifecycle both follow.
pub struct State {
    /// What the reader and the receive pump share.
    read: ReadState,
    /// What the writer and the send pump share.
    write: WriteState,
    /// Where the connection is in its life (open, eof sent, closing, detaching, aborted, lost,
    /// closed) and which pumps run; its transitions live in wasio-core.
    life: Lifecycle<ErrorCode>,
    /// What this connection is counted for in the run's budget.
    accounted: usize,
}

/// The read half of a connection's state: written by the read side (`read_side`) and the
/// receive pump, read by the write side only to know whether a loss can still be noticed.
struct ReadState {
    /// Received, unread bytes and the EOF flag.
    buffer: ReadBuffer,
    /// Reader limit.
    limit: usize,
    flow: ReadFlow,
    /// What the waiting read needs (for flow control).
    demand: Demand,
    /// A read is waiting (a second one is `busy`).
    reading: bool,
    /// The stored error: reported once the buffer cannot satisfy a read (and by `drain`).
    stored_error: Option<ErrorCode>,
    /// Capacity of the receive pump's buffer (in flight or kept for the next receive).
    receiving: usize,
    /// The receive pump has a receive in flight. A read's demand then needs no wake-up: it can
    /// only keep that receive from being cancelled, and the pump reads the demand again before
    /// its next pull. (In the composed provider that wake-up was a cross-task event per read.)
    in_flight: bool,
}

/// The write half of a connection's state: written by the write side (`write_side`) and the
/// send pump.
struct WriteState {
    /// Bytes accepted by `write` and not yet taken by the transport.
    queue: WriteQueue,
    /// `drain` must wait (above high; cleared at low).
    paused: bool,
    /// Writes dropped because the connection is closing or lost.
    dropped_writes: u32,
    /// The send pump took a batch and has not yet heard how the transport took it (the first
    /// poll of its write: taken, stopped by an error, or blocked on a full socket).
    sending: bool,
}

/// A connection shared by its reader, writer, pumps and server.
pub struct Conn {
    /// The state; borrowed only briefly, never across an await, and only by this module's
    /// sides: the reader, writer and server ask the connection.
    state: RefCell<State>,
    /// Data, EOF or an error reached the reader.
    pub read_event: Notify,
    /// The receive pump may pull again, or must stop.
    pump_event: Notify,
    /// The send pump has work: queued bytes, EOF, close or abort.
    send_event: Notify,
    /// The queue fell to the low mark, or the connection was lost or closed.
    pub drain_event: Notify,
    /// The connection closed.
    pub closed_event: Notify,
    /// A pump stopped for `detach`.
    detach_event: Notify,
    handback: RefCell<Handback>,
    transport: RefCell<Option<Transport>>,
    /// What the TLS handshake settled, once the connection is TLS.
    tls: RefCell<Option<TlsInfo>>,
    /// asyncio's `ssl_shutdown_timeout` (nanoseconds), once the connection is TLS: a close
    /// that has not finished this long after it was asked ends the connection (`close`).
    tls_shutdown_timeout: Cell<Option<u64>>,
    /// peername, sockname.
    pub peername: Option<SocketAddress>,
    /// Local address.
    pub sockname: Option<SocketAddress>,
    observer: RefCell<Option<Weak<dyn CloseObserver>>>,
    /// Unix peer credentials, where the host knows them.
    peer_credentials: RefCell<Option<PeerCredentials>>,
    /// The place under the connection limit; released when the connection is fully closed.
    slot: RefCell<Option<Slot>>,
    /// The run's limits, whose budget counts this connection's buffers.
    limits: Rc<RunLimits>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        let accounted = std::mem::take(&mut self.state.get_mut().accounted);
        self.limits.rebudget(accounted, 0);
    }
}

impl Conn {
    /// Creates a connection over `transport` and spawns its pumps.
    pub fn start(
        transport: Transport,
        streams: Streams,
        settings: Settings,
        peername: Option<SocketAddress>,
        sockname: Option<SocketAddress>,
    ) -> Rc<Conn> {
        let conn = Rc::new(Conn {
            state: RefCell::new(State {
                read: ReadState {
                    buffer: ReadBuffer::new(),
                    limit: settings.limit,
                    flow: ReadFlow::default(),
                    demand: Demand::None,
                    reading: false,
                    stored_error: None,
                    receiving: 0,
                    in_flight: false,
                },
                write: WriteState {
                    queue: WriteQueue::new(settings.write_queue_cap),
                    paused: false,
                    dropped_writes: 0,
                    sending: false,
                },
                life: Lifecycle::new(),
                accounted: 0,
            }),
            read_event: Notify::default(),
            pump_event: Notify::default(),
            send_event: Notify::default(),
            drain_event: Notify::default(),
            closed_event: Notify::default(),
            detach_event: Notify::default(),
            handback: RefCell::new(Handback::default()),
            transport: RefCell::new(Some(transport)),
            tls: RefCell::new(None),
            tls_shutdown_timeout: Cell::new(None),
            peername,
            sockname,
            observer: RefCell::new(None),
            peer_credentials: RefCell::new(None),
            slot: RefCell::new(Some(settings.slot)),
            limits: crate::limits::run_limits(),
        });
        conn.spawn_pumps(streams);
        crate::shutdown::track_conn(&conn);
        conn
    }

    fn spawn_pumps(self: &Rc<Self>, streams: Streams) {
        let Streams {
            receive,
            receive_done,
            send,
            send_done,
        } = streams;
        let readiness = self
            .transport
            .borrow()
            .as_ref()
            .is_some_and(Transport::reports_readiness);
        wit_bindgen::spawn_local(receive_pump(self.clone(), receive, receive_done, readiness));
        wit_bindgen::spawn_local(send_pump(self.clone(), send, send_done));
    }

    /// Records the TLS details of the connection (after `ssl=` or `start_tls`).
    pub fn set_tls(&self, info: TlsInfo, shutdown_timeout: u64) {
        *self.tls.borrow_mut() = Some(info);
        self.tls_shutdown_timeout.set(Some(shutdown_timeout));
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.borrow().is_some()
    }

    /// Registers who is told when this connection closes.
    pub fn set_observer(&self, observer: Weak<dyn CloseObserver>) {
        *self.observer.borrow_mut() = Some(observer);
    }

    /// Records the peer's Unix credentials for `extra_info`.
    pub fn set_peer_credentials(&self, credentials: Option<PeerCredentials>) {
        *self.peer_credentials.borrow_mut() = credentials;
    }

    /// asyncio's `get_extra_info` values.
    pub fn extra_info(&self) -> ExtraInfo {
        let mut info = ExtraInfo {
            peername: self.peername.clone(),
            sockname: self.sockname.clone(),
            peercert: None,
            cipher: None,
            tls_version: None,
            alpn_protocol: None,
            server_hostname: None,
            peer_credentials: *self.peer_credentials.borrow(),
        };
        if let Some(tls) = &*self.tls.borrow() {
            tls.fill(&mut info);
        }
        info
    }

    // ----- internals -----

    /// Drops a TLS session at once, keeping the socket under it until the pumps end.
    fn drop_tls_session(&self) {
        let mut transport = self.transport.borrow_mut();
        *transport = match transport.take() {
            Some(Transport::Tls(session, inner)) => {
                drop(session);
                Some(*inner)
            }
            other => other,
        };
    }

    fn wake_all(&self) {
        self.read_event.notify();
        self.pump_event.notify();
        self.send_event.notify();
        self.drain_event.notify();
    }

    /// Reports what this connection's buffers hold now to the run's budget.
    fn account(&self) {
        let mut state = self.state.borrow_mut();
        let now = state.read.buffer.capacity() + state.read.receiving + state.write.queue.held();
        let before = std::mem::replace(&mut state.accounted, now);
        drop(state);
        self.limits.rebudget(before, now);
    }

    /// Whether a receive in flight reads ahead of the app while the budget is spent (it is then
    /// cancelled, keeping what it got).
    fn read_ahead_under_pressure(&self) -> bool {
        let state = self.state.borrow();
        budget::cancel_read_ahead(
            state.read.buffer.len(),
            state.read.demand,
            self.limits.under_pressure(),
        )
    }

    /// Marks the connection lost with `error` (first error wins) and stops both pumps.
    fn lose(&self, error: ErrorCode) {
        let mut state = self.state.borrow_mut();
        // After abort the transport's errors are its consequences: readers see EOF.
        if state.life.lose(error.clone()) == Loss::First {
            if state.read.stored_error.is_none() {
                state.read.stored_error = Some(error);
            }
            state.write.queue.clear();
        }
        drop(state);
        self.account();
        self.wake_all();
    }

    /// Finishes the close once both pumps are done and a close was asked for (or the connection
    /// was lost): drops the transport, marks EOF for the reader unless the connection was lost
    /// with an error, and wakes every waiter.
    fn maybe_finish(&self) {
        let mut state = self.state.borrow_mut();
        if !state.life.finish() {
            return;
        }
        state.write.paused = false;
        // asyncio's `connection_lost(exc)` feeds EOF only when `exc` is None; after an error the
        // reader keeps it (`set_exception`) and `at_eof` stays false. Reads never wait on a
        // closed connection either way: they get EOF or the stored error.
        if state.life.close_error().is_none() {
            state.read.buffer.set_eof();
        }
        drop(state);
        self.transport.borrow_mut().take();
        self.slot.borrow_mut().take();
        self.wake_all();
        self.closed_event.notify();
        let observer = self.observer.borrow_mut().take();
        if let Some(observer) = observer.and_then(|o| o.upgrade()) {
            observer.connection_closed();
        }
    }

    /// Whether the receive pump should stop: after close flushed the send side, on abort, when lost.
    fn receive_should_stop(&self) -> bool {
        self.state.borrow().life.receive_should_stop()
    }

    /// Whether a stopping pump hands its streams back instead of ending them.
    fn handing_back(&self) -> bool {
        self.state.borrow().life.detaching()
    }
}

/// Waits on `event` until `cond` holds.
async fn wait_until(event: &Notify, cond: impl Fn() -> bool) {
    loop {
        let listen = event.listen();
        if cond() {
            return;
        }
        listen.await;
    }
}
