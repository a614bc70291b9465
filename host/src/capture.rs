//! Capturing a component's stdout (or stderr) line by line, as it is written.
//!
//! [`LineCapture`] is a wasmtime-wasi [`StdoutStream`]: install it with
//! [`WasioCtxBuilder::stdout`](crate::ctx::WasioCtxBuilder::stdout). It serves both WASI p2 stdout
//! (what Rust's `println!` on wasm32-wasip2 uses, through wasmtime-wasi's default adapter over
//! [`StdoutStream::async_stream`]) and p3 stdout. Every complete line is delivered (on a channel,
//! or to any callback) as soon as its newline is written, so a host can react to output while the
//! component keeps running: the demo waits for the echo server's `Serving on ...` line this way,
//! and merges both components' lines into one channel to print them in order.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Where the lines of a capture go.
type Sink = Box<dyn Fn(String) + Send + Sync>;

/// The state every writer of one capture shares: the unfinished last line and the sink.
struct Shared {
    partial: Mutex<Vec<u8>>,
    sink: Sink,
}

impl Shared {
    fn write(&self, buf: &[u8]) {
        // A poisoned lock only means another writer panicked mid-append; the bytes are still a
        // plain buffer, so keep going with them.
        let mut partial = self.partial.lock().unwrap_or_else(|e| e.into_inner());
        partial.extend_from_slice(buf);
        while let Some(end) = partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            self.send(&line);
        }
    }

    fn send(&self, line: &[u8]) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        (self.sink)(String::from_utf8_lossy(line).into_owned());
    }
}

impl Drop for Shared {
    /// Delivers a last line that had no newline once the component's stdout is gone.
    fn drop(&mut self) {
        let partial = std::mem::take(self.partial.get_mut().unwrap_or_else(|e| e.into_inner()));
        if !partial.is_empty() {
            self.send(&partial);
        }
    }
}

/// A stdout/stderr for a component that delivers what it writes as lines (without the line
/// terminator; invalid UTF-8 replaced). A final unterminated line is delivered once the store
/// that owns the capture is dropped.
#[derive(Clone)]
pub struct LineCapture {
    shared: Arc<Shared>,
}

impl LineCapture {
    /// A new capture and the receiving end of its lines. The channel ends once the store that
    /// owns the capture is dropped.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        // Nobody listening any more is fine: the output is simply dropped.
        let capture = Self::with_sink(move |line| {
            let _ = tx.send(line);
        });
        (capture, rx)
    }

    /// A capture that calls `sink` with each line, in the order the component wrote them.
    /// `sink` runs inside the component's write call, so it must not block.
    pub fn with_sink(sink: impl Fn(String) + Send + Sync + 'static) -> Self {
        Self {
            shared: Arc::new(Shared {
                partial: Mutex::new(Vec::new()),
                sink: Box::new(sink),
            }),
        }
    }
}

impl IsTerminal for LineCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LineCapture {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            shared: self.shared.clone(),
        })
    }
}

/// One writer handle of a [`LineCapture`]; always ready, never blocks.
struct LineWriter {
    shared: Arc<Shared>,
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.shared.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn splits_lines_across_writes_and_writers() -> std::io::Result<()> {
        let (capture, mut rx) = LineCapture::new();
        let mut a = Box::into_pin(capture.async_stream());
        let mut b = Box::into_pin(capture.async_stream());
        a.write_all(b"Serving on 127.0.0.1:").await?;
        assert!(rx.try_recv().is_err(), "no line before the newline");
        b.write_all(b"4000\r\nsecond\nthi").await?;
        assert_eq!(
            rx.recv().await.as_deref(),
            Some("Serving on 127.0.0.1:4000")
        );
        assert_eq!(rx.recv().await.as_deref(), Some("second"));
        a.write_all(b"rd \xff").await?;
        drop((a, b, capture));
        assert_eq!(rx.recv().await.as_deref(), Some("third \u{fffd}"));
        assert_eq!(rx.recv().await, None, "the channel ends with the capture");
        Ok(())
    }
}
