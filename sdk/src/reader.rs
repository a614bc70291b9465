//! [`Reader`]: the read half of a connection (asyncio `StreamReader`).
//!
//! Every read first tries the contract's sync fast path (`try-read`, `try-readlines`, ...), which
//! costs under a microsecond when the provider already has what the read needs, and makes the
//! async call (several microseconds) only to wait.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wit_bindgen::StreamReader;

use crate::bulk;
use crate::error::{Error, Result};
use crate::lines::Lines;
use crate::options::nanos;
use crate::raw;
use crate::read_ahead::{LINE_BATCH, SharedReadAhead, TAKES_AHEAD};
use crate::separators::Separators;
use wasio_types::ErrorCode;

/// A provider call in flight, owning its handle so it can live in the reader between polls.
pub(crate) type Pending = Pin<Box<dyn Future<Output = Result<Vec<u8>, ErrorCode>>>>;

/// Which kind of call is in flight.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Op {
    /// A `read(n)` started by `AsyncRead` / `AsyncBufRead`.
    Read,
    /// A `readline()` started by [`Lines`].
    Line,
}

/// The read half of a connection (asyncio `StreamReader`), from
/// [`open_connection`](crate::open_connection) or a [`Server`](crate::Server).
///
/// Reads take `&mut self`: only one read can wait at a time, as in asyncio, and here the compiler
/// checks it. Dropping a read future in flight loses no bytes (the contract's cancel safety).
///
/// It also implements `futures::io::AsyncRead` and `AsyncBufRead` (see the `io_read` module), and
/// [`lines`](Reader::lines) gives a `futures::Stream` of lines.
///
/// ```no_run
/// # // no_run: the calls need a wasio host (wasi:sockets and wasio:host), only inside a component.
/// # async fn demo() -> wasio_sdk::Result<()> {
/// let (mut reader, writer) = wasio_sdk::open_connection("127.0.0.1", 8888).await?;
/// writer.write(b"hello\n")?;
/// let line = reader.readline().await?;
/// let header = reader.readexactly(4).await?;
/// let record = reader.readuntil(["\r\n", "\n"]).await?;
/// let rest = reader.read(-1).await?;
/// # Ok(()) }
/// ```
pub struct Reader {
    /// The contract's reader; shared with a call in flight.
    pub(crate) inner: Rc<raw::Reader>,
    /// The timeout of every wait; `None` waits as long as it takes.
    timeout: Option<Duration>,
    /// Bytes taken from the provider and not handed out yet (by `AsyncBufRead::fill_buf`, or by a
    /// call that finished after its caller went away). Handed out before anything else.
    pub(crate) taken: Vec<u8>,
    /// How much of `taken` is consumed.
    pub(crate) taken_pos: usize,
    /// An error that came back from a call whose caller went away; reported after `taken`.
    pub(crate) deferred: Option<Error>,
    /// A provider call started by a poll-based API (`AsyncRead`, [`Lines`]) and not finished yet.
    pub(crate) in_flight: Option<(Op, Pending)>,
    /// The receiving end of the provider's bulk channel, opened by the first bulk read.
    /// Shared with a poll-based read in flight, which takes it out while it runs.
    pub(crate) channel: Rc<Cell<Option<StreamReader<u8>>>>,
    /// The last `read(n > 0)` took all that was buffered, so the next one will likely have to
    /// wait: it then waits first and skips two calls that would find nothing (request/response
    /// traffic). Only a hint: either order returns the same bytes.
    expect_wait: bool,
    /// The last `read(n > 0)` returned at least bulk size (`bulk::worth`): the next one likely
    /// finds as much and takes it in bulk. Otherwise a read is one call: `try-read`, or `read`
    /// itself when it will likely wait (it waits and returns the bytes in one call, where
    /// `wait-readable` and then `try-read` take two). Only a hint, like `expect_wait`.
    bulk_hint: bool,
    /// Whole lines `readline` took ahead; shared with the connection's writer (see
    /// `read_ahead`). Non-empty only while `taken` is empty.
    pub(crate) ahead: SharedReadAhead,
}

impl Reader {
    /// Wraps the contract's reader.
    pub(crate) fn from_raw(inner: raw::Reader) -> Self {
        Reader {
            inner: Rc::new(inner),
            timeout: None,
            taken: Vec::new(),
            taken_pos: 0,
            deferred: None,
            in_flight: None,
            channel: Rc::default(),
            expect_wait: false,
            bulk_hint: false,
            ahead: SharedReadAhead::default(),
        }
    }

