//! The store data of a wasio run: WASI state, the resource table, and wasio's own host state.
//!
//! Embedders either use [`WasioCtx`] as their `Store` data, or put a [`WasiCtx`], a
//! [`ResourceTable`] and a [`WasioHostCtx`] into their own type and implement [`WasioView`].

use std::collections::HashMap;
use std::path::Path;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::StdoutStream;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::capabilities::Capabilities;
use crate::denials::Denials;
use crate::limits::{Limits, MemoryLimiter, MemoryUsage};
use crate::listener_share::{ListenerShare, Sharing};
use crate::net::preopen::{Preopened, SocketFileGuard};
use crate::shutdown::{ProviderPhase, RunShutdown, Shutdown};
use crate::socket_budget::{Permit, SocketBudget};
use crate::socket_files::SocketFiles;
use crate::unix_grants::HeldGrants;

/// wasio's own per-run host state, next to wasmtime-wasi's [`WasiCtx`]: the network grants
/// (enforced through the `WasiCtx`, kept here so the host interfaces can consult them too), the
/// Unix socket path grants, the pre-opened listeners not yet adopted by the app, the run's
/// resource limits with the memory limiter enforcing them, the handle that asks the run to shut
/// down and the Unix socket files the host created for it.
#[derive(Debug)]
pub struct WasioHostCtx {
    capabilities: Capabilities,
    /// The Unix path grants with their directories held open (from when this context is made).
    unix_grants: HeldGrants,
    preopened: Vec<Preopened>,
    /// Socket files of adopted pre-opened Unix listeners, removed when the run ends.
    files: Vec<SocketFileGuard>,
    limits: Limits,
    memory: MemoryUsage,
    limiter: MemoryLimiter,
    shutdown: RunShutdown,
    socket_files: SocketFiles,
    /// Open sockets against [`Limits::max_connections`].
    sockets: SocketBudget,
    /// The places of open socket resources, by resource-table index, freed by their
    /// destructors.
    permits: HashMap<u32, Permit>,
    /// Where refused network and Unix path uses are reported.
    denials: Denials,
    /// The run's shared listeners, when this is one of several workers
    /// ([`crate::listener_share`]).
    sharing: Option<std::sync::Mutex<Sharing>>,
    /// The status a failed run ends with, as the app asked (`wasio:host/exit.set-status`).
    exit_status: Option<u8>,
}

impl Default for WasioHostCtx {
    fn default() -> Self {
        Self::new(Capabilities::default())
    }
}

impl WasioHostCtx {
    /// Host state with the given network grants and the default [`Limits`].
    pub fn new(capabilities: Capabilities) -> Self {
        Self::with_limits(capabilities, Limits::default())
    }

    /// Host state with the given network grants and resource limits.
    pub fn with_limits(capabilities: Capabilities, limits: Limits) -> Self {
        let memory = MemoryUsage::default();
        Self {
            unix_grants: HeldGrants::new(capabilities.unix_grants()),
            capabilities,
            preopened: Vec::new(),
            files: Vec::new(),
            limiter: MemoryLimiter::new(limits.max_memory, memory.clone()),
            sockets: SocketBudget::new(limits.max_connections),
            permits: HashMap::new(),
            denials: Denials::default(),
            limits,
            memory,
            shutdown: RunShutdown::new(Shutdown::new()),
            socket_files: SocketFiles::new(),
            sharing: None,
            exit_status: None,
        }
    }

    /// Host state like [`with_limits`](Self::with_limits), asked to shut down by `shutdown` and
    /// keeping its Unix socket files in `socket_files`.
    pub fn with_shutdown(
        capabilities: Capabilities,
        limits: Limits,
        shutdown: Shutdown,
        socket_files: SocketFiles,
    ) -> Self {
        Self {
            shutdown: RunShutdown::new(shutdown),
            socket_files,
            ..Self::with_limits(capabilities, limits)
        }
    }

    /// The run's shared listeners, when this is one of several workers.
    pub(crate) fn sharing(&self) -> Option<&std::sync::Mutex<Sharing>> {
        self.sharing.as_ref()
    }

