//! One connection's shared state and the two background pumps that move its bytes.
//!
//! The receive pump pulls from the transport's receive stream into the reader buffer (respecting
//! read-side flow control); the send pump moves the write queue into the transport's send stream.
//! Both run as tasks spawned inside the provider (they outlive the export call that created them),
//! so reader and writer operations only touch buffers and wake tasks: they never do I/O themselves,
//! which keeps every read cancel safe and lets `write` be a sync call.
//!
//! The completion futures of wasi:sockets' `send` / `receive` are always awaited: their error is
//! the connection's error.
//!
//! `start_tls` needs the raw byte streams back to re-plumb them through a TLS session:
//! [`Conn::detach`] stops both pumps at a safe point (the send pump once the queue is flushed, the
//! receive pump after cancelling its in-flight read, keeping what that read got) and hands their
//! streams back unchanged, with the bytes still buffered; [`Conn::reattach`] starts fresh pumps
//! over the session's cleartext streams. Reader and writer objects are unaffected.
//!
//! Memory: a connection reports what its buffers hold (read buffer, the receive in flight, write
//! queue) to the run's budget ([`crate::limits`]) whenever that changes. While the budget is
//! spent the receive pump reads only for a waiting read, in small receives, and cancels a
//! read-ahead receive in flight; a pump that waits holds no receive buffer and trims its read
//! buffer to the bytes it holds.

use crate::bindings::exports::wasio::streams::types::{
    ErrorCode, ExtraInfo, PeerCredentials, SocketAddress,
};
use crate::bindings::wasi::sockets::types::TcpSocket;
use crate::bindings::wasio::host::tls::Session;
use crate::bindings::wasio::host::types::HostSocket;
use crate::bindings::wit_future::FuturePayload;
use crate::bindings::wit_stream;
use crate::errors::WRITE_AFTER_EOF;
use crate::limits::{RunLimits, Slot};
use crate::tls::{Side, Timeouts, TlsInfo};
use futures::future::{Either, select};
use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::rc::{Rc, Weak};
use wasio_core::budget::{self, Pull};
use wasio_core::flow::ReadFlow;
use wasio_core::lifecycle::{Lifecycle, Loss, Pump, SendNext, WriteRule};
use wasio_core::notify::Notify;
use wasio_core::{Attempt, ChunkSizer, Demand, QueueFull, ReadBuffer, WaterMarks, WriteQueue};
use wit_bindgen::{FutureReader, StreamReader, StreamResult, StreamWriter};

/// asyncio warns about writes to a closed transport once this many were dropped.
const DROPPED_WRITES_WARNING: u32 = 5;

/// The completion of a transport's send or receive side, already in wasio's error terms.
pub type Completion = Pin<Box<dyn Future<Output = Result<(), ErrorCode>>>>;

