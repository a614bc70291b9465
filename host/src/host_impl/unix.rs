//! `wasio:host/unix`: Unix domain sockets (asyncio's `open_unix_connection`/`start_unix_server`).
//!
//! Not built yet (issue 4): every function answers `not-supported`.

use wasmtime::component::{Accessor, Resource};

use super::WasioHost;
use super::bindings::types::{ErrorCode, HostSocket};
use super::bindings::unix::{Host, HostWithStore};
use crate::ctx::WasioHostView;

/// The `not-supported` answer of every Unix socket function until issue 4.
fn not_built() -> ErrorCode {
    ErrorCode::NotSupported(
        "Unix domain sockets are not built yet (wasio:host/unix); see issue 4".to_owned(),
    )
}

impl Host for WasioHostView<'_> {
    fn listen(
        &mut self,
        _path: String,
        _backlog: u32,
    ) -> wasmtime::Result<Result<Resource<HostSocket>, ErrorCode>> {
        Ok(Err(not_built()))
    }

    fn socketpair(
        &mut self,
    ) -> wasmtime::Result<Result<(Resource<HostSocket>, Resource<HostSocket>), ErrorCode>> {
        Ok(Err(not_built()))
    }
}

impl<T> HostWithStore<T> for WasioHost {
    async fn connect(
        _accessor: &Accessor<T, Self>,
        _path: String,
    ) -> wasmtime::Result<Result<Resource<HostSocket>, ErrorCode>> {
        Ok(Err(not_built()))
    }
}
