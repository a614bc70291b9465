//! Bounding a wait: every waiting operation takes an optional timeout, and the waits on a
//! reader, writer, server or timer can also be ended by that object's `interrupt` (for callers
//! that cannot drop an in-flight call). Either way the wait fails, with `timeout` or
//! `interrupted`, changing no state: the operations bounded here are cancel safe.
//!
//! [`Bounded`] is a hand-written future, not an `async fn`: an `async fn` keeps the future it
//! is given both as its argument and as the pinned local it polls (rust-lang/rust#62958), so each
//! level of nesting doubled what a waiting read holds (432 bytes for a 72-byte read, and again
//! in the provider's task): memory every idle connection keeps.

use crate::bindings::wasi::clocks::monotonic_clock;
use crate::types::ErrorCode;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use wasio_core::notify::Listen;

pin_project! {
    /// `fut`, ended with `ErrorCode::Timeout` by `sleep` and with `ErrorCode::Interrupted` by
    /// `interrupted`, whichever comes first; polled in that order, so a result that is ready
    /// wins.
    pub struct Bounded<'a, F, S> {
        #[pin]
        fut: F,
        #[pin]
        sleep: Option<S>,
        interrupted: Option<Listen<'a>>,
    }
}

impl<T, F, S> Future for Bounded<'_, F, S>
where
    F: Future<Output = Result<T, ErrorCode>>,
    S: Future<Output = ()>,
{
    type Output = Result<T, ErrorCode>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.fut.poll(cx) {
            return Poll::Ready(result);
        }
        if let Some(sleep) = this.sleep.as_pin_mut()
            && sleep.poll(cx).is_ready()
        {
            return Poll::Ready(Err(ErrorCode::Timeout));
        }
        if let Some(interrupted) = this.interrupted
            && Pin::new(interrupted).poll(cx).is_ready()
        {
            return Poll::Ready(Err(ErrorCode::Interrupted));
        }
        Poll::Pending
    }
}

/// Runs `fut`, giving up with `ErrorCode::Timeout` after `timeout` nanoseconds.
pub fn with_timeout<T, F>(
    timeout: Option<u64>,
    fut: F,
) -> Bounded<'static, F, impl Future<Output = ()>>
where
    F: Future<Output = Result<T, ErrorCode>>,
{
    new_bounded(timeout, None, fut)
}

/// [`with_timeout`], also giving up with `ErrorCode::Interrupted` when `interrupted` fires.
/// The caller listens on its object's interrupt `Notify` when the method is called, before its
/// future first runs, so that an `interrupt` made after the call always ends it, and one made
/// before never does.
pub fn bounded<'a, T, F>(
    timeout: Option<u64>,
    interrupted: Listen<'a>,
    fut: F,
) -> Bounded<'a, F, impl Future<Output = ()>>
where
    F: Future<Output = Result<T, ErrorCode>>,
{
    new_bounded(timeout, Some(interrupted), fut)
}

fn new_bounded<'a, T, F>(
    timeout: Option<u64>,
    interrupted: Option<Listen<'a>>,
    fut: F,
) -> Bounded<'a, F, impl Future<Output = ()>>
where
    F: Future<Output = Result<T, ErrorCode>>,
{
    Bounded {
        fut,
        sleep: timeout.map(monotonic_clock::wait_for),
        interrupted,
    }
}