/// What keeps the OS socket open; dropping it closes the socket.
pub enum Transport {
    /// A wasi:sockets TCP socket.
    Tcp(#[allow(dead_code, reason = "held only so that dropping it closes the socket")] TcpSocket),
    /// A wasio host socket (Unix, or adopted from the host).
    Host(
        #[allow(dead_code, reason = "held only so that dropping it closes the socket")] HostSocket,
    ),
    /// A TLS session over another transport (dropping it ends the session, then the socket).
    Tls(
        #[allow(dead_code, reason = "held only so that dropping it ends the session")] Session,
        #[allow(dead_code, reason = "held only so that dropping it closes the socket")]
        Box<Transport>,
    ),
}

/// The byte streams of a freshly made connection, handed to [`Conn::start`].
pub struct Streams {
    /// Bytes from the peer.
    pub receive: StreamReader<u8>,
    /// Resolves when the receive side ends (ok at EOF, else its error).
    pub receive_done: Completion,
    /// Bytes to the peer; dropping it shuts the write half (FIN).
    pub send: StreamWriter<u8>,
    /// Resolves when everything handed to `send` went out, or with the error that stopped it.
    pub send_done: Completion,
}

impl Streams {
    /// A socket's streams from its `receive()` pair and its `send` function (wasi:sockets and
    /// wasio:host sockets have the same shape; only their error types differ).
    pub fn of_socket<R, S>(
        receive: (StreamReader<u8>, FutureReader<Result<(), R>>),
        send: impl FnOnce(StreamReader<u8>) -> FutureReader<Result<(), S>>,
    ) -> Streams
    where
        R: Into<ErrorCode> + 'static,
        S: Into<ErrorCode> + 'static,
        Result<(), R>: FuturePayload,
        Result<(), S>: FuturePayload,
    {
        let (receive, receive_done) = receive;
        let (send_tx, send_rx) = wit_stream::new::<u8>();
        let send_done = send(send_rx);
        Streams {
            receive,
            receive_done: Box::pin(async move { receive_done.await.map_err(Into::into) }),
            send: send_tx,
            send_done: Box::pin(async move { send_done.await.map_err(Into::into) }),
        }
    }
}

/// A connected socket opened for a [`Conn`]: what keeps it open, its byte streams and what is
/// known of its peer. The same for wasi:sockets TCP and wasio:host sockets.
pub struct Opened {
    /// What keeps the socket open.
    pub transport: Transport,
    /// Its byte streams.
    pub streams: Streams,
    /// asyncio `peername`.
    pub peername: Option<SocketAddress>,
    /// asyncio `sockname`.
    pub sockname: Option<SocketAddress>,
    /// Unix peer credentials, where the socket has them.
    pub credentials: Option<PeerCredentials>,
}

impl Opened {
    /// Starts a plain [`Conn`] over the socket.
    pub fn start(self, settings: Settings) -> Rc<Conn> {
        let conn = Conn::start(
            self.transport,
            self.streams,
            settings,
            self.peername,
            self.sockname,
        );
        conn.set_peer_credentials(self.credentials);
        conn
    }

    /// Runs a TLS handshake over the socket and starts a [`Conn`] over the session's cleartext.
    /// On failure the socket is closed.
    pub async fn start_tls(
        self,
        settings: Settings,
        side: Side,
        timeouts: Timeouts,
    ) -> Result<Rc<Conn>, ErrorCode> {
        let secured = crate::tls::secure(self.streams, Vec::new(), side, timeouts).await?;
        let conn = Conn::start(
            Transport::Tls(secured.session, Box::new(self.transport)),
            secured.streams,
            settings,
            self.peername,
            self.sockname,
        );
        conn.set_tls(secured.info);
        conn.set_peer_credentials(self.credentials);
        Ok(conn)
    }
}

/// Settings of one connection.
pub struct Settings {
    /// Reader limit (validated, > 0).
    pub limit: usize,
    /// Write queue hard cap.
    pub write_queue_cap: usize,
    /// The connection's place under the host's connection limit, held until it is fully closed.
    pub slot: Slot,
}

/// Something told when a connection has fully closed (its server, for `wait_closed`).
pub trait CloseObserver {
    /// Called once, when the connection is closed.
    fn connection_closed(&self);
}

/// Mutable per-connection state.
pub struct State {
    /// Received, unread bytes and the EOF flag.
    pub read_buffer: ReadBuffer,
    /// Reader limit.
    pub limit: usize,
    flow: ReadFlow,
    /// What the waiting read needs (for flow control).
    pub demand: Demand,
    /// A read is waiting (a second one is `busy`).
    pub reading: bool,
    /// The stored error: reported once the buffer cannot satisfy a read.
    pub stored_error: Option<ErrorCode>,
    /// Bytes accepted by `write` and not yet taken by the transport.
    pub write_queue: WriteQueue,
    /// `drain` must wait (above high; cleared at low).
    write_paused: bool,
    /// Where the connection is in its life (open, eof sent, closing, detaching, aborted, lost,
    /// closed) and which pumps run; its transitions live in wasio-core.
    life: Lifecycle<ErrorCode>,
    /// Writes dropped because the connection is closing or lost.
    dropped_writes: u32,
    /// The send pump took a batch and has not yet heard how the transport took it (the first
    /// poll of its write: taken, stopped by an error, or blocked on a full socket).
    sending: bool,
    /// Capacity of the receive pump's buffer (in flight or kept for the next receive).
    receiving: usize,
    /// What this connection is counted for in the run's budget.
    accounted: usize,
}

/// The raw streams the pumps handed back on `detach`.
#[derive(Default)]
struct Handback {
    receive: Option<(StreamReader<u8>, Completion)>,
    send: Option<(StreamWriter<u8>, Completion)>,
}

/// A connection shared by its reader, writer, pumps and server.
pub struct Conn {
    /// The state; borrowed only briefly, never across an await.
    pub state: RefCell<State>,
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
                read_buffer: ReadBuffer::new(),
                limit: settings.limit,
                flow: ReadFlow::default(),
                demand: Demand::None,
                reading: false,
                stored_error: None,
                write_queue: WriteQueue::new(settings.write_queue_cap),
                write_paused: false,
                life: Lifecycle::new(),
                dropped_writes: 0,
                sending: false,
                receiving: 0,
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
        wit_bindgen::spawn_local(receive_pump(self.clone(), receive, receive_done));
        wit_bindgen::spawn_local(send_pump(self.clone(), send, send_done));
    }

