//! `start_tls`'s hand-over: [`Conn::detach`] stops both pumps at a safe point (the send pump once
//! the queue is flushed, the receive pump after cancelling its in-flight read, keeping what that
//! read got) and hands their streams back unchanged, with the bytes still buffered;
//! [`Conn::reattach`] starts fresh pumps over the session's cleartext streams. Reader and writer
//! objects are unaffected.

use super::{Completion, Conn, Streams, Transport};
use crate::types::ErrorCode;
use std::rc::Rc;
use wasio_core::lifecycle::Pump;
use wit_bindgen::{StreamReader, StreamWriter};

/// The raw streams the pumps handed back on `detach`.
#[derive(Default)]
pub(super) struct Handback {
    pub(super) receive: Option<(StreamReader<u8>, Completion)>,
    pub(super) send: Option<(StreamWriter<u8>, Completion)>,
}

impl Conn {
    /// Stops both pumps and hands back the transport's raw streams and the bytes buffered in
    /// the reader, for `start_tls`. The send pump first flushes the queue; the receive pump keeps
    /// whatever its cancelled read had already got. Errors: `busy` while a read waits;
    /// `connection-reset` (and the connection is lost) if it is closing, closed, at EOF, or
    /// ends meanwhile.
    pub async fn detach(&self) -> Result<(Streams, Vec<u8>), ErrorCode> {
        {
            let mut state = self.state.borrow_mut();
            if state.read.reading {
                return Err(ErrorCode::Busy);
            }
            if !state.life.begin_detach() {
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
                if !state.read.buffer.eof() =>
            {
                let buffered = state.read.buffer.take_all();
                state.read.buffer.release_if_empty();
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
}
