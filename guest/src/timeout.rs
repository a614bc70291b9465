//! Bounding a wait: every waiting operation takes an optional timeout (for callers that cannot
//! cancel an in-flight call) and fails with `timeout` when it runs out, changing no state.

use crate::bindings::exports::wasio::streams::types::ErrorCode;
use crate::bindings::wasi::clocks::monotonic_clock;
use futures::future::{Either, select};
use std::future::Future;
use std::pin::pin;

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
