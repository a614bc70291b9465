//! SIGINT and SIGTERM during a run: a graceful shutdown first, then a hard stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{Signal, SignalKind, signal};
use wasio_host::{Shutdown, SocketFiles, WasioCtxBuilder};

/// What SIGINT and SIGTERM do to the runs of this process.
///
/// The first signal asks every run whose context was made with [`ctx`](Self::ctx) to shut down
/// gracefully (see `wasio_host::shutdown`): the provider closes the app's servers and
/// connections, so its run returns, and `wasio_host::run` stops a run that has not ended within
/// the grace period. A second signal, or a run stuck past the grace period (an app computing
/// without ever waiting holds its thread), makes the process exit at once from a task of its
/// own. Every path removes the Unix socket files the host created for the runs (if they are
/// still the ones it created) and exits with 128 + the signal's number.
#[derive(Clone)]
pub(crate) struct Interrupts {
    shutdown: Shutdown,
    files: SocketFiles,
    /// The exit status the first signal set (130 or 143); 0 while none came.
    status: Arc<AtomicI32>,
}

/// 128 + SIGINT, as a shell reports a process that Ctrl-C ended.
const SIGINT_STATUS: i32 = 130;
/// 128 + SIGTERM.
const SIGTERM_STATUS: i32 = 143;

/// How long after the grace period the process exits even if the run could not be stopped
/// (its thread busy in wasm); the run normally ends, or is stopped, before.
const HARD_STOP_MARGIN: Duration = Duration::from_secs(1);

impl Interrupts {
    /// Catches SIGINT and SIGTERM from now on (they no longer end the process at once).
    ///
    /// The signals are handled on a thread of their own: runs share the main thread's
    /// single-threaded runtime (no cross-thread wake-up per I/O event), and an app computing
    /// without ever waiting holds that thread, which must not keep the hard stop from happening.
    pub(crate) fn install() -> anyhow::Result<Self> {
        let interrupts = Self {
            shutdown: Shutdown::new(),
            files: SocketFiles::new(),
            status: Arc::new(AtomicI32::new(0)),
        };
        let this = interrupts.clone();
        let (caught, catching) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("wasio-signals".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("starting the signal handler's runtime");
                let runtime = match runtime {
                    Ok(runtime) => runtime,
                    Err(e) => return drop(caught.send(Err(e))),
                };
                runtime.block_on(async move {
                    let signals = signal(SignalKind::interrupt())
                        .context("catching SIGINT")
                        .and_then(|int| {
                            let term =
                                signal(SignalKind::terminate()).context("catching SIGTERM")?;
                            Ok((int, term))
                        });
                    let (mut int, mut term) = match signals {
                        Ok(signals) => {
                            let _ = caught.send(Ok(()));
                            signals
                        }
                        Err(e) => return drop(caught.send(Err(e))),
                    };
                    this.handle(&mut int, &mut term).await;
                });
            })
            .context("starting the signal handler's thread")?;
        catching
            .recv()
            .context("the signal handler's thread ended before it started")??;
        Ok(interrupts)
    }

    /// The first signal requests the graceful shutdown; a second one, or the grace period
    /// running out, ends the process.
    async fn handle(&self, int: &mut Signal, term: &mut Signal) {
        let (name, status) = next_signal(int, term).await;
        self.status.store(status, Ordering::SeqCst);
        let grace = self.shutdown.grace();
        if wasio_host::python_app::stop_build() {
            // No app runs yet: the build ends at once, and the process with it.
            say!("wasio: {name} received: stopping the build");
        } else {
            say!(
                "wasio: {name} received: closing the app's servers and connections (at most \
                 {grace:?}; {name} again stops it at once)"
            );
        }
        self.shutdown.request();
        tokio::select! {
            _ = next_signal(int, term) => {}
            () = tokio::time::sleep(grace + HARD_STOP_MARGIN) => {
                say!("wasio: the run did not end within {grace:?}; stopping it");
            }
        }
        self.files.remove_all();
        std::process::exit(status);
    }

    /// The shutdown handle every run of this process is built with.
    pub(crate) fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// `builder` with this process's shutdown handle and socket file registry.
    pub(crate) fn ctx(&self, builder: WasioCtxBuilder) -> WasioCtxBuilder {
        builder
            .shutdown(self.shutdown.clone())
            .socket_files(self.files.clone())
    }

    /// The process's exit status once its runs ended: after a signal, 130 or 143 (with the
    /// socket files removed), whatever the runs did; else `ended`'s.
    pub(crate) fn finish(&self, ended: anyhow::Result<i32>) -> anyhow::Result<i32> {
        let status = self.status.load(Ordering::SeqCst);
        if status == 0 {
            return ended;
        }
        self.files.remove_all();
        if let Err(e) = ended {
            say!("error: {}", crate::sentence(&e));
        }
        Ok(status)
    }
}

/// The next SIGINT or SIGTERM: its name and the exit status it calls for.
async fn next_signal(int: &mut Signal, term: &mut Signal) -> (&'static str, i32) {
    tokio::select! {
        _ = int.recv() => ("SIGINT", SIGINT_STATUS),
        _ = term.recv() => ("SIGTERM", SIGTERM_STATUS),
    }
}
