//! [`ReadAhead`]: whole lines `readline` took from the provider ahead of use.
//!
//! A line protocol would otherwise cost one cross-component call per line. `readline` asks the
//! provider for every whole line it has buffered at once (`try-readlines`) and hands them out here
//! one by one. The lines already passed the provider's `readline` rules (newline within the
//! limit), so handing them out needs no further checks. Every other read first puts what is left
//! back into the provider (`unread`), where its own rules apply, and `start_tls` passes it along
//! as `ahead`, so the bytes reach the TLS session as they would from the provider's buffer. The
//! [`Writer`](crate::Writer) of the same connection shares this buffer for that.
//!
//! Only the composed mode takes lines ahead ([`TAKES_AHEAD`]): in linked mode a `readline` is a
//! Rust call, so the library's read buffer is the only one.

use std::cell::RefCell;
use std::rc::Rc;

/// Whether `readline` takes whole lines ahead (composed mode: it saves a boundary crossing per
/// line).
pub(crate) const TAKES_AHEAD: bool = cfg!(feature = "composed");

/// The most bytes of whole lines one `try-readlines` hands over.
pub(crate) const LINE_BATCH: u64 = 64 * 1024;

/// Whole lines taken ahead, shared by a connection's reader and writer.
pub(crate) type SharedReadAhead = Rc<RefCell<ReadAhead>>;

/// Whole lines taken ahead and not handed out yet.
#[derive(Debug, Default)]
pub(crate) struct ReadAhead {
    bytes: Vec<u8>,
    /// How much of `bytes` is handed out.
    pos: usize,
}

impl ReadAhead {
    /// Bytes not handed out yet.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Keeps `lines` (whole lines, each ending with a newline) to hand out. Only called empty.
    pub(crate) fn fill(&mut self, lines: Vec<u8>) {
        debug_assert_eq!(self.len(), 0);
        self.bytes = lines;
        self.pos = 0;
    }

    /// The next line, through its newline.
    pub(crate) fn next_line(&mut self) -> Option<Vec<u8>> {
        let rest = &self.bytes[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n')? + 1;
        let line = rest[..end].to_vec();
        self.pos += end;
        if self.pos == self.bytes.len() {
            self.bytes = Vec::new();
            self.pos = 0;
        }
        Some(line)
    }

    /// Everything not handed out, emptying this.
    pub(crate) fn take_rest(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.drain(..std::mem::take(&mut self.pos));
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_lines_then_the_rest() {
        let mut ahead = ReadAhead::default();
        ahead.fill(b"one\ntwo\nthree\n".to_vec());
        assert_eq!(ahead.next_line().as_deref(), Some(&b"one\n"[..]));
        assert_eq!(ahead.len(), 10);
        assert_eq!(ahead.take_rest(), b"two\nthree\n");
        assert_eq!((ahead.len(), ahead.next_line()), (0, None));
        ahead.fill(b"a\n".to_vec());
        assert_eq!(ahead.next_line().as_deref(), Some(&b"a\n"[..]));
        assert_eq!(ahead.len(), 0);
    }
}
