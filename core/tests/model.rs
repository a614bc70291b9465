//! Property test: the crate's read operations against a reference model written straight from
//! SPEC-streams.md ("Reader") over a plain `Vec<u8>`. The model does not call any of the crate's
//! functions; it shares only the vocabulary of outcomes.
//!
//! A scenario is random data (alphabet `ab\nc`, so separators occur) cut into random chunks that
//! arrive over time, EOF after the last chunk, a random reader limit in 1..=12 and a random sequence
//! of operations. Whenever an operation needs more, the driver delivers the next chunk (or EOF once
//! none is left) to both sides and retries the same operation, as a waiting read would. Every attempt,
//! the remaining buffer and `at_eof` are compared.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use wasio_core::read::read;
use wasio_core::read_exactly::read_exactly;
use wasio_core::read_line::read_line;
use wasio_core::read_until::read_until;
use wasio_core::{Attempt, ReadBuffer, ReadError};

const ALPHABET: &[u8] = b"ab\nc";

/// What one attempt gave, on either side.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    NeedMore,
    Data(Vec<u8>),
    Incomplete {
        partial: Vec<u8>,
        expected: Option<u64>,
    },
    Overrun {
        found: bool,
        consumed: u64,
    },
    Invalid,
}

#[derive(Debug, Clone)]
enum Op {
    Read(i64),
    ReadLine,
    ReadUntil(Vec<Vec<u8>>),
    ReadExactly(u64),
    /// The next chunk (or EOF when none is left) arrives while no read is waiting.
    Arrive,
    /// The provider frees an idle buffer's storage (a no-op for the model).
    Release,
}

#[derive(Debug, Clone)]
struct Chunk {
    bytes: Vec<u8>,
    /// Deliver through `absorb` (storage swap) instead of `extend_from_slice`.
    absorb: bool,
}

#[derive(Debug, Clone)]
struct Scenario {
    chunks: Vec<Chunk>,
    limit: usize,
    ops: Vec<Op>,
}

// ---------------------------------------------------------------------------------------------
// The reference model.

#[derive(Debug, Default)]
struct Model {
    buf: Vec<u8>,
    eof: bool,
}

