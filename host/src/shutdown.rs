//! Graceful shutdown of a run: what `wasio run` does on SIGINT / SIGTERM, and what an embedder
//! asks for with a [`Shutdown`] handle.
//!
//! A run's shutdown goes through the phases of [`ProviderPhase`]: the provider component starts
//! waiting in `wasio:host/shutdown.requested` when the app opens its first server or connection;
//! [`Shutdown::request`] resolves that wait; the provider then closes every server and
//! connection through the same code as the app's own `close` calls (stops accepting, removes
//! the socket files it made, flushes each write queue), so that the app's waits end and its run
//! returns; and it reports `finished` once all of them are fully closed. [`crate::run()`] waits
//! for the app's run to return and, when the provider was watching, for `finished`; all of it
//! within the handle's grace period ([`Shutdown::grace`], [`DEFAULT_GRACE`] unless set), after
//! which the run is stopped ([`Exit::ShutdownTimedOut`](crate::Exit::ShutdownTimedOut)).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// How long a run may take to end after a shutdown request before it is stopped: long enough
/// to flush write queues to peers that read, short enough for someone pressing Ctrl-C.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3);

/// Asks runs to shut down gracefully. Give a clone to each run's context
/// ([`WasioCtxBuilder::shutdown`](crate::WasioCtxBuilder::shutdown)), or take the one a context
/// made ([`WasioCtx::shutdown`](crate::WasioCtx::shutdown)), and call
/// [`request`](Self::request) from anywhere (a signal handler task, another run, a test):
///
/// ```no_run
/// # async fn demo(runtime: wasio_host::Runtime, app: wasmtime::component::Component) -> anyhow::Result<()> {
/// let shutdown = wasio_host::Shutdown::new();
/// let ctx = wasio_host::WasioCtx::builder().shutdown(shutdown.clone()).build();
/// let run = tokio::spawn(async move { runtime.run(&app, ctx).await });
/// // ... later, e.g. on Ctrl-C:
/// shutdown.request();
/// // The run ends within shutdown.grace() (3 s by default).
/// let exit = run.await??;
/// # Ok(()) }
/// ```
///
/// The request reaches the app through the provider: every server it runs is closed (so
/// `accept` and `serve_forever` end), every connection is closed after its write queue is
/// flushed (so waiting reads see EOF), and opening new ones fails with `closed`. An app that
/// waits on something else (a timer, a plain `wasi:sockets` socket, nothing) is stopped when
/// the grace period is over.
#[derive(Clone, Debug)]
pub struct Shutdown {
    /// When the shutdown was requested; `None` until then.
    requested: Arc<watch::Sender<Option<Instant>>>,
    grace: Duration,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A handle with the [`DEFAULT_GRACE`] period.
    pub fn new() -> Self {
        Self::with_grace(DEFAULT_GRACE)
    }

    /// A handle whose runs get `grace` to end after the request.
    pub fn with_grace(grace: Duration) -> Self {
        Self {
            requested: Arc::new(watch::Sender::new(None)),
            grace,
        }
    }

    /// How long a run may take to end after the request before it is stopped.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Asks every run holding this handle to shut down gracefully. Later calls change nothing
    /// (the grace period counts from the first).
    pub fn request(&self) {
        self.requested.send_if_modified(|at| {
            if at.is_some() {
                return false;
            }
            *at = Some(Instant::now());
            true
        });
    }

    /// Whether [`request`](Self::request) was called.
    pub fn is_requested(&self) -> bool {
        self.requested.borrow().is_some()
    }

    /// Resolves once the shutdown is requested (at once if it was); returns when.
    pub async fn requested(&self) -> Instant {
        let mut rx = self.requested.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let at = match rx.wait_for(Option::is_some).await {
            Ok(at) => *at,
            Err(_) => None,
        };
        at.unwrap_or_else(Instant::now)
    }

    /// Resolves when the grace period after the request is over.
    pub(crate) async fn grace_over(&self) {
        let at = self.requested().await;
        // A grace too long for the clock never ends.
        match at.checked_add(self.grace) {
            Some(end) => tokio::time::sleep_until(end).await,
            None => std::future::pending().await,
        }
    }
}

/// What the provider of one run has done about a shutdown: a state machine moving forward only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ProviderPhase {
    /// The provider does not wait for a request (the app opened nothing through it yet, or the
    /// component has no provider): nothing to wait for after the app's run.
    Unaware,
    /// The provider waits in `requested`, or closes everything after it resolved.
    Watching,
    /// The provider called `finished`: everything it opened is closed.
    Finished,
}

/// One run's side of a shutdown: the handle that requests it and how far the provider got.
#[derive(Debug)]
pub(crate) struct RunShutdown {
    handle: Shutdown,
    phase: watch::Sender<ProviderPhase>,
}

impl RunShutdown {
    pub(crate) fn new(handle: Shutdown) -> Self {
        Self {
            handle,
            phase: watch::Sender::new(ProviderPhase::Unaware),
        }
    }

    pub(crate) fn handle(&self) -> &Shutdown {
        &self.handle
    }

    /// Follows the provider's phase (for [`crate::run()`]).
    pub(crate) fn phase(&self) -> watch::Receiver<ProviderPhase> {
        self.phase.subscribe()
    }

    /// Moves the provider's phase forward to `to` (never back).
    pub(crate) fn advance(&self, to: ProviderPhase) {
        self.phase.send_if_modified(|phase| {
            if *phase >= to {
                return false;
            }
            *phase = to;
            true
        });
    }
}

/// After the app's run returned during a shutdown: waits until the provider has closed
/// everything, if it was watching (the caller bounds this by the grace period).
pub(crate) async fn provider_finished(mut phase: watch::Receiver<ProviderPhase>) {
    if *phase.borrow() == ProviderPhase::Unaware {
        return;
    }
    // The sender lives in the store, which outlives this wait.
    let _ = phase.wait_for(|p| *p == ProviderPhase::Finished).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_grace_period_counts_from_the_first_request() {
        let shutdown = Shutdown::with_grace(Duration::from_secs(2));
        assert!(!shutdown.is_requested());
        let waiter = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { shutdown.requested().await }
        });
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        shutdown.request();
        assert!(shutdown.is_requested());
        let at = waiter.await.ok();
        assert_eq!(at, Some(start + Duration::from_secs(1)));
        tokio::time::sleep(Duration::from_secs(1)).await;
        shutdown.request();
        shutdown.grace_over().await;
        assert_eq!(Instant::now(), start + Duration::from_secs(3));
    }

    #[tokio::test]
    async fn the_provider_phase_only_moves_forward() {
        let run = RunShutdown::new(Shutdown::new());
        // Nothing to wait for while the provider never watched.
        provider_finished(run.phase()).await;
        run.advance(ProviderPhase::Watching);
        let waiting = tokio::spawn(provider_finished(run.phase()));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        run.advance(ProviderPhase::Finished);
        run.advance(ProviderPhase::Watching);
        assert_eq!(*run.phase().borrow(), ProviderPhase::Finished);
        assert!(waiting.await.is_ok());
    }
}
