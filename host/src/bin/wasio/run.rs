//! `wasio run`: an app composed if needed, compiled and run with inherited stdio, and how its end
//! is reported.

use std::path::PathBuf;

use anyhow::Context as _;
use wasio_host::compile_cache;
use wasio_host::embedded;
use wasio_host::python_app;
use wasio_host::run::trap_report;
use wasio_host::{Capabilities, Exit, Preopened, Runtime, WasioCtx};
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
    match &exit {
        Exit::Trap(e) => eprintln!("error: the app trapped: {}", trap_report(e)),
        Exit::Timeout(_) | Exit::MemoryLimit(_) | Exit::ShutdownTimedOut(_) => {
            eprintln!("error: the app was {exit}")
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
    let mut dirs = WasioCtx::builder();
    for grant in &args.dir {
        dirs = dirs
            .read_only_dir(&grant.host, &grant.guest)
            .map_err(|e| anyhow::anyhow!("--dir: {e}"))?;
    }
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
    for p in args.allow_connect {
        caps.allow_connect(p);
    }
    for p in args.allow_listen {
        caps.allow_listen(p);
    }
    for g in args.allow_unix {
        caps.allow_unix(g);
    }
    let argv0 = args.app.file_name().map_or_else(
        || args.app.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut argv = vec![argv0];
    argv.extend(args.args);
    let limits = args.flags.limits();
    let runtime = args.flags.runtime()?;
    let component =
        prepare(&runtime, &bytes).with_context(|| format!("preparing {}", args.app.display()))?;
    let mut builder = interrupts.ctx(
        dirs.args(&argv)
            .inherit_stdio()
            .capabilities(caps)
            .limits(limits),
    );
    for spec in &args.listen {
        let listener = Preopened::open(spec)?;
        eprintln!(
            "wasio: listening on {} ({})",
            listener.local_address(),
            listener.name()
        );
        builder = builder.preopen(listener);
    }
    let ctx = builder.build();
    Ok(report(runtime.run(&component, ctx).await?))
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