    /// The contract's reader, for what the SDK does not wrap (e.g. `into-stream` via
    /// [`Reader::into_raw`]). It does not see bytes this reader already holds: lines `readline`
    /// took ahead and bytes `AsyncBufRead::fill_buf` took.
    pub fn raw(&self) -> &raw::Reader {
        &self.inner
    }

    /// Sets the timeout of every later wait of this reader (`None`, the default: no timeout).
    /// A wait that runs out fails with [`Error::Timeout`] and consumes nothing.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The timeout set by [`set_timeout`](Reader::set_timeout).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The buffer limit in bytes (asyncio `limit`, default 65536): how far `readuntil` and
    /// `readline` look for a separator.
    pub fn limit(&self) -> u64 {
        self.inner.limit()
    }

    /// Changes the limit. Errors: [`Error::InvalidArgument`] for 0.
    pub fn set_limit(&self, limit: u64) -> Result<()> {
        // Lines taken ahead were checked against the old limit.
        self.return_lines_ahead();
        Ok(self.inner.set_limit(limit)?)
    }

    /// Bytes received and not read yet.
    pub fn buffered(&self) -> u64 {
        self.inner.buffered() + (self.taken_len() + self.ahead.borrow().len()) as u64
    }

    /// True when EOF was received and nothing is left to read (asyncio `at_eof`). Stays false
    /// after the connection was lost with an error, unless EOF came first.
    pub fn at_eof(&self) -> bool {
        self.taken_len() == 0
            && self.ahead.borrow().len() == 0
            && self.in_flight.is_none()
            && self.inner.at_eof()
    }

    /// The stored error, if any (asyncio `exception`).
    pub fn exception(&self) -> Option<Error> {
        self.inner.exception().map(Error::from)
    }

    /// Stores an error (asyncio `set_exception`): bytes already received are still delivered, then
    /// every read reports it.
    pub fn set_exception(&self, error: &Error) {
        self.inner.set_exception(&error.to_error_code());
    }

    /// asyncio `read(n)`: `n > 0` waits while nothing is buffered and returns 1..=n bytes (empty at
    /// EOF); `n < 0` reads until EOF; `n == 0` returns empty at once.
    /// Errors: the stored error; [`Error::Timeout`].
    /// Cancel safety: safe, nothing is consumed until the call returns.
    pub async fn read(&mut self, n: i64) -> Result<Vec<u8>> {
        self.settle().await;
        self.return_lines_ahead();
        if self.taken_len() > 0 && n != 0 {
            if n > 0 {
                return Ok(self.take_taken(usize::try_from(n).unwrap_or(usize::MAX)));
            }
            let rest = self.raw_read(-1).await?;
            let mut data = self.take_taken(usize::MAX);
            data.extend_from_slice(&rest);
            return Ok(data);
        }
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        self.raw_read(n).await
    }

