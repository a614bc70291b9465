//! The one pair of adapters between the host's byte I/O and component-model `stream<u8>` ends,
//! for every byte stream the host serves: `host-socket`s, wasi:sockets TCP and TLS sessions.
//!
//! - [`ByteProducer`] feeds a guest-readable `stream<u8>` from a [`ByteSource`], reading straight
//!   into the guest's buffer: `StreamReader::new(store, ByteProducer::new(source))`.
//! - [`ByteConsumer`] drains a guest-written `stream<u8>` into a [`ByteSink`], writing straight
//!   from the guest's buffer: `stream.pipe(store, ByteConsumer::new(sink))`.
//!
//! Neither holds a buffer of its own, so an idle stream costs nothing but its source or sink.
//! Each tells its source or sink once how the stream ended (`end`): at EOF, at the first error,
//! or, with `Ok`, when it is dropped (the guest dropped its end, or its stream ended).
//!
//! The sources and sinks: [`SocketSide`], one direction of a connected socket (its end shuts
//! that direction down and reports the outcome to the guest's completion future), and
//! [`AsyncSource`] / [`AsyncSink`] over tokio's [`AsyncRead`] / [`AsyncWrite`] (the in-memory
//! pipes and TLS streams of [`crate::tls`]).
//!
//! Cancel safety: a read or write the guest cancels while the source or sink is not ready moves
//! no bytes; bytes only move in a call that completes with them.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use wasmtime::StoreContextMut;
use wasmtime::component::{
    Destination, Source, StreamConsumer, StreamProducer, StreamResult, VecBuffer,
};

use crate::net::stream::NativeStream;

/// How many bytes one read takes at most when the reader offers more room (a host reader, or a
/// guest's larger buffer).
const READ_CAPACITY: usize = 64 * 1024;

/// Where a [`ByteProducer`] reads bytes from.
pub trait ByteSource: Sized + Send + Unpin + 'static {
    /// Reads into `buf` (never empty), waiting if nothing is there: `Ok(0)` at EOF.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Waits until a read would not wait (the guest's zero-length read). Without a readiness
    /// call of its own, a source is ready at once and the next read does the waiting.
    fn poll_read_ready(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }

    /// The stream ended: `Ok` at EOF or when the guest dropped it, else the read error.
    fn end(self, result: io::Result<()>);
}

/// Where a [`ByteConsumer`] writes bytes to.
pub trait ByteSink: Sized + Send + Unpin + 'static {
    /// Writes from `buf` (never empty), waiting for room.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Waits until a write would not wait (the guest's zero-length write). Without a readiness
    /// call of its own, a sink is ready at once and the next write does the waiting.
    fn poll_write_ready(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }

    /// The stream ended: `Ok` when the guest's stream ended, else the write error.
    fn end(self, result: io::Result<()>);
}

/// A [`StreamProducer`] of the bytes a [`ByteSource`] reads; EOF or an error ends the stream.
pub struct ByteProducer<S: ByteSource>(Option<S>);

impl<S: ByteSource> ByteProducer<S> {
    /// A producer reading `source`.
    pub fn new(source: S) -> Self {
        Self(Some(source))
    }

    fn end(&mut self, result: io::Result<()>) {
        if let Some(source) = self.0.take() {
            source.end(result);
        }
    }
}

impl<S: ByteSource> Drop for ByteProducer<S> {
    fn drop(&mut self) {
        self.end(Ok(()));
    }
}

impl<D, S: ByteSource> StreamProducer<D> for ByteProducer<S> {
    type Item = u8;
    type Buffer = VecBuffer<u8>;

