//! `wasio:host/types`: the `host-socket` resource.
//!
//! No host socket can exist yet (Unix sockets are issue 4, pre-opened listeners come with them),
//! so every method answers `not-supported`; streams handed in are closed, streams handed out
//! are empty.

use std::iter;

use wasmtime::component::{Access, FutureReader, Resource, StreamReader};

use super::WasioHost;
use super::bindings::types::{
    ErrorCode, Host, HostAddress, HostHostSocket, HostHostSocketWithStore, HostSocket,
    PeerCredentials,
};
use crate::ctx::WasioHostView;

/// The `not-supported` answer of every host-socket method until issue 4.
fn not_built() -> ErrorCode {
    ErrorCode::NotSupported(
        "host sockets are not built yet (wasio:host/types host-socket); see issue 4".to_owned(),
    )
}

impl Host for WasioHostView<'_> {}

impl HostHostSocket for WasioHostView<'_> {
    fn accept(
        &mut self,
        _self_: Resource<HostSocket>,
    ) -> wasmtime::Result<Result<StreamReader<Resource<HostSocket>>, ErrorCode>> {
        Ok(Err(not_built()))
    }

    fn local_address(
        &mut self,
        _self_: Resource<HostSocket>,
    ) -> wasmtime::Result<Result<HostAddress, ErrorCode>> {
        Ok(Err(not_built()))
    }

    fn remote_address(
        &mut self,
        _self_: Resource<HostSocket>,
    ) -> wasmtime::Result<Result<HostAddress, ErrorCode>> {
        Ok(Err(not_built()))
    }

    fn peer_credentials(
        &mut self,
        _self_: Resource<HostSocket>,
    ) -> wasmtime::Result<Result<PeerCredentials, ErrorCode>> {
        Ok(Err(not_built()))
    }

    fn cleanup(&mut self, _self_: Resource<HostSocket>) -> wasmtime::Result<bool> {
        Ok(false)
    }

    fn drop(&mut self, _rep: Resource<HostSocket>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl<T> HostHostSocketWithStore<T> for WasioHost {
    fn send(
        mut host: Access<T, Self>,
        _self_: Resource<HostSocket>,
        mut data: StreamReader<u8>,
    ) -> wasmtime::Result<FutureReader<Result<(), ErrorCode>>> {
        data.close(&mut host)?;
        FutureReader::new(&mut host, async { wasmtime::error::Ok(Err(not_built())) })
    }

    fn receive(
        mut host: Access<T, Self>,
        _self_: Resource<HostSocket>,
    ) -> wasmtime::Result<(StreamReader<u8>, FutureReader<Result<(), ErrorCode>>)> {
        Ok((
            StreamReader::new(&mut host, iter::empty())?,
            FutureReader::new(&mut host, async { wasmtime::error::Ok(Err(not_built())) })?,
        ))
    }
}