    /// The handle that asks this run to shut down gracefully (see [`crate::shutdown`]).
    pub fn shutdown(&self) -> &Shutdown {
        self.shutdown.handle()
    }

    /// The provider's progress in a shutdown, for [`crate::run()`].
    pub(crate) fn run_shutdown(&self) -> &RunShutdown {
        &self.shutdown
    }

    /// The Unix socket files the host created for this run (see [`crate::socket_files`]).
    pub fn socket_files(&self) -> &SocketFiles {
        &self.socket_files
    }

    /// The provider waits for a shutdown request (`wasio:host/shutdown.requested`).
    pub(crate) fn provider_watches(&self) {
        self.shutdown.advance(ProviderPhase::Watching);
    }

    /// The provider closed everything after the request (`wasio:host/shutdown.finished`).
    pub(crate) fn provider_finished(&self) {
        self.shutdown.advance(ProviderPhase::Finished);
    }

    /// The app asks that its run, if it fails, end with `status` (`wasio:host/exit`).
    pub(crate) fn set_exit_status(&mut self, status: u8) {
        self.exit_status = Some(status);
    }

    /// The exit status of a run whose `run` returned an error: the one the app asked for, or 1
    /// (also for 0: a failed run never succeeds).
    pub fn failure_status(&self) -> i32 {
        match self.exit_status {
            Some(0) | None => 1,
            Some(status) => i32::from(status),
        }
    }

    /// The run's resource limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The run's total linear memory as it goes (a shared handle).
    pub fn memory_usage(&self) -> MemoryUsage {
        self.memory.clone()
    }

    /// The wasmtime resource limiter enforcing [`Limits::max_memory`]; [`crate::run()`] installs
    /// it in the store.
    pub fn limiter(&mut self) -> &mut MemoryLimiter {
        &mut self.limiter
    }

    /// The run's socket budget ([`Limits::max_connections`]): every socket the app holds, whichever
    /// interface opened it.
    pub fn socket_budget(&self) -> &SocketBudget {
        &self.sockets
    }

    /// Keeps `permit` for the socket resource at table index `rep` until
    /// [`release_permit`](Self::release_permit).
    pub(crate) fn hold_permit(&mut self, rep: u32, permit: Permit) {
        self.permits.insert(rep, permit);
    }

    /// Frees the place of the socket resource at `rep` (its destructor runs).
    pub(crate) fn release_permit(&mut self, rep: u32) {
        self.permits.remove(&rep);
    }

    /// Where refused network and Unix path uses are reported, once each ([`crate::denials`]).
    pub fn denials(&self) -> &Denials {
        &self.denials
    }

    /// The run's network grants.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The run's Unix path grants, holding the granted directories: the check behind every Unix
    /// path the app connects to or listens on.
    pub(crate) fn unix_grants(&self) -> &HeldGrants {
        &self.unix_grants
    }

    /// Adds a pre-opened listener for the app to adopt; its socket file joins the run's
    /// [`socket_files`](Self::socket_files).
    pub fn add_preopened(&mut self, listener: Preopened) {
        if let Some(file) = listener.socket_file() {
            self.socket_files.add(file);
        }
        self.preopened.push(listener);
    }

    /// Takes the pre-opened listeners not adopted yet.
    pub(crate) fn take_preopened(&mut self) -> Vec<Preopened> {
        std::mem::take(&mut self.preopened)
    }

    /// Keeps a socket file guard until the run ends.
    pub(crate) fn keep_file(&mut self, file: SocketFileGuard) {
        self.files.push(file);
    }
}

/// What the `wasio:host` interfaces operate on: wasio's host state plus the store's resource
/// table (shared with wasmtime-wasi, so host sockets and WASI resources live side by side).
pub struct WasioHostView<'a> {
    /// wasio's host state.
    pub ctx: &'a mut WasioHostCtx,
    /// The store's resource table.
    pub table: &'a mut ResourceTable,
}

