//! `wasio`: run components that use asyncio-style streams (`wasio:streams`) on WASI 0.3.
//!
//! One module per part of the command line: [`args`] (every clap type), [`run`] (`wasio run`),
//! [`compose`] (`wasio compose`), [`demo`] (`wasio demo`), [`interrupts`] (SIGINT and SIGTERM
//! during a run), [`files`] (reading the files the command line names) and [`logging`] (the
//! host's events on stderr).

/// `eprintln!` that cannot panic: when stderr is closed or broken (its reader gone), the message
/// is lost instead of the thread that wrote it. The signal handler's thread must live on to
/// stop the run: with `eprintln!` it died at its first message, and SIGTERM then never ended a
/// run whose stderr pipe had been closed.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod compose;
mod demo;
mod files;
mod interrupts;
mod logging;
mod run;

use std::process::ExitCode;

use clap::Parser as _;
use wasio_host::python_app;

use args::{Cli, Command};
use files::read_script;
use interrupts::Interrupts;
use run::python_cache;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    // One thread, as asyncio's loop: an I/O event wakes the run on the thread that polls for
    // it, with no cross-thread hand-over (which cost a Python echo server ~20% more CPU per
    // request). Signals are handled on a thread of their own (`Interrupts`).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            say!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => exit_code(code),
        Err(e) => {
            say!("error: {}", sentence(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error chain as the one line the user reads, without the "(os error N)" that Rust adds
/// to an OS error's words (which already say what happened).
pub(crate) fn sentence(error: &anyhow::Error) -> String {
    let mut text = format!("{error:#}");
    while let Some(start) = text.find(" (os error ") {
        let Some(len) = text[start..].find(')') else {
            break;
        };
        text.replace_range(start..=start + len, "");
    }
    text
}

/// A process exit status from an app's code (exit statuses are 8 bits; other codes become 1).
fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Carries out `command`, catching SIGINT and SIGTERM unless it runs nothing.
async fn dispatch(command: Command) -> anyhow::Result<i32> {
    // Composing runs nothing: Ctrl-C keeps ending it at once.
    if let Command::Compose { app, output } = &command {
        return compose::compose_app(app, output);
    }
    let interrupts = Interrupts::install()?;
    let ended = execute(command, &interrupts).await;
    interrupts.finish(ended)
}

/// Carries out `command`; `interrupts` shuts its runs down.
async fn execute(command: Command, interrupts: &Interrupts) -> anyhow::Result<i32> {
    match command {
        Command::Run(args) => run::run(args, interrupts).await,
        Command::Build { script, output } => {
            let source = read_script(&script)?;
            python_app::build(&script, &source, &output, python_cache(false).as_deref())?;
            Ok(0)
        }
        Command::Compose { app, output } => compose::compose_app(&app, &output),
        Command::Demo {
            example: None,
            flags,
        } => demo::demo(&flags, interrupts).await,
        Command::Demo {
            flags,
            example: Some(example),
        } => demo::example(example, &flags, interrupts).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_without_os_error_numbers() {
        let io = std::io::Error::from_raw_os_error(21);
        let e = anyhow::Error::new(io).context("writing out.wasm");
        assert_eq!(sentence(&e), "writing out.wasm: Is a directory");
    }
}
