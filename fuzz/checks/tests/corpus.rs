//! Replays every committed seed of `fuzz/corpus/<target>/` through its target's check on stable
//! Rust (what CI runs; the fuzzing itself needs nightly, see the README), plus a few thousand
//! pseudo-random inputs per target, and checks each target has seeds.

use std::path::Path;

use wasio_fuzz_checks::TARGETS;

#[test]
fn seed_corpora_pass() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    for (name, check) in TARGETS {
        let dir = root.join(name);
        let mut seeds = 0;
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry?.path();
            let data = std::fs::read(&path)?;
            eprintln!("{name}: {}", path.display());
            check(&data);
            seeds += 1;
        }
        assert!(
            seeds >= 3,
            "{name}: only {seeds} seeds in {}",
            dir.display()
        );
    }
    Ok(())
}

/// A small deterministic xorshift stream, so the smoke inputs are the same on every run.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn pseudo_random_inputs_pass() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for (name, check) in TARGETS {
        for round in 0..2_000 {
            let len = (xorshift(&mut state) % 256) as usize;
            let data: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
            eprintln!("{name}: round {round}");
            check(&data);
        }
    }
}
