//! The `reader` resource (asyncio `StreamReader`). Every read is an attempt against the buffer
//! (see wasio-core); the async forms wait for the receive pump between attempts. Cancel safety:
//! every read is cancel safe; an attempt consumes bytes only when it finishes, so a dropped read
//! leaves everything buffered for the next one.

use crate::bindings::exports::wasio::streams::streams::{GuestReader, Reader};
use crate::bindings::exports::wasio::streams::types::ErrorCode;
use crate::bindings::{wit_future, wit_stream};
use crate::conn::Conn;
use crate::errors::invalid;
use crate::handover;
use crate::task_exit;
use crate::timeout::bounded;
use std::cell::RefCell;
use std::rc::Rc;
use wasio_core::notify::Notify;
use wasio_core::{
    Attempt, Demand, ReadBuffer, ReadError, read, read_exactly, read_line, read_lines, read_until,
};
use wit_bindgen::{FutureReader, StreamReader, StreamWriter};

/// The read half of a connection.
pub struct ReaderImpl {
    pub(crate) conn: Rc<Conn>,
    /// The sending end of the `bulk-channel` stream, once opened.
    pub(crate) channel: RefCell<Option<StreamWriter<u8>>>,
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
        Attempt::Done(result) => Attempt::Done(result.map_err(Into::into)),
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

impl ReaderImpl {
    /// The reader of `conn`.
    pub(crate) fn new(conn: Rc<Conn>) -> Self {
        Self {
            conn,
            channel: RefCell::new(None),
            interrupt: Notify::default(),
        }
    }

    /// Sync attempt shared by the `try-*` functions: `busy` while an async read waits.
    fn try_op(
        &self,
        op: impl FnMut(&mut ReadBuffer, usize) -> Attempt<Result<Vec<u8>, ErrorCode>>,
    ) -> Option<Result<Vec<u8>, ErrorCode>> {
        if self.conn.state.borrow().reading {
            return Some(Err(ErrorCode::Busy));
        }
        self.conn.attempt(op)
    }

    /// `try-read-into`'s work once the channel is known.
    async fn hand_over(&self, tx: &mut StreamWriter<u8>, n: u64) -> Option<Result<u64, ErrorCode>> {
        let bytes = match self.try_op(read_attempt(i64::try_from(n).unwrap_or(i64::MAX)))? {
            Ok(bytes) => bytes,
            Err(e) => return Some(Err(e)),
        };
        if bytes.is_empty() {
            return Some(Ok(0));
        }
        let offered = bytes.len();
        let rest = handover::give(tx, bytes).await;
        let given = offered - rest.len();
        self.conn.unread(rest);
        if given == 0 {
            return Some(Err(invalid(
                "try-read-into: nobody was reading the bulk channel; nothing was consumed",
            )));
        }
        Some(Ok(given as u64))
    }

    /// `read(0)`: empty, but a stored error is still reported.
    fn read_zero(&self) -> Result<Vec<u8>, ErrorCode> {
        match &self.conn.state.borrow().stored_error {
            Some(e) => Err(e.clone()),
            None => Ok(Vec::new()),
        }
    }
}

impl GuestReader for ReaderImpl {
    fn limit(&self) -> u64 {
        self.conn.state.borrow().limit as u64
    }

    fn set_limit(&self, limit: u64) -> Result<(), ErrorCode> {
        let limit = wasio_core::validate_limit(limit)?;
        self.conn.state.borrow_mut().limit = limit;
        Ok(())
    }

    fn buffered(&self) -> u64 {
        self.conn.state.borrow().read_buffer.len() as u64
    }

    fn at_eof(&self) -> bool {
        self.conn.state.borrow().read_buffer.at_eof()
    }

    fn exception(&self) -> Option<ErrorCode> {
        self.conn.state.borrow().stored_error.clone()
    }

    fn set_exception(&self, error: ErrorCode) {
        self.conn.set_exception(error);
    }

    fn try_read(&self, n: i64) -> Option<Result<Vec<u8>, ErrorCode>> {
        if n == 0 {
            return Some(self.read_zero());
        }
        self.try_op(read_attempt(n))
    }

    fn bulk_channel(&self) -> StreamReader<u8> {
        let (tx, rx) = wit_stream::new();
        *self.channel.borrow_mut() = Some(tx);
        rx
    }

