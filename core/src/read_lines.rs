//! Several `readline()`s at once, for a reader that keeps lines it was handed (wasio-sdk's
//! line read-ahead): one call hands over every whole line buffered instead of one call per line.

use crate::read_line::read_line;
use crate::{Attempt, ReadBuffer, ReadError};

/// How many leading bytes of `data` are whole lines that `readline()` with `limit` would return
/// one after the other (each through its "\n", the newline at most `limit` bytes into the line),
/// stopping before the line that would take the total past `max`, but never before the first.
/// 0 when the first line is not whole or breaks the limit.
pub fn whole_lines(data: &[u8], limit: usize, max: usize) -> usize {
    let mut end = 0;
    while let Some(at) = data[end..].iter().position(|&b| b == b'\n') {
        let line_end = end + at + 1;
        if at > limit || (end > 0 && line_end > max) {
            break;
        }
        end = line_end;
    }
    end
}

/// Tries `readline()` repeatedly: the whole lines buffered (see [`whole_lines`]), concatenated,
/// when there is at least one; otherwise exactly what one [`read_line`] does (need more, the last
/// partial line or empty at EOF, a limit overrun with its discarding).
pub fn read_lines(
    buf: &mut ReadBuffer,
    limit: usize,
    max: usize,
) -> Attempt<Result<Vec<u8>, ReadError>> {
    match whole_lines(buf.as_slice(), limit, max) {
        0 => read_line(buf, limit),
        n => Attempt::Done(Ok(buf.consume(n))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_stops_at_the_partial_tail_the_limit_and_max() {
        assert_eq!(whole_lines(b"ab\ncd\nef", 10, 100), 6);
        assert_eq!(whole_lines(b"ab\ncdefgh\nij\n", 3, 100), 3);
        assert_eq!(whole_lines(b"ab\ncd\nef\n", 10, 7), 6);
        assert_eq!(whole_lines(b"abcdef\ngh\n", 10, 2), 7);
        assert_eq!(whole_lines(b"abcdef", 10, 100), 0);
        assert_eq!(whole_lines(b"abcdef\n", 5, 100), 0);
        assert_eq!(whole_lines(b"abcde\n", 5, 100), 6);
    }

    #[test]
    fn without_a_whole_line_it_is_one_readline() {
        let mut b = ReadBuffer::new();
        b.extend_from_slice(b"partial");
        assert_eq!(read_lines(&mut b, 100, 100), Attempt::NeedMore);
        b.set_eof();
        assert_eq!(
            read_lines(&mut b, 100, 100),
            Attempt::Done(Ok(b"partial".to_vec()))
        );
        assert_eq!(read_lines(&mut b, 100, 100), Attempt::Done(Ok(vec![])));
    }
}