impl Model {
    fn take(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n).collect()
    }

    /// read(n): n = 0 -> empty at once; n < 0 -> everything once EOF was received; n > 0 -> waits
    /// only while the buffer is empty and no EOF, then 1..=n bytes (empty at EOF).
    fn read(&mut self, n: i64) -> Outcome {
        if n == 0 {
            return Outcome::Data(Vec::new());
        }
        if n < 0 {
            if self.eof {
                let all = self.buf.len();
                return Outcome::Data(self.take(all));
            }
            return Outcome::NeedMore;
        }
        if self.buf.is_empty() && !self.eof {
            return Outcome::NeedMore;
        }
        let n = (n as usize).min(self.buf.len());
        Outcome::Data(self.take(n))
    }

    /// readexactly(n): exactly n bytes; EOF first -> IncompleteRead with everything, buffer emptied.
    fn read_exactly(&mut self, n: u64) -> Outcome {
        let n = n as usize;
        if self.buf.len() >= n {
            return Outcome::Data(self.take(n));
        }
        if self.eof {
            let all = self.buf.len();
            return Outcome::Incomplete {
                partial: self.take(all),
                expected: Some(n as u64),
            };
        }
        Outcome::NeedMore
    }

    /// The match with the smallest end; on a tie the shorter separator. Brute force: for each end
    /// index in increasing order, test every separator ending there.
    fn find(&self, separators: &[Vec<u8>]) -> Option<(usize, usize)> {
        for end in 1..=self.buf.len() {
            let shortest = separators
                .iter()
                .filter(|s| s.len() <= end && self.buf[end - s.len()..end] == s[..])
                .map(Vec::len)
                .min();
            if let Some(len) = shortest {
                return Some((end - len, end));
            }
        }
        None
    }

    /// readuntil(separators) with `limit`, following the SPEC bullets in order.
    fn read_until(&mut self, separators: &[Vec<u8>], limit: usize) -> Outcome {
        if separators.is_empty() || separators.iter().any(Vec::is_empty) {
            return Outcome::Invalid;
        }
        let shortest = separators.iter().map(Vec::len).min().unwrap();
        let longest = separators.iter().map(Vec::len).max().unwrap();
        if let Some((start, end)) = self.find(separators) {
            if start > limit {
                return Outcome::Overrun {
                    found: true,
                    consumed: start as u64,
                };
            }
            return Outcome::Data(self.take(end));
        }
        if self.buf.len() >= shortest {
            let offset = (self.buf.len() as i64 + 1 - longest as i64).max(0);
            if offset > limit as i64 {
                return Outcome::Overrun {
                    found: false,
                    consumed: offset as u64,
                };
            }
        }
        if self.eof {
            let all = self.buf.len();
            return Outcome::Incomplete {
                partial: self.take(all),
                expected: None,
            };
        }
        Outcome::NeedMore
    }

    /// readline = readuntil("\n"): IncompleteRead gives its partial; an overrun discards through
    /// the newline when the byte at `consumed` is one, else the whole buffer.
    fn read_line(&mut self, limit: usize) -> Outcome {
        match self.read_until(&[b"\n".to_vec()], limit) {
            Outcome::Incomplete { partial, .. } => Outcome::Data(partial),
            Outcome::Overrun { found, consumed } => {
                let at = consumed as usize;
                if self.buf.get(at) == Some(&b'\n') {
                    self.buf.drain(..=at);
                } else {
                    self.buf.clear();
                }
                Outcome::Overrun { found, consumed }
            }
            other => other,
        }
    }

    fn run(&mut self, op: &Op, limit: usize) -> Outcome {
        match op {
            Op::Read(n) => self.read(*n),
            Op::ReadLine => self.read_line(limit),
            Op::ReadUntil(separators) => self.read_until(separators, limit),
            Op::ReadExactly(n) => self.read_exactly(*n),
            Op::Arrive | Op::Release => Outcome::NeedMore,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The crate side.

fn outcome(attempt: Attempt<Result<Vec<u8>, ReadError>>) -> Outcome {
    match attempt {
        Attempt::NeedMore => Outcome::NeedMore,
        Attempt::Done(Ok(data)) => Outcome::Data(data),
        Attempt::Done(Err(ReadError::IncompleteRead { partial, expected })) => {
            Outcome::Incomplete { partial, expected }
        }
        Attempt::Done(Err(ReadError::LimitOverrun { found, consumed })) => {
            Outcome::Overrun { found, consumed }
        }
        Attempt::Done(Err(ReadError::InvalidArgument(_))) => Outcome::Invalid,
    }
}

fn run_crate(buf: &mut ReadBuffer, op: &Op, limit: usize) -> Outcome {
    match op {
        Op::Read(n) => match read(buf, *n) {
            Attempt::Done(data) => Outcome::Data(data),
            Attempt::NeedMore => Outcome::NeedMore,
        },
        Op::ReadLine => outcome(read_line(buf, limit)),
        Op::ReadUntil(separators) => outcome(read_until(buf, separators, limit)),
        Op::ReadExactly(n) => outcome(read_exactly(buf, *n)),
        Op::Arrive | Op::Release => Outcome::NeedMore,
    }
}

// ---------------------------------------------------------------------------------------------
// The driver.

struct Driver<'a> {
    buf: ReadBuffer,
    model: Model,
    chunks: std::slice::Iter<'a, Chunk>,
}

impl Driver<'_> {
    /// Delivers the next chunk to both sides, or EOF once none is left. False if EOF was already in.
    fn arrive(&mut self) -> bool {
        if self.model.eof {
            return false;
        }
        match self.chunks.next() {
            Some(chunk) => {
                if chunk.absorb {
                    let spare = self.buf.absorb(chunk.bytes.clone());
                    assert!(spare.is_empty(), "absorb must hand back an empty vector");
                } else {
                    self.buf.extend_from_slice(&chunk.bytes);
                }
                self.model.buf.extend_from_slice(&chunk.bytes);
            }
            None => {
                self.buf.set_eof();
                self.model.eof = true;
            }
        }
        true
    }

    fn check_state(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(self.buf.as_slice(), &self.model.buf[..], "remaining buffer");
        prop_assert_eq!(self.buf.len(), self.model.buf.len());
        prop_assert_eq!(self.buf.eof(), self.model.eof);
        prop_assert_eq!(
            self.buf.at_eof(),
            self.model.eof && self.model.buf.is_empty()
        );
        Ok(())
    }
}

/// Runs a scenario, comparing every attempt; returns the outcomes seen (for the coverage check).
fn run_scenario(s: &Scenario) -> Result<Vec<Outcome>, TestCaseError> {
    let mut d = Driver {
        buf: ReadBuffer::new(),
        model: Model::default(),
        chunks: s.chunks.iter(),
    };
    let mut seen = Vec::new();
    for (i, op) in s.ops.iter().enumerate() {
        match op {
            Op::Arrive => {
                d.arrive();
                d.check_state()?;
                continue;
            }
            Op::Release => {
                d.buf.release_if_empty();
                d.check_state()?;
                continue;
            }
            _ => {}
        }
        loop {
            let got = run_crate(&mut d.buf, op, s.limit);
            let want = d.model.run(op, s.limit);
            prop_assert_eq!(&got, &want, "op #{} {:?}", i, op);
            d.check_state()?;
            seen.push(want.clone());
            if want != Outcome::NeedMore {
                break;
            }
            // The operation waits: the next arrival (or EOF) wakes it. The model never needs more
            // once EOF is in, so this always makes progress.
            prop_assert!(d.arrive(), "op #{} {:?} needs more after EOF", i, op);
        }
    }
    // Whatever is left is drained by read(-1), which also delivers the remaining chunks and EOF.
    let drain = Op::Read(-1);
    loop {
        let got = run_crate(&mut d.buf, &drain, s.limit);
        let want = d.model.run(&drain, s.limit);
        prop_assert_eq!(&got, &want, "final read(-1)");
        d.check_state()?;
        if want != Outcome::NeedMore {
            break;
        }
        prop_assert!(d.arrive());
    }
    prop_assert!(d.buf.at_eof());
    Ok(seen)
}

