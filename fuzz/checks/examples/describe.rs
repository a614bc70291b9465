//! Prints what `stream_core` inputs decode to and the read outcomes they reach, to triage a
//! crash file or pick seeds: `cargo run -p wasio-fuzz-checks --example describe -- FILE...`
//! (`--brief` prints one line of outcome counts per file).

use std::collections::BTreeMap;

use wasio_core::model::{Outcome, run_scenario};
use wasio_fuzz_checks::stream_core::scenarios;

fn kind(o: &Outcome) -> &'static str {
    match o {
        Outcome::NeedMore => "need-more",
        Outcome::Data(_) => "data",
        Outcome::Incomplete { expected: None, .. } => "incomplete-until",
        Outcome::Incomplete { .. } => "incomplete-exactly",
        Outcome::Overrun { found: true, .. } => "overrun-found",
        Outcome::Overrun { found: false, .. } => "overrun-not-found",
        Outcome::Invalid => "invalid",
        Outcome::LimitSet => "limit-set",
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let brief = args.iter().any(|a| a == "--brief");
    for path in args.iter().filter(|a| *a != "--brief") {
        let data = std::fs::read(path)?;
        let Some((read, write)) = scenarios(&data) else {
            println!("{path}: {} bytes, too short for a scenario", data.len());
            continue;
        };
        let mut counts = BTreeMap::new();
        match run_scenario(&read) {
            Ok(outcomes) => {
                for o in &outcomes {
                    *counts.entry(kind(o)).or_insert(0) += 1;
                }
            }
            Err(mismatch) => println!("{path}: MISMATCH {mismatch}"),
        }
        let writes = write.as_ref().map_or(0, |w| w.ops.len());
        println!(
            "{path}: {} bytes, write ops {writes}, {counts:?}",
            data.len()
        );
        if !brief {
            println!("  read: {read:?}");
            println!("  write: {write:?}");
        }
    }
    Ok(())
}
