//! How many bytes a receive pump asks its transport for next.
//!
//! A pump's receive buffer stays allocated while its read waits, so an idle connection holds
//! whatever the last request asked for. [`ChunkSizer`] keeps that small: it starts at
//! [`MIN_CHUNK`], grows eightfold after a read that filled its buffer (more is waiting: a bulk
//! transfer soon asks for [`MAX_CHUNK`] at a time), and drops back to the minimum after a read
//! that did not (the transport is drained; the next read is likely to wait).

/// The smallest request, and what an idle connection holds. 512 rather than the earlier 2 KiB:
/// with 2 000 idle connections that saved 1.5 KiB of linear memory each, and ping-pong and bulk
/// rates did not move beyond the noise (a 1 KiB message takes one more read, which completes at
/// once).
pub const MIN_CHUNK: usize = 512;

/// The largest request.
pub const MAX_CHUNK: usize = 64 * 1024;

/// Chooses receive request sizes between [`MIN_CHUNK`] and [`MAX_CHUNK`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSizer {
    next: usize,
}

impl Default for ChunkSizer {
    fn default() -> Self {
        Self { next: MIN_CHUNK }
    }
}

impl ChunkSizer {
    /// Starts at [`MIN_CHUNK`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The size of the next request.
    pub fn next(&self) -> usize {
        self.next
    }

    /// Records that a request for `requested` bytes returned `got`.
    pub fn record(&mut self, requested: usize, got: usize) {
        self.next = if got >= requested {
            requested.saturating_mul(8).clamp(MIN_CHUNK, MAX_CHUNK)
        } else {
            MIN_CHUNK
        };
    }

    /// Whether a spare buffer of `capacity` is too big to keep for a request of
    /// [`next`](Self::next) bytes: holding it while idle would waste memory.
    pub fn too_big(&self, capacity: usize) -> bool {
        capacity > 2 * self.next
    }
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
        assert!(s.too_big(2 * s.next() + 1));
        assert!(!s.too_big(2 * s.next()));
    }
}
