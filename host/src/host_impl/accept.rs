//! The accept streams of listening sockets, `host-socket`s and wasi:sockets TCP alike: each
//! accepted connection becomes a new resource, once it has a place in the run's socket budget.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use wasmtime::StoreContextMut;
use wasmtime::component::{Destination, Resource, StreamProducer, StreamResult};
use wasmtime::error::Context as _;

use crate::ctx::WasioHostView;
use crate::net::listener::NativeListener;
use crate::net::socket::HostSocket;
use crate::socket_budget::{Permit, SocketBudget};

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
