//! Unit and small property tests for the stateful pieces the read-operation model does not cover:
//! `ReadBuffer` storage handling (absorb, compaction, release), `ReadFlow` hysteresis and demand,
//! `WriteQueue` cap and in-flight accounting, `WaterMarks` construction, and the run-wide `Budget`
//! with the receive decision under it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;

use proptest::prelude::*;
use wasio_core::budget::{Budget, PRESSURE_CHUNK, Pull, READ_AHEAD, Transition, pull};
use wasio_core::flow::{Demand, ReadFlow};
use wasio_core::watermarks::DEFAULT_HIGH;
use wasio_core::{DEFAULT_WRITE_QUEUE_CAP, QueueFull, ReadBuffer, WaterMarks, WriteQueue};

// ---------------------------------------------------------------------------------------------
// ReadBuffer

#[test]
fn buffer_consume_zero_and_discard_zero_change_nothing() {
    let mut b = ReadBuffer::new();
    b.extend_from_slice(b"abc");
    assert_eq!(b.consume(0), b"");
    b.discard(0);
    assert_eq!(b.as_slice(), b"abc");
    let mut empty = ReadBuffer::new();
    assert_eq!(empty.consume(3), b"");
    assert_eq!(empty.take_all(), b"");
    empty.discard(3);
    assert!(empty.is_empty());
}

#[test]
fn buffer_absorb_into_empty_swaps_and_returns_old_storage() {
    let mut b = ReadBuffer::new();
    b.extend_from_slice(&[7u8; 100]);
    // Empty the buffer without handing the storage over (the prefix is consumed first).
    assert_eq!(b.consume(50), vec![7u8; 50]);
    assert_eq!(b.consume(50), vec![7u8; 50]);
    assert!(b.is_empty());
    let chunk = b"fresh".to_vec();
    let chunk_ptr = chunk.as_ptr();
    let spare = b.absorb(chunk);
    // The chunk's allocation became the buffer, and the old storage (capacity kept) came back.
    assert_eq!(b.as_slice().as_ptr(), chunk_ptr);
    assert_eq!(b.as_slice(), b"fresh");
    assert!(spare.is_empty());
    assert!(spare.capacity() >= 100, "capacity {}", spare.capacity());
}

#[test]
fn buffer_absorb_into_nonempty_appends_and_returns_the_cleared_chunk() {
    let mut b = ReadBuffer::new();
    b.extend_from_slice(b"head|");
    let chunk = Vec::from(&b"tail"[..]);
    let cap = chunk.capacity();
    let spare = b.absorb(chunk);
    assert_eq!(b.as_slice(), b"head|tail");
    assert!(spare.is_empty());
    assert_eq!(
        spare.capacity(),
        cap,
        "the chunk is handed back for the next receive"
    );
}

#[test]
fn buffer_take_all_without_consumed_prefix_hands_storage_over() {
    let mut b = ReadBuffer::new();
    b.extend_from_slice(b"whole");
    let ptr = b.as_slice().as_ptr();
    let out = b.take_all();
    assert_eq!(out, b"whole");
    assert_eq!(out.as_ptr(), ptr);
    assert!(b.is_empty());
    b.extend_from_slice(b"next");
    assert_eq!(b.as_slice(), b"next");
}

#[test]
fn buffer_release_if_empty_keeps_data() {
    let mut b = ReadBuffer::new();
    b.extend_from_slice(b"keep");
    b.release_if_empty();
    assert_eq!(b.as_slice(), b"keep");
    b.discard(4);
    b.release_if_empty();
    assert!(b.is_empty());
    b.extend_from_slice(b"again");
    assert_eq!(b.as_slice(), b"again");
}

#[test]
fn buffer_eof_survives_draining_and_arrivals_keep_order() {
    let mut b = ReadBuffer::new();
    b.extend_from_slice(b"xy");
    b.set_eof();
    assert!(b.eof());
    assert!(!b.at_eof());
    assert_eq!(b.take_all(), b"xy");
    assert!(b.at_eof());
    b.set_eof();
    assert!(b.at_eof());
}

