//! The read half of a connection (asyncio `StreamReader`). Every read is an attempt against the
//! buffer (see wasio-core); the async forms wait for the receive pump between attempts. Cancel
//! safety: every read is cancel safe; an attempt consumes bytes only when it finishes, so a
//! dropped read leaves everything buffered for the next one.
//!
//! The async reads take their `interrupt` listener when they are called, not when first polled,
//! so an `interrupt` made after the call ends the wait even if the future has not run yet.

use crate::conn::Conn;
use crate::errors::read_error;
use crate::timeout::bounded;
use crate::types::ErrorCode;
use std::future::Future;
use std::rc::Rc;
use wasio_core::notify::Notify;
use wasio_core::{
    Attempt, Demand, ReadBuffer, ReadError, read, read_exactly, read_line, read_lines, read_until,
};

/// The read half of a connection.
pub struct Reader {
    pub(crate) conn: Rc<Conn>,
    /// Notified by `interrupt`: ends the read waiting, if any.
    interrupt: Notify,
}

fn read_attempt(
    n: i64,
) -> impl FnMut(&mut ReadBuffer, usize) -> Attempt<Result<Vec<u8>, ErrorCode>> {
    move |buf, _| match read::read(buf, n) {
        Attempt::Done(bytes) => Attempt::Done(Ok(bytes)),
        Attempt::NeedMore => Attempt::NeedMore,
    }
}

/// A core attempt with its error as the contract's `error-code`.
fn coded(attempt: Attempt<Result<Vec<u8>, ReadError>>) -> Attempt<Result<Vec<u8>, ErrorCode>> {
    match attempt {
        Attempt::Done(result) => Attempt::Done(result.map_err(read_error)),
        Attempt::NeedMore => Attempt::NeedMore,
    }
}

fn exactly_attempt(
    n: u64,
) -> impl FnMut(&mut ReadBuffer, usize) -> Attempt<Result<Vec<u8>, ErrorCode>> {
    move |buf, _| coded(read_exactly::read_exactly(buf, n))
}

fn until_attempt(
    separators: &[Vec<u8>],
) -> impl FnMut(&mut ReadBuffer, usize) -> Attempt<Result<Vec<u8>, ErrorCode>> + '_ {
    move |buf, limit| coded(read_until::read_until(buf, separators, limit))
}

fn line_attempt(buf: &mut ReadBuffer, limit: usize) -> Attempt<Result<Vec<u8>, ErrorCode>> {
    coded(read_line::read_line(buf, limit))
}

fn lines_attempt(
    max: u64,
) -> impl FnMut(&mut ReadBuffer, usize) -> Attempt<Result<Vec<u8>, ErrorCode>> {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    move |buf, limit| coded(read_lines::read_lines(buf, limit, max))
}

/// A waiting read that needs more than what is buffered: one more byte than now.
fn one_more(buf: &ReadBuffer) -> Demand {
    Demand::AtLeast(buf.len().saturating_add(1))
}

impl Reader {
    /// The reader of `conn`.
    pub(crate) fn new(conn: Rc<Conn>) -> Self {
        Self {
            conn,
            interrupt: Notify::default(),
        }
    }

    /// Sync attempt shared by the `try_*` functions: `busy` while an async read waits.
    fn try_op(
        &self,
        op: impl FnMut(&mut ReadBuffer, usize) -> Attempt<Result<Vec<u8>, ErrorCode>>,
    ) -> Option<Result<Vec<u8>, ErrorCode>> {
        if self.conn.is_reading() {
            return Some(Err(ErrorCode::Busy));
        }
        self.conn.attempt(op)
    }

    /// `read(0)`: empty, but a stored error is still reported.
    fn read_zero(&self) -> Result<Vec<u8>, ErrorCode> {
        match self.conn.stored_error() {
            Some(e) => Err(e),
            None => Ok(Vec::new()),
        }
    }

    /// asyncio's `_limit`: the most `readline` / `readuntil` look through for a separator.
    pub fn limit(&self) -> u64 {
        self.conn.limit() as u64
    }

    /// Changes the limit; `invalid-argument` for 0 or one too large.
    pub fn set_limit(&self, limit: u64) -> Result<(), ErrorCode> {
        let limit = wasio_core::validate_limit(limit).map_err(read_error)?;
        self.conn.set_limit(limit);
        Ok(())
    }

    /// Bytes buffered and not yet read.
    pub fn buffered(&self) -> u64 {
        self.conn.buffered() as u64
    }

    /// asyncio `at_eof`: EOF was received and the buffer is empty.
    pub fn at_eof(&self) -> bool {
        self.conn.at_eof()
    }

    /// asyncio `exception`: the error stored on this reader, if any.
    pub fn exception(&self) -> Option<ErrorCode> {
        self.conn.stored_error()
    }

    /// asyncio `set_exception`: every later read fails with `error`, and a waiting one wakes.
    pub fn set_exception(&self, error: &ErrorCode) {
        self.conn.set_exception(error.clone());
    }

    /// asyncio `read(n)` if it can finish now (`n < 0`: until EOF); `None` if it would wait.
    pub fn try_read(&self, n: i64) -> Option<Result<Vec<u8>, ErrorCode>> {
        if n == 0 {
            return Some(self.read_zero());
        }
        self.try_op(read_attempt(n))
    }

