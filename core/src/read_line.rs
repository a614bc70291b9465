//! asyncio `StreamReader.readline()`.

use crate::read_until::read_until;
use crate::{Attempt, ReadBuffer, ReadError};

/// Tries `readline()` with the reader `limit`: a line through "\n"; at EOF the last partial line
/// (empty when none). On a limit overrun it discards, as asyncio does, through the newline when the
/// byte at `consumed` is one, otherwise the whole buffer, and reports the overrun.
pub fn read_line(buf: &mut ReadBuffer, limit: usize) -> Attempt<Result<Vec<u8>, ReadError>> {
    const NEWLINE: &[u8] = b"\n";
    match read_until(buf, &[NEWLINE.to_vec()], limit) {
        Attempt::Done(Err(ReadError::IncompleteRead { partial, .. })) => Attempt::Done(Ok(partial)),
        Attempt::Done(Err(ReadError::LimitOverrun { found, consumed })) => {
            let at = usize::try_from(consumed).unwrap_or(usize::MAX);
            if buf
                .as_slice()
                .get(at..)
                .is_some_and(|rest| rest.starts_with(NEWLINE))
            {
                buf.discard(at + NEWLINE.len());
            } else {
                buf.take_all();
            }
            Attempt::Done(Err(ReadError::LimitOverrun { found, consumed }))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_7_examples() {
        let mut b = ReadBuffer::new();
        b.extend_from_slice(b"1234567\n");
        assert_eq!(
            read_line(&mut b, 7),
            Attempt::Done(Ok(b"1234567\n".to_vec()))
        );
        b.extend_from_slice(b"12345678\n");
        assert!(matches!(
            read_line(&mut b, 7),
            Attempt::Done(Err(ReadError::LimitOverrun { .. }))
        ));
        assert!(b.is_empty());
    }

    #[test]
    fn limit_3_discards_through_newline() {
        let mut b = ReadBuffer::new();
        b.extend_from_slice(b"line1\nline2\n");
        assert!(matches!(
            read_line(&mut b, 3),
            Attempt::Done(Err(ReadError::LimitOverrun {
                found: true,
                consumed: 5
            }))
        ));
        assert_eq!(b.as_slice(), b"line2\n");
    }

    #[test]
    fn eof_gives_partial_then_empty() {
        let mut b = ReadBuffer::new();
        b.extend_from_slice(b"last");
        assert_eq!(read_line(&mut b, 100), Attempt::NeedMore);
        b.set_eof();
        assert_eq!(read_line(&mut b, 100), Attempt::Done(Ok(b"last".to_vec())));
        assert_eq!(read_line(&mut b, 100), Attempt::Done(Ok(vec![])));
    }
}