// ---------------------------------------------------------------------------------------------
// Strategies.

fn byte() -> impl Strategy<Value = u8> {
    proptest::sample::select(ALPHABET)
}

fn separators() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let valid = proptest::collection::vec(proptest::collection::vec(byte(), 1..=3), 1..=3);
    prop_oneof![
        40 => valid,
        1 => Just(Vec::new()),
        1 => proptest::collection::vec(proptest::collection::vec(byte(), 0..=2), 1..=3),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (-1i64..=8).prop_map(Op::Read),
        4 => Just(Op::ReadLine),
        6 => separators().prop_map(Op::ReadUntil),
        4 => (0u64..=8).prop_map(Op::ReadExactly),
        3 => Just(Op::Arrive),
        1 => Just(Op::Release),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let chunk = (proptest::collection::vec(byte(), 0..=6), any::<bool>())
        .prop_map(|(bytes, absorb)| Chunk { bytes, absorb });
    (
        proptest::collection::vec(chunk, 0..=10),
        1usize..=12,
        proptest::collection::vec(op(), 1..=24),
    )
        .prop_map(|(chunks, limit, ops)| Scenario { chunks, limit, ops })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn crate_matches_reference_model(s in scenario()) {
        run_scenario(&s)?;
    }
}

/// Guards against a vacuous property: a sample of scenarios must reach every kind of outcome,
/// including both overrun kinds, readuntil's and readexactly's IncompleteRead and invalid separators.
#[test]
fn scenarios_reach_every_outcome() {
    let mut runner = TestRunner::new(Config::default());
    let strategy = scenario();
    let (mut need_more, mut data, mut invalid) = (0, 0, 0);
    let (mut found, mut not_found, mut incomplete_until, mut incomplete_exact) = (0, 0, 0, 0);
    for _ in 0..5_000 {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        for o in run_scenario(&s).unwrap() {
            match o {
                Outcome::NeedMore => need_more += 1,
                Outcome::Data(_) => data += 1,
                Outcome::Invalid => invalid += 1,
                Outcome::Overrun { found: true, .. } => found += 1,
                Outcome::Overrun { found: false, .. } => not_found += 1,
                Outcome::Incomplete { expected: None, .. } => incomplete_until += 1,
                Outcome::Incomplete {
                    expected: Some(_), ..
                } => incomplete_exact += 1,
            }
        }
    }
    let counts = [
        need_more,
        data,
        invalid,
        found,
        not_found,
        incomplete_until,
        incomplete_exact,
    ];
    assert!(counts.iter().all(|&c| c >= 50), "outcome counts {counts:?}");
}

/// The model itself, on the SPEC's worked examples, so a model bug cannot hide behind an equal crate bug.
#[test]
fn model_follows_spec_examples() {
    let mut m = Model {
        buf: b"some dataAA".to_vec(),
        eof: false,
    };
    let aaa = vec![b"AAA".to_vec()];
    assert_eq!(
        m.read_until(&aaa, 3),
        Outcome::Overrun {
            found: false,
            consumed: 9
        }
    );
    m.buf.push(b'A');
    assert_eq!(
        m.read_until(&aaa, 3),
        Outcome::Overrun {
            found: true,
            consumed: 9
        }
    );
    assert_eq!(m.buf, b"some dataAAA");

    let mut m = Model {
        buf: b"ABCDEFG".to_vec(),
        eof: false,
    };
    let r = m.read_until(&[b"DEF".to_vec(), b"BCDE".to_vec()], 100);
    assert_eq!(r, Outcome::Data(b"ABCDE".to_vec()));

    let mut m = Model {
        buf: b"12345678\n".to_vec(),
        eof: false,
    };
    assert!(matches!(m.read_line(7), Outcome::Overrun { .. }));
    assert!(m.buf.is_empty());

    let mut m = Model {
        buf: b"line1\nline2\n".to_vec(),
        eof: false,
    };
    assert!(matches!(m.read_line(3), Outcome::Overrun { .. }));
    assert_eq!(m.buf, b"line2\n");

    let mut m = Model {
        buf: b"partial".to_vec(),
        eof: true,
    };
    assert_eq!(m.read_line(100), Outcome::Data(b"partial".to_vec()));
    assert_eq!(m.read_line(100), Outcome::Data(Vec::new()));
}
