//! `wasio:host/limits`: the run's write-queue limit, which the provider enforces, and its
//! memory limit, under a share of which the provider keeps its connection buffers.
//!
//! The connection limit is enforced by the host itself, on every socket resource
//! ([`crate::socket_budget`]): the provider is told there is none, so it does not count its
//! connections a second time.

use super::WasioHost;
use super::bindings::limits::{Host, HostWithStore, RunLimits};
use crate::ctx::WasioHostView;
use wasmtime::component::Accessor;

impl Host for WasioHostView<'_> {
    fn get(&mut self) -> wasmtime::Result<RunLimits> {
        let limits = self.ctx.limits();
        Ok(RunLimits {
            max_connections: None,
            write_queue_cap: limits.write_queue_cap,
            max_memory: limits.max_memory,
        })
    }
}

impl<T> HostWithStore<T> for WasioHost {
    async fn socket_room(accessor: &Accessor<T, Self>) -> wasmtime::Result<()> {
        let budget = accessor.with(|mut access| access.get().ctx.socket_budget().clone());
        std::future::poll_fn(|cx| budget.poll_room(cx)).await;
        Ok(())
    }
}
