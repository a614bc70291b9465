//! `futures::io::AsyncWrite` for [`Writer`], so futures-based code (e.g. `futures::io::copy`)
//! writes to wasio connections.
//!
//! - `poll_write` queues the whole buffer (asyncio `write`) and, when the queue is above the
//!   high-water mark, starts a drain that the next `poll_write` / `poll_flush` waits for: that is
//!   the back-pressure.
//! - `poll_flush` is asyncio `drain()`: it waits until the queue is at or below the low-water
//!   mark, not until it is empty.
//! - `poll_close` is `close()` then `wait_closed()`: everything queued is sent first.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::AsyncWrite;

use crate::error::Error;
use crate::options::nanos;
use crate::writer::{PendingUnit, Writer};

/// Polls a call kept in `slot` to its end, clearing the slot then.
fn poll_slot(slot: &mut Option<PendingUnit>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    let Some(call) = slot else {
        return Poll::Ready(Ok(()));
    };
    let Poll::Ready(result) = call.as_mut().poll(cx) else {
        return Poll::Pending;
    };
    *slot = None;
    Poll::Ready(result.map_err(|e| Error::from(e).into()))
}

impl Writer {
    /// Starts a drain unless the sync fast path says none is needed; its error if it has one.
    fn start_drain(&mut self) -> io::Result<()> {
        if self.draining.is_some() {
            return Ok(());
        }
        match self.inner.try_drain() {
            Some(result) => result.map_err(|e| Error::from(e).into()),
            None => {
                let inner = self.inner.clone();
                let timeout = nanos(self.timeout());
                self.draining = Some(Box::pin(async move { inner.drain(timeout).await }));
                Ok(())
            }
        }
    }
}

impl AsyncWrite for Writer {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match poll_slot(&mut this.draining, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        if let Err(e) = this.write(buf) {
            return Poll::Ready(Err(e.into()));
        }
        this.start_drain()?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.draining.is_none() {
            this.start_drain()?;
        }
        poll_slot(&mut this.draining, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Poll::Ready(drained) = poll_slot(&mut this.draining, cx) else {
            return Poll::Pending;
        };
        if this.closing.is_none() {
            drained?;
            this.close();
            let inner = this.inner.clone();
            let timeout = nanos(this.timeout());
            this.closing = Some(Box::pin(async move { inner.wait_closed(timeout).await }));
        }
        poll_slot(&mut this.closing, cx)
    }
}
