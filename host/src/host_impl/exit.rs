//! `wasio:host/exit`: the status a failed run ends with, as the app asked for it through the
//! provider (a component's `wasi:cli/run` returns only ok or an error).

use super::bindings::exit::Host;
use crate::ctx::WasioHostView;

impl Host for WasioHostView<'_> {
    fn set_status(&mut self, status: u8) -> wasmtime::Result<()> {
        self.ctx.set_exit_status(status);
        Ok(())
    }
}