/// A store data type that wasio's linker can serve: WASI (p2 and p3) through [`WasiView`], and
/// the `wasio:host` interfaces through [`host`](Self::host).
pub trait WasioView: WasiView + 'static {
    /// wasio's host state and the resource table.
    fn host(&mut self) -> WasioHostView<'_>;
}

/// The ready-made store data type for running wasio components.
pub struct WasioCtx {
    wasi: WasiCtx,
    table: ResourceTable,
    host: WasioHostCtx,
}

impl WasioCtx {
    /// Starts a builder: no args, no env, no stdio, no network.
    pub fn builder() -> WasioCtxBuilder {
        WasioCtxBuilder::new()
    }

    /// wasio's host state.
    pub fn host_ctx(&self) -> &WasioHostCtx {
        &self.host
    }

    /// The run's total linear memory as it goes: take this handle before the run to watch it.
    pub fn memory_usage(&self) -> MemoryUsage {
        self.host.memory_usage()
    }

    /// The handle that asks the run to shut down gracefully: take a clone before the run and
    /// call [`Shutdown::request`] to end it (see [`crate::shutdown`]).
    pub fn shutdown(&self) -> Shutdown {
        self.host.shutdown().clone()
    }

    /// The Unix socket files the host creates for the run: take a clone before the run to
    /// remove them however it ends ([`SocketFiles::remove_all`]).
    pub fn socket_files(&self) -> SocketFiles {
        self.host.socket_files().clone()
    }
}

impl WasiView for WasioCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasioView for WasioCtx {
    fn host(&mut self) -> WasioHostView<'_> {
        WasioHostView {
            ctx: &mut self.host,
            table: &mut self.table,
        }
    }
}

/// Builds a [`WasioCtx`]. Everything is off by default: no args, no env, stdin closed, stdout and
/// stderr discarded, no network; the resource limits are [`Limits::default`].
pub struct WasioCtxBuilder {
    wasi: WasiCtxBuilder,
    capabilities: Capabilities,
    preopened: Vec<Preopened>,
    limits: Limits,
    shutdown: Option<Shutdown>,
    socket_files: Option<SocketFiles>,
    share: Option<ListenerShare>,
    budget: Option<SocketBudget>,
}

impl Default for WasioCtxBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl WasioCtxBuilder {
    /// A builder with everything off.
    pub fn new() -> Self {
        Self {
            wasi: WasiCtxBuilder::new(),
            capabilities: Capabilities::deny_all(),
            preopened: Vec::new(),
            limits: Limits::default(),
            shutdown: None,
            socket_files: None,
            share: None,
            budget: None,
        }
    }

    /// Sets the app's arguments; the first is its name (argv\[0\]).
    pub fn args(mut self, args: &[impl AsRef<str>]) -> Self {
        self.wasi.args(args);
        self
    }

    /// Adds one environment variable.
    pub fn env(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.wasi.env(key, value);
        self
    }

    /// Adds environment variables.
    pub fn envs(mut self, vars: &[(impl AsRef<str>, impl AsRef<str>)]) -> Self {
        self.wasi.envs(vars);
        self
    }

    /// Connects the app's stdin, stdout and stderr to the host process's.
    pub fn inherit_stdio(mut self) -> Self {
        self.wasi.inherit_stdio();
        self
    }

    /// Sends the app's stdout to `stdout` (for example a [`crate::capture::LineCapture`]).
    pub fn stdout(mut self, stdout: impl StdoutStream + 'static) -> Self {
        self.wasi.stdout(stdout);
        self
    }

    /// Sends the app's stderr to `stderr`.
    pub fn stderr(mut self, stderr: impl StdoutStream + 'static) -> Self {
        self.wasi.stderr(stderr);
        self
    }

    /// Sets the network grants (replacing earlier ones).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Sets every resource limit (replacing earlier ones); see [`crate::limits`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Caps the run's total linear memory at `bytes` (`None`: no cap; `--max-memory`).
    pub fn max_memory(mut self, bytes: Option<u64>) -> Self {
        self.limits.max_memory = bytes;
        self
    }

