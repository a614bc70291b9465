//! The stream core under random chunking and random operation sequences: the fuzzer's bytes are
//! decoded into a read scenario (chunks, EOF, limit, reads of every kind, limit changes, arrivals
//! under flow control) and a write scenario (writes, sends, water marks, cap), and both run
//! against the reference model of `wasio_core::model`, which compares every step.

use arbitrary::Unstructured;
use wasio_core::model::{
    Chunk, Op, Scenario, WriteOp, WriteScenario, run_scenario, run_write_scenario,
};

/// Bytes that make separators and newlines frequent.
const ALPHABET: &[u8] = b"ab\nc\r";

/// How the scenario's bytes are drawn.
#[derive(Clone, Copy)]
enum Bytes {
    /// From [`ALPHABET`].
    Small,
    /// Any byte.
    Raw,
}

fn bytes(u: &mut Unstructured<'_>, kind: Bytes, max: usize) -> arbitrary::Result<Vec<u8>> {
    let len = u.int_in_range(0..=max)?;
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        let b: u8 = u.arbitrary()?;
        out.push(match kind {
            Bytes::Small => ALPHABET[usize::from(b) % ALPHABET.len()],
            Bytes::Raw => b,
        });
    }
    Ok(out)
}

/// A limit, mostly small so overruns happen, sometimes huge; 0 (invalid) when `zero` is allowed.
fn limit(u: &mut Unstructured<'_>, zero: bool) -> arbitrary::Result<u64> {
    Ok(match u.int_in_range(0..=9)? {
        0 if zero => 0,
        1 => u.arbitrary()?,
        _ => u.int_in_range(1..=24)?,
    })
}

fn read_op(u: &mut Unstructured<'_>, kind: Bytes) -> arbitrary::Result<Op> {
    Ok(match u.int_in_range(0..=8)? {
        0 => Op::Read(match u.int_in_range(0..=5)? {
            0 => u.arbitrary()?,
            _ => u.int_in_range(-1..=16)?,
        }),
        1 => Op::ReadLine,
        2 | 3 => {
            let count = u.int_in_range(0..=4)?;
            let mut separators = Vec::with_capacity(count);
            for _ in 0..count {
                separators.push(bytes(u, kind, 4)?);
            }
            Op::ReadUntil(separators)
        }
        4 => Op::ReadExactly(match u.int_in_range(0..=7)? {
            0 => u.arbitrary()?,
            _ => u.int_in_range(0..=40)?,
        }),
        5 | 6 => Op::Arrive,
        7 => Op::HandOver {
            n: u.int_in_range(1..=40)?,
            taken: u.int_in_range(0..=40)?,
        },
        _ => match u.int_in_range(0..=1)? {
            0 => Op::Release,
            _ => Op::SetLimit(limit(u, true)?),
        },
    })
}

fn read_scenario(u: &mut Unstructured<'_>) -> arbitrary::Result<Scenario> {
    let kind = if u.ratio(1, 8)? {
        Bytes::Raw
    } else {
        Bytes::Small
    };
    let limit = usize::try_from(limit(u, false)?).unwrap_or(usize::MAX);
    let mut chunks = Vec::new();
    for _ in 0..u.int_in_range(0..=16)? {
        chunks.push(Chunk {
            bytes: bytes(u, kind, 40)?,
            absorb: u.arbitrary()?,
        });
    }
    let mut ops = Vec::new();
    for _ in 0..u.int_in_range(0..=48)? {
        ops.push(read_op(u, kind)?);
    }
    Ok(Scenario { chunks, limit, ops })
}

fn marks_part(u: &mut Unstructured<'_>) -> arbitrary::Result<Option<u64>> {
    Ok(match u.int_in_range(0..=4)? {
        0 => None,
        1 => Some(u.arbitrary()?),
        _ => Some(u.int_in_range(0..=64)?),
    })
}

fn write_scenario(u: &mut Unstructured<'_>) -> arbitrary::Result<WriteScenario> {
    let cap = match u.int_in_range(0..=7)? {
        0 => u.arbitrary()?,
        _ => u.int_in_range(0..=96)?,
    };
    let mut ops = Vec::new();
    for _ in 0..u.int_in_range(0..=48)? {
        ops.push(match u.int_in_range(0..=7)? {
            0..=2 => {
                let mut parts = Vec::new();
                for _ in 0..u.int_in_range(0..=3)? {
                    parts.push(bytes(u, Bytes::Raw, 24)?);
                }
                WriteOp::Write(parts)
            }
            3 => WriteOp::Take,
            4 => WriteOp::WriteVec(bytes(u, Bytes::Raw, 24)?),
            5 => WriteOp::Sent(match u.int_in_range(0..=5)? {
                0 => u.arbitrary()?,
                _ => u.int_in_range(0..=32)?,
            }),
            6 => WriteOp::SetMarks(marks_part(u)?, marks_part(u)?),
            _ => WriteOp::Clear,
        });
    }
    Ok(WriteScenario { cap, ops })
}

/// The read and write scenarios `data` decodes to (`None` for the write scenario when the bytes
/// run out first, `None` for both when they run out at once).
pub fn scenarios(data: &[u8]) -> Option<(Scenario, Option<WriteScenario>)> {
    let mut u = Unstructured::new(data);
    let read = read_scenario(&mut u).ok()?;
    Some((read, write_scenario(&mut u).ok()))
}

/// Decodes both scenarios from `data` (a short input gives short scenarios) and runs them;
/// panics with the scenario and the first difference from the model.
pub fn check(data: &[u8]) {
    let Some((read, write)) = scenarios(data) else {
        return;
    };
    if let Err(mismatch) = run_scenario(&read) {
        panic!("read scenario {read:?}: {mismatch}");
    }
    if let Some(write) = write
        && let Err(mismatch) = run_write_scenario(&write)
    {
        panic!("write scenario {write:?}: {mismatch}");
    }
}