    /// asyncio `readexactly(n)`: exactly `n` bytes (not capped by the limit).
    /// Errors: [`Error::IncompleteRead`] with everything buffered if EOF comes first; the stored
    /// error; [`Error::Timeout`].
    /// Cancel safety: safe, nothing is consumed until the call returns.
    pub async fn readexactly(&mut self, n: usize) -> Result<Vec<u8>> {
        self.settle().await;
        self.return_lines_ahead();
        let have = self.taken_len();
        if have >= n {
            return Ok(self.take_taken(n));
        }
        if have == 0
            && let Some(e) = self.deferred.take()
        {
            return Err(e);
        }
        if bulk::worth((n - have) as u64) {
            return self.readexactly_bulk(n).await;
        }
        let need = (n - have) as u64;
        let timeout = nanos(self.timeout);
        let result = match self.inner.try_readexactly(need) {
            Some(result) => result,
            None => self.inner.readexactly(need, timeout).await,
        };
        match result {
            Ok(rest) => {
                let mut data = self.take_taken(usize::MAX);
                data.extend_from_slice(&rest);
                Ok(data)
            }
            Err(ErrorCode::IncompleteRead(incomplete)) => {
                let mut partial = self.take_taken(usize::MAX);
                partial.extend_from_slice(&incomplete.partial);
                Err(Error::IncompleteRead {
                    partial,
                    expected: Some(n as u64),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// asyncio `readuntil(separator)`: the data up to and including the first separator.
    /// `separators` is one separator (`b"\r\n"`, `"\r\n"`) or several (`["\r\n", "\n"]`); with
    /// several, the match that ends first wins, on a tie the shorter one (see [`Separators`]).
    ///
    /// Errors: [`Error::InvalidArgument`] for no separator or an empty one;
    /// [`Error::LimitOverrun`] when no separator is within the limit (nothing consumed);
    /// [`Error::IncompleteRead`] with everything buffered at EOF without a match; the stored
    /// error; [`Error::Timeout`]. After `AsyncBufRead::fill_buf` took bytes that are not consumed
    /// yet and end with the start of a multi-byte separator, [`Error::InvalidArgument`]: consume
    /// them first.
    /// Cancel safety: safe, nothing is consumed until the call returns.
    pub async fn readuntil(&mut self, separators: impl Separators) -> Result<Vec<u8>> {
        let separators = separators.into_separators();
        self.settle().await;
        self.return_lines_ahead();
        if self.taken_len() > 0 {
            if separators.is_empty() || separators.iter().any(|s| s.is_empty()) {
                return Err(Error::InvalidArgument(
                    "Separator should be at least one-byte string".to_string(),
                ));
            }
            let pending = &self.taken[self.taken_pos..];
            if let Some(end) = first_match_end(pending, &separators) {
                return Ok(self.take_taken(end));
            }
            if ends_with_separator_start(pending, &separators) {
                return Err(Error::InvalidArgument(
                    "readuntil: bytes taken by fill_buf and not consumed end with part of a separator"
                        .to_string(),
                ));
            }
        } else if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        let timeout = nanos(self.timeout);
        let result = match self.inner.try_readuntil(&separators) {
            Some(result) => result,
            None => self.inner.readuntil(separators, timeout).await,
        };
        self.prepend_taken(result)
    }

    /// asyncio `readline()`: one line including its `"\n"`; at EOF the last partial line, then
    /// empty.
    /// Errors: [`Error::LimitOverrun`] when the line is longer than the limit (asyncio raises
    /// `ValueError` with the same message), after discarding through the newline, or the whole
    /// buffer when none is there; the stored error; [`Error::Timeout`].
    /// Cancel safety: safe, nothing is consumed until the call returns.
    ///
    /// In composed mode one call to the provider hands over every whole line it has buffered (up
    /// to 64 KiB); the next `readline`s return them without a call. Other reads, [`Reader::into_raw`] and
    /// [`Writer::start_tls`](crate::Writer::start_tls) put the lines not returned yet back first,
    /// so every read sees the bytes in order, under the provider's rules.
    pub async fn readline(&mut self) -> Result<Vec<u8>> {
        self.settle().await;
        if let Some(line) = self.line_now() {
            return line;
        }
        let result = self.inner.readline(nanos(self.timeout)).await;
        self.prepend_taken(result)
    }

    /// The lines of the connection as a `futures::Stream` (asyncio's `async for line in reader`):
    /// each [`readline`](Reader::readline) result until the first empty one (EOF).
    ///
    /// ```no_run
    /// # // no_run: the calls need a wasio host (wasi:sockets and wasio:host), only inside a component.
    /// use futures::StreamExt;
    /// # async fn demo(mut reader: wasio_sdk::Reader) -> wasio_sdk::Result<()> {
    /// let mut lines = reader.lines();
    /// while let Some(line) = lines.next().await {
    ///     print!("{}", String::from_utf8_lossy(&line?));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn lines(&mut self) -> Lines<'_> {
        Lines::new(self)
    }

    /// The contract's reader, for its bulk `into-stream` form. Fails with [`Error::Busy`] while a
    /// poll-based read is in flight, and with [`Error::InvalidArgument`] while bytes taken by
    /// `AsyncBufRead::fill_buf` are not consumed (they would be lost).
    pub fn into_raw(mut self) -> Result<raw::Reader> {
        if self.taken_len() > 0 {
            return Err(Error::InvalidArgument(
                "bytes taken by fill_buf are not consumed".to_string(),
            ));
        }
        self.return_lines_ahead();
        self.in_flight = None;
        Rc::try_unwrap(self.inner).map_err(|_| Error::Busy(crate::error::READ_BUSY))
    }

    /// `readexactly(n)` with at least bulk size (`bulk::worth`) still missing: pulls what the provider
    /// has into `taken` (in bulk from bulk size (`bulk::worth`) on) until `n` bytes are there, so a large
    /// read crosses as streams instead of one list. Bytes pulled stay first in line when the call
    /// is dropped or fails, so nothing is consumed until it returns. The timeout covers the whole
    /// call, as it does for the provider's `readexactly`.
    async fn readexactly_bulk(&mut self, n: usize) -> Result<Vec<u8>> {
        // A timeout too large to add is no deadline.
        let deadline = self.timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let have = self.taken_len();
            if have >= n {
                return Ok(self.take_taken(n));
            }
            let missing = (n - have) as u64;
            let room = self.inner.buffered().min(missing);
            let now = if room > 0 {
                self.try_take(room, room as i64).await
            } else {
                None
            };
            match now {
                Some(Ok(data)) if !data.is_empty() => {
                    self.stash(Ok(data));
                    continue;
                }
                Some(Err(e)) => return Err(e.into()),
                // Nothing buffered (an empty read cannot happen with bytes buffered): wait.
                Some(Ok(_)) | None => {}
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if self.inner.wait_readable(nanos(left)).await? == 0 {
                // EOF first: asyncio hands out what came and consumes it.
                let partial = self.take_taken(usize::MAX);
                return Err(Error::IncompleteRead {
                    partial,
                    expected: Some(n as u64),
                });
            }
        }
    }

    // ---- shared by the asyncio methods and the poll-based adapters ----

    /// Takes up to `n` bytes without waiting, `room` of them known to be buffered: through the
    /// bulk channel from bulk size (`bulk::worth`) on, else as a list. `None`: the read would wait.
    async fn try_take(
        &mut self,
        room: u64,
        n: i64,
    ) -> Option<std::result::Result<Vec<u8>, ErrorCode>> {
        if bulk::worth(room) {
            // `room` fits in memory: it is buffered in the provider.
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            bulk::try_read(&self.inner, &self.channel, room).await
        } else {
            self.inner.try_read(n)
        }
    }

    /// `read(n)`: fast path first, the async call only to wait (or the wait first, when the last
    /// read emptied the buffer). Small reads (see `bulk_hint`) are one call, `try-read` or
    /// `read`. From bulk size (`bulk::worth`) on, the wait is `wait-readable` (it consumes
    /// nothing and says how much is buffered) and the bytes come in bulk.
    async fn raw_read(&mut self, n: i64) -> Result<Vec<u8>> {
        if n <= 0 {
            return match self.inner.try_read(n) {
                Some(result) => Ok(result?),
                None => Ok(self.inner.read(n, nanos(self.timeout)).await?),
            };
        }
        if !self.bulk_hint {
            if !self.expect_wait
                && let Some(result) = self.inner.try_read(n)
            {
                return Ok(self.note_read(result?, n));
            }
            let data = self.inner.read(n, nanos(self.timeout)).await?;
            return Ok(self.note_read(data, n));
        }
        // What the provider last said it has buffered, when that saves asking again.
        let mut known = None;
        if self.expect_wait {
            known = Some(self.inner.wait_readable(nanos(self.timeout)).await?);
        }
        loop {
            let buffered = known.take().unwrap_or_else(|| self.inner.buffered());
            let now = self.try_take(buffered.min(n as u64), n).await;
            if let Some(result) = now {
                let data = result?;
                // Until the app yields, the provider cannot receive more: a read that took all
                // that was buffered leaves the next one nothing to find.
                self.expect_wait = buffered <= n as u64;
                self.bulk_hint = bulk::worth(data.len() as u64);
                return Ok(data);
            }
            self.expect_wait = true;
            known = Some(self.inner.wait_readable(nanos(self.timeout)).await?);
        }
    }

    /// Records what a one-call read of up to `n` bytes returned, for the next read's hints: fewer
    /// than `n` means it took all that was buffered.
    fn note_read(&mut self, data: Vec<u8>, n: i64) -> Vec<u8> {
        self.expect_wait = (data.len() as u64) < n as u64;
        self.bulk_hint = bulk::worth(data.len() as u64);
        data
    }

    /// Bytes in `taken` not handed out yet.
    pub(crate) fn taken_len(&self) -> usize {
        self.taken.len() - self.taken_pos
    }

    /// Hands out up to `n` bytes of `taken`.
    pub(crate) fn take_taken(&mut self, n: usize) -> Vec<u8> {
        if self.taken_pos == 0 && n >= self.taken.len() {
            return std::mem::take(&mut self.taken);
        }
        let end = self.taken_pos + n.min(self.taken_len());
        let data = self.taken[self.taken_pos..end].to_vec();
        self.consume_taken(end - self.taken_pos);
        data
    }

    /// Marks `n` bytes of `taken` as handed out.
    pub(crate) fn consume_taken(&mut self, n: usize) {
        self.taken_pos = (self.taken_pos + n).min(self.taken.len());
        if self.taken_pos == self.taken.len() {
            self.taken.clear();
            self.taken_pos = 0;
        }
    }

    /// Keeps the result of a call whose caller went away: bytes go to `taken`, an error is
    /// reported once `taken` is handed out.
    pub(crate) fn stash(&mut self, result: Result<Vec<u8>, ErrorCode>) {
        match result {
            Ok(data) => {
                if self.taken_pos > 0 {
                    self.taken.drain(..self.taken_pos);
                    self.taken_pos = 0;
                }
                self.taken.extend_from_slice(&data);
            }
            Err(e) => self.deferred = Some(e.into()),
        }
    }

    /// Finishes a call a poll-based API left in flight, keeping its result (see `stash`).
    pub(crate) fn poll_settle(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some((_, call)) = &mut self.in_flight {
            let Poll::Ready(result) = call.as_mut().poll(cx) else {
                return Poll::Pending;
            };
            self.in_flight = None;
            self.stash(result);
        }
        Poll::Ready(())
    }

    /// `poll_settle` as a future.
    async fn settle(&mut self) {
        std::future::poll_fn(|cx| self.poll_settle(cx)).await
    }

    /// Puts the lines taken ahead and not handed out back into the provider, for any read
    /// other than `readline` (see `read_ahead`).
    pub(crate) fn return_lines_ahead(&self) {
        let rest = self.ahead.borrow_mut().take_rest();
        if !rest.is_empty() {
            self.inner.unread(&rest);
        }
    }

    /// `readline` without waiting: a line taken ahead, a whole line in `taken`, or one
    /// `try-readlines` call (keeping the lines after the first; `try-readline` in linked mode).
    /// `None`: it would wait.
    pub(crate) fn line_now(&mut self) -> Option<Result<Vec<u8>>> {
        if let Some(line) = self.ahead.borrow_mut().next_line() {
            return Some(Ok(line));
        }
        if let Some(line) = self.taken_line() {
            return Some(line);
        }
        if self.taken_len() > 0 {
            let result = self.inner.try_readline()?;
            return Some(self.prepend_taken(result));
        }
        if !TAKES_AHEAD {
            return Some(self.inner.try_readline()?.map_err(Error::from));
        }
        match self.inner.try_readlines(LINE_BATCH)? {
            Ok(lines) if lines.ends_with(b"\n") => {
                let mut ahead = self.ahead.borrow_mut();
                ahead.fill(lines);
                ahead.next_line().map(Ok)
            }
            other => Some(other.map_err(Error::from)),
        }
    }

    /// A line (or the deferred error) out of `taken`, if `taken` has a whole one.
    pub(crate) fn taken_line(&mut self) -> Option<Result<Vec<u8>>> {
        if let Some(i) = self.taken[self.taken_pos..]
            .iter()
            .position(|&b| b == b'\n')
        {
            return Some(Ok(self.take_taken(i + 1)));
        }
        if self.taken_len() == 0 {
            return self.deferred.take().map(Err);
        }
        None
    }

    /// Puts what `taken` still holds in front of a readline / readuntil result.
    pub(crate) fn prepend_taken(&mut self, result: Result<Vec<u8>, ErrorCode>) -> Result<Vec<u8>> {
        if self.taken_len() == 0 {
            return Ok(result?);
        }
        match result {
            Ok(rest) => {
                let mut data = self.take_taken(usize::MAX);
                data.extend_from_slice(&rest);
                Ok(data)
            }
            Err(ErrorCode::IncompleteRead(incomplete)) => {
                let mut partial = self.take_taken(usize::MAX);
                partial.extend_from_slice(&incomplete.partial);
                Err(Error::IncompleteRead {
                    partial,
                    expected: incomplete.expected,
                })
            }
            Err(ErrorCode::LimitOverrun(overrun)) => {
                let taken = self.taken_len() as u64;
                Err(Error::LimitOverrun {
                    found: overrun.found,
                    consumed: overrun.consumed + taken,
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Where the earliest-ending match of any separator ends (a tie goes to the shorter one, which
/// ends at the same place), or `None`.
fn first_match_end(data: &[u8], separators: &[Vec<u8>]) -> Option<usize> {
    separators
        .iter()
        .filter_map(|sep| {
            data.windows(sep.len())
                .position(|w| w == sep.as_slice())
                .map(|start| start + sep.len())
        })
        .min()
}

/// Whether `data` ends with a proper, non-empty prefix of a separator (a match could straddle).
fn ends_with_separator_start(data: &[u8], separators: &[Vec<u8>]) -> bool {
    separators
        .iter()
        .any(|sep| (1..sep.len()).any(|k| data.ends_with(&sep[..k])))
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("buffered", &self.buffered())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