    /// Records the TLS details of the connection (after `ssl=` or `start_tls`).
    pub fn set_tls(&self, info: TlsInfo) {
        *self.tls.borrow_mut() = Some(info);
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.borrow().is_some()
    }

    /// Stops both pumps and hands back the transport's raw streams and the bytes buffered in
    /// the reader, for `start_tls`. The send pump first flushes the queue; the receive pump keeps
    /// whatever its cancelled read had already got. Errors: `busy` while a read waits;
    /// `connection-reset` (and the connection is lost) if it is closing, closed, at EOF, or
    /// ends meanwhile.
    pub async fn detach(&self) -> Result<(Streams, Vec<u8>), ErrorCode> {
        {
            let mut state = self.state.borrow_mut();
            if state.reading {
                return Err(ErrorCode::Busy);
            }
            if state.life.begin_detach().is_err() {
                return Err(ErrorCode::ConnectionReset);
            }
        }
        self.pump_event.notify();
        self.send_event.notify();
        loop {
            let listen = self.detach_event.listen();
            {
                let state = self.state.borrow();
                if !state.life.running(Pump::Receive) && !state.life.running(Pump::Send) {
                    break;
                }
            }
            listen.await;
        }
        let handback = std::mem::take(&mut *self.handback.borrow_mut());
        let mut state = self.state.borrow_mut();
        match (handback.receive, handback.send) {
            (Some((receive, receive_done)), Some((send, send_done)))
                if !state.read_buffer.eof() =>
            {
                let buffered = state.read_buffer.take_all();
                state.read_buffer.release_if_empty();
                drop(state);
                self.account();
                Ok((
                    Streams {
                        receive,
                        receive_done,
                        send,
                        send_done,
                    },
                    buffered,
                ))
            }
            _ => {
                drop(state);
                self.fail_detached(ErrorCode::ConnectionReset);
                Err(ErrorCode::ConnectionReset)
            }
        }
    }

    /// Starts fresh pumps over `streams` after [`detach`](Self::detach); `wrap` turns the old
    /// transport into the new one (e.g. a TLS session over the socket).
    pub fn reattach(self: &Rc<Self>, streams: Streams, wrap: impl FnOnce(Transport) -> Transport) {
        let old = self.transport.borrow_mut().take();
        *self.transport.borrow_mut() = old.map(wrap);
        {
            let mut state = self.state.borrow_mut();
            state.life.end_detach();
            state.life.pumps_started();
        }
        self.spawn_pumps(streams);
    }

