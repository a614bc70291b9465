//! Running a component's `wasi:cli/run@0.3.0`, and how its run ended.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use wasmtime::component::Type;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p3::bindings::Command;

use crate::WasmtimeContext as _;
use crate::compose::RUN_EXPORT;
use crate::ctx::WasioView;
use crate::limits::{DeadlineExceeded, MemoryLimitExceeded};

/// The exit status a trapped app gets, as a native process killed by SIGABRT (128 + 6); the
/// same convention as the wasmtime CLI.
pub const TRAP_EXIT_CODE: i32 = 134;

/// The exit status of a run that reached its time limit (`--timeout`), as coreutils' `timeout`.
pub const TIMEOUT_EXIT_CODE: i32 = 124;

/// The exit status of a run stopped at its memory limit (`--max-memory`), as a native process
/// killed for memory (128 + SIGKILL).
pub const MEMORY_LIMIT_EXIT_CODE: i32 = 137;

/// The exit status of a run stopped because it did not end within the grace period after a
/// shutdown request ([`crate::shutdown`]), as a native process interrupted by Ctrl-C
/// (128 + SIGINT). `wasio` exits with 130 or 143 after SIGINT or SIGTERM however the run ended.
pub const SHUTDOWN_EXIT_CODE: i32 = 130;

/// How often the epoch advances while a run with a deadline executes wasm; the deadline is
/// checked at each tick, so a busy app is stopped at most this late.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How an app's run ended.
#[derive(Debug)]
pub enum Exit {
    /// `run` returned `ok` (code 0) or `err` (code 1, or the status the app asked for with
    /// `wasio:host/exit.set-status`), or the app called `wasi:cli/exit` with this code.
    Code(i32),
    /// The app trapped (or a host call it made failed fatally); the error says where.
    Trap(anyhow::Error),
    /// The run reached its time limit ([`Limits::timeout`](crate::limits::Limits::timeout)) and
    /// was stopped.
    Timeout(Duration),
    /// The run's linear memory would have grown beyond its limit
    /// ([`Limits::max_memory`](crate::limits::Limits::max_memory)); it was stopped there.
    MemoryLimit(MemoryLimitExceeded),
    /// A graceful shutdown was requested ([`Shutdown::request`](crate::Shutdown::request)) and
    /// the run had not ended when the grace period (this long) was over; it was stopped.
    ShutdownTimedOut(Duration),
}

impl Exit {
    /// The process exit status for this ending: the app's code, or [`TRAP_EXIT_CODE`].
    pub fn code(&self) -> i32 {
        match self {
            Self::Code(code) => *code,
            Self::Trap(_) => TRAP_EXIT_CODE,
            Self::Timeout(_) => TIMEOUT_EXIT_CODE,
            Self::MemoryLimit(_) => MEMORY_LIMIT_EXIT_CODE,
            Self::ShutdownTimedOut(_) => SHUTDOWN_EXIT_CODE,
        }
    }

    /// Whether the app succeeded (code 0).
    pub fn success(&self) -> bool {
        self.code() == 0
    }

    fn from_error(error: wasmtime::Error) -> Self {
        if let Some(I32Exit(code)) = error.downcast_ref::<I32Exit>() {
            return Self::Code(*code);
        }
        if let Some(DeadlineExceeded(timeout)) = error.downcast_ref::<DeadlineExceeded>() {
            return Self::Timeout(*timeout);
        }
        if let Some(hit) = error.downcast_ref::<MemoryLimitExceeded>() {
            return Self::MemoryLimit(hit.clone());
        }
        Self::Trap(anyhow::Error::from(error))
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "exited with code {code}"),
            Self::Trap(error) => write!(f, "trapped: {}", trap_report(error)),
            Self::Timeout(timeout) => write!(f, "stopped: {}", DeadlineExceeded(*timeout)),
            Self::MemoryLimit(hit) => write!(f, "stopped: {hit}"),
            Self::ShutdownTimedOut(grace) => write!(
                f,
                "stopped: the run did not end within {grace:?} of the shutdown request"
            ),
        }
    }
}

/// A trap as the user reads it: the error and its causes, one per line (the guest's message
/// and its wasm backtrace among them), never a Rust backtrace of the host (which anyhow's
/// Debug form would add with `RUST_BACKTRACE` set, making a guest trap look like a host crash).
pub fn trap_report(error: &anyhow::Error) -> String {
    let mut report = error.to_string();
    let causes: Vec<String> = error.chain().skip(1).map(|c| c.to_string()).collect();
    if !causes.is_empty() {
        report.push_str("\n\nCaused by:");
        for cause in causes {
            for (i, line) in cause.lines().enumerate() {
                report.push_str(if i == 0 { "\n    " } else { "\n      " });
                report.push_str(line);
            }
        }
    }
    report
}

