//! An in-memory one-way byte pipe that holds memory only while bytes wait in it.
//!
//! The TLS plumbing moves ciphertext and cleartext between tasks through such pipes.
//! `tokio::io::duplex` keeps the capacity its buffer once grew to for as long as the pipe lives,
//! so an idle TLS connection would keep each pipe's peak (up to its cap) after one burst. This pipe
//! frees its buffer whenever a read empties it, so its cap can be large enough for throughput
//! without costing idle connections anything.
//!
//! Ends behave as `DuplexStream`'s do: dropping or shutting down the writer is EOF for the reader
//! once the bytes already in the pipe are read; a write after the reader is gone fails with
//! `BrokenPipe`.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The smallest buffer a pipe allocates when bytes arrive in an empty pipe, so that a run of
/// small writes does not regrow it step by step.
const FIRST_ALLOCATION: usize = 8 * 1024;

/// A one-way pipe holding at most `capacity` bytes; writes wait while it is full.
pub fn pipe(capacity: usize) -> (PipeWriter, PipeReader) {
    let shared = Arc::new(Mutex::new(State {
        bytes: VecDeque::new(),
        capacity: capacity.max(1),
        writer_done: false,
        reader_gone: false,
        read_waker: None,
        write_waker: None,
    }));
    (
        PipeWriter {
            shared: shared.clone(),
        },
        PipeReader { shared },
    )
}

struct State {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// The writer was dropped or shut down: EOF once `bytes` is empty.
    writer_done: bool,
    /// The reader was dropped: writes fail.
    reader_gone: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

fn lock(shared: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state is plain data updated in place, never left half-changed by a panic, so a
    // poisoned lock still guards a consistent state.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(waker) = waker.take() {
        waker.wake();
    }
}

/// The reading end of a [`pipe`].
pub struct PipeReader {
    shared: Arc<Mutex<State>>,
}

impl AsyncRead for PipeReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut state = lock(&self.shared);
        if state.bytes.is_empty() {
            if state.writer_done || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            state.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.remaining().min(state.bytes.len());
        let (front, back) = state.bytes.as_slices();
        let from_front = n.min(front.len());
        buf.put_slice(&front[..from_front]);
        buf.put_slice(&back[..n - from_front]);
        if n == state.bytes.len() {
            state.bytes = VecDeque::new();
        } else {
            state.bytes.drain(..n);
        }
        wake(&mut state.write_waker);
        Poll::Ready(Ok(()))
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.reader_gone = true;
        state.bytes = VecDeque::new();
        wake(&mut state.write_waker);
    }
}

/// The writing end of a [`pipe`]; dropping it (or shutting it down) is EOF for the reader.
pub struct PipeWriter {
    shared: Arc<Mutex<State>>,
}

impl AsyncWrite for PipeWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = lock(&self.shared);
        if state.reader_gone || state.writer_done {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = state.capacity - state.bytes.len();
        if room == 0 {
            state.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        if state.bytes.capacity() == 0 {
            let first = n.max(FIRST_ALLOCATION).min(state.capacity);
            state.bytes.reserve_exact(first);
        }
        state.bytes.extend(&data[..n]);
        wake(&mut state.read_waker);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = lock(&self.shared);
        state.writer_done = true;
        wake(&mut state.read_waker);
        Poll::Ready(Ok(()))
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.writer_done = true;
        wake(&mut state.read_waker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_arrive_in_order_through_a_small_pipe() -> io::Result<()> {
        let (mut writer, mut reader) = pipe(7);
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let sent = data.clone();
        let send = tokio::spawn(async move {
            for chunk in sent.chunks(1000) {
                writer.write_all(chunk).await?;
            }
            io::Result::Ok(())
        });
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await?;
        send.await??;
        assert_eq!(got, data);
        Ok(())
    }

    #[tokio::test]
    async fn an_emptied_pipe_frees_its_buffer() -> io::Result<()> {
        let (mut writer, mut reader) = pipe(256 * 1024);
        writer.write_all(&[7u8; 200_000]).await?;
        assert!(lock(&reader.shared).bytes.capacity() >= 200_000);
        let mut buf = vec![0u8; 150_000];
        reader.read_exact(&mut buf).await?;
        assert!(lock(&reader.shared).bytes.capacity() >= 50_000);
        reader.read_exact(&mut buf[..50_000]).await?;
        assert_eq!(lock(&reader.shared).bytes.capacity(), 0);
        Ok(())
    }

    #[tokio::test]
    async fn a_full_pipe_makes_the_writer_wait_for_the_reader() -> io::Result<()> {
        let (mut writer, mut reader) = pipe(4);
        writer.write_all(b"abcd").await?;
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut writer).poll_write(&mut cx, b"e").is_pending());
        let mut two = [0u8; 2];
        reader.read_exact(&mut two).await?;
        writer.write_all(b"e").await?;
        drop(writer);
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await?;
        assert_eq!((&two, rest.as_slice()), (b"ab", &b"cde"[..]));
        Ok(())
    }

    #[tokio::test]
    async fn shutdown_and_drop_are_eof_after_the_bytes_and_a_gone_reader_breaks_writes()
    -> io::Result<()> {
        let (mut writer, mut reader) = pipe(64);
        writer.write_all(b"last").await?;
        writer.shutdown().await?;
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await?;
        assert_eq!(got, b"last");

        let (mut writer, reader) = pipe(64);
        drop(reader);
        let err = writer.write_all(b"x").await.err();
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::BrokenPipe));
        Ok(())
    }
}
