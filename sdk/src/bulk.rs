//! The bulk forms of `read` and `write` (the contract's `try-read-into` and `write-from`).
//!
//! The component model copies a `list<u8>` across the boundary element by element, but a
//! `stream<u8>` transfer as one memory copy. So from [`BULK_MIN`] bytes on, the SDK moves bytes
//! through a stream: it starts its side of the transfer, makes the provider's sync call (whose
//! side then completes at once), and collects the result without waiting. Below `BULK_MIN` the
//! list forms are cheaper, having no stream to set up.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wit_bindgen::StreamReader;

use crate::bindings::wasio::streams::streams as raw;
use crate::bindings::wasio::streams::types::ErrorCode;
use crate::bindings::wit_stream;

/// The size from which a read or write goes through a stream. Measured with `wasio-bench`'s
/// ping-pong: at 1 KiB the list form is faster, at 10 KiB the stream form.
pub(crate) const BULK_MIN: usize = 4096;

/// A hand-over that did not move what the provider reported: the bytes cannot be trusted.
fn mismatch() -> ErrorCode {
    ErrorCode::Other(Some(
        "bulk read: the stream moved a different byte count than the provider reported".into(),
    ))
}

/// `try-read` of up to `room` bytes through the reader's bulk channel (opened on first use).
/// `room` must not exceed what is buffered, so the read completes in one hand-over.
pub(crate) fn try_read(
    reader: &raw::Reader,
    channel: &mut Option<StreamReader<u8>>,
    room: usize,
) -> Option<Result<Vec<u8>, ErrorCode>> {
    let channel = channel.get_or_insert_with(|| reader.bulk_channel());
    wit_bindgen::block_on(async {
        let mut read = pin!(channel.read(Vec::with_capacity(room)));
        // Starts the read; it cannot complete before the provider writes.
        let early = match read.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(done) => Some(done),
            Poll::Pending => None,
        };
        let result = reader.try_read_into(room as u64);
        let (_, data) = match early {
            Some(done) => done,
            None => read.as_mut().cancel(),
        };
        match result {
            Some(Ok(0)) => Some(Ok(Vec::new())),
            Some(Ok(n)) if n == data.len() as u64 => Some(Ok(data)),
            Some(Ok(_)) => Some(Err(mismatch())),
            other => other.map(|r| r.map(|_| Vec::new())),
        }
    })
}

/// `write` of `data` through a stream handed to `write-from`.
pub(crate) fn write(writer: &raw::Writer, data: &[u8]) -> Result<(), ErrorCode> {
    let (mut tx, rx) = wit_stream::new::<u8>();
    wit_bindgen::block_on(async {
        let mut write = pin!(tx.write(data.to_vec()));
        // Starts the write; it cannot complete before the provider reads.
        let early = match write.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(done) => Some(done),
            Poll::Pending => None,
        };
        let result = writer.write_from(data.len() as u64, rx);
        // The provider took all the bytes, or none (an error, or a write dropped because the
        // connection is closing): either way the write is over.
        if early.is_none() {
            write.as_mut().cancel();
        }
        result
    })
}
