//! The wasio host: runs components that use asyncio-style streams (`wasio:streams`) on wasmtime
//! with WASI 0.3 (component-model async).
//!
//! - [`add_to_linker`] links everything a composed wasio app imports: wasmtime-wasi p2 (Rust's
//!   std on wasm32-wasip2 imports WASI 0.2), wasmtime-wasi p3 (WASI 0.3 but its TCP), the host's
//!   own `wasi:sockets@0.3.0` TCP ([`net::tcp`], glue in [`host_impl::wasi_tcp`]) and the
//!   `wasio:host` interfaces ([`host_impl`]).
//! - [`net`] holds the host's native sockets (TCP, Unix, pre-opened listeners), free of WIT
//!   types; [`host_impl`] is the WIT glue over them.
//! - [`denials`] reports what the grants refused, for the operator.
//! - [`ctx::WasioCtx`] is the store data; [`capabilities::Capabilities`] the deny-by-default
//!   network grants it carries.
//! - [`limits::Limits`] are the run's resource limits (memory, connections, write queue, time).
//! - [`unix_grants`] are the `--allow-unix` path grants; [`Preopened`] a listener the
//!   host opens before the run (`--listen`) for the app to adopt.
//! - [`shutdown::Shutdown`] asks a run to shut down gracefully (`wasio run` on Ctrl-C);
//!   [`socket_files::SocketFiles`] are the Unix socket files the host created for a run.
//! - [`compose::compose`] joins an app with the provider component; [`run::run`] calls a
//!   component's `wasi:cli/run@0.3.0`; [`compile_cache`] keeps compiled components on disk.
//! - With the `embed` feature, `embedded` holds the provider and example components built into
//!   this crate.

pub mod capabilities;
pub mod capture;
pub mod compile_cache;
pub mod compose;
pub mod ctx;
pub mod denials;
#[cfg(feature = "embed")]
pub mod embedded;
pub mod host_impl;
pub mod limits;
pub mod listener_share;
pub mod net;
pub mod pipe;
#[cfg(feature = "embed")]
pub mod python_app;
pub mod run;
pub mod shutdown;
pub mod socket_budget;
pub mod socket_files;
pub mod streams_io;
pub mod tls;
pub mod workers;

/// Unix socket path grants (`--allow-unix`); they live in wasio-host-config with the other
/// parsers of outside input.
pub use wasio_host_config::unix_grants;

use std::fmt::Display;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

pub use crate::capabilities::{AddrPattern, Capabilities};
pub use crate::ctx::{WasioCtx, WasioCtxBuilder, WasioView};
pub use crate::limits::{Limits, MemoryUsage};
pub use crate::listener_share::ListenerShare;
pub use crate::net::preopen::{ListenSpec, Preopened};
pub use crate::run::{Exit, run};
pub use crate::shutdown::Shutdown;
pub use crate::socket_files::SocketFiles;
pub use crate::unix_grants::UnixGrant;

/// `.context(..)` for `wasmtime::Result`, whose error is not an `anyhow::Error` (so anyhow's own
/// `Context` does not apply to it).
pub(crate) trait WasmtimeContext<T> {
    /// Converts the error to `anyhow::Error` and adds `context`.
    fn wcontext(self, context: impl Display + Send + Sync + 'static) -> anyhow::Result<T>;
}

impl<T> WasmtimeContext<T> for wasmtime::Result<T> {
    fn wcontext(self, context: impl Display + Send + Sync + 'static) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::from(e).context(context))
    }
}

/// Adds all of wasio's imports to `linker`: WASI 0.2 and 0.3 from wasmtime-wasi, the host's own
/// WASI 0.3 TCP in place of wasmtime-wasi's, and the `wasio:host` interfaces; every socket any
/// of them opens counts against the run's socket budget ([`socket_budget`]).
pub fn add_to_linker<T: WasioView>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    add_to_linker_with(linker, TcpImpl::Host)
}

/// Which implementation serves `wasi:sockets@0.3.0` TCP: the host's own ([`net::tcp`], the default
/// and the only one a run should use), or wasmtime-wasi's, kept selectable only so that
/// wasio-bench can measure both side by side. With wasmtime-wasi's, TCP_NODELAY is off, 0.3 TCP
/// sockets are not counted in the run's socket budget, refusals are not reported and the
/// `wasio:host/tcp` options are `not-supported`.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TcpImpl {
    /// The host's own TCP.
    #[default]
    Host,
    /// wasmtime-wasi's TCP (for comparison only).
    WasmtimeWasi,
}

/// [`add_to_linker`] with `tcp` serving WASI 0.3 TCP (see [`TcpImpl`]).
#[doc(hidden)]
pub fn add_to_linker_with<T: WasioView>(
    linker: &mut Linker<T>,
    tcp: TcpImpl,
) -> anyhow::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker).wcontext("linking WASI 0.2")?;
    wasmtime_wasi::p3::add_to_linker(linker).wcontext("linking WASI 0.3")?;
    host_impl::add_to_linker(linker).wcontext("linking wasio:host")?;
    match tcp {
        TcpImpl::Host => {
            host_impl::wasi_tcp::add_to_linker(linker).wcontext("linking the host's TCP")?;
        }
        TcpImpl::WasmtimeWasi => host_impl::wasi_tcp::add_options_unsupported(linker)
            .wcontext("linking wasio:host/tcp over wasmtime-wasi's TCP")?,
    }
    host_impl::wasi_sockets::add_to_linker(linker)
        .wcontext("linking wasi:sockets under the socket budget")?;
    Ok(())
}