    /// The bytes `try_read(n)` would return for `n > 0`, taken out of the buffer; a caller that
    /// cannot pass them all on puts the rest back with [`Reader::unread`].
    pub fn try_read_some(&self, n: u64) -> Option<Result<Vec<u8>, ErrorCode>> {
        self.try_op(read_attempt(i64::try_from(n).unwrap_or(i64::MAX)))
    }

    /// Waits until bytes are buffered or EOF or an error arrived; returns the bytes buffered.
    pub fn wait_readable(
        &self,
        timeout: Option<u64>,
    ) -> impl Future<Output = Result<u64, ErrorCode>> + '_ {
        let interrupted = self.interrupt.listen();
        async move {
            let readable = |buf: &mut ReadBuffer, _| {
                if buf.is_empty() && !buf.eof() {
                    Attempt::NeedMore
                } else {
                    Attempt::Done(Ok(buf.len() as u64))
                }
            };
            bounded(timeout, interrupted, self.conn.read_op(one_more, readable)).await
        }
    }

    /// asyncio `read(n)`: up to `n` bytes (`n < 0`: until EOF); empty at EOF.
    pub fn read(
        &self,
        n: i64,
        timeout: Option<u64>,
    ) -> impl Future<Output = Result<Vec<u8>, ErrorCode>> + '_ {
        let interrupted = self.interrupt.listen();
        async move {
            if n == 0 {
                return self.read_zero();
            }
            let demand = move |buf: &ReadBuffer| {
                if n < 0 {
                    Demand::UntilEof
                } else {
                    one_more(buf)
                }
            };
            bounded(
                timeout,
                interrupted,
                self.conn.read_op(demand, read_attempt(n)),
            )
            .await
        }
    }

    /// asyncio `readexactly(n)` if it can finish now.
    pub fn try_readexactly(&self, n: u64) -> Option<Result<Vec<u8>, ErrorCode>> {
        self.try_op(exactly_attempt(n))
    }

    /// asyncio `readexactly(n)`: `incomplete-read` with the partial bytes at EOF.
    pub fn readexactly(
        &self,
        n: u64,
        timeout: Option<u64>,
    ) -> impl Future<Output = Result<Vec<u8>, ErrorCode>> + '_ {
        let interrupted = self.interrupt.listen();
        async move {
            let want = usize::try_from(n).unwrap_or(usize::MAX);
            let demand = move |_: &ReadBuffer| Demand::AtLeast(want);
            bounded(
                timeout,
                interrupted,
                self.conn.read_op(demand, exactly_attempt(n)),
            )
            .await
        }
    }

    /// asyncio `readuntil(separators)` if it can finish now.
    pub fn try_readuntil(&self, separators: &[Vec<u8>]) -> Option<Result<Vec<u8>, ErrorCode>> {
        self.try_op(until_attempt(separators))
    }

    /// asyncio `readuntil` with one or several separators (the shortest match wins).
    pub fn readuntil(
        &self,
        separators: Vec<Vec<u8>>,
        timeout: Option<u64>,
    ) -> impl Future<Output = Result<Vec<u8>, ErrorCode>> + '_ {
        let interrupted = self.interrupt.listen();
        async move {
            bounded(
                timeout,
                interrupted,
                self.conn.read_op(one_more, until_attempt(&separators)),
            )
            .await
        }
    }

    /// asyncio `readline` if it can finish now.
    pub fn try_readline(&self) -> Option<Result<Vec<u8>, ErrorCode>> {
        self.try_op(line_attempt)
    }

    /// Up to `max` whole lines at once if at least one is buffered (the SDK's line read-ahead).
    pub fn try_readlines(&self, max: u64) -> Option<Result<Vec<u8>, ErrorCode>> {
        self.try_op(lines_attempt(max))
    }

    /// Puts bytes the caller read and did not use back in front of the buffer.
    pub fn unread(&self, data: &[u8]) {
        self.conn.unread_from_app(data.to_vec());
    }

    /// Ends the read waiting now, if any, with `interrupted`; nothing is consumed.
    pub fn interrupt(&self) {
        self.interrupt.notify();
    }

    /// asyncio `readline`.
    pub fn readline(
        &self,
        timeout: Option<u64>,
    ) -> impl Future<Output = Result<Vec<u8>, ErrorCode>> + '_ {
        let interrupted = self.interrupt.listen();
        async move {
            bounded(
                timeout,
                interrupted,
                self.conn.read_op(one_more, line_attempt),
            )
            .await
        }
    }

    /// Ends this reader and gives its bytes as [`Chunks`] (the contract's `into-stream`); `busy`
    /// while a read waits.
    pub fn into_chunks(self) -> Result<Chunks, ErrorCode> {
        if self.conn.is_reading() {
            return Err(ErrorCode::Busy);
        }
        Ok(Chunks {
            conn: self.conn.clone(),
        })
    }
}

/// What remains of a reader once it was turned into a byte stream.
pub struct Chunks {
    conn: Rc<Conn>,
}

impl Chunks {
    /// The next bytes as they arrive; empty at EOF. Cancel safe like every read.
    pub async fn next(&self) -> Result<Vec<u8>, ErrorCode> {
        self.conn
            .read_op(one_more, |buf, _| match read::read(buf, i64::MAX) {
                Attempt::Done(bytes) => Attempt::Done(Ok(bytes)),
                Attempt::NeedMore => Attempt::NeedMore,
            })
            .await
    }
}