/// Streams a long counter pattern through a small window with uneven chunk and read sizes, so the
/// consumed prefix is compacted many times; every byte must come out once, in order.
#[test]
fn buffer_streaming_through_many_compactions_keeps_every_byte() {
    let total: usize = 300_000;
    let pattern = |i: usize| (i % 251) as u8;
    let mut b = ReadBuffer::new();
    let (mut fed, mut read) = (0usize, 0usize);
    let mut step = 0usize;
    while read < total {
        step += 1;
        if fed < total && b.len() < 4096 {
            let n = (1 + step * 7 % 997).min(total - fed);
            let chunk: Vec<u8> = (fed..fed + n).map(pattern).collect();
            if step.is_multiple_of(3) {
                let spare = b.absorb(chunk);
                assert!(spare.is_empty());
            } else {
                b.extend_from_slice(&chunk);
            }
            fed += n;
        }
        let want = 1 + step * 13 % 700;
        let got = if step.is_multiple_of(5) {
            let n = want.min(b.len());
            let expected: Vec<u8> = (read..read + n).map(pattern).collect();
            assert_eq!(&b.as_slice()[..n], &expected[..]);
            b.discard(n);
            n
        } else {
            let out = b.consume(want);
            for (k, byte) in out.iter().enumerate() {
                assert_eq!(*byte, pattern(read + k), "byte {}", read + k);
            }
            out.len()
        };
        read += got;
        assert_eq!(b.len(), fed - read);
        if let Some(&first) = b.as_slice().first() {
            assert_eq!(first, pattern(read));
        }
    }
    assert!(b.is_empty());
}

#[derive(Debug, Clone)]
enum BufOp {
    Extend(Vec<u8>),
    Absorb(Vec<u8>),
    Consume(usize),
    Discard(usize),
    TakeAll,
    Release,
}

