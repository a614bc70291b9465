//! `wasio:host/tls`: TLS sessions over byte streams, client and server side.
//!
//! Not built yet (issue 5): starting a session answers `not-supported` (after closing the
//! ciphertext stream handed in), so no session can exist and its methods answer likewise.

use std::iter;

use wasmtime::component::{Access, Accessor, FutureReader, Resource, StreamReader};

use super::WasioHost;
use super::bindings::tls::{
    ClientConfig, ErrorCode, Host, HostSession, HostSessionWithStore, ServerConfig, Session,
    SessionInfo,
};
use crate::ctx::WasioHostView;

/// The `not-supported` answer of every TLS function until issue 5.
fn not_built() -> ErrorCode {
    ErrorCode::NotSupported("TLS is not built yet (wasio:host/tls); see issue 5".to_owned())
}

impl Host for WasioHostView<'_> {}

impl HostSession for WasioHostView<'_> {
    fn drop(&mut self, _rep: Resource<Session>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl<T> HostSessionWithStore<T> for WasioHost {
    fn client(
        mut host: Access<T, Self>,
        _config: ClientConfig,
        mut ciphertext_in: StreamReader<u8>,
    ) -> wasmtime::Result<Result<(Resource<Session>, StreamReader<u8>), ErrorCode>> {
        ciphertext_in.close(&mut host)?;
        Ok(Err(not_built()))
    }

    fn server(
        mut host: Access<T, Self>,
        _config: ServerConfig,
        mut ciphertext_in: StreamReader<u8>,
    ) -> wasmtime::Result<Result<(Resource<Session>, StreamReader<u8>), ErrorCode>> {
        ciphertext_in.close(&mut host)?;
        Ok(Err(not_built()))
    }

    async fn handshake(
        _accessor: &Accessor<T, Self>,
        _self_: Resource<Session>,
        _timeout: Option<u64>,
    ) -> wasmtime::Result<Result<SessionInfo, ErrorCode>> {
        Ok(Err(not_built()))
    }

    fn receive(
        mut host: Access<T, Self>,
        _self_: Resource<Session>,
    ) -> wasmtime::Result<(StreamReader<u8>, FutureReader<Result<(), ErrorCode>>)> {
        Ok((
            StreamReader::new(&mut host, iter::empty())?,
            FutureReader::new(&mut host, async { wasmtime::error::Ok(Err(not_built())) })?,
        ))
    }

    fn send(
        mut host: Access<T, Self>,
        _self_: Resource<Session>,
        mut data: StreamReader<u8>,
        _shutdown_timeout: Option<u64>,
    ) -> wasmtime::Result<FutureReader<Result<(), ErrorCode>>> {
        data.close(&mut host)?;
        FutureReader::new(&mut host, async { wasmtime::error::Ok(Err(not_built())) })
    }
}
