//! Happy Eyeballs racing and address interleaving (asyncio's `staggered_race` and
//! `_interleave_addrinfos`), on a paused tokio clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::future::pending;
use std::time::Duration;
use tokio::time::{Instant, sleep};
use wasio_core::staggered::{interleave, staggered_race};

const DELAY: Duration = Duration::from_millis(250);

#[test]
fn interleave_alternates_families_after_the_first_count() {
    let addrs = vec!["a6", "b6", "c6", "x4", "y4"];
    let family = |a: &&str| a.ends_with('6');
    assert_eq!(
        interleave(addrs.clone(), 1, family),
        ["a6", "x4", "b6", "y4", "c6"]
    );
    assert_eq!(
        interleave(addrs.clone(), 2, family),
        ["a6", "b6", "x4", "c6", "y4"]
    );
    assert_eq!(interleave(vec!["x4", "y4"], 1, family), ["x4", "y4"]);
    assert!(interleave(Vec::<&str>::new(), 1, family).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_hanging_first_attempt_is_overtaken_after_the_delay() {
    let started = RefCell::new(Vec::new());
    let t0 = Instant::now();
    let result: Result<usize, Option<()>> = staggered_race(
        3,
        |i| {
            started.borrow_mut().push((i, t0.elapsed()));
            async move {
                if i == 0 {
                    pending::<()>().await;
                }
                sleep(Duration::from_millis(10)).await;
                Ok(i)
            }
        },
        || sleep(DELAY),
    )
    .await;
    assert_eq!(result, Ok(1));
    assert_eq!(*started.borrow(), [(0, Duration::ZERO), (1, DELAY)]);
    assert_eq!(t0.elapsed(), DELAY + Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn a_failure_starts_the_next_attempt_at_once() {
    let t0 = Instant::now();
    let result: Result<usize, Option<&str>> = staggered_race(
        2,
        |i| async move {
            sleep(Duration::from_millis(5)).await;
            if i == 0 { Err("refused") } else { Ok(i) }
        },
        || sleep(DELAY),
    )
    .await;
    assert_eq!(result, Ok(1));
    assert_eq!(t0.elapsed(), Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn all_failing_reports_the_last_error() {
    let result: Result<(), Option<usize>> = staggered_race(
        3,
        |i| async move {
            sleep(Duration::from_millis(1 + 100 * (3 - i as u64))).await;
            Err(i)
        },
        || sleep(DELAY),
    )
    .await;
    // Attempt 1 starts at 250 ms and fails at 451 ms; attempt 0 fails at 301 ms, which starts 2
    // at once; it fails at 402 ms. The last failure is attempt 1's.
    assert_eq!(result, Err(Some(1)));
}

#[tokio::test(start_paused = true)]
async fn the_first_success_wins_and_the_rest_are_dropped() {
    let dropped = RefCell::new(Vec::new());
    struct Guard<'a>(usize, &'a RefCell<Vec<usize>>);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            self.1.borrow_mut().push(self.0);
        }
    }
    let result: Result<usize, Option<()>> = staggered_race(
        3,
        |i| {
            let guard = Guard(i, &dropped);
            async move {
                let _guard = guard;
                // 0 is slow, 1 wins at 250 + 50, 2 starts at 500 - never: the race ends first.
                sleep(Duration::from_millis(if i == 0 { 10_000 } else { 50 })).await;
                Ok(i)
            }
        },
        || sleep(DELAY),
    )
    .await;
    assert_eq!(result, Ok(1));
    let mut dropped = dropped.into_inner();
    dropped.sort();
    assert_eq!(dropped, [0, 1]);
}

#[tokio::test(start_paused = true)]
async fn no_attempts_is_no_error() {
    let result: Result<(), Option<()>> =
        staggered_race(0, |_| async { Ok(()) }, || sleep(DELAY)).await;
    assert_eq!(result, Err(None));
}
