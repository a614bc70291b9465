//! How an exported async function's task ends.
//!
//! wasmtime 48 keeps the record of a guest-to-guest async call forever (about 400 bytes of host
//! memory) when the callee returns *and* exits within its first run: the caller then gets the
//! result without a subtask handle, and the record's deletion waits on a `subtask.drop` that
//! never comes. A server that accepts a queued connection, or a `wait_closed` on a closed writer,
//! finishes at once, so host memory grew with every connection served.
//!
//! [`deferred`] keeps such a task alive for one more turn of the event loop after it returned.
//! The result is still delivered at once (the caller sees no difference and nothing can be
//! cancelled in between); the task exits on its next callback, after the caller took the result,
//! and wasmtime then deletes its record. A call that waited already has a subtask handle, so it
//! costs nothing extra.

use std::future::{Future, poll_fn};
use std::pin::pin;

/// Runs an export's body; when it finishes in its first poll, the task's exit is put off by one
/// yield so wasmtime frees the call's record.
pub async fn deferred<F: Future>(body: F) -> F::Output {
    let mut waited = false;
    let mut body = pin!(body);
    let output = poll_fn(|cx| {
        let poll = body.as_mut().poll(cx);
        waited |= poll.is_pending();
        poll
    })
    .await;
    if !waited {
        // Spawned into this export's task: the task exits only when it has run.
        wit_bindgen::spawn_local(wit_bindgen::yield_async());
    }
    output
}
