//! The write queue: bytes `write` accepted and the socket has not taken yet, with its water marks
//! and a hard cap (better than CPython gh-116279, whose buffer grows until memory runs out).

use crate::WaterMarks;

/// A write was refused because the queue would exceed its hard cap; nothing was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

/// Queued bytes plus the chunk in flight to the socket.
#[derive(Debug)]
pub struct WriteQueue {
    queued: Vec<u8>,
    in_flight: usize,
    cap: usize,
    marks: WaterMarks,
}

impl WriteQueue {
    /// An empty queue with a hard cap of `cap` bytes; allocates nothing until written to.
    pub fn new(cap: usize) -> Self {
        Self {
            queued: Vec::new(),
            in_flight: 0,
            cap,
            marks: WaterMarks::default(),
        }
    }

    /// Queues all `parts` as one write, or none of them if the cap would be exceeded.
    pub fn push(&mut self, parts: &[&[u8]]) -> Result<(), QueueFull> {
        let add: usize = parts.iter().map(|p| p.len()).sum();
        self.admit(add)?;
        self.queued.reserve(add);
        for part in parts {
            self.queued.extend_from_slice(part);
        }
        Ok(())
    }

    /// Queues `data` as one write, or refuses it as [`WriteQueue::push`] does. Into an empty queue
    /// the vector itself is queued, without a copy: the write path then holds at most the batch
    /// in flight and the one queued behind it, about twice the high-water mark.
    pub fn push_vec(&mut self, data: Vec<u8>) -> Result<(), QueueFull> {
        self.admit(data.len())?;
        if self.queued.is_empty() && !data.is_empty() {
            self.queued = data;
        } else {
            self.queued.extend_from_slice(&data);
        }
        Ok(())
    }

    /// Whether a write of `add` bytes fits under the cap (checked before the bytes are fetched).
    pub fn admits(&self, add: usize) -> bool {
        self.admit(add).is_ok()
    }

    /// Refuses a write of `add` bytes that would take the queue past its cap.
    fn admit(&self, add: usize) -> Result<(), QueueFull> {
        if self.size().saturating_add(add) > self.cap {
            return Err(QueueFull);
        }
        Ok(())
    }

    /// Bytes queued or in flight (asyncio `get_write_buffer_size`).
    pub fn size(&self) -> usize {
        self.queued.len() + self.in_flight
    }

    /// Bytes of memory the queue stands for: the queued storage (with its spare room) and the
    /// batch in flight.
    pub fn held(&self) -> usize {
        self.queued.capacity() + self.in_flight
    }

    /// True when nothing is queued and nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.size() == 0
    }

    /// True when bytes are queued and not yet handed to the socket.
    pub fn has_queued(&self) -> bool {
        !self.queued.is_empty()
    }

    /// True while a batch handed to the sender is not fully taken by the socket.
    pub fn has_in_flight(&self) -> bool {
        self.in_flight > 0
    }

    /// Hands everything queued to the sender; the queue starts again with no allocation, so a
    /// batch's memory is freed once it is sent rather than kept for the next. The bytes count as
    /// in flight until [`WriteQueue::sent`].
    pub fn take(&mut self) -> Vec<u8> {
        let batch = std::mem::take(&mut self.queued);
        self.in_flight += batch.len();
        batch
    }

    /// Records that `n` in-flight bytes were taken by the socket (or dropped).
    pub fn sent(&mut self, n: usize) {
        self.in_flight = self.in_flight.saturating_sub(n);
    }

    /// Drops everything queued and in flight (abort, connection lost).
    pub fn clear(&mut self) {
        self.queued = Vec::new();
        self.in_flight = 0;
    }

    /// The water marks.
    pub fn marks(&self) -> WaterMarks {
        self.marks
    }

    /// Sets the water marks.
    pub fn set_marks(&mut self, marks: WaterMarks) {
        self.marks = marks;
    }

    /// Above the high-water mark: `drain` must wait.
    pub fn above_high(&self) -> bool {
        self.size() as u64 > self.marks.high
    }

    /// At or below the low-water mark: waiting drains are released.
    pub fn at_or_below_low(&self) -> bool {
        self.size() as u64 <= self.marks.low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_refuses_whole_write() {
        let mut q = WriteQueue::new(10);
        assert_eq!(q.push(&[b"12345", b"678"]), Ok(()));
        assert_eq!(q.push(&[b"abc"]), Err(QueueFull));
        assert_eq!(q.size(), 8);
        let chunk = q.take();
        assert_eq!(chunk, b"12345678");
        assert_eq!(q.size(), 8);
        q.sent(5);
        assert_eq!(q.size(), 3);
        q.sent(3);
        assert!(q.is_empty());
    }

    #[test]
    fn watermarks() {
        let mut q = WriteQueue::new(1 << 20);
        q.set_marks(WaterMarks { high: 4, low: 2 });
        assert_eq!(q.push(&[b"12345"]), Ok(()));
        assert!(q.above_high());
        let chunk = q.take();
        q.sent(chunk.len() - 2);
        assert!(q.at_or_below_low());
    }
}
