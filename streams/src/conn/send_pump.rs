//! The send pump: moves the write queue into the transport's send stream.
//!
//! A write into an idle connection does not wait for the pump: [`Conn::send_now`] offers the
//! bytes to the transport at once, within the `write` call, and leaves to the pump only what the
//! socket did not take. The transport answers such a write in the call (it takes what the socket
//! has room for), so an app that writes and then waits for the reply costs no wake-up of the
//! pump: in the composed provider that wake-up is a cross-task event, a large part of a
//! request's cost.

use super::{Completion, Conn, wait_until};
use crate::types::ErrorCode;
use futures::future::{Either, select};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use wasio_core::lifecycle::{Pump, SendNext};
use wit_bindgen::StreamResult;

impl Conn {
    /// Offers the queued bytes to the transport now, if the send pump is idle and the queue holds
    /// nothing taken before; wakes the pump for what is left. Needs a task context (any async
    /// export or the app's own task): a write the socket cannot take at once is started and then
    /// cancelled, which registers it with the current task for that moment.
    pub(super) fn send_now(&self) {
        let batch = {
            let mut state = self.state.borrow_mut();
            let idle = !state.sending && !state.write_queue.has_in_flight() && !state.send_dropped;
            if !idle || state.life.send_step() != SendNext::Send {
                None
            } else {
                match self.send_stream.borrow_mut().take() {
                    Some(tx) => {
                        state.sending = true;
                        Some((tx, state.write_queue.take()))
                    }
                    None => None,
                }
            }
        };
        let Some((mut tx, batch)) = batch else {
            self.send_event.notify();
            return;
        };
        let total = batch.len();
        let (result, left) = {
            let mut write = pin!(tx.write(batch));
            match write.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(outcome) => outcome,
                // The socket is full: take back what it did not take, for the pump.
                Poll::Pending => write.as_mut().cancel(),
            }
        };
        *self.send_stream.borrow_mut() = Some(tx);
        if result != StreamResult::Dropped {
            self.attempted();
        }
        let rest = left.remaining();
        if result == StreamResult::Dropped {
            // The peer is gone: what was not taken is dropped, as the pump drops it, and the
            // pump ends the send side (the stream must not be written again).
            self.progress(total);
            let mut state = self.state.borrow_mut();
            state.sending = false;
            state.send_dropped = true;
            drop(state);
            self.send_event.notify();
            return;
        }
        self.progress(total - rest);
        if rest > 0 {
            // The socket is full: the rest stays in flight, and the pump sends it first, as its
            // own batch (writes made meanwhile queue behind it, as behind any batch).
            *self.send_rest.borrow_mut() = Some(left.into_vec());
            self.send_event.notify();
        }
    }
}

/// What the send pump does next.
enum SendStep {
    Send(Vec<u8>),
    Finish,
    Abort,
    /// Queue flushed and `detach` asked: hand the stream back.
    HandBack,
    /// `send_now` found the transport's reader gone.
    PeerGone,
}

/// Moves queued bytes into the transport until close, write_eof, abort or loss.
///
/// The send stream is in `conn.send_stream` whenever the pump is idle (for `send_now`); the pump
/// takes it for each batch and puts it back.
pub(super) async fn send_pump(conn: Rc<Conn>, done: Completion) {
    let mut peer_gone = false;
    // `send_now` puts the stream back before it returns, so an idle pump always finds it.
    let idle_stream = || conn.send_stream.borrow_mut().take();
    let tx = loop {
        let step = loop {
            let listen = conn.send_event.listen();
            {
                let mut state = conn.state.borrow_mut();
                let next = state.life.send_step();
                if next == SendNext::Stop {
                    break SendStep::Abort;
                }
                if state.send_dropped {
                    break SendStep::PeerGone;
                }
                if let Some(rest) = conn.send_rest.borrow_mut().take() {
                    // Already counted in flight by `send_now`.
                    state.sending = true;
                    break SendStep::Send(rest);
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
            SendStep::HandBack => match idle_stream() {
                Some(tx) => {
                    conn.handback.borrow_mut().send = Some((tx, done));
                    conn.state.borrow_mut().life.pump_stopped(Pump::Send);
                    conn.detach_event.notify();
                    return;
                }
                None => break None,
            },
            SendStep::Finish | SendStep::Abort => break idle_stream(),
            SendStep::PeerGone => {
                peer_gone = true;
                break idle_stream();
            }
        };
        let Some(mut tx) = idle_stream() else {
            break None;
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
            break Some(tx);
        }
        *conn.send_stream.borrow_mut() = Some(tx);
    };
    // `None` only if the stream was not where an idle pump keeps it, which `send_now` rules out;
    // the pump then ends the send side as on abort rather than stopping the run.
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
