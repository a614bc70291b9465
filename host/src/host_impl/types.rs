//! `wasio:host/types`: the `host-socket` resource's methods, over [`crate::net::socket`].
//!
//! The byte streams mirror wasmtime-wasi's p3 TCP sockets: `receive` hands out a stream fed by a
//! [`StreamProducer`] that reads the socket, `send` pipes the guest's stream into a
//! [`StreamConsumer`] that writes it, and dropping the consumer (the guest's stream ended) shuts
//! the write half down (FIN). `accept` hands out a stream of new `host-socket` resources. Each
//! of the three may be taken once per socket; the completion futures carry the error that ended
//! a side, mapped by [`super::conv`].

use std::iter;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use wasmtime::StoreContextMut;
use wasmtime::component::{
    Access, Destination, FutureReader, Resource, Source, StreamConsumer, StreamProducer,
    StreamReader, StreamResult, VecBuffer,
};
use wasmtime::error::Context as _;

use super::WasioHost;
use super::bindings::types::{
    ErrorCode, Host, HostAddress, HostHostSocket, HostHostSocketWithStore, PeerCredentials,
};
use crate::ctx::WasioHostView;
use crate::net::listener::NativeListener;
use crate::net::socket::HostSocket;
use crate::net::stream::NativeStream;
use crate::socket_budget::{Permit, SocketBudget};

/// How many bytes one receive reads at most when the guest offers a larger buffer.
const RECEIVE_CAPACITY: usize = 64 * 1024;

/// The socket behind `socket` (a bad handle is a host bug: the component model checks handles).
fn get<'a>(
    table: &'a mut wasmtime::component::ResourceTable,
    socket: &Resource<HostSocket>,
) -> wasmtime::Result<&'a mut HostSocket> {
    table
        .get_mut(socket)
        .context("host-socket missing from the resource table")
}

/// A place in the run's socket budget for a new `host-socket`, or the error the app gets at the
/// limit (see [`crate::socket_budget`]).
pub(crate) fn socket_permit(view: &WasioHostView<'_>) -> Result<Permit, ErrorCode> {
    let budget = view.ctx.socket_budget();
    budget
        .try_acquire()
        .ok_or_else(|| ErrorCode::Other(Some(budget.exhausted())))
}

impl Host for WasioHostView<'_> {}

impl HostHostSocket for WasioHostView<'_> {
    fn local_address(
        &mut self,
        socket: Resource<HostSocket>,
    ) -> wasmtime::Result<Result<HostAddress, ErrorCode>> {
        Ok(Ok(get(self.table, &socket)?.local_address().into()))
    }

    fn remote_address(
        &mut self,
        socket: Resource<HostSocket>,
    ) -> wasmtime::Result<Result<HostAddress, ErrorCode>> {
        let remote = get(self.table, &socket)?.remote_address();
        Ok(remote.map(HostAddress::from).map_err(ErrorCode::from))
    }

    fn peer_credentials(
        &mut self,
        socket: Resource<HostSocket>,
    ) -> wasmtime::Result<Result<PeerCredentials, ErrorCode>> {
        let credentials = get(self.table, &socket)?.peer_credentials();
        Ok(credentials
            .map(PeerCredentials::from)
            .map_err(ErrorCode::from))
    }

    fn cleanup(&mut self, socket: Resource<HostSocket>) -> wasmtime::Result<bool> {
        Ok(get(self.table, &socket)?.cleanup())
    }

    fn drop(&mut self, socket: Resource<HostSocket>) -> wasmtime::Result<()> {
        self.ctx.release_permit(socket.rep());
        self.table
            .delete(socket)
            .context("host-socket missing from the resource table")?;
        Ok(())
    }
}

impl<T> HostHostSocketWithStore<T> for WasioHost {
    fn accept(
        mut host: Access<T, Self>,
        socket: Resource<HostSocket>,
    ) -> wasmtime::Result<Result<StreamReader<Resource<HostSocket>>, ErrorCode>> {
        let getter = host.getter();
        let listener = match get(host.get().table, &socket)?.take_accept() {
            Ok(listener) => listener,
            Err(e) => return Ok(Err(e.into())),
        };
        let producer =
            AcceptProducer::new(listener, host.get().ctx.socket_budget().clone(), getter);
        Ok(Ok(StreamReader::new(&mut host, producer)?))
    }