/// Checks that `component` exports `wasi:cli/run@0.3.0` as wasio calls it (an instance with a
/// `run` function taking nothing and returning a bare `result`), explaining what is wrong
/// otherwise.
fn check_run_export<T>(linker: &Linker<T>, component: &Component) -> anyhow::Result<()> {
    let engine = linker.engine();
    let ty = component.component_type();
    let mut exports = Vec::new();
    for (name, item) in ty.exports(engine) {
        if name == RUN_EXPORT {
            return check_run_instance(engine, &item.ty);
        }
        exports.push(name.to_owned());
    }
    if let Some(p2) = exports.iter().find(|n| n.starts_with("wasi:cli/run@0.2")) {
        bail!(
            "the component exports `{p2}`, a WASI 0.2 command; wasio runs WASI 0.3 apps, which \
             export `{RUN_EXPORT}`"
        );
    }
    bail!(
        "the component does not export `{RUN_EXPORT}` (it exports: {})",
        if exports.is_empty() {
            "nothing".to_owned()
        } else {
            exports.join(", ")
        }
    )
}

/// What kind of item a component export is, in words.
fn kind_of(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentFunc(_) => "a function",
        ComponentItem::CoreFunc(_) => "a core function",
        ComponentItem::Module(_) => "a core module",
        ComponentItem::Component(_) => "a component",
        ComponentItem::ComponentInstance(_) => "an instance",
        ComponentItem::Type(_) => "a type",
        ComponentItem::Resource(_) => "a resource",
    }
}

/// Checks the item exported as `wasi:cli/run@0.3.0`.
fn check_run_instance(engine: &wasmtime::Engine, item: &ComponentItem) -> anyhow::Result<()> {
    let ComponentItem::ComponentInstance(instance) = item else {
        bail!(
            "the component exports `{RUN_EXPORT}` as {}, not as an instance of the interface \
             (with a `run` function)",
            kind_of(item)
        );
    };
    let mut names = Vec::new();
    for (name, item) in instance.exports(engine) {
        if name != "run" {
            names.push(name.to_owned());
            continue;
        }
        let ComponentItem::ComponentFunc(func) = &item.ty else {
            bail!(
                "the component's `{RUN_EXPORT}` exports `run` as {}, not as a function",
                kind_of(&item.ty)
            );
        };
        let params = func.params().len();
        let results: Vec<Type> = func.results().collect();
        let bare_result = matches!(
            results.as_slice(),
            [Type::Result(r)] if r.ok().is_none() && r.err().is_none()
        );
        if params != 0 || !bare_result {
            bail!(
                "the `run` function of the component's `{RUN_EXPORT}` has the wrong type: it \
                 must take no parameters and return a bare `result`, and it takes {params} \
                 parameter(s) and returns {}",
                match results.as_slice() {
                    [] => "nothing".to_owned(),
                    [Type::Result(_)] => "a `result` with a payload".to_owned(),
                    [_] => "a value that is not a `result`".to_owned(),
                    more => format!("{} values", more.len()),
                }
            );
        }
        return Ok(());
    }
    bail!(
        "the component's `{RUN_EXPORT}` instance has no `run` function (it has: {})",
        if names.is_empty() {
            "nothing".to_owned()
        } else {
            names.join(", ")
        }
    )
}

