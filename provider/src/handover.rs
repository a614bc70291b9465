//! Hand-over of bytes through a `stream<u8>` (`try-read-into`, `write-from`).
//!
//! The component model copies a `list<u8>` argument or result element by element, but a stream
//! transfer as one memory copy. The caller starts its side of the transfer before the call, so
//! the provider's side completes at once. The exports never wait: an operation that does not
//! complete at once (the caller did not do its part) is cancelled, and what it moved so far is
//! reported. Cancelling needs an async task (wasmtime traps a cancel in a sync one), which is why
//! these exports are `async`.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::Poll;
use wit_bindgen::{StreamReader, StreamWriter};

/// Polls `op` once: its output if it completed, else `None` (it is still in flight).
async fn poll_once<F: Future>(mut op: Pin<&mut F>) -> Option<F::Output> {
    poll_fn(|cx| {
        Poll::Ready(match op.as_mut().poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

/// Gives `data` to the reader already waiting on `tx`'s other end. Returns the bytes it did not
/// take, in order: all of them when nobody was reading.
pub async fn give(tx: &mut StreamWriter<u8>, data: Vec<u8>) -> Vec<u8> {
    let mut write = pin!(tx.write(data));
    let (_, rest) = match poll_once(write.as_mut()).await {
        Some(done) => done,
        None => write.as_mut().cancel(),
    };
    rest.into_vec()
}

/// Takes up to `n` bytes from the writer already waiting on `rx`'s other end; empty when nobody
/// was writing. The caller checks `n` against its limits first: this allocates `n` bytes.
pub async fn take(mut rx: StreamReader<u8>, n: usize) -> Vec<u8> {
    let mut read = pin!(rx.read(Vec::with_capacity(n)));
    let (_, data) = match poll_once(read.as_mut()).await {
        Some(done) => done,
        None => read.as_mut().cancel(),
    };
    data
}
