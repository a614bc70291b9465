//! Property test: the crate's read operations, read-side flow control and write queue against the
//! reference model in `wasio_core::model` (written straight from SPEC-streams.md over plain
//! vectors; it shares only the vocabulary of outcomes with the crate).
//!
//! A read scenario is random data (alphabet `ab\nc`, so separators occur) cut into random chunks
//! that arrive over time, EOF after the last chunk, a random reader limit in 1..=12 (changed now and
//! then, sometimes to the invalid 0) and a random sequence of operations; the driver in
//! `wasio_core::model` compares every attempt, the remaining buffer, `at_eof` and the pause state.
//! The fuzz target `stream_core` (fuzz/) runs the same drivers on fuzzer-made scenarios.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use wasio_core::model::{
    Chunk, Model, Op, Outcome, Scenario, WriteOp, WriteScenario, run_scenario, run_write_scenario,
};

const ALPHABET: &[u8] = b"ab\nc";

/// Runs a read scenario, turning a mismatch into a proptest failure.
fn check(s: &Scenario) -> Result<Vec<Outcome>, TestCaseError> {
    run_scenario(s).map_err(|m| TestCaseError::fail(m.0))
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
        3 => (1u64..=8, 0usize..=9).prop_map(|(n, taken)| Op::HandOver { n, taken }),
        3 => Just(Op::Arrive),
        1 => Just(Op::Release),
        1 => (0u64..=12).prop_map(Op::SetLimit),
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
        check(&s)?;
    }
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    let part = proptest::collection::vec(any::<u8>(), 0..=6);
    prop_oneof![
        3 => proptest::collection::vec(part.clone(), 0..=3).prop_map(WriteOp::Write),
        3 => part.prop_map(WriteOp::WriteVec),
        3 => Just(WriteOp::Take),
        3 => (0usize..=10).prop_map(WriteOp::Sent),
        1 => Just(WriteOp::Clear),
        2 => (proptest::option::of(0u64..=20), proptest::option::of(0u64..=20))
            .prop_map(|(high, low)| WriteOp::SetMarks(high, low)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn write_queue_matches_reference_model(
        cap in 0usize..=40,
        ops in proptest::collection::vec(write_op(), 1..=30),
    ) {
        run_write_scenario(&WriteScenario { cap, ops }).map_err(|m| TestCaseError::fail(m.0))?;
    }
}

/// Guards against a vacuous property: a sample of scenarios must reach every kind of outcome,
/// including both overrun kinds, readuntil's and readexactly's IncompleteRead and invalid separators.
#[test]
fn scenarios_reach_every_outcome() {
    let mut runner = TestRunner::new(Config::default());
    let strategy = scenario();
    let (mut need_more, mut data, mut invalid, mut limit_set) = (0, 0, 0, 0);
    let (mut found, mut not_found, mut incomplete_until, mut incomplete_exact) = (0, 0, 0, 0);
    for _ in 0..5_000 {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        for o in check(&s).unwrap() {
            match o {
                Outcome::NeedMore => need_more += 1,
                Outcome::Data(_) => data += 1,
                Outcome::Invalid => invalid += 1,
                Outcome::LimitSet => limit_set += 1,
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
        limit_set,
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
        ..Model::default()
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
        ..Model::default()
    };
    let r = m.read_until(&[b"DEF".to_vec(), b"BCDE".to_vec()], 100);
    assert_eq!(r, Outcome::Data(b"ABCDE".to_vec()));

    let mut m = Model {
        buf: b"12345678\n".to_vec(),
        ..Model::default()
    };
    assert!(matches!(m.read_line(7), Outcome::Overrun { .. }));
    assert!(m.buf.is_empty());

    let mut m = Model {
        buf: b"line1\nline2\n".to_vec(),
        ..Model::default()
    };
    assert!(matches!(m.read_line(3), Outcome::Overrun { .. }));
    assert_eq!(m.buf, b"line2\n");

    let mut m = Model {
        buf: b"partial".to_vec(),
        eof: true,
        ..Model::default()
    };
    assert_eq!(m.read_line(100), Outcome::Data(b"partial".to_vec()));
    assert_eq!(m.read_line(100), Outcome::Data(Vec::new()));
}