    fn poll_produce<'a>(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, D>,
        dst: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let this = &mut *self;
        let Some(source) = this.0.as_mut() else {
            return Poll::Ready(Ok(StreamResult::Dropped));
        };
        // A zero-length read is a readiness check.
        if dst.remaining(&mut store) == Some(0) {
            return match source.poll_read_ready(cx) {
                Poll::Ready(()) => Poll::Ready(Ok(StreamResult::Completed)),
                Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
                Poll::Pending => Poll::Pending,
            };
        }
        let mut dst = dst.as_direct(store, READ_CAPACITY);
        if dst.remaining().is_empty() {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        match source.poll_read(cx, dst.remaining()) {
            Poll::Ready(Ok(0)) => {
                this.end(Ok(()));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Poll::Ready(Ok(n)) => {
                dst.mark_written(n);
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Poll::Ready(Err(e)) => {
                this.end(Err(e));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A [`StreamConsumer`] writing the guest's bytes to a [`ByteSink`]; an error ends the stream.
pub struct ByteConsumer<S: ByteSink>(Option<S>);

impl<S: ByteSink> ByteConsumer<S> {
    /// A consumer writing to `sink`.
    pub fn new(sink: S) -> Self {
        Self(Some(sink))
    }

    fn end(&mut self, result: io::Result<()>) {
        if let Some(sink) = self.0.take() {
            sink.end(result);
        }
    }
}

impl<S: ByteSink> Drop for ByteConsumer<S> {
    fn drop(&mut self) {
        self.end(Ok(()));
    }
}

impl<D, S: ByteSink> StreamConsumer<D> for ByteConsumer<S> {
    type Item = u8;

    fn poll_consume(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        src: Source<Self::Item>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let this = &mut *self;
        let Some(sink) = this.0.as_mut() else {
            return Poll::Ready(Ok(StreamResult::Dropped));
        };
        let mut src = src.as_direct(store);
        // A zero-length write is a readiness check.
        if src.remaining().is_empty() {
            return match sink.poll_write_ready(cx) {
                Poll::Ready(()) => Poll::Ready(Ok(StreamResult::Completed)),
                Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
                Poll::Pending => Poll::Pending,
            };
        }
        match sink.poll_write(cx, src.remaining()) {
            Poll::Ready(Ok(0)) => {
                this.end(Err(io::ErrorKind::WriteZero.into()));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Poll::Ready(Ok(n)) => {
                src.mark_read(n);
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Poll::Ready(Err(e)) => {
                this.end(Err(e));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// One direction of a connected socket: the socket, where to report how the direction ended,
/// and how an OS error becomes the interface's error (`host-socket`s and wasi:sockets TCP report
/// different error types).
pub(crate) struct SocketSide<E> {
    stream: Arc<NativeStream>,
    done: oneshot::Sender<Result<(), E>>,
    error: fn(io::Error) -> E,
}

impl<E: Send + 'static> SocketSide<E> {
    /// The side of `stream` that reports its end to `done`, with OS errors mapped by `error`.
    pub(crate) fn new(
        stream: Arc<NativeStream>,
        done: oneshot::Sender<Result<(), E>>,
        error: fn(io::Error) -> E,
    ) -> Self {
        Self {
            stream,
            done,
            error,
        }
    }

    /// Shuts the direction `how` down (the write side of an aborted stream as close(2) would:
    /// see [`NativeStream::end_aborted`]) and reports `result`.
    fn finish(self, how: rustix::net::Shutdown, result: io::Result<()>) {
        if how == rustix::net::Shutdown::Write && self.stream.aborted() {
            self.stream.end_aborted();
        } else {
            self.stream.shutdown(how);
        }
        let _ = self.done.send(result.map_err(self.error));
    }
}

/// The receiving direction: its end shuts reading down (as wasmtime-wasi's TCP does when the
/// guest drops its stream).
impl<E: Send + 'static> ByteSource for SocketSide<E> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_read(cx, buf)
    }

    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.stream.poll_read_ready(cx).map(drop)
    }

    fn end(self, result: io::Result<()>) {
        self.finish(rustix::net::Shutdown::Read, result);
    }
}

/// The sending direction: its end shuts writing down (FIN).
impl<E: Send + 'static> ByteSink for SocketSide<E> {
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_write(cx, buf)
    }

    fn poll_write_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.stream.poll_write_ready(cx).map(drop)
    }

    fn end(self, result: io::Result<()>) {
        self.finish(rustix::net::Shutdown::Write, result);
    }
}

/// An [`AsyncRead`] as a [`ByteSource`]; `on_end` hears how it ended, and the reader is dropped
/// then.
pub struct AsyncSource<R, F> {
    reader: R,
    on_end: F,
}

impl<R, F> AsyncSource<R, F>
where
    R: AsyncRead + Send + Unpin + 'static,
    F: FnOnce(io::Result<()>) + Send + Unpin + 'static,
{
    /// A source reading `reader` until EOF or an error, then calling `on_end` with the outcome.
    pub fn new(reader: R, on_end: F) -> Self {
        Self { reader, on_end }
    }
}

impl<R, F> ByteSource for AsyncSource<R, F>
where
    R: AsyncRead + Send + Unpin + 'static,
    F: FnOnce(io::Result<()>) + Send + Unpin + 'static,
{
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        Pin::new(&mut self.reader)
            .poll_read(cx, &mut buf)
            .map_ok(|()| buf.filled().len())
    }

    fn end(self, result: io::Result<()>) {
        drop(self.reader);
        (self.on_end)(result);
    }
}

/// An [`AsyncWrite`] as a [`ByteSink`]. Its end drops the writer (for a
/// [`crate::pipe::PipeWriter`] that is EOF for the other end); it neither flushes nor shuts down
/// by itself: whoever owns the other end of the pipe (e.g. the TLS session task) does the
/// protocol work.
pub struct AsyncSink<W>(W);

impl<W: AsyncWrite + Send + Unpin + 'static> AsyncSink<W> {
    /// A sink writing into `writer`.
    pub fn new(writer: W) -> Self {
        Self(writer)
    }
}

impl<W: AsyncWrite + Send + Unpin + 'static> ByteSink for AsyncSink<W> {
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn end(self, _result: io::Result<()>) {}
}
