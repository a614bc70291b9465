//! Results: per workload, each system's median; printed as a table with ratios to native tokio
//! and written as JSON.

use crate::server::System;
use std::fmt::Write as _;

/// Every figure of one benchmark run.
pub struct Results {
    machine: String,
    rows: Vec<(String, Vec<(System, f64)>)>,
}

impl Results {
    /// Empty results for `machine`.
    pub fn new(machine: String) -> Self {
        Results {
            machine,
            rows: Vec::new(),
        }
    }

    /// Records `system`'s median for `workload`.
    pub fn record(&mut self, workload: &str, system: System, value: f64) {
        eprintln!("  {workload}: {value:.1}");
        match self.rows.iter_mut().find(|(w, _)| w == workload) {
            Some((_, values)) => values.push((system, value)),
            None => self
                .rows
                .push((workload.to_string(), vec![(system, value)])),
        }
    }

    /// A Markdown table: one row per workload, each system's median with its ratio to tokio.
    pub fn table(&self, systems: &[System]) -> String {
        let mut out = format!("machine: {}\n\n| workload |", self.machine);
        for s in systems {
            let _ = write!(out, " {} |", s.name());
        }
        out.push_str("\n|---|");
        for _ in systems {
            out.push_str("---|");
        }
        out.push('\n');
        for (workload, values) in &self.rows {
            let baseline = values
                .iter()
                .find(|(s, _)| *s == System::Tokio)
                .map(|(_, v)| *v);
            let _ = write!(out, "| {workload} |");
            for s in systems {
                match values.iter().find(|(v, _)| v == s) {
                    Some((_, v)) => match baseline {
                        Some(b) if b > 0.0 => {
                            let _ = write!(out, " {} ({:.2}x) |", fmt(*v), v / b);
                        }
                        _ => {
                            let _ = write!(out, " {} |", fmt(*v));
                        }
                    },
                    None => out.push_str(" - |"),
                }
            }
            out.push('\n');
        }
        out
    }

    /// `{ "workloads": { NAME: { SYSTEM: median, ... }, ... }, "machine": ... }`.
    pub fn json(&self) -> String {
        let mut out = String::from("{\n  \"workloads\": {\n");
        for (i, (workload, values)) in self.rows.iter().enumerate() {
            let _ = write!(out, "    {}: {{", quote(workload));
            for (j, (s, v)) in values.iter().enumerate() {
                let _ = write!(
                    out,
                    "{}{}: {v}",
                    if j > 0 { ", " } else { " " },
                    quote(s.name())
                );
            }
            out.push_str(if i + 1 < self.rows.len() {
                " },\n"
            } else {
                " }\n"
            });
        }
        let _ = write!(out, "  }},\n  \"machine\": {}\n}}\n", quote(&self.machine));
        out
    }
}

fn fmt(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// `s` as a JSON string.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The machine line: CPU model, cores, kernel.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {}", kernel.trim())
}
