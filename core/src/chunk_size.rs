//! How many bytes a receive pump asks its transport for next.
//!
//! A pump's receive buffer stays allocated while its read waits, so an idle connection holds
//! whatever the last request asked for. [`ChunkSizer`] keeps that small: it starts at
//! [`MIN_CHUNK`], grows eightfold after a read that filled its buffer (more is waiting: a bulk
//! transfer soon asks for [`MAX_CHUNK`] at a time), and drops back to the minimum after a read
//! that did not (the transport is drained; the next read is likely to wait).
//!
//! Over a transport that reports readiness ([`ChunkSizer::with_readiness`]: a socket, whose
//! zero-length read completes when bytes arrive) a drained transport is waited on with a
//! zero-length read instead, which holds no buffer, and the read after it asks for
//! [`READY_CHUNK`] and completes at once with whatever is there: one read per message up to
//! 64 KiB, where growing from the minimum took two at 1 KiB and four at 100 KiB.

/// The smallest request, and what an idle connection holds without readiness. 512 rather than
/// the earlier 2 KiB: with 2 000 idle connections that saved 1.5 KiB of linear memory each, and
/// ping-pong and bulk rates did not move beyond the noise.
pub const MIN_CHUNK: usize = 512;

/// The request after a zero-length read said bytes are there: the largest, since it completes
/// at once with what is there and so holds no buffer while idle. (4 KiB instead, growing
/// eightfold from there, halved the linked echo's 100 KiB requests/s over three connections.)
pub const READY_CHUNK: usize = MAX_CHUNK;

/// The largest request.
pub const MAX_CHUNK: usize = 64 * 1024;

/// Chooses receive request sizes between [`MIN_CHUNK`] and [`MAX_CHUNK`], and, over a
/// transport that reports readiness, when to wait with a zero-length read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSizer {
    next: usize,
    readiness: bool,
}

impl Default for ChunkSizer {
    fn default() -> Self {
        Self {
            next: MIN_CHUNK,
            readiness: false,
        }
    }
}

impl ChunkSizer {
    /// Starts at [`MIN_CHUNK`]; never asks for zero bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// For a transport whose zero-length read waits until bytes arrive: starts with one, and
    /// waits with one whenever a read found the transport drained.
    pub fn with_readiness() -> Self {
        Self {
            next: 0,
            readiness: true,
        }
    }

    /// The size of the next request; 0 asks for a zero-length read (wait for bytes).
    pub fn next(&self) -> usize {
        self.next
    }

    /// Records that a request for `requested` bytes returned `got`.
    pub fn record(&mut self, requested: usize, got: usize) {
        self.next = if got >= requested {
            requested.saturating_mul(8).clamp(MIN_CHUNK, MAX_CHUNK)
        } else if self.readiness {
            0
        } else {
            MIN_CHUNK
        };
    }

    /// Records that a zero-length read completed: bytes are there (or the stream ended).
    pub fn ready(&mut self) {
        self.next = READY_CHUNK;
    }
}

/// Whether a pump's spare receive buffer of `capacity` is too big to keep for a request of
/// `want` bytes (the sizer's [`next`](ChunkSizer::next), or less where flow control lowers it):
/// holding it while idle would waste memory, so the pump frees it. A zero-length wait keeps none.
pub fn too_big(capacity: usize, want: usize) -> bool {
    capacity > want.saturating_mul(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_while_reads_fill_and_resets_after_a_short_one() {
        let mut s = ChunkSizer::new();
        assert_eq!(s.next(), MIN_CHUNK);
        s.record(MIN_CHUNK, MIN_CHUNK);
        assert_eq!(s.next(), 4 * 1024);
        s.record(4 * 1024, 4 * 1024);
        assert_eq!(s.next(), 32 * 1024);
        s.record(32 * 1024, 32 * 1024);
        assert_eq!(s.next(), MAX_CHUNK);
        s.record(MAX_CHUNK, MAX_CHUNK);
        assert_eq!(s.next(), MAX_CHUNK);
        s.record(MAX_CHUNK, 100);
        assert_eq!(s.next(), MIN_CHUNK);
        s.record(MIN_CHUNK, 0);
        assert_eq!(s.next(), MIN_CHUNK);
    }

    #[test]
    fn a_larger_buffer_than_asked_counts_as_its_size() {
        let mut s = ChunkSizer::new();
        // A spare buffer bigger than the request was used whole, and filled.
        s.record(5000, 5000);
        assert_eq!(s.next(), MAX_CHUNK.min(40_000));
        assert!(too_big(2 * s.next() + 1, s.next()));
        assert!(!too_big(2 * s.next(), s.next()));
    }

    #[test]
    fn with_readiness_a_drained_transport_is_waited_on_with_a_zero_length_read() {
        let mut s = ChunkSizer::with_readiness();
        assert_eq!(s.next(), 0);
        s.ready();
        assert_eq!(s.next(), READY_CHUNK);
        // A message: one read, short, then a zero-length wait again.
        s.record(READY_CHUNK, 1024);
        assert_eq!(s.next(), 0);
        s.ready();
        // A bulk transfer reads the largest chunks until one comes short.
        s.record(READY_CHUNK, READY_CHUNK);
        assert_eq!(s.next(), MAX_CHUNK);
        s.record(MAX_CHUNK, 10);
        assert_eq!(s.next(), 0);
        // A zero-length wait never holds a buffer.
        assert!(too_big(1, s.next()));
    }
}