fn buf_op() -> impl Strategy<Value = BufOp> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..=12);
    prop_oneof![
        3 => bytes.clone().prop_map(BufOp::Extend),
        3 => bytes.prop_map(BufOp::Absorb),
        3 => (0usize..=14).prop_map(BufOp::Consume),
        2 => (0usize..=14).prop_map(BufOp::Discard),
        1 => Just(BufOp::TakeAll),
        1 => Just(BufOp::Release),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    /// Any sequence of buffer operations behaves like a plain queue of bytes.
    #[test]
    fn buffer_behaves_like_a_byte_queue(ops in proptest::collection::vec(buf_op(), 0..60)) {
        let mut b = ReadBuffer::new();
        let mut model: VecDeque<u8> = VecDeque::new();
        for op in ops {
            match op {
                BufOp::Extend(bytes) => {
                    b.extend_from_slice(&bytes);
                    model.extend(bytes);
                }
                BufOp::Absorb(bytes) => {
                    let spare = b.absorb(bytes.clone());
                    prop_assert!(spare.is_empty());
                    model.extend(bytes);
                }
                BufOp::Consume(n) => {
                    let n_model = n.min(model.len());
                    let want: Vec<u8> = model.drain(..n_model).collect();
                    prop_assert_eq!(b.consume(n), want);
                }
                BufOp::Discard(n) => {
                    let n_model = n.min(model.len());
                    model.drain(..n_model);
                    b.discard(n);
                }
                BufOp::TakeAll => {
                    let want: Vec<u8> = model.drain(..).collect();
                    prop_assert_eq!(b.take_all(), want);
                }
                BufOp::Release => b.release_if_empty(),
            }
            let want: Vec<u8> = model.iter().copied().collect();
            prop_assert_eq!(b.as_slice(), &want[..]);
            prop_assert_eq!(b.len(), model.len());
            prop_assert_eq!(b.is_empty(), model.is_empty());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ReadFlow

#[test]
fn flow_boundaries_are_exact() {
    let limit = 10;
    let mut f = ReadFlow::default();
    assert!(!f.is_paused());
    // Exactly 2 x limit does not pause; one more does.
    assert!(f.should_pull(20, limit, Demand::None));
    assert!(!f.is_paused());
    assert!(!f.should_pull(21, limit, Demand::None));
    assert!(f.is_paused());
    // Anywhere in (limit, 2 x limit] stays paused, in either direction.
    for buffered in [20, 15, 11, 19, 11] {
        assert!(!f.should_pull(buffered, limit, Demand::None), "{buffered}");
        assert!(f.is_paused());
    }
    // Exactly limit resumes, and stays resumed up to 2 x limit.
    assert!(f.should_pull(10, limit, Demand::None));
    assert!(!f.is_paused());
    for buffered in [11, 15, 20] {
        assert!(f.should_pull(buffered, limit, Demand::None), "{buffered}");
    }
    // A drop straight from above 2 x limit to 0 resumes.
    assert!(!f.should_pull(1000, limit, Demand::None));
    assert!(f.should_pull(0, limit, Demand::None));
}

#[test]
fn flow_demand_overrides_pause_without_changing_it() {
    let limit = 4;
    let mut f = ReadFlow::default();
    assert!(!f.should_pull(9, limit, Demand::None));
    assert!(f.should_pull(9, limit, Demand::AtLeast(10)));
    // Pulling for a demand does not clear the pause.
    assert!(f.is_paused());
    assert!(!f.should_pull(10, limit, Demand::AtLeast(10)));
    assert!(f.should_pull(10, limit, Demand::UntilEof));
    assert!(f.is_paused());
    assert_eq!(Demand::default(), Demand::None);
}

#[test]
fn flow_readexactly_beyond_twice_the_limit_does_not_deadlock() {
    // A pump that pulls `limit`-sized chunks while allowed: readexactly(7 x limit) must get there.
    let limit = 16;
    let need = 7 * limit;
    let mut f = ReadFlow::default();
    let mut buffered = 0;
    let mut pulls = 0;
    while f.should_pull(buffered, limit, Demand::AtLeast(need)) {
        buffered += limit;
        pulls += 1;
        assert!(pulls <= 7, "pulled past the demand");
    }
    assert_eq!(buffered, need);
    assert!(f.is_paused());
    // The read takes everything; the next check resumes.
    assert!(f.should_pull(0, limit, Demand::None));
    assert!(!f.is_paused());
}

#[test]
fn flow_huge_limit_does_not_overflow() {
    let mut f = ReadFlow::default();
    assert!(f.should_pull(usize::MAX, usize::MAX, Demand::None));
    assert!(!f.is_paused());
}

fn demand() -> impl Strategy<Value = Demand> {
    prop_oneof![
        Just(Demand::None),
        (0usize..=40).prop_map(Demand::AtLeast),
        Just(Demand::UntilEof),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    /// The pause state is a hysteresis between limit and 2 x limit; a waiting read that needs more
    /// than is buffered always pulls.
    #[test]
    fn flow_matches_hysteresis_model(
        limit in 1usize..=8,
        steps in proptest::collection::vec((0usize..=30, demand()), 0..40),
    ) {
        let mut f = ReadFlow::default();
        let mut paused = false;
        for (buffered, demand) in steps {
            if buffered > 2 * limit {
                paused = true;
            } else if buffered <= limit {
                paused = false;
            }
            let needed = match demand {
                Demand::None => false,
                Demand::AtLeast(n) => buffered < n,
                Demand::UntilEof => true,
            };
            prop_assert_eq!(f.should_pull(buffered, limit, demand), !paused || needed);
            prop_assert_eq!(f.is_paused(), paused);
        }
    }

    /// Under the budget a read that needs bytes always gets a receive (never starved, at most
    /// `PRESSURE_CHUNK` while spent); reading ahead happens only with room, flow control's leave
    /// and below `READ_AHEAD`; the hysteresis is the same as without a budget.
    #[test]
    fn the_budget_pauses_read_ahead_only(
        limit in 1usize..=8,
        size in 1usize..=100_000,
        steps in proptest::collection::vec(
            (prop_oneof![0usize..=30, READ_AHEAD - 30..=READ_AHEAD + 30], demand(), any::<bool>()),
            0..40,
        ),
    ) {
        let mut f = ReadFlow::default();
        let mut plain = ReadFlow::default();
        for (buffered, demand, spent) in steps {
            let allowed = plain.should_pull(buffered, limit, demand);
            let got = pull(&mut f, buffered, limit, demand, spent, size);
            prop_assert_eq!(f.is_paused(), plain.is_paused());
            let want = if demand.needs_more(buffered) {
                Pull::Receive(if spent { size.min(PRESSURE_CHUNK) } else { size })
            } else if allowed && !spent && buffered < READ_AHEAD {
                Pull::Receive(size.min(READ_AHEAD - buffered))
            } else {
                Pull::Wait
            };
            prop_assert_eq!(got, want);
        }
    }

    /// The budget's held count is the sum of what was reported; it is spent above the cap and
    /// has room again at three quarters of it.
    #[test]
    fn budget_matches_its_model(
        cap in 1usize..=1000,
        changes in proptest::collection::vec((0usize..4, 0usize..=600), 0..60),
    ) {
        let mut b = Budget::new(Some(cap));
        let mut held = [0usize; 4];
        let mut spent = false;
        for (conn, now) in changes {
            let before = std::mem::replace(&mut held[conn], now);
            let transition = b.change(before, now);
            let total: usize = held.iter().sum();
            let was = spent;
            if !spent && total > cap {
                spent = true;
            } else if spent && total <= cap - cap / 4 {
                spent = false;
            }
            prop_assert_eq!(b.held(), total);
            prop_assert_eq!(b.spent(), spent);
            let want = match (was, spent) {
                (false, true) => Transition::Spent,
                (true, false) => Transition::Room,
                _ => Transition::None,
            };
            prop_assert_eq!(transition, want);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// WriteQueue

#[test]
fn queue_cap_is_inclusive_and_refusal_changes_nothing() {
    let mut q = WriteQueue::new(6);
    assert!(q.is_empty());
    assert_eq!(q.push(&[b"abc", b"def"]), Ok(()));
    assert_eq!(q.size(), 6);
    assert_eq!(q.push(&[b"g"]), Err(QueueFull));
    assert_eq!(q.size(), 6);
    // A write of nothing always fits.
    assert_eq!(q.push(&[]), Ok(()));
    assert_eq!(q.push(&[b""]), Ok(()));
    assert_eq!(q.take(), b"abcdef");
}

#[test]
fn queue_in_flight_counts_against_the_cap_until_sent() {
    let mut q = WriteQueue::new(10);
    q.push(&[b"12345678"]).unwrap();
    assert!(!q.has_in_flight());
    let chunk = q.take();
    assert_eq!(chunk, b"12345678");
    assert!(!q.has_queued());
    assert!(q.has_in_flight());
    assert!(!q.is_empty());
    assert_eq!(q.size(), 8);
    assert_eq!(q.push(&[b"abc"]), Err(QueueFull));
    assert_eq!(q.push(&[b"ab"]), Ok(()));
    assert_eq!(q.size(), 10);
    // Partial send: 5 of the 8 in flight.
    q.sent(5);
    assert_eq!(q.size(), 5);
    assert_eq!(q.push(&[b"xyz", b"uv"]), Ok(()));
    assert_eq!(q.size(), 10);
    assert_eq!(q.push(&[b"!"]), Err(QueueFull));
    // The rest of the first chunk, then the second take.
    q.sent(3);
    assert!(!q.has_in_flight());
    assert_eq!(q.size(), 7);
    let chunk = q.take();
    assert_eq!(chunk, b"abxyzuv");
    assert_eq!(q.size(), 7);
    // Reporting more than is in flight saturates.
    q.sent(100);
    assert!(q.is_empty());
}

#[test]
fn queue_push_vec_moves_into_an_empty_queue() {
    let mut q = WriteQueue::new(100);
    let out = q.take();
    assert!(out.is_empty());
    assert!(q.is_empty());

    // Into an empty queue the vector itself is queued and taken: no copy.
    let data = b"data".to_vec();
    let data_ptr = data.as_ptr();
    q.push_vec(data).unwrap();
    let out = q.take();
    assert_eq!(out, b"data");
    assert_eq!(out.as_ptr(), data_ptr);
    // Behind queued bytes it is appended, as slices are.
    q.push(&[b"more"]).unwrap();
    q.push_vec(b", more".to_vec()).unwrap();
    assert_eq!(q.push_vec(vec![0; 100]), Err(QueueFull));
    let again = q.take();
    assert_eq!(again, b"more, more");
    assert_eq!(q.size(), 14);
}

#[test]
fn queue_clear_drops_queued_and_in_flight() {
    let mut q = WriteQueue::new(100);
    q.push(&[b"sent"]).unwrap();
    let _in_flight = q.take();
    q.push(&[b"queued"]).unwrap();
    assert_eq!(q.size(), 10);
    q.clear();
    assert!(q.is_empty());
    assert!(!q.has_queued());
    // A late completion of the dropped chunk does not underflow.
    q.sent(4);
    assert!(q.is_empty());
    assert_eq!(q.push(&[&[0u8; 100]]), Ok(()));
}

#[test]
fn queue_watermark_boundaries() {
    let mut q = WriteQueue::new(DEFAULT_WRITE_QUEUE_CAP);
    assert_eq!(q.marks(), WaterMarks::default());
    q.set_marks(WaterMarks { high: 8, low: 2 });
    assert_eq!(q.marks(), WaterMarks { high: 8, low: 2 });
    q.push(&[b"12345678"]).unwrap();
    assert!(!q.above_high(), "at high is not above it");
    q.push(&[b"9"]).unwrap();
    assert!(q.above_high());
    assert!(!q.at_or_below_low());
    let chunk = q.take();
    q.sent(chunk.len() - 3);
    assert!(!q.at_or_below_low());
    q.sent(1);
    assert!(q.at_or_below_low(), "at low releases drains");
    q.set_marks(WaterMarks { high: 0, low: 0 });
    assert!(q.above_high());
    q.sent(2);
    assert!(!q.above_high());
    assert!(q.at_or_below_low());
}

#[derive(Debug, Clone)]
enum QueueOp {
    Push(Vec<Vec<u8>>),
    Take,
    Sent(usize),
    Clear,
}

fn queue_op() -> impl Strategy<Value = QueueOp> {
    prop_oneof![
        4 => proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..=5), 0..=3)
            .prop_map(QueueOp::Push),
        2 => Just(QueueOp::Take),
        3 => (0usize..=8).prop_map(QueueOp::Sent),
        1 => Just(QueueOp::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    /// Size = queued + in flight, a push is all or nothing against the cap, and the chunks taken
    /// are exactly the accepted bytes in order.
    #[test]
    fn queue_accounting_matches_model(
        cap in 0usize..=24,
        ops in proptest::collection::vec(queue_op(), 0..40),
    ) {
        let mut q = WriteQueue::new(cap);
        let mut queued: Vec<u8> = Vec::new();
        let mut in_flight = 0usize;
        for op in ops {
            match op {
                QueueOp::Push(parts) => {
                    let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                    let add: usize = parts.iter().map(Vec::len).sum();
                    let fits = queued.len() + in_flight + add <= cap;
                    prop_assert_eq!(q.push(&slices), if fits { Ok(()) } else { Err(QueueFull) });
                    if fits {
                        queued.extend(parts.concat());
                    }
                }
                QueueOp::Take => {
                    let chunk = q.take();
                    prop_assert_eq!(&chunk, &queued);
                    in_flight += queued.len();
                    queued.clear();
                }
                QueueOp::Sent(n) => {
                    q.sent(n);
                    in_flight = in_flight.saturating_sub(n);
                }
                QueueOp::Clear => {
                    q.clear();
                    queued.clear();
                    in_flight = 0;
                }
            }
            prop_assert_eq!(q.size(), queued.len() + in_flight);
            prop_assert_eq!(q.has_queued(), !queued.is_empty());
            prop_assert_eq!(q.is_empty(), queued.is_empty() && in_flight == 0);
            prop_assert!(q.size() <= cap);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// WaterMarks

#[test]
fn watermarks_rules_and_edges() {
    assert_eq!(
        WaterMarks::default(),
        WaterMarks {
            high: 65_536,
            low: 16_384
        }
    );
    assert_eq!(DEFAULT_HIGH, 64 * 1024);
    // Only high: low = high / 4 (integer division).
    assert_eq!(
        WaterMarks::new(Some(7), None),
        Ok(WaterMarks { high: 7, low: 1 })
    );
    assert_eq!(
        WaterMarks::new(Some(0), None),
        Ok(WaterMarks { high: 0, low: 0 })
    );
    // Only low: high = 4 x low, saturating instead of overflowing.
    assert_eq!(
        WaterMarks::new(None, Some(0)),
        Ok(WaterMarks { high: 0, low: 0 })
    );
    assert_eq!(
        WaterMarks::new(None, Some(u64::MAX)),
        Ok(WaterMarks {
            high: u64::MAX,
            low: u64::MAX
        })
    );
    // Both: equal is fine, high < low is not.
    assert_eq!(
        WaterMarks::new(Some(5), Some(5)),
        Ok(WaterMarks { high: 5, low: 5 })
    );
    let err = WaterMarks::new(Some(4), Some(5)).unwrap_err();
    assert!(err.to_string().contains("high must be >= low"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// read_lines: several readlines at once

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    /// `read_lines` hands over exactly what successive `read_line`s return while they return
    /// whole lines within `max`, and leaves the buffer as they do; without a whole line it is one
    /// `read_line`.
    #[test]
    fn read_lines_is_readline_repeated(
        data in proptest::collection::vec(prop_oneof![4 => any::<u8>(), 1 => Just(b'\n')], 0..40),
        eof in any::<bool>(),
        limit in 1usize..12,
        max in 0usize..30,
    ) {
        use wasio_core::Attempt;
        use wasio_core::read_line::read_line;
        use wasio_core::read_lines::read_lines;
        let fill = |b: &mut ReadBuffer| {
            b.extend_from_slice(&data);
            if eof {
                b.set_eof();
            }
        };
        let (mut batch, mut single) = (ReadBuffer::new(), ReadBuffer::new());
        fill(&mut batch);
        fill(&mut single);
        let got = read_lines(&mut batch, limit, max);
        let mut expected = Vec::new();
        let mut first = None;
        loop {
            let before = single.as_slice().to_vec();
            let one = read_line(&mut single, limit);
            let whole = matches!(&one, Attempt::Done(Ok(line)) if line.ends_with(b"\n"));
            let fits = expected.is_empty() || matches!(
                &one, Attempt::Done(Ok(line)) if expected.len() + line.len() <= max);
            if !(whole && fits) {
                if expected.is_empty() {
                    first = Some(one);
                } else {
                    // Undo the attempt that the batch would not have made.
                    single = ReadBuffer::new();
                    single.extend_from_slice(&before);
                    if eof {
                        single.set_eof();
                    }
                }
                break;
            }
            if let Attempt::Done(Ok(line)) = one {
                expected.extend_from_slice(&line);
            }
        }
        match first {
            Some(one) => prop_assert_eq!(got, one),
            None => prop_assert_eq!(got, Attempt::Done(Ok(expected))),
        }
        prop_assert_eq!(batch.as_slice(), single.as_slice());
        prop_assert_eq!(batch.eof(), single.eof());
    }
}
