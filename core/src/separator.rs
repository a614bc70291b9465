//! Finding the first of several separators, asyncio-style: the match that ends first wins, and on a
//! tie the shorter separator.

/// A separator match in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Index of the separator's first byte.
    pub start: usize,
    /// Index one past its last byte.
    pub end: usize,
}

/// Searches `data` for the match with the smallest end among `separators`, considering only matches
/// that start at or after `from`. A tie on the end goes to the shorter separator, i.e. the later start.
pub fn find_first(data: &[u8], separators: &[Vec<u8>], from: usize) -> Option<Match> {
    let mut best: Option<Match> = None;
    for sep in separators {
        if sep.is_empty() || from > data.len() {
            continue;
        }
        // Only a match ending before the current best can improve it.
        let search_end = best.map_or(data.len(), |b| (b.end).min(data.len()));
        let hay = &data[from..search_end];
        if let Some(pos) = find(hay, sep) {
            let m = Match {
                start: from + pos,
                end: from + pos + sep.len(),
            };
            let better = match best {
                None => true,
                Some(b) => m.end < b.end || (m.end == b.end && m.start > b.start),
            };
            if better {
                best = Some(m);
            }
        }
    }
    best
}

/// First occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [] => Some(0),
        [byte] => hay.iter().position(|b| b == byte),
        [first, rest @ ..] => {
            let last_start = hay.len().checked_sub(needle.len())?;
            let mut i = 0;
            while i <= last_start {
                let pos = hay[i..=last_start].iter().position(|b| b == first)? + i;
                if &hay[pos + 1..pos + needle.len()] == rest {
                    return Some(pos);
                }
                i = pos + 1;
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seps(list: &[&[u8]]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.to_vec()).collect()
    }

    #[test]
    fn shortest_result_wins() {
        let m = find_first(b"ABCDEFG", &seps(&[b"DEF", b"BCDE"]), 0);
        assert_eq!(m, Some(Match { start: 1, end: 5 }));
    }

    #[test]
    fn tie_goes_to_shorter_separator() {
        let m = find_first(b"xxABC", &seps(&[b"ABC", b"C"]), 0);
        assert_eq!(m, Some(Match { start: 4, end: 5 }));
    }

    #[test]
    fn respects_from() {
        assert_eq!(
            find_first(b"a\nb\n", &seps(&[b"\n"]), 2),
            Some(Match { start: 3, end: 4 })
        );
        assert_eq!(find_first(b"a\n", &seps(&[b"\n"]), 3), None);
    }
}
