//! `wasio run`: an app composed if needed, compiled and run with inherited stdio, and how its end
//! is reported.

use std::path::PathBuf;

use anyhow::Context as _;
use wasio_host::capture::LineCapture;
use wasio_host::compile_cache;
use wasio_host::embedded;
use wasio_host::python_app;
use wasio_host::run::trap_report;
use wasio_host::socket_budget::SocketBudget;
use wasio_host::workers;
use wasio_host::{
    Capabilities, Exit, ListenerShare, Preopened, Runtime, WasioCtx, WasioCtxBuilder,
};
use wasmtime::component::Component;

use crate::args::{RunArgs, RunFlags};
use crate::files::{read, read_script};
use crate::interrupts::Interrupts;

/// Composes (if needed) and compiles an app.
pub(crate) fn prepare(runtime: &Runtime, app: &[u8]) -> anyhow::Result<Component> {
    let prepared = embedded::prepare(app)?;
    runtime.compile(&prepared)
}

/// Reports how an app ended and returns its exit status.
pub(crate) fn report(exit: Exit) -> i32 {
    report_labelled("", exit)
}

/// [`report`], each message starting with `label`.
fn report_labelled(label: &str, exit: Exit) -> i32 {
    match &exit {
        Exit::Trap(e) => say!("{label}error: the app trapped: {}", trap_report(e)),
        Exit::Timeout(_) | Exit::MemoryLimit(_) | Exit::ShutdownTimedOut(_) => {
            say!("{label}error: the app was {exit}")
        }
        Exit::Code(_) => {}
    }
    exit.code()
}

/// Where built Python components are kept: the compile cache directory, unless `--no-cache`.
pub(crate) fn python_cache(no_cache: bool) -> Option<PathBuf> {
    if no_cache {
        None
    } else {
        compile_cache::default_dir()
    }
}

/// `wasio run APP`: the app (a component, or a Python script built first) with the granted
/// capabilities, limits and listeners, and inherited stdio.
pub(crate) async fn run(args: RunArgs, interrupts: &Interrupts) -> anyhow::Result<i32> {
    // The directories are opened first: a missing one is reported before any slow build.
    let dirs = dir_grants(&args)?;
    let bytes = if python_app::is_script(&args.app) {
        let source = read_script(&args.app)?;
        python_app::component(
            &args.app,
            &source,
            python_cache(args.flags.no_cache).as_deref(),
        )?
    } else {
        read(&args.app)?
    };
    let mut caps = if args.allow_net {
        Capabilities::allow_all()
    } else {
        Capabilities::deny_all()
    };
    for p in &args.allow_connect {
        caps.allow_connect(*p);
    }
    for p in &args.allow_listen {
        caps.allow_listen(*p);
    }
    for g in &args.allow_unix {
        caps.allow_unix(g.clone());
    }
    let argv0 = args.app.file_name().map_or_else(
        || args.app.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut argv = vec![argv0];
    argv.extend(args.args.iter().cloned());
    let limits = args.flags.limits();
    let runtime = args.flags.runtime()?;
    let component =
        prepare(&runtime, &bytes).with_context(|| format!("preparing {}", args.app.display()))?;
    let mut preopened = Vec::new();
    for spec in &args.listen {
        let listener = Preopened::open(spec)?;
        say!(
            "wasio: listening on {} ({})",
            listener.local_address(),
            listener.name()
        );
        preopened.push(listener);
    }
    let base = |dirs: WasioCtxBuilder| {
        dirs.args(&argv)
            .capabilities(caps.clone())
            .limits(limits.clone())
    };
    if args.workers == 1 {
        let mut builder = interrupts.ctx(base(dirs).inherit_stdio());
        for listener in preopened {
            builder = builder.preopen(listener);
        }
        return Ok(report(runtime.run(&component, builder.build()).await?));
    }
    // Workers: one share of listeners and one socket budget for all of them.
    let share = ListenerShare::new(args.workers);
    let budget = SocketBudget::new(limits.max_connections);
    let mut dirs = Some(dirs);
    let exits = workers::run(
        &runtime,
        &component,
        args.workers,
        interrupts.shutdown(),
        |k| {
            let dirs = match dirs.take() {
                Some(dirs) => dirs,
                None => dir_grants(&args)?,
            };
            let mut builder = interrupts
                .ctx(base(dirs))
                .stdout(labelled(k, Output::Stdout))
                .stderr(labelled(k, Output::Stderr))
                .share_listeners(share.clone())
                .socket_budget(budget.clone());
            for listener in &preopened {
                builder = builder.preopen(
                    listener
                        .try_clone()
                        .with_context(|| format!("sharing {}", listener.name()))?,
                );
            }
            Ok(builder.build())
        },
    )
    .await?;
    // The run's status: the first worker's that did not end with 0; a trap or a limit is
    // reported with the worker's label.
    let mut status = 0;
    for (k, exit) in (1..).zip(exits) {
        let code = report_labelled(&format!("[worker {k}] "), exit);
        if status == 0 {
            status = code;
        }
    }
    Ok(status)
}

/// The `--dir` grants as a context builder (each worker opens them anew).
fn dir_grants(args: &RunArgs) -> anyhow::Result<WasioCtxBuilder> {
    let mut dirs = WasioCtx::builder();
    for grant in &args.dir {
        dirs = dirs
            .read_only_dir(&grant.host, &grant.guest)
            .map_err(|e| anyhow::anyhow!("--dir: {e}"))?;
    }
    Ok(dirs)
}

/// Which stream a worker's output goes to.
#[derive(Clone, Copy)]
enum Output {
    Stdout,
    Stderr,
}

/// Worker `k`'s stdout or stderr: the process's, each line starting with `[worker K] `.
fn labelled(k: usize, output: Output) -> LineCapture {
    LineCapture::with_sink(move |line| {
        use std::io::Write as _;
        // A closed or full terminal loses the line, as an app's own write error would.
        let _ = match output {
            Output::Stdout => writeln!(std::io::stdout().lock(), "[worker {k}] {line}"),
            Output::Stderr => writeln!(std::io::stderr().lock(), "[worker {k}] {line}"),
        };
    })
}

/// Runs a built-in example with inherited stdio.
pub(crate) async fn run_inherited(
    app: &[u8],
    argv: &[String],
    caps: Capabilities,
    flags: &RunFlags,
    interrupts: &Interrupts,
) -> anyhow::Result<i32> {
    let runtime = flags.runtime()?;
    let component = prepare(&runtime, app)?;
    let ctx = interrupts
        .ctx(
            WasioCtx::builder()
                .args(argv)
                .inherit_stdio()
                .capabilities(caps)
                .limits(flags.limits()),
        )
        .build();
    Ok(report(runtime.run(&component, ctx).await?))
}
