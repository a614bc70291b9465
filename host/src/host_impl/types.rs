//! `wasio:host/types`: the `host-socket` resource's methods, over [`crate::net::socket`].
//!
//! The byte streams mirror wasmtime-wasi's p3 TCP sockets: `receive` hands out a stream fed by a
//! [`ByteProducer`] that reads the socket, `send` pipes the guest's stream into a
//! [`ByteConsumer`] that writes it, and dropping the consumer (the guest's stream ended) shuts
//! the write half down (FIN). `accept` hands out a stream of new `host-socket` resources
//! ([`AcceptProducer`]). Each of the three may be taken once per socket; the completion futures
//! carry the error that ended a side, mapped by [`super::conv`].

use std::iter;

use tokio::sync::oneshot;
use wasmtime::component::{Access, FutureReader, Resource, StreamReader};
use wasmtime::error::Context as _;

use super::WasioHost;
use super::accept::AcceptProducer;
use super::bindings::types::{
    ErrorCode, Host, HostAddress, HostHostSocket, HostHostSocketWithStore, PeerCredentials,
};
use super::conv::HostError;
use crate::ctx::WasioHostView;
use crate::net::socket::HostSocket;
use crate::net::stream::TcpOption;
use crate::socket_budget::Permit;
use crate::streams_io::{ByteConsumer, ByteProducer, SocketSide};

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

impl Host for WasioHostView<'_> {
    fn convert_error_code(&mut self, error: HostError) -> wasmtime::Result<ErrorCode> {
        error.into_code()
    }
}

impl HostHostSocket for WasioHostView<'_> {
    fn local_address(&mut self, socket: Resource<HostSocket>) -> Result<HostAddress, HostError> {
        Ok(get(self.table, &socket)?.local_address().into())
    }

    fn remote_address(&mut self, socket: Resource<HostSocket>) -> Result<HostAddress, HostError> {
        Ok(get(self.table, &socket)?.remote_address()?.into())
    }

    fn peer_credentials(
        &mut self,
        socket: Resource<HostSocket>,
    ) -> Result<PeerCredentials, HostError> {
        Ok(get(self.table, &socket)?.peer_credentials()?.into())
    }

    fn cleanup(&mut self, socket: Resource<HostSocket>) -> wasmtime::Result<bool> {
        Ok(get(self.table, &socket)?.cleanup())
    }

    fn set_nodelay(
        &mut self,
        socket: Resource<HostSocket>,
        enabled: bool,
    ) -> Result<(), HostError> {
        Ok(get(self.table, &socket)?.set_tcp_option(TcpOption::NoDelay, enabled)?)
    }

    fn set_keep_alive(
        &mut self,
        socket: Resource<HostSocket>,
        enabled: bool,
    ) -> Result<(), HostError> {
        Ok(get(self.table, &socket)?.set_tcp_option(TcpOption::KeepAlive, enabled)?)
    }

    fn abort(&mut self, socket: Resource<HostSocket>) -> wasmtime::Result<()> {
        get(self.table, &socket)?.abort();
        Ok(())
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
    ) -> Result<StreamReader<Resource<HostSocket>>, HostError> {
        let getter = host.getter();
        let listener = get(host.get().table, &socket)?.take_accept()?;
        let producer =
            AcceptProducer::new(listener, host.get().ctx.socket_budget().clone(), getter);
        Ok(StreamReader::new(&mut host, producer)?)
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
                    ByteConsumer::new(SocketSide::new(stream, done, ErrorCode::from)),
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
                        ByteProducer::new(SocketSide::new(stream, done, ErrorCode::from)),
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