/// Instantiates `component` in a new store holding `data` and calls its `wasi:cli/run@0.3.0`
/// inside [`Store::run_concurrent`], so the app's and the host's async work all proceeds.
///
/// The limits in `data`'s [`WasioHostCtx`](crate::ctx::WasioHostCtx) apply: its memory limiter
/// is the store's resource limiter, and with a timeout the run is stopped when it runs out
/// (while the app waits, and, on an engine with epoch interruption such as
/// [`Runtime::with_deadlines`](crate::Runtime::with_deadlines), while its wasm runs).
///
/// When the context's [`Shutdown`](crate::Shutdown) handle requests a graceful shutdown, the
/// provider closes the app's servers and connections (see [`crate::shutdown`]); once the app's
/// run has returned, this waits for the provider to have flushed and closed them, and returns
/// the app's ending. A run that has not ended when the handle's grace period is over is
/// stopped: [`Exit::ShutdownTimedOut`].
///
/// Returns how the app ended ([`Exit`]); an `Err` means it could not be started (no run export,
/// an import the linker lacks, ...). A memory limit already exceeded while instantiating is
/// [`Exit::MemoryLimit`].
pub async fn run<T: WasioView>(
    linker: &Linker<T>,
    component: &Component,
    mut data: T,
) -> anyhow::Result<Exit> {
    check_run_export(linker, component)?;
    let timeout = data.host().ctx.limits().timeout;
    let handles = handle_budget(data.host().ctx.limits().max_connections);
    let shutdown = data.host().ctx.shutdown().clone();
    let phase = data.host().ctx.run_shutdown().phase();
    let mut store = Store::new(linker.engine(), data);
    store.set_max_component_handles(handles);
    store.limiter(|data| {
        let ctx = data.host().ctx;
        ctx.limiter()
    });
    // A timeout beyond what the clock can represent never fires: no deadline, not a panic.
    let deadline =
        timeout.and_then(|timeout| Some((Instant::now().checked_add(timeout)?, timeout)));
    let ticker = match deadline {
        Some((deadline, timeout)) => {
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(move |_| {
                if Instant::now() >= deadline {
                    Err(wasmtime::Error::new(DeadlineExceeded(timeout)))
                } else {
                    // Let the host's tasks run too; the timer below stops an app that waits.
                    Ok(UpdateDeadline::Yield(1))
                }
            });
            Some(EpochTicker::start(linker.engine().clone()))
        }
        // An engine with epoch interruption traps at once at deadline 0: no deadline, no trap.
        // (Half the range: wasmtime adds the current epoch, which must not overflow.)
        None => {
            store.set_epoch_deadline(u64::MAX / 2);
            None
        }
    };
    let command = match Command::instantiate_async(&mut store, component, linker).await {
        Ok(command) => command,
        Err(error) if error.downcast_ref::<MemoryLimitExceeded>().is_some() => {
            return Ok(Exit::from_error(error));
        }
        Err(error) => return Err(error).wcontext("instantiating the component"),
    };
    let requested = shutdown.clone();
    let call = store.run_concurrent(async move |store| {
        let result = command.wasi_cli_run().call_run(store).await;
        if requested.is_requested() && result.is_ok() {
            // Still inside the store's event loop: the provider's tasks flush and close.
            crate::shutdown::provider_finished(phase).await;
        }
        result
    });
    let timed_out = async {
        match deadline {
            Some((deadline, timeout)) => {
                tokio::time::sleep_until(deadline.into()).await;
                Exit::Timeout(timeout)
            }
            None => std::future::pending().await,
        }
    };
    let shut_down = async {
        shutdown.grace_over().await;
        Exit::ShutdownTimedOut(shutdown.grace())
    };
    let result = tokio::select! {
        result = call => result,
        exit = timed_out => return Ok(exit),
        exit = shut_down => return Ok(exit),
    };
    drop(ticker);
    Ok(match result {
        Ok(Ok(Ok(()))) => Exit::Code(0),
        // `run` returned an error, or the app ended through `wasi:cli/exit` with one (a C
        // library's `exit(3)` on WASI can only say it failed): the status the app asked for.
        Ok(Ok(Err(()))) => Exit::Code(store.data_mut().host().ctx.failure_status()),
        Ok(Err(error)) | Err(error) => match Exit::from_error(error) {
            Exit::Code(1) => Exit::Code(store.data_mut().host().ctx.failure_status()),
            exit => exit,
        },
    })
}

/// Component-model handles one open connection may hold at once: its socket, streams and
/// futures, in-flight reads and writes, and the app's reader, writer and calls. The echo server
/// held about 13 each.
const HANDLES_PER_CONNECTION: usize = 32;

/// Handles for everything besides connections: wasmtime's own default budget of a store.
const BASE_HANDLES: usize = 100_000;

/// The store's live-handle budget for `max_connections` open connections. wasmtime's default
/// (100 000) trapped a server near 7 700 connections, below the connection limit; with no
/// connection limit there is no handle limit either (WORKAROUNDS.md, W3).
fn handle_budget(max_connections: Option<u32>) -> usize {
    max_connections.map_or(usize::MAX, |n| {
        BASE_HANDLES.saturating_add(HANDLES_PER_CONNECTION.saturating_mul(n as usize))
    })
}

/// Advances the engine's epoch while a run with a deadline goes on; stops when dropped. A thread
/// of its own, not a task: a busy app may hold the only thread of a current-thread runtime until
/// the epoch moves.
struct EpochTicker(Arc<AtomicBool>);

