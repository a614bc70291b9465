//! Adapters between tokio's byte I/O traits and component-model `stream<u8>` ends.
//!
//! - [`ReadProducer`] feeds a guest-readable `stream<u8>` from any [`AsyncRead`]: build the stream
//!   with `StreamReader::new(store, ReadProducer::new(reader))`. The stream ends (the guest sees
//!   it dropped) at EOF or at the first read error.
//! - [`WriteConsumer`] drains a guest-written `stream<u8>` into any [`AsyncWrite`]: attach it with
//!   `stream.pipe(store, WriteConsumer::new(writer))`. When the guest drops its end, the consumer
//!   is dropped, and with it the writer (for a [`crate::pipe::PipeWriter`] that is EOF for the
//!   other end). A write error or a zero-length write ends the stream for the guest.
//!
//! Neither adapter flushes or shuts its inner I/O down by itself: they are meant for in-memory
//! pipes ([`crate::pipe`]) or sockets, where a write completes when the bytes are handed
//! over. Whoever owns the other end of the pipe (e.g. the TLS session task) does the protocol
//! work, flushing and shutdown. Both adapters are generic over the store data, so any host
//! interface (TLS sessions, host sockets) can use them.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasmtime::StoreContextMut;
use wasmtime::component::{Destination, Source, StreamConsumer, StreamProducer, StreamResult};

/// How many bytes a producer offers a host reader at once (guest readers bring their own size).
const HOST_READ_CAPACITY: usize = 64 * 1024;

/// A [`StreamProducer`] of bytes read from an [`AsyncRead`].
pub struct ReadProducer<R> {
    reader: Option<R>,
    /// Called once with how the reader ended: `Ok` at EOF, or its error.
    on_end: Option<Box<dyn FnOnce(io::Result<()>) + Send>>,
}

impl<R> ReadProducer<R> {
    /// A producer that reads from `reader` until EOF or an error.
    pub fn new(reader: R) -> Self {
        Self {
            reader: Some(reader),
            on_end: None,
        }
    }

    /// Calls `f` once with how the reader ended (EOF: `Ok`; else the read error). Not called
    /// when the guest drops its end first.
    pub fn on_end(mut self, f: impl FnOnce(io::Result<()>) + Send + 'static) -> Self {
        self.on_end = Some(Box::new(f));
        self
    }

    fn end(&mut self, result: io::Result<()>) {
        self.reader = None;
        if let Some(f) = self.on_end.take() {
            f(result);
        }
    }
}

impl<D, R> StreamProducer<D> for ReadProducer<R>
where
    R: AsyncRead + Send + Unpin + 'static,
{
    type Item = u8;
    type Buffer = wasmtime::component::VecBuffer<u8>;

    fn poll_produce<'a>(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<'a, D>,
        dst: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let this = &mut *self;
        let Some(reader) = this.reader.as_mut() else {
            return Poll::Ready(Ok(StreamResult::Dropped));
        };
        let mut dst = dst.as_direct(store, HOST_READ_CAPACITY);
        let room = dst.remaining();
        if room.is_empty() {
            // A zero-length read asks for readiness; AsyncRead has no readiness call, so the
            // next real read does the waiting (as wasmtime-wasi's own adapters do).
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        let mut buf = ReadBuf::new(room);
        match Pin::new(reader).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                if n == 0 {
                    this.end(Ok(()));
                    return Poll::Ready(Ok(StreamResult::Dropped));
                }
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

/// A [`StreamConsumer`] of bytes written to an [`AsyncWrite`].
pub struct WriteConsumer<W> {
    writer: Option<W>,
}

impl<W> WriteConsumer<W> {
    /// A consumer that writes everything the stream yields into `writer`.
    pub fn new(writer: W) -> Self {
        Self {
            writer: Some(writer),
        }
    }
}

impl<D, W> StreamConsumer<D> for WriteConsumer<W>
where
    W: AsyncWrite + Send + Unpin + 'static,
{
    type Item = u8;

    fn poll_consume(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        src: Source<Self::Item>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let this = &mut *self;
        let Some(writer) = this.writer.as_mut() else {
            return Poll::Ready(Ok(StreamResult::Dropped));
        };
        let mut src = src.as_direct(store);
        if src.remaining().is_empty() {
            // Readiness check: report ready; the next write waits if it must.
            return Poll::Ready(Ok(if finish {
                StreamResult::Cancelled
            } else {
                StreamResult::Completed
            }));
        }
        match Pin::new(writer).poll_write(cx, src.remaining()) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                this.writer = None;
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Poll::Ready(Ok(n)) => {
                src.mark_read(n);
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}
