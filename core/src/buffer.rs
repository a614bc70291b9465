//! The reader's byte buffer: one `Vec<u8>` with a consumed prefix, so taking bytes from the front
//! is cheap and storage is reused instead of reallocated per read.

/// Bytes received and not yet read, plus whether EOF was received.
#[derive(Debug, Default)]
pub struct ReadBuffer {
    storage: Vec<u8>,
    /// Bytes before `start` were consumed; the data is `storage[start..]`.
    start: usize,
    eof: bool,
}

impl ReadBuffer {
    /// An empty buffer; allocates nothing until bytes arrive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Buffered byte count.
    pub fn len(&self) -> usize {
        self.storage.len() - self.start
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffered bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.storage[self.start..]
    }

    /// True once EOF was received (bytes may still be buffered).
    pub fn eof(&self) -> bool {
        self.eof
    }

    /// Records EOF (asyncio `feed_eof`).
    pub fn set_eof(&mut self) {
        self.eof = true;
    }

    /// Runs `f` as if EOF had not been received, then restores the flag. A reader with a stored
    /// error uses this: the error takes EOF's place once the buffered bytes are read.
    pub fn without_eof<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let eof = std::mem::replace(&mut self.eof, false);
        let result = f(self);
        self.eof = eof;
        result
    }

    /// asyncio `at_eof`: EOF received and nothing left to read.
    pub fn at_eof(&self) -> bool {
        self.eof && self.is_empty()
    }

    /// Appends received bytes (asyncio `feed_data`).
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.compact();
        self.storage.extend_from_slice(bytes);
    }

    /// Appends a chunk that was received into `chunk`. When the buffer is empty the storage is
    /// swapped instead of copied; a chunk filled to less than half its capacity is shrunk to its
    /// bytes first, so a short receive into a large buffer does not keep the large buffer.
    /// Returns an empty vector (capacity kept) to receive into next.
    pub fn absorb(&mut self, mut chunk: Vec<u8>) -> Vec<u8> {
        if self.is_empty() {
            if chunk.len() < chunk.capacity() / 2 {
                chunk.shrink_to_fit();
            }
            self.start = 0;
            std::mem::swap(&mut self.storage, &mut chunk);
        } else {
            self.extend_from_slice(&chunk);
        }
        chunk.clear();
        chunk
    }

    /// Removes and returns the first `n` bytes (`n` is clamped to the buffered count).
    pub fn consume(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.len());
        if n == self.len() {
            return self.take_all();
        }
        let out = self.storage[self.start..self.start + n].to_vec();
        self.discard(n);
        out
    }

    /// Puts `bytes` back in front of what is buffered, as if they had never been consumed (a
    /// hand-over that the reader did not take). Reuses the consumed prefix when it has room.
    pub fn unread(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        if self.is_empty() {
            self.storage = bytes;
            self.start = 0;
        } else if self.start >= bytes.len() {
            self.start -= bytes.len();
            self.storage[self.start..self.start + bytes.len()].copy_from_slice(&bytes);
        } else {
            let mut joined = bytes;
            joined.extend_from_slice(self.as_slice());
            self.storage = joined;
            self.start = 0;
        }
    }

    /// Removes and returns everything buffered.
    pub fn take_all(&mut self) -> Vec<u8> {
        let out = if self.start == 0 {
            // Hand the storage over instead of copying; the next arrival allocates anew.
            std::mem::take(&mut self.storage)
        } else {
            self.storage[self.start..].to_vec()
        };
        self.clear();
        out
    }

    /// Drops the first `n` bytes (`n` is clamped to the buffered count).
    pub fn discard(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start == self.storage.len() {
            self.clear();
        }
    }

    /// Empties the buffer, keeping its capacity.
    fn clear(&mut self) {
        self.storage.clear();
        self.start = 0;
    }

    /// Frees the storage when nothing is buffered, so an idle connection holds no buffer.
    pub fn release_if_empty(&mut self) {
        if self.is_empty() {
            self.storage = Vec::new();
            self.start = 0;
        }
    }

    /// Bytes of storage the buffer holds (at least [`len`](Self::len)): what it costs in memory.
    pub fn capacity(&self) -> usize {
        self.storage.capacity()
    }

    /// Gives back storage the buffered bytes do not need (the consumed prefix, and spare room
    /// beyond a quarter of the data), so a connection whose reading is paused holds only its
    /// bytes. Frees everything when empty.
    pub fn trim(&mut self) {
        if self.is_empty() {
            self.release_if_empty();
            return;
        }
        if self.storage.capacity() - self.len() > self.len() / 4 {
            self.storage.drain(..self.start);
            self.start = 0;
            self.storage.shrink_to_fit();
        }
    }

    /// Moves the data to the front once the consumed prefix is at least half the storage, which keeps
    /// the amortised cost of front removal linear.
    fn compact(&mut self) {
        if self.start > 0 && self.start >= self.storage.len() / 2 {
            self.storage.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unread_restores_what_was_consumed() {
        let mut b = ReadBuffer::new();
        b.extend_from_slice(b"abcdefgh");
        // In place, into the consumed prefix.
        let head = b.consume(3);
        b.unread(head);
        assert_eq!(b.as_slice(), b"abcdefgh");
        // Into an empty buffer: the storage is taken as is.
        let all = b.consume(8);
        b.unread(all);
        assert_eq!(b.as_slice(), b"abcdefgh");
        // More than the consumed prefix holds.
        b.discard(2);
        b.unread(b"xyz".to_vec());
        assert_eq!(b.as_slice(), b"xyzcdefgh");
        b.unread(Vec::new());
        assert_eq!(b.as_slice(), b"xyzcdefgh");
        b.set_eof();
        let all = b.consume(100);
        b.unread(all);
        assert!(b.eof());
        assert_eq!(b.len(), 9);
    }

    #[test]
    fn consume_and_absorb_keep_order() {
        let mut b = ReadBuffer::new();
        let spare = b.absorb(b"hello ".to_vec());
        assert!(spare.is_empty());
        b.extend_from_slice(b"world");
        assert_eq!(b.consume(3), b"hel");
        let spare = b.absorb(b"!".to_vec());
        assert!(spare.is_empty());
        assert_eq!(b.as_slice(), b"lo world!");
        assert_eq!(b.take_all(), b"lo world!");
        assert!(b.is_empty());
        assert!(!b.at_eof());
        b.set_eof();
        assert!(b.at_eof());
    }

    #[test]
    fn without_eof_hides_and_restores_the_flag() {
        let mut b = ReadBuffer::new();
        b.set_eof();
        assert!(!b.without_eof(|b| b.eof()));
        assert!(b.eof());
    }

    #[test]
    fn a_short_chunk_is_absorbed_without_its_spare_room() {
        let mut b = ReadBuffer::new();
        let mut chunk = Vec::with_capacity(64 * 1024);
        chunk.extend_from_slice(b"short");
        let spare = b.absorb(chunk);
        assert!(spare.is_empty());
        assert_eq!(b.as_slice(), b"short");
        assert!(b.capacity() < 1024, "{}", b.capacity());
    }

    #[test]
    fn trim_keeps_the_bytes_and_drops_spare_storage() {
        let mut b = ReadBuffer::new();
        b.extend_from_slice(&[7; 1000]);
        b.extend_from_slice(&[8; 1000]);
        b.discard(1500);
        b.trim();
        assert_eq!(b.as_slice(), &[8; 500][..]);
        assert!(b.capacity() <= 500 + 500 / 4, "{}", b.capacity());
        // Appending after a trim still works.
        b.extend_from_slice(b"x");
        assert_eq!(b.len(), 501);
        b.discard(501);
        b.trim();
        assert_eq!(b.capacity(), 0);
    }

    #[test]
    fn consume_clamps() {
        let mut b = ReadBuffer::new();
        b.extend_from_slice(b"ab");
        assert_eq!(b.consume(10), b"ab");
        b.discard(5);
        assert!(b.is_empty());
    }
}