/// The native stack wasm code may use (`Config::max_wasm_stack`): see [`config`].
pub const WASM_STACK: usize = 32 << 20;

/// The wasmtime configuration wasio needs: the component model with its async support
/// (`async func`, `stream`, `future`). Start from this to tune further.
///
/// With `WASIO_PERF_MAP=1` in the environment, compiled wasm functions are also named in
/// `/tmp/perf-PID.map`, so `perf report` can attribute JIT time (see the README's benchmark
/// section).
pub fn config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    // Room for the C recursion an interpreter checks itself: CPython in a componentize-py
    // component raises `RecursionError` once its 1 MiB C stack (in linear memory) is used up,
    // which takes 16-24 MiB of native stack in `json.loads` of nested arrays; with wasmtime's
    // 512 KiB default, a peer's deeply nested request trapped the whole app instead. Fiber
    // stacks are reserved, not committed, until used.
    config.max_wasm_stack(WASM_STACK);
    config.async_stack_size(WASM_STACK + (1 << 20));
    // Tables filled at instantiation, so an indirect call skips the lazy-initialisation check:
    // CPython in a component makes many (type slots, vectorcalls). Measured with callgrind: 1.2%
    // fewer instructions per Python echo request, 0.7% per composed Rust one, and no measurable
    // change in start-up (a Python app's instantiation stayed within 0.32-0.34 s).
    config.table_lazy_init(false);
    if std::env::var_os("WASIO_PERF_MAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// An engine with [`config`].
///
/// Also stops wasmtime from capturing a Rust backtrace in its own error values, process-wide:
/// its async runtime makes an error value each time it retires a fiber (many times per
/// request), and with `RUST_BACKTRACE` set each one walked the stack (14% of a busy echo
/// server's time in a profile). Traps still carry their wasm backtrace. A wasmtime 48
/// workaround: WORKAROUNDS.md, W4.
pub fn engine() -> anyhow::Result<Engine> {
    wasmtime::error::disable_backtrace();
    Ok(Engine::new(&config())?)
}

/// [`config`] plus epoch interruption, so a run's timeout ([`limits::Limits::timeout`]) also
/// stops an app that computes without ever waiting. The generated code checks the epoch at
/// every function entry and loop, which costs a little speed; without it a timeout still stops
/// an app that waits (for I/O, a timer, ...).
pub fn config_with_deadlines() -> Config {
    let mut config = config();
    config.epoch_interruption(true);
    config
}

/// A linker over `engine` with everything [`add_to_linker`] adds.
pub fn linker<T: WasioView>(engine: &Engine) -> anyhow::Result<Linker<T>> {
    let mut linker = Linker::new(engine);
    add_to_linker(&mut linker)?;
    Ok(linker)
}

/// Compiles a component (JIT). This is the slow step (about 1-2 s for a composed app in a debug
/// build, ~0.15 s in release): compile once and reuse the [`Component`] for many runs.
pub fn compile(engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
    Component::new(engine, bytes).wcontext("compiling the component")
}

/// An engine and a linker for [`WasioCtx`] stores: what a program running wasio components needs.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Linker<WasioCtx>,
}

impl Runtime {
    /// A runtime with [`engine`] and [`linker`].
    pub fn new() -> anyhow::Result<Self> {
        Self::with_engine(engine()?)
    }

    /// A runtime whose engine has [`config_with_deadlines`]: a run's timeout stops busy apps too.
    pub fn with_deadlines() -> anyhow::Result<Self> {
        Self::from_config(&config_with_deadlines())
    }

    /// A runtime whose engine is made from `config` ([`config`] or one based on it, e.g. with
    /// [`compile_cache::enable`]). Like [`engine`], it keeps wasmtime from capturing Rust
    /// backtraces in its error values.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        wasmtime::error::disable_backtrace();
        Self::with_engine(Engine::new(config)?)
    }

    /// A runtime over `engine` (made from [`config`] or a configuration based on it).
    pub fn with_engine(engine: Engine) -> anyhow::Result<Self> {
        Self::with_tcp(engine, TcpImpl::Host)
    }

    /// A runtime over `engine` whose WASI 0.3 TCP is `tcp`'s (see [`TcpImpl`]: for benchmarks).
    #[doc(hidden)]
    pub fn with_tcp(engine: Engine, tcp: TcpImpl) -> anyhow::Result<Self> {
        let mut linker = Linker::new(&engine);
        add_to_linker_with(&mut linker, tcp)?;
        Ok(Self { engine, linker })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker.
    pub fn linker(&self) -> &Linker<WasioCtx> {
        &self.linker
    }

    /// Compiles a component with this runtime's engine (see [`compile`]).
    pub fn compile(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        compile(&self.engine, bytes)
    }

    /// Runs `component`'s `wasi:cli/run@0.3.0` in a new store with `ctx` (see [`run()`]).
    pub async fn run(&self, component: &Component, ctx: WasioCtx) -> anyhow::Result<Exit> {
        run(&self.linker, component, ctx).await
    }
}
