//! The writer's side of a connection: queueing writes, drain, write_eof, close, abort and
//! wait_closed, by asyncio's rules.

use super::{Conn, State, Transport, wait_until};
use crate::errors::WRITE_AFTER_EOF;
use crate::timeout::bounded;
use crate::types::ErrorCode;
use std::rc::Rc;
use wasio_core::lifecycle::{Pump, WriteRule};
use wasio_core::{QueueFull, WaterMarks, WriteQueue};

/// asyncio warns about writes to a closed transport once this many were dropped.
const DROPPED_WRITES_WARNING: u32 = 5;

impl Conn {
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
            Ok(n) if state.write.queue.admits(n) => Ok(n),
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
        push(&mut state.write.queue).map_err(|QueueFull| ErrorCode::BufferFull)?;
        if state.write.queue.above_high() {
            state.write.paused = true;
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
        if let Some(e) = &state.read.stored_error {
            return Some(Err(e.clone()));
        }
        if state.life.ended() {
            return Some(Err(ErrorCode::ConnectionReset));
        }
        if state.life.close_requested() {
            return state
                .write
                .queue
                .is_empty()
                .then_some(Err(ErrorCode::ConnectionReset));
        }
        if send_unreported(&state) {
            return None;
        }
        if !state.write.paused {
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
                if let Some(e) = &state.read.stored_error {
                    return Err(e.clone());
                }
                if state.life.failed() {
                    return Err(ErrorCode::ConnectionReset);
                }
                if state.life.is_closed() || !state.write.paused {
                    return Ok(());
                }
            }
            listen.await;
        }
    }

    /// Records that the transport answered the send pump's write of its batch (see `sending`).
    pub(super) fn attempted(&self) {
        self.state.borrow_mut().write.sending = false;
        self.drain_event.notify();
    }

    /// The rest of a drain that started on a closing writer: asyncio's drain looked at the
    /// reader's error before it yielded, so whatever ends the wait is "Connection lost".
    async fn wait_flushed_then_lost(&self) -> Result<(), ErrorCode> {
        wait_until(&self.drain_event, || {
            let state = self.state.borrow();
            state.write.queue.is_empty() || state.life.ended()
        })
        .await;
        Err(ErrorCode::ConnectionReset)
    }

    /// Bytes queued and not yet taken by the transport.
    pub fn write_buffer_size(&self) -> usize {
        self.state.borrow().write.queue.size()
    }

    /// The queue's water marks.
    pub fn write_buffer_limits(&self) -> WaterMarks {
        self.state.borrow().write.queue.marks()
    }

    /// asyncio `set_write_buffer_limits`: new marks, and the pause state re-evaluated against them.
    pub fn set_write_buffer_limits(&self, marks: WaterMarks) {
        let mut state = self.state.borrow_mut();
        state.write.queue.set_marks(marks);
        let release = if state.write.queue.above_high() {
            state.write.paused = true;
            false
        } else {
            std::mem::replace(&mut state.write.paused, false)
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

    /// asyncio `close`: flush the queue, then close the connection. Idempotent. Over TLS the
    /// whole close, flush included, has the shutdown timeout (as asyncio's SSL transport: a
    /// peer that never reads cannot hold it open), after which the connection ends with
    /// `timeout`, which `wait_closed` reports.
    pub fn close(self: &Rc<Self>) {
        if !self.state.borrow_mut().life.close() {
            return;
        }
        self.send_event.notify();
        // After write_eof the send side may be done already: the receive side stops now.
        self.pump_event.notify();
        self.maybe_finish();
        if let Some(timeout) = self.tls_shutdown_timeout.get()
            && !self.is_closed()
        {
            wit_bindgen::spawn_local(shutdown_deadline(self.clone(), timeout));
        }
    }

    /// asyncio `abort`: close at once, dropping the queue. Over TLS the session is dropped
    /// first, so no close_notify is sent (as asyncio, which aborts the transport underneath).
    /// Over a plain socket the send pump first hands the transport what it takes without
    /// waiting: asyncio's `write` sends at once what the socket takes, so bytes written just
    /// before an abort reach the peer there, and only those the socket refused are dropped.
    pub fn abort(&self) {
        let mut state = self.state.borrow_mut();
        let flushing = state.life.running(Pump::Send)
            && !matches!(&*self.transport.borrow(), Some(Transport::Tls(..)));
        if !state.life.abort() {
            return;
        }
        if !flushing {
            state.write.queue.clear();
        }
        drop(state);
        self.account();
        self.end_at_once();
    }

    /// The end of an abort, or of a TLS close past its deadline: the socket is told the close
    /// is an abort, the TLS session is dropped (no close_notify), every waiter is woken, and
    /// the close finishes once the pumps have stopped.
    fn end_at_once(&self) {
        if let Some(transport) = &*self.transport.borrow() {
            transport.abort();
        }
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

    /// Records `n` bytes taken by the transport and releases drains at the low mark.
    pub(super) fn progress(&self, n: usize) {
        let mut state = self.state.borrow_mut();
        state.write.queue.sent(n);
        let release = state.write.paused && state.write.queue.at_or_below_low();
        if release {
            state.write.paused = false;
        }
        // A drain on a closing writer waits for the flush.
        let flushed = state.life.is_closing() && state.write.queue.is_empty();
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
            state.write.dropped_writes += 1;
            if state.write.dropped_writes == DROPPED_WRITES_WARNING {
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
    let receive_blind = !state.life.running(Pump::Receive)
        || state.read.buffer.eof()
        || state.read.flow.is_paused();
    receive_blind
        && (state.write.sending
            || (state.write.queue.has_queued() && !state.write.queue.has_in_flight()))
}

/// Ends a TLS connection whose close has not finished `timeout` nanoseconds after it was
/// asked: lost with `timeout`, the session dropped (no close_notify) and the socket closed as
/// by an abort. Returns as soon as the connection closes, so no clock wait outlives it.
async fn shutdown_deadline(conn: Rc<Conn>, timeout: u64) {
    let closed = conn.closed_event.listen();
    if conn.is_closed() {
        return;
    }
    let ran_out = bounded(
        Some(timeout),
        closed,
        std::future::pending::<Result<(), ErrorCode>>(),
    )
    .await
    .is_err_and(|e| e == ErrorCode::Timeout);
    if !ran_out || conn.is_closed() {
        return;
    }
    conn.lose(ErrorCode::Timeout);
    conn.end_at_once();
}
