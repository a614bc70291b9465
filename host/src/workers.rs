//! Several instances of one app serving together (`wasio run --workers N`), as asyncio programs
//! scale out with one process per core.
//!
//! Each worker is a store of its own on a thread of its own, with a single-threaded tokio
//! runtime: workers share no memory, as asyncio processes share none. What they share is given
//! to each worker's context by the caller: the listeners ([`ListenerShare`]: every listener an
//! app opens, and every pre-opened one, is one socket that all workers accept from), the socket
//! budget (`--max-connections` counts all workers' sockets together), the [`Shutdown`] handle
//! and the run's socket files. Memory limits apply per worker (each store has its own limiter).
//!
//! A worker that traps, or is stopped by its memory limit or time limit, ends the run: the
//! others are asked to shut down gracefully, as by Ctrl-C.
//!
//! [`ListenerShare`]: crate::ListenerShare

use std::thread;

use anyhow::Context as _;
use tokio::sync::oneshot;
use wasmtime::component::Component;

use crate::{Exit, Runtime, Shutdown, WasioCtx};

/// Runs `count` workers of `component` (numbered from 1), worker `k` in the context `ctx(k)`,
/// until all have ended; returns each worker's ending in order. `shutdown` must be the handle
/// each context was built with: it is requested when a worker ends abnormally (a trap, a
/// limit), so the other workers end too.
pub async fn run(
    runtime: &Runtime,
    component: &Component,
    count: usize,
    shutdown: &Shutdown,
    mut ctx: impl FnMut(usize) -> anyhow::Result<WasioCtx>,
) -> anyhow::Result<Vec<Exit>> {
    let mut endings = Vec::with_capacity(count);
    for k in 1..=count {
        let started = ctx(k)
            .with_context(|| format!("setting up worker {k}"))
            .and_then(|ctx| start(runtime, component, k, shutdown, ctx));
        match started {
            Ok(ending) => endings.push(ending),
            Err(e) => {
                // The workers already started must not go on alone.
                shutdown.request();
                return Err(e);
            }
        }
    }
    let mut exits = Vec::with_capacity(count);
    for (k, ending) in (1..).zip(endings) {
        let exit = ending
            .await
            .with_context(|| format!("worker {k} ended without a result"))?
            .with_context(|| format!("worker {k}"))?;
        exits.push(exit);
    }
    Ok(exits)
}

/// Starts worker `k` on a thread of its own; its ending arrives on the returned channel.
/// `shutdown` is requested when it ends abnormally.
fn start(
    runtime: &Runtime,
    component: &Component,
    k: usize,
    shutdown: &Shutdown,
    ctx: WasioCtx,
) -> anyhow::Result<oneshot::Receiver<anyhow::Result<Exit>>> {
    let (done, ending) = oneshot::channel();
    let runtime = runtime.clone();
    let component = component.clone();
    let shutdown = shutdown.clone();
    thread::Builder::new()
        .name(format!("wasio-worker-{k}"))
        .spawn(move || {
            let exit = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the worker's async runtime")
                .and_then(|rt| rt.block_on(runtime.run(&component, ctx)));
            if !matches!(exit, Ok(Exit::Code(_))) {
                shutdown.request();
            }
            let _ = done.send(exit);
        })
        .with_context(|| format!("starting worker {k}'s thread"))?;
    Ok(ending)
}