    /// Ends a detached connection whose streams could not be re-plumbed: it is lost with
    /// `error` and closes (dropping the transport).
    pub fn fail_detached(&self, error: ErrorCode) {
        self.lose(error);
        self.state.borrow_mut().life.close();
        self.maybe_finish();
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

    // ----- read side -----

    /// Tries a read operation against the buffer. `None`: it has to wait. A stored error is reported
    /// only once the buffer cannot satisfy the call (better than CPython gh-75044).
    pub fn attempt<T>(
        &self,
        op: impl FnOnce(&mut ReadBuffer, usize) -> Attempt<Result<T, ErrorCode>>,
    ) -> Option<Result<T, ErrorCode>> {
        let mut state = self.state.borrow_mut();
        let limit = state.limit;
        let attempt = if state.stored_error.is_some() {
            // The stored error takes EOF's place: bytes first, then the error, never EOF.
            state.read_buffer.without_eof(|buf| op(buf, limit))
        } else {
            op(&mut state.read_buffer, limit)
        };
        let result = match attempt {
            Attempt::Done(result) => Some(result),
            Attempt::NeedMore => state.stored_error.clone().map(Err),
        };
        if result.is_some() {
            state.read_buffer.release_if_empty();
            // The pump may pull again: flow control resumes at the limit, reading ahead below
            // READ_AHEAD (a sync `try-*` read sets no demand, so this wake-up is its only one).
            let len = state.read_buffer.len();
            let resume = (state.flow.is_paused() && len <= limit) || len < budget::READ_AHEAD;
            drop(state);
            self.account();
            if resume {
                self.pump_event.notify();
            }
        }
        result
    }

    /// Runs a read operation until it finishes, waiting for data in between. Fails with `busy`
    /// when another read waits. Cancel safe: the attempt consumes nothing until it finishes, and
    /// the waiting flag is reset when the future is dropped.
    pub async fn read_op<T>(
        &self,
        demand: impl Fn(&ReadBuffer) -> Demand,
        mut op: impl FnMut(&mut ReadBuffer, usize) -> Attempt<Result<T, ErrorCode>>,
    ) -> Result<T, ErrorCode> {
        if self.state.borrow().reading {
            return Err(ErrorCode::Busy);
        }
        if let Some(result) = self.attempt(&mut op) {
            return result;
        }
        let _waiting = Waiting::new(self);
        loop {
            let listen = self.read_event.listen();
            {
                let mut state = self.state.borrow_mut();
                let want = demand(&state.read_buffer);
                if state.demand != want {
                    state.demand = want;
                    drop(state);
                    self.pump_event.notify();
                }
            }
            listen.await;
            if let Some(result) = self.attempt(&mut op) {
                return result;
            }
        }
    }

    /// Puts back bytes a read consumed but could not hand over (see `handover`).
    pub fn unread(&self, bytes: Vec<u8>) {
        self.state.borrow_mut().read_buffer.unread(bytes);
        self.account();
    }

    /// Puts back bytes the app took ahead and did not use (`reader.unread`, `start-tls`'s
    /// `ahead`), and wakes a waiting read, which may now find what it needs.
    pub fn unread_from_app(&self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.unread(bytes);
        self.read_event.notify();
    }

    /// Stores an error for the reader (asyncio `set_exception`) and wakes a waiting read.
    pub fn set_exception(&self, error: ErrorCode) {
        self.state.borrow_mut().stored_error = Some(error);
        self.read_event.notify();
    }

    // ----- write side -----

    /// Queues `parts` as one write (asyncio `writelines`, and `write-stream`'s chunks).
    pub fn write(&self, parts: &[&[u8]]) -> Result<(), ErrorCode> {
        let empty = parts.iter().all(|p| p.is_empty());
        self.queue(empty, |write_queue| write_queue.push(parts))
    }

    /// Checks a write of `n` bytes before its bytes are fetched, by the rules of `queue` and the
    /// hard cap. Returns how many bytes to fetch: 0 when the write is dropped or empty.
    pub fn admit_write(&self, n: u64) -> Result<usize, ErrorCode> {
        let mut state = self.state.borrow_mut();
        if let Some(result) = write_not_queued(&mut state, n == 0) {
            return result.map(|()| 0);
        }
        match usize::try_from(n) {
            Ok(n) if state.write_queue.admits(n) => Ok(n),
            _ => Err(ErrorCode::BufferFull),
        }
    }

    /// Queues `data` as one write (asyncio `write`); into an empty queue without a copy.
    pub fn write_vec(&self, data: Vec<u8>) -> Result<(), ErrorCode> {
        self.queue(data.is_empty(), |write_queue| write_queue.push_vec(data))
    }

    /// Queues a write that `write_not_queued` lets through, with `push`, and wakes the send pump.
    fn queue(
        &self,
        empty: bool,
        push: impl FnOnce(&mut WriteQueue) -> Result<(), QueueFull>,
    ) -> Result<(), ErrorCode> {
        let mut state = self.state.borrow_mut();
        if let Some(result) = write_not_queued(&mut state, empty) {
            return result;
        }
        push(&mut state.write_queue).map_err(|QueueFull| ErrorCode::BufferFull)?;
        if state.write_queue.above_high() {
            state.write_paused = true;
        }
        drop(state);
        self.account();
        self.send_event.notify();
        Ok(())
    }

    /// `drain` without waiting: `None` when it has to wait for the queue to fall to low.
    ///
    /// asyncio's steps: (1) the reader's stored error; (2) a lost connection is
    /// `ConnectionResetError("Connection lost")`; (3) a closing writer lets the close progress
    /// (asyncio yields once, in which its socket takes the bytes and `connection_lost` runs), so
    /// once the queue is flushed it is "Connection lost" too, and until then it has to wait;
    /// (4) at or below high: done; (5) otherwise wait.
    pub fn try_drain(&self) -> Option<Result<(), ErrorCode>> {
        let state = self.state.borrow();
        if let Some(e) = &state.stored_error {
            return Some(Err(e.clone()));
        }
        if state.life.ended() {
            return Some(Err(ErrorCode::ConnectionReset));
        }
        if state.life.close_requested() {
            return state
                .write_queue
                .is_empty()
                .then_some(Err(ErrorCode::ConnectionReset));
        }
        if send_unreported(&state) {
            return None;
        }
        if !state.write_paused {
            return Some(Ok(()));
        }
        None
    }

    /// asyncio `drain`: waits while the writer is paused. All waiters are released together when
    /// the queue falls to the low mark or the connection closes cleanly; a lost connection fails
    /// them with its error. A drain that starts on a closing writer waits for the flush and then
    /// fails with `connection-reset` ("Connection lost"), as asyncio's does once its socket took
    /// the bytes.
    pub async fn drain(&self) -> Result<(), ErrorCode> {
        if let Some(result) = self.try_drain() {
            return result;
        }
        if self.state.borrow().life.close_requested() {
            return self.wait_flushed_then_lost().await;
        }
        if send_unreported(&self.state.borrow()) {
            // asyncio's `write` sends at once; a send error makes the transport close, and the
            // next drain sees `is_closing()`, yields once and raises "Connection lost".
            wait_until(&self.drain_event, || {
                let state = self.state.borrow();
                !send_unreported(&state) || state.life.ended()
            })
            .await;
            if self.state.borrow().life.ended() {
                return Err(ErrorCode::ConnectionReset);
            }
        }
        loop {
            let listen = self.drain_event.listen();
            {
                let state = self.state.borrow();
                if let Some(e) = &state.stored_error {
                    return Err(e.clone());
                }
                if state.life.failed() {
                    return Err(ErrorCode::ConnectionReset);
                }
                if state.life.is_closed() || !state.write_paused {
                    return Ok(());
                }
            }
            listen.await;
        }
    }

    /// Records that the transport answered the send pump's write of its batch (see `sending`).
    fn attempted(&self) {
        self.state.borrow_mut().sending = false;
        self.drain_event.notify();
    }

    /// The rest of a drain that started on a closing writer: asyncio's drain looked at the
    /// reader's error before it yielded, so whatever ends the wait is "Connection lost".
    async fn wait_flushed_then_lost(&self) -> Result<(), ErrorCode> {
        wait_until(&self.drain_event, || {
            let state = self.state.borrow();
            state.write_queue.is_empty() || state.life.ended()
        })
        .await;
        Err(ErrorCode::ConnectionReset)
    }

    /// asyncio `set_write_buffer_limits`: new marks, and the pause state re-evaluated against them.
    pub fn set_write_buffer_limits(&self, marks: WaterMarks) {
        let mut state = self.state.borrow_mut();
        state.write_queue.set_marks(marks);
        let release = if state.write_queue.above_high() {
            state.write_paused = true;
            false
        } else {
            std::mem::replace(&mut state.write_paused, false)
        };
        drop(state);
        if release {
            self.drain_event.notify();
        }
    }

    /// asyncio `write_eof`: flush, then FIN. No-op when closing or already requested.
    pub fn write_eof(&self) {
        if self.state.borrow_mut().life.write_eof() {
            self.send_event.notify();
        }
    }

    /// asyncio `close`: flush the queue, then close the connection. Idempotent.
    pub fn close(&self) {
        if !self.state.borrow_mut().life.close() {
            return;
        }
        self.send_event.notify();
        // After write_eof the send side may be done already: the receive side stops now.
        self.pump_event.notify();
        self.maybe_finish();
    }

    /// asyncio `abort`: close at once, dropping the queue. Over TLS the session is dropped
    /// first, so no close_notify is sent (as asyncio, which aborts the transport underneath).
    pub fn abort(&self) {
        let mut state = self.state.borrow_mut();
        if !state.life.abort() {
            return;
        }
        state.write_queue.clear();
        drop(state);
        self.account();
        self.drop_tls_session();
        self.wake_all();
        self.maybe_finish();
    }

    /// asyncio `is_closing`.
    pub fn is_closing(&self) -> bool {
        self.state.borrow().life.is_closing()
    }

    /// True once fully closed.
    pub fn is_closed(&self) -> bool {
        self.state.borrow().life.is_closed()
    }

    /// asyncio `wait_closed`: waits for the close to finish; reports the error it was lost with.
    pub async fn wait_closed(&self) -> Result<(), ErrorCode> {
        loop {
            let listen = self.closed_event.listen();
            {
                let state = self.state.borrow();
                if state.life.is_closed() {
                    return state.life.close_error().cloned().map_or(Ok(()), Err);
                }
            }
            listen.await;
        }
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
        let now = state.read_buffer.capacity() + state.receiving + state.write_queue.held();
        let before = std::mem::replace(&mut state.accounted, now);
        drop(state);
        self.limits.rebudget(before, now);
    }

    /// Whether a receive in flight reads ahead of the app while the budget is spent (it is then
    /// cancelled, keeping what it got).
    fn read_ahead_under_pressure(&self) -> bool {
        let state = self.state.borrow();
        budget::cancel_read_ahead(
            state.read_buffer.len(),
            state.demand,
            self.limits.under_pressure(),
        )
    }

    /// Marks the connection lost with `error` (first error wins) and stops both pumps.
    fn lose(&self, error: ErrorCode) {
        let mut state = self.state.borrow_mut();
        // After abort the transport's errors are its consequences: readers see EOF.
        if state.life.lose(error.clone()) == Loss::First {
            if state.stored_error.is_none() {
                state.stored_error = Some(error);
            }
            state.write_queue.clear();
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
        state.write_paused = false;
        // asyncio's `connection_lost(exc)` feeds EOF only when `exc` is None; after an error the
        // reader keeps it (`set_exception`) and `at_eof` stays false. Reads never wait on a
        // closed connection either way: they get EOF or the stored error.
        if state.life.close_error().is_none() {
            state.read_buffer.set_eof();
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

/// Resets the "a read is waiting" flag and the demand when a read finishes or is dropped.
struct Waiting<'a> {
    conn: &'a Conn,
}

impl<'a> Waiting<'a> {
    fn new(conn: &'a Conn) -> Self {
        conn.state.borrow_mut().reading = true;
        Waiting { conn }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut state = self.conn.state.borrow_mut();
        state.reading = false;
        state.demand = Demand::None;
    }
}

/// Pulls bytes from the transport into the reader buffer until EOF, an error, or a stop.
async fn receive_pump(conn: Rc<Conn>, mut rx: StreamReader<u8>, done: Completion) {
    let mut chunk: Vec<u8> = Vec::new();
    // Small requests while idle, big ones while bytes keep coming (see ChunkSizer).
    let mut sizer = ChunkSizer::new();
    let ended = loop {
        // Wait until flow control and the budget let us pull, or we must stop. Before waiting,
        // the pump gives back its receive buffer and what the read buffer does not need.
        let mut trimmed = false;
        let want = loop {
            let listen = conn.pump_event.listen();
            let pressure = conn.limits.pressure.listen();
            if conn.receive_should_stop() {
                break None;
            }
            {
                let mut state = conn.state.borrow_mut();
                let state = &mut *state;
                let (len, limit, demand) = (state.read_buffer.len(), state.limit, state.demand);
                let spent = conn.limits.under_pressure();
                match budget::pull(&mut state.flow, len, limit, demand, spent, sizer.next()) {
                    Pull::Receive(want) => break Some(want),
                    Pull::Wait if !trimmed => {
                        state.read_buffer.trim();
                        chunk = Vec::new();
                        state.receiving = 0;
                    }
                    Pull::Wait => {}
                }
            }
            if !trimmed {
                trimmed = true;
                conn.account();
            }
            select(listen, pressure).await;
        };
        let Some(want) = want else {
            break false;
        };
        if chunk.capacity() > 2 * want {
            chunk = Vec::new();
        }
        if chunk.capacity() < want {
            chunk.reserve_exact(want);
        }
        let requested = chunk.capacity();
        conn.state.borrow_mut().receiving = requested;
        conn.account();
        let (result, buf, stopped) = {
            let mut read = pin!(rx.read(chunk));
            // Stop, or cancel a read-ahead receive once the budget is spent.
            let interrupt = pin!(async {
                loop {
                    let listen = conn.pump_event.listen();
                    let pressure = conn.limits.pressure.listen();
                    if conn.receive_should_stop() || conn.read_ahead_under_pressure() {
                        return;
                    }
                    select(listen, pressure).await;
                }
            });
            match select(read.as_mut(), interrupt).await {
                Either::Left(((result, buf), _)) => (result, buf, false),
                Either::Right(((), _)) => {
                    // Cancel the in-flight read, keeping what it already got.
                    let (result, buf) = read.as_mut().cancel();
                    (result, buf, conn.receive_should_stop())
                }
            }
        };
        chunk = buf;
        sizer.record(requested, chunk.len());
        if !chunk.is_empty() {
            let mut state = conn.state.borrow_mut();
            chunk = state.read_buffer.absorb(std::mem::take(&mut chunk));
            drop(state);
            conn.read_event.notify();
        }
        conn.state.borrow_mut().receiving = chunk.capacity();
        conn.account();
        match result {
            StreamResult::Dropped => break true,
            _ if stopped => break false,
            StreamResult::Complete(_) | StreamResult::Cancelled => continue,
        }
    };
    drop(chunk);
    conn.state.borrow_mut().receiving = 0;
    conn.account();
    if !ended && conn.handing_back() {
        conn.handback.borrow_mut().receive = Some((rx, done));
        conn.state.borrow_mut().life.pump_stopped(Pump::Receive);
        conn.detach_event.notify();
        return;
    }
    drop(rx);
    // Never drop the completion: it says whether the receive side ended cleanly.
    let result = done.await;
    conn.detach_event.notify();
    {
        let mut state = conn.state.borrow_mut();
        state.life.pump_stopped(Pump::Receive);
        if ended && result.is_ok() {
            state.read_buffer.set_eof();
        }
    }
    match result {
        Err(error) if ended => conn.lose(error),
        _ => conn.read_event.notify(),
    }
    conn.maybe_finish();
}

/// What the send pump does next.
enum SendStep {
    Send(Vec<u8>),
    Finish,
    Abort,
    /// Queue flushed and `detach` asked: hand the stream back.
    HandBack,
}

/// Moves queued bytes into the transport until close, write_eof, abort or loss.
async fn send_pump(conn: Rc<Conn>, mut tx: StreamWriter<u8>, done: Completion) {
    let mut peer_gone = false;
    loop {
        let step = loop {
            let listen = conn.send_event.listen();
            {
                let mut state = conn.state.borrow_mut();
                let next = state.life.send_step();
                if next == SendNext::Stop {
                    break SendStep::Abort;
                }
                if state.write_queue.has_queued() {
                    state.sending = true;
                    break SendStep::Send(state.write_queue.take());
                }
                match next {
                    SendNext::HandBack => break SendStep::HandBack,
                    SendNext::Finish => break SendStep::Finish,
                    SendNext::Send | SendNext::Stop => {}
                }
            }
            listen.await;
        };
        let data = match step {
            SendStep::Send(data) => data,
            SendStep::HandBack => {
                conn.handback.borrow_mut().send = Some((tx, done));
                conn.state.borrow_mut().life.pump_stopped(Pump::Send);
                conn.detach_event.notify();
                return;
            }
            SendStep::Finish | SendStep::Abort => break,
        };
        let total = data.len();
        let mut written = 0;
        let mut write = tx.write(data);
        // The batch's buffer is dropped here once sent: it is not kept for the next batch.
        let sent_all = loop {
            let outcome = {
                let mut write = pin!(write);
                let mut first_poll = true;
                // The transport answers a write in its first poll unless the socket is full;
                // a drain waiting for that answer goes on once it is known (see `sending`).
                let write = poll_fn(|cx| {
                    let poll = write.as_mut().poll(cx);
                    if std::mem::take(&mut first_poll) && poll.is_pending() {
                        conn.attempted();
                    }
                    poll
                });
                let abort = pin!(wait_until(&conn.send_event, || {
                    conn.state.borrow().life.send_step() == SendNext::Stop
                }));
                match select(pin!(write), abort).await {
                    Either::Left((outcome, _)) => Some(outcome),
                    Either::Right(((), _)) => None,
                }
            };
            let Some((result, buf)) = outcome else {
                break false;
            };
            if result != StreamResult::Dropped {
                conn.attempted();
            }
            let now = total - buf.remaining();
            conn.progress(now - written);
            written = now;
            if buf.remaining() == 0 {
                break true;
            }
            if result == StreamResult::Dropped {
                peer_gone = true;
                break false;
            }
            write = tx.write_buf(buf);
        };
        if !sent_all {
            // Aborted, lost, or the transport stopped taking bytes: drop what was in flight.
            conn.progress(total - written);
            break;
        }
    }
    drop(tx);
    let result = done.await;
    conn.state.borrow_mut().life.pump_stopped(Pump::Send);
    conn.detach_event.notify();
    match result {
        Err(error) => conn.lose(error),
        Ok(()) if peer_gone => conn.lose(ErrorCode::BrokenPipe),
        Ok(()) => conn.drain_event.notify(),
    }
    // A closing connection's receive side stops once the send side is flushed.
    conn.pump_event.notify();
    conn.maybe_finish();
}

impl Conn {
    /// Records `n` bytes taken by the transport and releases drains at the low mark.
    fn progress(&self, n: usize) {
        let mut state = self.state.borrow_mut();
        state.write_queue.sent(n);
        let release = state.write_paused && state.write_queue.at_or_below_low();
        if release {
            state.write_paused = false;
        }
        // A drain on a closing writer waits for the flush.
        let flushed = state.life.is_closing() && state.write_queue.is_empty();
        drop(state);
        self.account();
        if release || flushed {
            self.drain_event.notify();
        }
    }
}

/// The rules every write meets before it is queued: refused after `write_eof`, dropped once
/// closing or lost, ignored when `empty`. `Some(result)` when the write is not to be queued.
fn write_not_queued(state: &mut State, empty: bool) -> Option<Result<(), ErrorCode>> {
    match state.life.write_rule() {
        WriteRule::AfterEof => return Some(Err(ErrorCode::Closed(WRITE_AFTER_EOF.to_string()))),
        WriteRule::Dropped => {
            // asyncio drops writes on a closing or lost transport, and warns from the 5th on.
            state.dropped_writes += 1;
            if state.dropped_writes == DROPPED_WRITES_WARNING {
                eprintln!(
                    "wasio: socket.send() raised exception: writes to a closed connection are dropped"
                );
            }
            return Some(Ok(()));
        }
        WriteRule::Accept => {}
    }
    if empty {
        return Some(Ok(()));
    }
    None
}

/// Whether bytes `write` accepted still wait for the transport's first answer while the
/// connection's receive side cannot notice a loss (it reached EOF, or flow control paused it):
/// then only a send reports the peer gone, and asyncio's `write` would have sent them already.
/// Bytes queued behind a batch the socket has not taken yet do not count: asyncio's `write`
/// buffers those without sending either.
fn send_unreported(state: &State) -> bool {
    let receive_blind =
        !state.life.running(Pump::Receive) || state.read_buffer.eof() || state.flow.is_paused();
    receive_blind
        && (state.sending || (state.write_queue.has_queued() && !state.write_queue.has_in_flight()))
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
