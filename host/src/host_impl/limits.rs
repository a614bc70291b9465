//! `wasio:host/limits`: the run's connection and write-queue limits, which the provider enforces,
//! and its memory limit, under a share of which the provider keeps its connection buffers.

use super::bindings::limits::{Host, RunLimits};
use crate::ctx::WasioHostView;

impl Host for WasioHostView<'_> {
    fn get(&mut self) -> wasmtime::Result<RunLimits> {
        let limits = self.ctx.limits();
        Ok(RunLimits {
            max_connections: limits.max_connections,
            write_queue_cap: limits.write_queue_cap,
            max_memory: limits.max_memory,
        })
    }
}
