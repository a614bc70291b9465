//! Bounding a wait: every waiting operation takes an optional timeout, and the waits on a
//! reader, writer, server or timer can also be ended by that object's `interrupt` (for callers
//! that cannot drop an in-flight call). Either way the wait fails, with `timeout` or
//! `interrupted`, changing no state: the operations bounded here are cancel safe.

use crate::bindings::wasi::clocks::monotonic_clock;
use crate::types::ErrorCode;
use futures::future::{Either, select};
use std::future::Future;
use std::pin::pin;
use wasio_core::notify::Listen;

/// Runs `fut`, giving up with `ErrorCode::Timeout` after `timeout` nanoseconds.
pub async fn with_timeout<T>(
    timeout: Option<u64>,
    fut: impl Future<Output = Result<T, ErrorCode>>,
) -> Result<T, ErrorCode> {
    let Some(nanos) = timeout else {
        return fut.await;
    };
    let fut = pin!(fut);
    let sleep = pin!(monotonic_clock::wait_for(nanos));
    match select(fut, sleep).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(ErrorCode::Timeout),
    }
}

/// [`with_timeout`], also giving up with `ErrorCode::Interrupted` when `interrupted` fires.
/// The caller listens on its object's interrupt `Notify` when the method is called, before its
/// future first runs, so that an `interrupt` made after the call always ends it, and one made
/// before never does.
pub async fn bounded<T>(
    timeout: Option<u64>,
    interrupted: Listen<'_>,
    fut: impl Future<Output = Result<T, ErrorCode>>,
) -> Result<T, ErrorCode> {
    let fut = pin!(with_timeout(timeout, fut));
    match select(fut, pin!(interrupted)).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(ErrorCode::Interrupted),
    }
}
