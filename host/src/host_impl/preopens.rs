//! `wasio:host/preopens`: sockets the host opened for the run.
//!
//! wasio opens none yet (a `--listen` flag comes with host sockets, issue 4), so the list is
//! empty.

use wasmtime::component::Resource;

use super::bindings::preopens::Host;
use super::bindings::types::HostSocket;
use crate::ctx::WasioHostView;

impl Host for WasioHostView<'_> {
    fn take_listeners(&mut self) -> wasmtime::Result<Vec<(String, Resource<HostSocket>)>> {
        Ok(Vec::new())
    }
}