    async fn try_read_into(&self, n: u64) -> Option<Result<u64, ErrorCode>> {
        task_exit::deferred(async move {
            if n == 0 {
                return Some(Err(invalid("try-read-into needs n > 0")));
            }
            // Taken out for the hand-over, so no borrow is held across it.
            let Some(mut tx) = self.channel.take() else {
                return Some(Err(invalid("try-read-into needs a bulk-channel first")));
            };
            let result = self.hand_over(&mut tx, n).await;
            self.channel.replace(Some(tx));
            result
        })
        .await
    }

    async fn wait_readable(&self, timeout: Option<u64>) -> Result<u64, ErrorCode> {
        let interrupted = self.interrupt.listen();
        task_exit::deferred(async move {
            let readable = |buf: &mut ReadBuffer, _| {
                if buf.is_empty() && !buf.eof() {
                    Attempt::NeedMore
                } else {
                    Attempt::Done(Ok(buf.len() as u64))
                }
            };
            bounded(timeout, interrupted, self.conn.read_op(one_more, readable)).await
        })
        .await
    }

    async fn read(&self, n: i64, timeout: Option<u64>) -> Result<Vec<u8>, ErrorCode> {
        let interrupted = self.interrupt.listen();
        task_exit::deferred(async move {
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
        })
        .await
    }

    fn try_readexactly(&self, n: u64) -> Option<Result<Vec<u8>, ErrorCode>> {
        self.try_op(exactly_attempt(n))
    }

    async fn readexactly(&self, n: u64, timeout: Option<u64>) -> Result<Vec<u8>, ErrorCode> {
        let interrupted = self.interrupt.listen();
        task_exit::deferred(async move {
            let want = usize::try_from(n).unwrap_or(usize::MAX);
            let demand = move |_: &ReadBuffer| Demand::AtLeast(want);
            bounded(
                timeout,
                interrupted,
                self.conn.read_op(demand, exactly_attempt(n)),
            )
            .await
        })
        .await
    }

    fn try_readuntil(&self, separators: Vec<Vec<u8>>) -> Option<Result<Vec<u8>, ErrorCode>> {
        self.try_op(until_attempt(&separators))
    }

    async fn readuntil(
        &self,
        separators: Vec<Vec<u8>>,
        timeout: Option<u64>,
    ) -> Result<Vec<u8>, ErrorCode> {
        let interrupted = self.interrupt.listen();
        task_exit::deferred(async move {
            bounded(
                timeout,
                interrupted,
                self.conn.read_op(one_more, until_attempt(&separators)),
            )
            .await
        })
        .await
    }

    fn try_readline(&self) -> Option<Result<Vec<u8>, ErrorCode>> {
        self.try_op(line_attempt)
    }

    fn try_readlines(&self, max: u64) -> Option<Result<Vec<u8>, ErrorCode>> {
        self.try_op(lines_attempt(max))
    }

    fn unread(&self, data: Vec<u8>) {
        self.conn.unread_from_app(data);
    }

    fn interrupt(&self) {
        self.interrupt.notify();
    }

    async fn readline(&self, timeout: Option<u64>) -> Result<Vec<u8>, ErrorCode> {
        let interrupted = self.interrupt.listen();
        task_exit::deferred(async move {
            bounded(
                timeout,
                interrupted,
                self.conn.read_op(one_more, line_attempt),
            )
            .await
        })
        .await
    }

    async fn into_stream(
        this: Reader,
    ) -> Result<(StreamReader<u8>, FutureReader<Result<(), ErrorCode>>), ErrorCode> {
        task_exit::deferred(async move {
            let conn = this.get::<ReaderImpl>().conn.clone();
            if conn.state.borrow().reading {
                return Err(ErrorCode::Busy);
            }
            drop(this);
            let (mut tx, rx) = wit_stream::new::<u8>();
            let (done_tx, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| {
                Err(ErrorCode::Other(Some(
                    "the byte stream was dropped".to_string(),
                )))
            });
            wit_bindgen::spawn_local(async move {
                let result = loop {
                    let chunk = conn
                        .read_op(one_more, |buf, _| match read::read(buf, i64::MAX) {
                            Attempt::Done(bytes) => Attempt::Done(Ok(bytes)),
                            Attempt::NeedMore => Attempt::NeedMore,
                        })
                        .await;
                    match chunk {
                        Ok(bytes) if bytes.is_empty() => break Ok(()),
                        Ok(bytes) => {
                            let rest = tx.write_all(bytes).await;
                            if !rest.is_empty() {
                                // The consumer dropped the stream; nothing more to deliver.
                                break Ok(());
                            }
                        }
                        Err(e) => break Err(e),
                    }
                };
                drop(tx);
                let _ = done_tx.write(result).await;
            });
            Ok((rx, done_rx))
        })
        .await
    }
}
