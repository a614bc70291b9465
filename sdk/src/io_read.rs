//! `futures::io::AsyncRead` and `AsyncBufRead` for [`Reader`], so futures-based code (e.g.
//! `futures::io::copy`, `copy_buf`, `AsyncBufReadExt::lines`) runs on wasio.
//!
//! `poll_read` asks the provider for at most the caller's buffer size (sync fast path first), so
//! nothing is left over; from 4 KiB buffered on, the bytes come through the bulk channel.
//! `poll_fill_buf` reads up to 64 KiB into the reader's own buffer; bytes it took and the caller
//! did not `consume` are handed out first by every later read, asyncio methods included.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncBufRead, AsyncRead};

use crate::bulk;
use crate::error::Error;
use crate::options::nanos;
use crate::reader::{Op, Pending, Reader};
use wasio_types::ErrorCode;

/// How much `poll_fill_buf` asks for at once (the default reader limit).
const FILL_SIZE: i64 = 64 * 1024;

impl Reader {
    /// Polls a `read(n)`: the sync fast path when no call is in flight, else the call (started
    /// here if needed). Bytes come back as a fresh `Vec`; EOF as an empty one. `None`: another
    /// kind of call finished and left bytes or an error in the reader; the caller looks again.
    fn poll_raw_read(&mut self, cx: &mut Context<'_>, n: i64) -> Poll<Option<io::Result<Vec<u8>>>> {
        self.return_lines_ahead();
        if matches!(&self.in_flight, Some((op, _)) if *op != Op::Read) {
            let Poll::Ready(()) = self.poll_settle(cx) else {
                return Poll::Pending;
            };
            if self.taken_len() > 0 || self.deferred.is_some() {
                return Poll::Ready(None);
            }
        }
        if self.in_flight.is_none() && n > 0 && bulk::worth(n as u64) {
            let room = self.inner.buffered().min(n as u64);
            if bulk::worth(room) {
                self.in_flight = Some((Op::Read, self.bulk_read(room)));
            }
        }
        if self.in_flight.is_none() {
            match self.inner.try_read(n) {
                Some(result) => return Poll::Ready(Some(result.map_err(io_error))),
                None => {
                    let inner = self.inner.clone();
                    let timeout = nanos(self.timeout());
                    let call = Box::pin(async move { inner.read(n, timeout).await });
                    self.in_flight = Some((Op::Read, call));
                }
            }
        }
        let Some((_, call)) = &mut self.in_flight else {
            return Poll::Pending;
        };
        let Poll::Ready(result) = call.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        self.in_flight = None;
        Poll::Ready(Some(result.map_err(io_error)))
    }

    /// A read of `room` buffered bytes through the bulk channel, as a call that can stay in
    /// flight. It cannot find nothing (the bytes are buffered and only this reader takes them),
    /// but if it did, it falls back to the waiting list read.
    fn bulk_read(&self, room: u64) -> Pending {
        let inner = self.inner.clone();
        let channel = self.channel.clone();
        let timeout = nanos(self.timeout());
        // `room` fits in memory: it is buffered in the provider.
        let size = usize::try_from(room).unwrap_or(usize::MAX);
        Box::pin(async move {
            match bulk::try_read(&inner, &channel, size).await {
                Some(result) => result,
                None => inner.read(room as i64, timeout).await,
            }
        })
    }
}

/// The contract's error as an `io::Error`.
fn io_error(e: ErrorCode) -> io::Error {
    Error::from(e).into()
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if this.taken_len() > 0 {
                let n = buf.len().min(this.taken_len());
                buf[..n].copy_from_slice(&this.taken[this.taken_pos..this.taken_pos + n]);
                this.consume_taken(n);
                return Poll::Ready(Ok(n));
            }
            if let Some(e) = this.deferred.take() {
                return Poll::Ready(Err(e.into()));
            }
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let want = i64::try_from(buf.len()).unwrap_or(i64::MAX);
            match this.poll_raw_read(cx, want) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => continue,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(Some(Ok(data))) => {
                    let n = buf.len().min(data.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    if n < data.len() {
                        // A call started with a bigger buffer: keep the rest.
                        this.stash(Ok(data[n..].to_vec()));
                    }
                    return Poll::Ready(Ok(n));
                }
            }
        }
    }
}

impl AsyncBufRead for Reader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        loop {
            if this.taken_len() > 0 {
                break;
            }
            if let Some(e) = this.deferred.take() {
                return Poll::Ready(Err(e.into()));
            }
            match this.poll_raw_read(cx, FILL_SIZE) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => continue,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(Some(Ok(data))) if data.is_empty() => break,
                Poll::Ready(Some(Ok(data))) => this.stash(Ok(data)),
            }
        }
        Poll::Ready(Ok(&this.taken[this.taken_pos..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().consume_taken(amt);
    }
}
