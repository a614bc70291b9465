//! `wasio:host/shutdown`: tells the provider when the run is asked to shut down, and hears
//! when it has closed everything (see [`crate::shutdown`]).

use wasmtime::component::Accessor;

use super::WasioHost;
use super::bindings::shutdown::{Host, HostWithStore};
use crate::ctx::WasioHostView;

impl Host for WasioHostView<'_> {
    fn finished(&mut self) -> wasmtime::Result<()> {
        self.ctx.provider_finished();
        Ok(())
    }
}

impl<T> HostWithStore<T> for WasioHost {
    async fn requested(accessor: &Accessor<T, Self>) -> wasmtime::Result<()> {
        let shutdown = accessor.with(|mut access| {
            let view = access.get();
            view.ctx.provider_watches();
            view.ctx.shutdown().clone()
        });
        // Never hold the store across the wait.
        shutdown.requested().await;
        Ok(())
    }
}