    fn send(
        mut host: Access<T, Self>,
        socket: Resource<HostSocket>,
        mut data: StreamReader<u8>,
    ) -> wasmtime::Result<FutureReader<Result<(), ErrorCode>>> {
        match get(host.get().table, &socket)?.take_send() {
            Ok(stream) => {
                let (done, result) = oneshot::channel();
                data.pipe(
                    &mut host,
                    SendConsumer::new(Side::new(stream, done, ErrorCode::from)),
                )?;
                FutureReader::new(&mut host, result)
            }
            Err(error) => {
                data.close(&mut host)?;
                let error = ErrorCode::from(error);
                FutureReader::new(&mut host, async move { wasmtime::error::Ok(Err(error)) })
            }
        }
    }

    fn receive(
        mut host: Access<T, Self>,
        socket: Resource<HostSocket>,
    ) -> wasmtime::Result<(StreamReader<u8>, FutureReader<Result<(), ErrorCode>>)> {
        match get(host.get().table, &socket)?.take_receive() {
            Ok(stream) => {
                let (done, result) = oneshot::channel();
                Ok((
                    StreamReader::new(
                        &mut host,
                        ReceiveProducer::new(Side::new(stream, done, ErrorCode::from)),
                    )?,
                    FutureReader::new(&mut host, result)?,
                ))
            }
            Err(error) => {
                let error = ErrorCode::from(error);
                Ok((
                    StreamReader::new(&mut host, iter::empty())?,
                    FutureReader::new(&mut host, async move { wasmtime::error::Ok(Err(error)) })?,
                ))
            }
        }
    }
}

/// One side of a connected stream socket, as a byte-stream adapter holds it: the socket, where
/// to report how the side ended, and how an OS error becomes the interface's error (this pair
/// of adapters serves `host-socket`s and wasi:sockets TCP alike).
pub(crate) struct Side<E> {
    stream: Arc<NativeStream>,
    done: oneshot::Sender<Result<(), E>>,
    error: fn(std::io::Error) -> E,
}

impl<E> Side<E> {
    /// The side of `stream` that reports its end to `done`, with OS errors mapped by `error`.
    pub(crate) fn new(
        stream: Arc<NativeStream>,
        done: oneshot::Sender<Result<(), E>>,
        error: fn(std::io::Error) -> E,
    ) -> Self {
        Self {
            stream,
            done,
            error,
        }
    }

    /// Shuts the direction `how` down and reports `result`.
    fn end(self, how: rustix::net::Shutdown, result: Result<(), std::io::Error>) {
        self.stream.shutdown(how);
        let _ = self.done.send(result.map_err(self.error));
    }
}

/// Feeds the guest's receive stream from the socket, reading straight into the guest's buffer;
/// EOF or an error ends it.
///
/// Cancel safety: a read the guest cancels (`finish`) while the socket has nothing takes
/// nothing from it; bytes are only taken by a read that completes with them.
pub(crate) struct ReceiveProducer<E>(Option<Side<E>>);

impl<E> ReceiveProducer<E> {
    /// A producer reading `side`.
    pub(crate) fn new(side: Side<E>) -> Self {
        Self(Some(side))
    }

    fn finish(&mut self, result: Result<(), std::io::Error>) {
        if let Some(side) = self.0.take() {
            side.end(rustix::net::Shutdown::Read, result);
        }
    }
}

impl<E> Drop for ReceiveProducer<E> {
    fn drop(&mut self) {
        // The guest dropped its stream: stop receiving (as wasmtime-wasi's TCP does).
        self.finish(Ok(()));
    }
}