impl EpochTicker {
    fn start(engine: wasmtime::Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
        Self(stop)
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handle_budget_grows_with_the_connection_limit() {
        assert_eq!(handle_budget(Some(0)), BASE_HANDLES);
        assert_eq!(handle_budget(Some(16_384)), 100_000 + 32 * 16_384);
        assert_eq!(handle_budget(None), usize::MAX);
    }
    use crate::{Runtime, WasioCtx};

    /// A component whose `wasi:cli/run@0.3.0` runs `body` (core wasm returning the result's
    /// discriminant: 0 = ok, 1 = err).
    fn app(body: &str) -> String {
        format!(
            r#"(component
                (core module $m (func (export "run") (result i32) {body}))
                (core instance $i (instantiate $m))
                (func $run (result (result)) (canon lift (core func $i "run")))
                (instance $inst (export "run" (func $run)))
                (export "wasi:cli/run@0.3.0" (instance $inst)))"#
        )
    }

    async fn run_wat(wat: &str) -> anyhow::Result<Exit> {
        let runtime = Runtime::new()?;
        let component = Component::new(runtime.engine(), wat)?;
        runtime.run(&component, WasioCtx::builder().build()).await
    }

    #[tokio::test]
    async fn exit_codes_follow_the_app() -> anyhow::Result<()> {
        let ok = run_wat(&app("i32.const 0")).await?;
        assert!(matches!(ok, Exit::Code(0)) && ok.success(), "{ok}");
        let err = run_wat(&app("i32.const 1")).await?;
        assert!(matches!(err, Exit::Code(1)), "{err}");
        let trap = run_wat(&app("unreachable")).await?;
        assert!(matches!(trap, Exit::Trap(_)), "{trap}");
        assert_eq!(trap.code(), TRAP_EXIT_CODE);
        assert!(trap.to_string().contains("unreachable"), "{trap}");
        Ok(())
    }

    #[tokio::test]
    async fn deadlines_stop_busy_apps_and_leave_others_alone() -> anyhow::Result<()> {
        let runtime = Runtime::with_deadlines()?;
        let spin = Component::new(runtime.engine(), app("(loop $l (br $l)) i32.const 0"))?;
        let ok = Component::new(runtime.engine(), app("i32.const 0"))?;
        let timeout = std::time::Duration::from_millis(200);
        let ctx = WasioCtx::builder().timeout(Some(timeout)).build();
        let exit = runtime.run(&spin, ctx).await?;
        assert!(matches!(exit, Exit::Timeout(t) if t == timeout), "{exit}");
        assert_eq!(exit.code(), TIMEOUT_EXIT_CODE);
        // The epoch has advanced; a run without a deadline on the same engine is not stopped.
        runtime.engine().increment_epoch();
        let exit = runtime.run(&ok, WasioCtx::builder().build()).await?;
        assert!(matches!(exit, Exit::Code(0)), "{exit}");
        Ok(())
    }

    #[tokio::test]
    async fn a_component_without_run_is_refused_clearly() -> anyhow::Result<()> {
        let Err(e) = run_wat("(component)").await else {
            unreachable!("an empty component ran")
        };
        assert!(
            format!("{e:#}").contains("does not export `wasi:cli/run@0.3.0` (it exports: nothing)"),
            "{e:#}"
        );
        let p2 = app("i32.const 0").replace("run@0.3.0", "run@0.2.6");
        let Err(e) = run_wat(&p2).await else {
            unreachable!("a p2 command ran")
        };
        assert!(format!("{e:#}").contains("a WASI 0.2 command"), "{e:#}");
        // The right name on the wrong kind of item, or a `run` of the wrong type.
        let func = r#"(component
            (core module $m (func (export "run") (result i32) i32.const 0))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (export "wasi:cli/run@0.3.0" (func $run)))"#;
        let Err(e) = run_wat(func).await else {
            unreachable!("a run function ran as an instance")
        };
        assert!(
            format!("{e:#}")
                .contains("exports `wasi:cli/run@0.3.0` as a function, not as an instance"),
            "{e:#}"
        );
        let typed = app("i32.const 0").replace("(result (result))", "(result u32)");
        let Err(e) = run_wat(&typed).await else {
            unreachable!("a run returning u32 ran")
        };
        assert!(
            format!("{e:#}").contains("has the wrong type: it must take no parameters and return a bare `result`, and it takes 0 parameter(s) and returns a value that is not a `result`"),
            "{e:#}"
        );
        Ok(())
    }
}