    /// Caps the sockets open at once, whichever interface opens them (`None`: no cap;
    /// `--max-connections`; see [`crate::socket_budget`]).
    pub fn max_connections(mut self, connections: Option<u32>) -> Self {
        self.limits.max_connections = connections;
        self
    }

    /// Sets the largest write queue of a connection (`--write-queue-cap`).
    pub fn write_queue_cap(mut self, bytes: u64) -> Self {
        self.limits.write_queue_cap = bytes;
        self
    }

    /// Ends the run after `timeout` of wall-clock time (`None`: never; `--timeout`).
    pub fn timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.limits.timeout = timeout;
        self
    }

    /// Lets the app read the host directory `host_dir`, which it sees at `guest_dir` (`wasio run
    /// --dir HOST_DIR::GUEST_DIR`): it may list the directory and read the files under it, and
    /// may not create, change or remove anything there (wasmtime-wasi's read-only preopen). Apps
    /// see no files without such a grant; a Python app reads its TLS certificates through one.
    /// The directory is opened now, so the grant is the directory found now. Errors: `host_dir`
    /// cannot be opened as a directory.
    pub fn read_only_dir(
        mut self,
        host_dir: impl AsRef<Path>,
        guest_dir: &str,
    ) -> anyhow::Result<Self> {
        let host_dir = host_dir.as_ref();
        if let Err(e) = self
            .wasi
            .preopened_dir(host_dir, guest_dir, FsPerms::ReadOnly)
        {
            anyhow::bail!("cannot open {} as a directory: {e}", host_dir.display());
        }
        Ok(self)
    }

    /// Hands a listener the host opened ([`Preopened::open`]) to the app, which adopts it with
    /// `preopened-servers` (`wasio run --listen`).
    pub fn preopen(mut self, listener: Preopened) -> Self {
        self.preopened.push(listener);
        self
    }

    /// Lets `shutdown` ask the run to shut down gracefully (by default the context makes its own
    /// handle; see [`WasioCtx::shutdown`]).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Keeps the Unix socket files the host creates for the run in `files` (by default a
    /// registry of the run's own; see [`WasioCtx::socket_files`]).
    pub fn socket_files(mut self, files: SocketFiles) -> Self {
        self.socket_files = Some(files);
        self
    }

    /// Makes this run one of several workers of the same app that share their listeners
    /// through `share` (see [`crate::listener_share`]): give every worker's context a clone.
    pub fn share_listeners(mut self, share: ListenerShare) -> Self {
        self.share = Some(share);
        self
    }

    /// Counts this run's sockets in `budget` (see [`crate::socket_budget`]) instead of a budget
    /// of its own, so that several workers' sockets together stay within one
    /// `--max-connections`. Overrides the limit [`limits`](Self::limits) sets.
    pub fn socket_budget(mut self, budget: SocketBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Direct access to the underlying WASI builder, for settings this builder does not wrap
    /// (writable preopened directories, clocks, ...). Network settings made here are overridden
    /// by the capabilities in [`build`](Self::build).
    pub fn wasi_mut(&mut self) -> &mut WasiCtxBuilder {
        &mut self.wasi
    }

    /// Builds the context, installing the capabilities into the WASI socket checks.
    pub fn build(mut self) -> WasioCtx {
        let mut host = WasioHostCtx::with_shutdown(
            self.capabilities.clone(),
            self.limits,
            self.shutdown.unwrap_or_default(),
            self.socket_files.unwrap_or_default(),
        );
        if let Some(budget) = self.budget {
            host.sockets = budget;
        }
        host.sharing = self
            .share
            .map(|share| std::sync::Mutex::new(Sharing::new(share)));
        self.capabilities
            .apply(&mut self.wasi, host.socket_budget(), host.denials());
        for listener in self.preopened {
            host.add_preopened(listener);
        }
        WasioCtx {
            wasi: self.wasi.build(),
            table: ResourceTable::new(),
            host,
        }
    }
}