impl<D, E: Send + 'static> StreamProducer<D> for ReceiveProducer<E> {
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
        let Some(side) = this.0.as_ref() else {
            return Poll::Ready(Ok(StreamResult::Dropped));
        };
        // A zero-length read is a readiness check.
        if dst.remaining(&mut store) == Some(0) {
            return match side.stream.poll_read_ready(cx) {
                Poll::Ready(_) => Poll::Ready(Ok(StreamResult::Completed)),
                Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
                Poll::Pending => Poll::Pending,
            };
        }
        let mut dst = dst.as_direct(store, RECEIVE_CAPACITY);
        match side.stream.poll_read(cx, dst.remaining()) {
            Poll::Ready(Ok(0)) => {
                this.finish(Ok(()));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Poll::Ready(Ok(n)) => {
                dst.mark_written(n);
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Poll::Ready(Err(e)) => {
                this.finish(Err(e));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Writes the guest's send stream to the socket straight from the guest's buffer; when the
/// stream ends (this consumer is dropped) the write half is shut down.
pub(crate) struct SendConsumer<E>(Option<Side<E>>);

impl<E> SendConsumer<E> {
    /// A consumer writing to `side`.
    pub(crate) fn new(side: Side<E>) -> Self {
        Self(Some(side))
    }

    fn finish(&mut self, result: Result<(), std::io::Error>) {
        if let Some(side) = self.0.take() {
            side.end(rustix::net::Shutdown::Write, result);
        }
    }
}

impl<E> Drop for SendConsumer<E> {
    fn drop(&mut self) {
        self.finish(Ok(()));
    }
}

impl<D, E: Send + 'static> StreamConsumer<D> for SendConsumer<E> {
    type Item = u8;

    fn poll_consume(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        src: Source<Self::Item>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let this = &mut *self;
        let Some(side) = this.0.as_ref() else {
            return Poll::Ready(Ok(StreamResult::Dropped));
        };
        let mut src = src.as_direct(store);
        // A zero-length write is a readiness check.
        if src.remaining().is_empty() {
            return match side.stream.poll_write_ready(cx) {
                Poll::Ready(_) => Poll::Ready(Ok(StreamResult::Completed)),
                Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
                Poll::Pending => Poll::Pending,
            };
        }
        match side.stream.poll_write(cx, src.remaining()) {
            Poll::Ready(Ok(n)) => {
                src.mark_read(n);
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Poll::Ready(Err(e)) => {
                this.finish(Err(e));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A listener an accept stream takes connections from.
pub(crate) trait Acceptor: Send + Unpin + 'static {
    /// The resource an accepted connection becomes.
    type Socket: Send + Unpin + 'static;

    /// Accepts the next connection.
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<Self::Socket>>;
}

impl Acceptor for Arc<NativeListener> {
    type Socket = HostSocket;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<HostSocket>> {
        NativeListener::poll_accept(self, cx)
    }
}

/// Hands out accepted connections as new resources, each only once it has a place in the run's
/// socket budget (until then clients wait in the listen backlog).
///
/// Cancel safety: a cancelled read loses no connection: one accepted during a readiness check
/// is kept for the next read, and a read cancelled while waiting has accepted nothing.
pub(crate) struct AcceptProducer<T: 'static, A: Acceptor> {
    listener: A,
    /// A connection accepted during a readiness check, handed out by the next read.
    pending: Option<A::Socket>,
    budget: SocketBudget,
    /// The place for the next connection, taken before accepting it.
    permit: Option<Permit>,
    getter: for<'a> fn(&'a mut T) -> WasioHostView<'a>,
}

impl<T: 'static, A: Acceptor> AcceptProducer<T, A> {
    /// A producer of the connections `listener` accepts, counted in `budget`, pushed into the
    /// resource table `getter` finds.
    pub(crate) fn new(
        listener: A,
        budget: SocketBudget,
        getter: for<'a> fn(&'a mut T) -> WasioHostView<'a>,
    ) -> Self {
        Self {
            listener,
            pending: None,
            budget,
            permit: None,
            getter,
        }
    }

    /// The next connection, accepting one if none is pending. Accept errors of one client
    /// (ECONNABORTED and the like) are skipped, as a server would; other errors end the stream.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<A::Socket>> {
        if let Some(socket) = self.pending.take() {
            return Poll::Ready(Some(socket));
        }
        loop {
            return match self.listener.poll_accept(cx) {
                Poll::Ready(Ok(socket)) => Poll::Ready(Some(socket)),
                Poll::Ready(Err(e)) if per_connection(&e) => continue,
                Poll::Ready(Err(_)) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

/// Accept errors that concern one client only.
fn per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        error.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::Interrupted | K::WouldBlock
    )
}

impl<T: 'static, A: Acceptor> StreamProducer<T> for AcceptProducer<T, A> {
    type Item = Resource<A::Socket>;
    type Buffer = Option<Self::Item>;

    fn poll_produce<'a>(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, T>,
        mut dst: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let this = &mut *self;
        if this.permit.is_none() {
            match this.budget.poll_acquire(cx) {
                Poll::Ready(permit) => this.permit = Some(permit),
                Poll::Pending if finish => return Poll::Ready(Ok(StreamResult::Cancelled)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let socket = match this.poll_next(cx) {
            Poll::Ready(Some(socket)) => socket,
            Poll::Ready(None) => return Poll::Ready(Ok(StreamResult::Dropped)),
            Poll::Pending if finish => return Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => return Poll::Pending,
        };
        // A zero-length read is a readiness check: keep the connection for the next read.
        if dst.remaining(&mut store) == Some(0) {
            this.pending = Some(socket);
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        let view = (this.getter)(store.data_mut());
        let resource = view
            .table
            .push(socket)
            .context("pushing an accepted socket")?;
        if let Some(permit) = this.permit.take() {
            view.ctx.hold_permit(resource.rep(), permit);
        }
        dst.set_buffer(Some(resource));
        Poll::Ready(Ok(StreamResult::Completed))
    }
}
