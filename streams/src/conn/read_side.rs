//! The reader's side of a connection: attempts against the read buffer, and waiting for the
//! receive pump between attempts.

use super::Conn;
use crate::types::ErrorCode;
use wasio_core::budget;
use wasio_core::{Attempt, Demand, ReadBuffer};

impl Conn {
    /// Tries a read operation against the buffer. `None`: it has to wait. A stored error is reported
    /// only once the buffer cannot satisfy the call (better than CPython gh-75044).
    pub fn attempt<T>(
        &self,
        op: impl FnOnce(&mut ReadBuffer, usize) -> Attempt<Result<T, ErrorCode>>,
    ) -> Option<Result<T, ErrorCode>> {
        let mut state = self.state.borrow_mut();
        let limit = state.read.limit;
        let attempt = if state.read.stored_error.is_some() {
            // The stored error takes EOF's place: bytes first, then the error, never EOF.
            state.read.buffer.without_eof(|buf| op(buf, limit))
        } else {
            op(&mut state.read.buffer, limit)
        };
        let result = match attempt {
            Attempt::Done(result) => Some(result),
            Attempt::NeedMore => state.read.stored_error.clone().map(Err),
        };
        if result.is_some() {
            state.read.buffer.release_if_empty();
            // The pump may pull again: flow control resumes at the limit, reading ahead below
            // READ_AHEAD (a sync `try-*` read sets no demand, so this wake-up is its only one).
            let len = state.read.buffer.len();
            let resume = (state.read.flow.is_paused() && len <= limit) || len < budget::READ_AHEAD;
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
        if self.state.borrow().read.reading {
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
                let want = demand(&state.read.buffer);
                if state.read.demand != want {
                    state.read.demand = want;
                    let in_flight = state.read.in_flight;
                    drop(state);
                    if !in_flight {
                        self.pump_event.notify();
                    }
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
        self.state.borrow_mut().read.buffer.unread(bytes);
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

    /// A read is waiting (another one is `busy`).
    pub fn is_reading(&self) -> bool {
        self.state.borrow().read.reading
    }

    /// The error stored for the reader, if any.
    pub fn stored_error(&self) -> Option<ErrorCode> {
        self.state.borrow().read.stored_error.clone()
    }

    /// The reader's limit.
    pub fn limit(&self) -> usize {
        self.state.borrow().read.limit
    }

    /// Sets the reader's limit (already validated).
    pub fn set_limit(&self, limit: usize) {
        self.state.borrow_mut().read.limit = limit;
    }

    /// Bytes buffered and not yet read.
    pub fn buffered(&self) -> usize {
        self.state.borrow().read.buffer.len()
    }

    /// EOF was received and the buffer is empty.
    pub fn at_eof(&self) -> bool {
        self.state.borrow().read.buffer.at_eof()
    }

    /// Stores an error for the reader (asyncio `set_exception`) and wakes a waiting read.
    pub fn set_exception(&self, error: ErrorCode) {
        self.state.borrow_mut().read.stored_error = Some(error);
        self.read_event.notify();
    }
}

/// Resets the "a read is waiting" flag and the demand when a read finishes or is dropped.
struct Waiting<'a> {
    conn: &'a Conn,
}

impl<'a> Waiting<'a> {
    fn new(conn: &'a Conn) -> Self {
        conn.state.borrow_mut().read.reading = true;
        Waiting { conn }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut state = self.conn.state.borrow_mut();
        state.read.reading = false;
        state.read.demand = Demand::None;
    }
}
