//! RFC 8305 ("Happy Eyeballs") connection racing, as asyncio's `staggered_race`: attempts start
//! one after another, each `delay` after the previous one started or at once when the previous one
//! failed; the first to succeed wins and the others are dropped (which cancels them). Also
//! asyncio's address interleaving by family. Generic over the attempt and the timer, so it is
//! tested natively.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

/// Reorders `items` so families alternate (asyncio `_interleave_addrinfos`): the first family's
/// first `first_family_count - 1` items come first, then one of each family in turn.
pub fn interleave<T, K: PartialEq>(
    items: Vec<T>,
    first_family_count: usize,
    family: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut groups: Vec<(K, Vec<T>)> = Vec::new();
    for item in items {
        let key = family(&item);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.push(item),
            None => groups.push((key, vec![item])),
        }
    }
    let mut queues: Vec<std::collections::VecDeque<T>> =
        groups.into_iter().map(|(_, g)| g.into()).collect();
    let mut out = Vec::new();
    if let Some(first) = queues.first_mut() {
        for _ in 1..first_family_count {
            match first.pop_front() {
                Some(item) => out.push(item),
                None => break,
            }
        }
    }
    while queues.iter().any(|q| !q.is_empty()) {
        for queue in queues.iter_mut() {
            if let Some(item) = queue.pop_front() {
                out.push(item);
            }
        }
    }
    out
}

type Boxed<'a, O> = Pin<Box<dyn Future<Output = O> + 'a>>;

/// Races `count` attempts: `attempt(i)` starts attempt `i`; `sleep()` is the stagger delay. Returns
/// the first success, or the error of the attempt that failed last (`None` only when `count` is 0).
pub async fn staggered_race<'a, T, E, A, AF, S, SF>(
    count: usize,
    mut attempt: A,
    mut sleep: S,
) -> Result<T, Option<E>>
where
    A: FnMut(usize) -> AF,
    AF: Future<Output = Result<T, E>> + 'a,
    S: FnMut() -> SF,
    SF: Future<Output = ()> + 'a,
{
    let mut running: Vec<Boxed<'a, Result<T, E>>> = Vec::new();
    let mut next = 0;
    let mut timer: Option<Boxed<'a, ()>> = None;
    let mut last_error = None;
    loop {
        if running.is_empty() && next >= count {
            return Err(last_error);
        }
        if running.is_empty() || timer.is_none() && next < count {
            // Nothing running (start or all failed so far), or the timer fired: start the next.
            if next < count {
                running.push(Box::pin(attempt(next)));
                next += 1;
                timer = (next < count).then(|| Box::pin(sleep()) as Boxed<'a, ()>);
            }
        }
        let event = poll_fn(|cx| {
            for (i, fut) in running.iter_mut().enumerate() {
                if let Poll::Ready(result) = fut.as_mut().poll(cx) {
                    return Poll::Ready(Some((i, result)));
                }
            }
            if let Some(t) = timer.as_mut()
                && t.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await;
        match event {
            Some((_, Ok(value))) => return Ok(value),
            Some((i, Err(error))) => {
                drop(running.remove(i));
                last_error = Some(error);
                // A failure starts the next attempt at once.
                timer = None;
            }
            None => timer = None,
        }
    }
}
