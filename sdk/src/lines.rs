//! [`Lines`]: a reader's lines as a `futures::Stream` (asyncio's `async for line in reader`).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::error::Result;
use crate::options::nanos;
use crate::reader::{Op, Reader};

/// The lines of a [`Reader`], from [`Reader::lines`]: each `readline` result, including its
/// `"\n"` (the last line may lack it), until EOF. An error is yielded once and ends the stream.
///
/// Dropping the stream while a line is on its way loses nothing: the reader keeps it.
#[derive(Debug)]
pub struct Lines<'a> {
    /// The reader the lines come from.
    reader: &'a mut Reader,
    /// True after EOF or an error.
    done: bool,
}

impl<'a> Lines<'a> {
    /// The lines of `reader`.
    pub(crate) fn new(reader: &'a mut Reader) -> Self {
        Lines {
            reader,
            done: false,
        }
    }

    /// The next line: from what the reader already holds, the sync fast path, or a `readline`
    /// call kept in the reader until it finishes.
    fn poll_line(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<u8>>> {
        let reader = &mut *self.reader;
        if matches!(&reader.in_flight, Some((op, _)) if *op != Op::Line) {
            let Poll::Ready(()) = reader.poll_settle(cx) else {
                return Poll::Pending;
            };
        }
        if reader.in_flight.is_none() {
            if let Some(line) = reader.line_now() {
                return Poll::Ready(line);
            }
            let inner = reader.inner.clone();
            let timeout = nanos(reader.timeout());
            let call = Box::pin(async move { inner.readline(timeout).await });
            reader.in_flight = Some((Op::Line, call));
        }
        let Some((_, call)) = &mut reader.in_flight else {
            return Poll::Pending;
        };
        let Poll::Ready(result) = call.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        reader.in_flight = None;
        Poll::Ready(reader.prepend_taken(result))
    }
}

impl Stream for Lines<'_> {
    type Item = Result<Vec<u8>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let Poll::Ready(result) = this.poll_line(cx) else {
            return Poll::Pending;
        };
        match result {
            Ok(line) if line.is_empty() => {
                this.done = true;
                Poll::Ready(None)
            }
            Ok(line) => Poll::Ready(Some(Ok(line))),
            Err(e) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}
