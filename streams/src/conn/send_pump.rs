//! The send pump: moves the write queue into the transport's send stream.

use super::{Completion, Conn, wait_until};
use crate::types::ErrorCode;
use futures::FutureExt as _;
use futures::future::{Either, select};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use wasio_core::lifecycle::{Phase, Pump, SendNext};
use wit_bindgen::{StreamResult, StreamWriter};

/// What the send pump does next.
enum SendStep {
    Send(Vec<u8>),
    /// Aborted with bytes queued: hand the transport what it takes at once (`WriteSide::abort`).
    Flush(Vec<u8>),
    Finish,
    Abort,
    /// Queue flushed and `detach` asked: hand the stream back.
    HandBack,
}

/// Moves queued bytes into the transport until close, write_eof, abort or loss.
pub(super) async fn send_pump(conn: Rc<Conn>, mut tx: StreamWriter<u8>, done: Completion) {
    let mut peer_gone = false;
    // Bytes of the last batch the transport never took (aborted, or the peer went away).
    let mut unsent = 0;
    loop {
        let step = loop {
            let listen = conn.send_event.listen();
            {
                let mut state = conn.state.borrow_mut();
                let next = state.life.send_step();
                if next == SendNext::Stop {
                    if matches!(state.life.phase(), Phase::Aborted)
                        && state.write.queue.has_queued()
                    {
                        break SendStep::Flush(state.write.queue.take());
                    }
                    break SendStep::Abort;
                }
                if state.write.queue.has_queued() {
                    state.write.sending = true;
                    break SendStep::Send(state.write.queue.take());
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
            SendStep::Flush(data) => {
                // One poll: the transport answers at once unless the socket is full, and a
                // write still waiting is cancelled when dropped.
                let total = data.len();
                let sent = tx
                    .write(data)
                    .now_or_never()
                    .map_or(0, |(_, buf)| total - buf.remaining());
                conn.progress(sent);
                unsent = total - sent;
                break;
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
            // Aborted, lost, or the transport stopped taking bytes: what was in flight is
            // dropped, but only once the loss is recorded (below): dropping it now would let a
            // waiting drain see the queue fall below the low mark and succeed before it learns
            // that the connection is lost.
            unsent = total - written;
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
    if unsent > 0 {
        conn.progress(unsent);
    }
    // Bytes that can no longer be sent (an abort's leftovers, written while a batch waited on
    // a full socket) are dropped.
    let stopped = {
        let mut state = conn.state.borrow_mut();
        let stopped = state.life.send_step() == SendNext::Stop && state.write.queue.has_queued();
        if stopped {
            state.write.queue.clear();
        }
        stopped
    };
    if stopped {
        conn.account();
    }
    // A closing connection's receive side stops once the send side is flushed.
    conn.pump_event.notify();
    conn.maybe_finish();
}
