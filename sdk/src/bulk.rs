//! The bulk forms of `read` and `write` (the contract's `try-read-into` and `write-from`).
//!
//! The component model copies a `list<u8>` across the boundary element by element, but a
//! `stream<u8>` transfer as one memory copy. So from `BULK_MIN` bytes on, the SDK moves bytes
//! through a stream: it starts its side of the transfer, makes the provider's call (which
//! completes that transfer at once and never waits), and collects the result. Below `BULK_MIN`
//! the list forms are cheaper, having no stream to set up.
//!
//! In linked mode there is no boundary: a read or write is one call at any size, so the bulk
//! forms are never chosen (`worth` is false) and only delegate.

#[cfg(feature = "composed")]
pub(crate) use composed::*;
#[cfg(not(feature = "composed"))]
pub(crate) use linked::*;

/// Through the provider's bulk channel and `write-from`.
#[cfg(feature = "composed")]
mod composed {
    use std::cell::Cell;
    use std::future::{Future, poll_fn};
    use std::pin::{Pin, pin};
    use std::task::Poll;

    use wit_bindgen::StreamReader;

    use crate::bindings::wit_stream;
    use crate::raw;
    use wasio_types::ErrorCode;

    /// The size from which a read or write goes through a stream. Measured with `wasio-bench`'s
    /// ping-pong: at 1 KiB the list form is faster, at 10 KiB the stream form.
    pub const BULK_MIN: usize = 4096;

    /// Whether `len` bytes go through a stream.
    pub fn worth(len: u64) -> bool {
        len >= BULK_MIN as u64
    }

    /// Polls `op` once, which starts a stream operation; `true` if it already finished.
    async fn start<F: Future>(mut op: Pin<&mut F>) -> bool {
        poll_fn(|cx| Poll::Ready(op.as_mut().poll(cx).is_ready())).await
    }

    /// `try-read` of up to `room` bytes through the reader's bulk channel, kept in `channel` between
    /// reads (opened on first use). The channel is out of its slot while the read runs: a read
    /// dropped half-way closes it, and the next one opens a new one. `room` must not exceed what is
    /// buffered, so the read completes in one hand-over.
    pub async fn try_read(
        reader: &raw::Reader,
        channel: &Cell<Option<StreamReader<u8>>>,
        room: usize,
    ) -> Option<Result<Vec<u8>, ErrorCode>> {
        let mut open = channel.take().unwrap_or_else(|| reader.bulk_channel());
        let handed = {
            let mut read = pin!(open.read(Vec::with_capacity(room)));
            if start(read.as_mut()).await {
                None
            } else {
                let result = reader.try_read_into(room as u64).await;
                // The hand-over, if any, is complete: this only collects it.
                let (_, data) = read.as_mut().cancel();
                Some((result, data))
            }
        };
        let Some((result, data)) = handed else {
            // The channel ended (something replaced it through the raw reader): it is dropped, and
            // a new one is opened next time.
            return Some(Err(ErrorCode::Other(Some("bulk channel ended".into()))));
        };
        channel.set(Some(open));
        match result {
            Some(Ok(n)) if n == data.len() as u64 => Some(Ok(data)),
            Some(Ok(_)) => Some(Err(ErrorCode::Other(Some(
                "bulk read: the stream moved a different byte count than the provider reported"
                    .into(),
            )))),
            Some(Err(e)) => Some(Err(e)),
            None => None,
        }
    }

    /// `write` of `data` through a stream handed to `write-from`.
    pub async fn write(writer: &raw::Writer, data: &[u8]) -> Result<(), ErrorCode> {
        let (mut tx, rx) = wit_stream::new::<u8>();
        let mut write = pin!(tx.write(data.to_vec()));
        let finished = start(write.as_mut()).await;
        let result = writer.write_from(data.len() as u64, rx).await;
        // The provider took all the bytes, or none (an error, or a write dropped because the
        // connection is closing): either way the write is over.
        if !finished {
            write.as_mut().cancel();
        }
        result
    }
}

/// Straight calls into wasio-streams.
#[cfg(not(feature = "composed"))]
mod linked {
    use crate::raw;
    use std::cell::Cell;
    use wasio_types::ErrorCode;
    use wit_bindgen::StreamReader;

    /// No size is worth a bulk form without a boundary.
    pub fn worth(_len: u64) -> bool {
        false
    }

    /// `try_read` of up to `room` bytes; `channel` is unused.
    pub async fn try_read(
        reader: &raw::Reader,
        _channel: &Cell<Option<StreamReader<u8>>>,
        room: usize,
    ) -> Option<Result<Vec<u8>, ErrorCode>> {
        reader.try_read(i64::try_from(room).unwrap_or(i64::MAX))
    }

    /// `write` of `data`.
    pub async fn write(writer: &raw::Writer, data: &[u8]) -> Result<(), ErrorCode> {
        writer.write(data)
    }
}
