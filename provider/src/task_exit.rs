//! How an exported async function's task ends.
//!
//! wasmtime 48 keeps the record of a guest-to-guest async call forever (about 400 bytes of host
//! memory) when the callee returns *and* exits within its first run: the caller then gets the
//! result without a subtask handle, and the record's deletion waits on a `subtask.drop` that
//! never comes. A server that accepts a queued connection, or a `wait_closed` on a closed writer,
//! finishes at once, so host memory grew with every connection served.
//!
//! [`deferred`] keeps such a task alive for one yield after it returned: the result is still
//! delivered at once (the caller sees no difference and nothing can be cancelled in between);
//! the task exits on its next callback, after the caller took the result, and wasmtime then
//! deletes its record. A call that waited already has a subtask handle, so it costs nothing
//! extra.
//!
//! wasmtime runs yielded tasks only when nothing else is ready, so an app that loops over calls
//! that finish at once, never waiting, would pile them up. Once [`MOST_WAITING`] tasks wait to
//! exit, the next call yields *before* it starts its work: its caller waits for it, and while it
//! waits wasmtime runs the older tasks' exits, which were queued first.
//!
//! A wasmtime 48 workaround: WORKAROUNDS.md, W1 (upstream status, when and how to remove it).

use pin_project_lite::pin_project;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The most tasks that may wait to exit before a call makes its caller wait.
const MOST_WAITING: usize = 64;

thread_local! {
    /// Tasks that returned and wait for their yield to exit.
    static WAITING: Cell<usize> = const { Cell::new(0) };
}

pin_project! {
    /// The future of [`deferred`]: a hand-written future, because an `async fn` would hold
    /// `body` twice (its argument and the pinned local it polls, rust-lang/rust#62958), and a
    /// waiting read's body is most of what an idle connection's provider task holds.
    pub struct Deferred<F, Y> {
        #[pin]
        body: F,
        // The yield made before the body starts while too many tasks wait to exit.
        #[pin]
        first: Option<Y>,
        waited: bool,
    }
}

/// Runs an export's body; when it finishes in its first poll, the task's exit is put off by one
/// yield, so wasmtime frees the call's record. Every export awaits the result at once, so the
/// count of waiting tasks is read when the body is about to start.
pub fn deferred<F: Future>(body: F) -> Deferred<F, impl Future<Output = ()>> {
    // Nothing is done before this yield, so a cancel during it loses nothing.
    let first = (WAITING.get() >= MOST_WAITING).then(wit_bindgen::yield_async);
    Deferred {
        body,
        waited: first.is_some(),
        first,
    }
}

impl<F: Future, Y: Future<Output = ()>> Future for Deferred<F, Y> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        if let Some(first) = this.first.as_mut().as_pin_mut() {
            if first.poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.first.set(None);
        }
        let Poll::Ready(output) = this.body.poll(cx) else {
            *this.waited = true;
            return Poll::Pending;
        };
        if !*this.waited {
            WAITING.set(WAITING.get() + 1);
            // Spawned into this export's task: the task exits only when it has run.
            wit_bindgen::spawn_local(async {
                wit_bindgen::yield_async().await;
                WAITING.set(WAITING.get().saturating_sub(1));
            });
        }
        Poll::Ready(output)
    }
}
