//! `wasio:host/preopens`: the listeners the host opened for the run (`wasio run --listen`),
//! handed to the app once each.

use wasmtime::component::Resource;
use wasmtime::error::Context as _;

use super::bindings::preopens::Host;
use crate::ctx::WasioHostView;
use crate::net::socket::HostSocket;

impl Host for WasioHostView<'_> {
    fn take_listeners(&mut self) -> wasmtime::Result<Vec<(String, Resource<HostSocket>)>> {
        let mut out = Vec::new();
        for listener in self.ctx.take_preopened() {
            // Registering with the runtime fails only without a tokio runtime: a host setup bug.
            let (name, socket, file) = listener
                .into_host_socket()
                .context("adopting a pre-opened listener (is this inside a tokio runtime?)")?;
            if let Some(file) = file {
                self.ctx.keep_file(file);
            }
            let resource = self
                .table
                .push(socket)
                .context("pushing a pre-opened listener")?;
            out.push((name, resource));
        }
        Ok(out)
    }
}
