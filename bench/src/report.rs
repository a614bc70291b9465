//! Results: per workload, each system's median; printed as a table with ratios to native tokio
//! (and wasio's to the raw wasi:sockets floor) and written as JSON.

use crate::server::System;
use std::fmt::Write as _;

/// Every figure of one benchmark run.
pub struct Results {
    machine: String,
    rows: Vec<(String, Vec<(System, f64)>)>,
    /// Workloads a system does not run, with why: (workload, system, reason).
    not_applicable: Vec<(String, System, String)>,
}

impl Results {
    /// Empty results for `machine`.
    pub fn new(machine: String) -> Self {
        Results {
            machine,
            rows: Vec::new(),
            not_applicable: Vec::new(),
        }
    }

    /// Records that `workload` does not apply to `system`, and why (a few words for the table).
    pub fn not_applicable(&mut self, workload: &str, system: System, reason: &str) {
        eprintln!("  {workload}: n/a ({reason})");
        if !self.rows.iter().any(|(w, _)| w == workload) {
            self.rows.push((workload.to_string(), Vec::new()));
        }
        self.not_applicable
            .push((workload.to_string(), system, reason.to_string()));
    }

    /// Why `workload` does not apply to `system`, if it does not.
    fn reason(&self, workload: &str, system: System) -> Option<&str> {
        self.not_applicable
            .iter()
            .find(|(w, s, _)| w == workload && *s == system)
            .map(|(_, _, reason)| reason.as_str())
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

    /// A Markdown table: one row per workload, each system's median with its ratio to tokio;
    /// then, when both ran, wasio's ratio to the raw wasi:sockets floor.
    pub fn table(&self, systems: &[System]) -> String {
        let mut out = format!("machine: {}\n\n| workload |", self.machine);
        for s in systems {
            let _ = write!(out, " {} |", s.heading());
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
                    None => match self.reason(workload, *s) {
                        Some(reason) => {
                            let _ = write!(out, " n/a ({reason}) |");
                        }
                        None => out.push_str(" - |"),
                    },
                }
            }
            out.push('\n');
        }
        if systems.contains(&System::Floor)
            && (systems.contains(&System::Wasio) || systems.contains(&System::WasioLinked))
        {
            out.push_str(&self.floor_table());
        }
        out
    }

    /// Each wasio mode's median over the floor's, for each workload the floor ran: how close
    /// wasio comes to what the platform allows.
    fn floor_table(&self) -> String {
        let mut out = String::from(
            "\n| workload | wasio (composed) / raw wasi:sockets floor | wasio-linked / floor |\n|---|---|---|\n",
        );
        for (workload, values) in &self.rows {
            let of = |system| values.iter().find(|(s, _)| *s == system).map(|(_, v)| *v);
            let Some(floor) = of(System::Floor).filter(|f| *f > 0.0) else {
                continue;
            };
            let ratio =
                |system| of(system).map_or("-".to_string(), |v| format!("{:.2}x", v / floor));
            let _ = writeln!(
                out,
                "| {workload} | {} | {} |",
                ratio(System::Wasio),
                ratio(System::WasioLinked)
            );
        }
        out
    }

    /// `{ "workloads": { NAME: { SYSTEM: median, ... }, ... }, "not_applicable": { NAME:
    /// { SYSTEM: reason, ... }, ... }, "machine": ... }`.
    pub fn json(&self) -> String {
        let mut out = String::from("{\n  \"workloads\": {\n");
        let measured: Vec<_> = self.rows.iter().filter(|(_, v)| !v.is_empty()).collect();
        for (i, (workload, values)) in measured.iter().enumerate() {
            let _ = write!(out, "    {}: {{", quote(workload));
            for (j, (s, v)) in values.iter().enumerate() {
                let _ = write!(
                    out,
                    "{}{}: {v}",
                    if j > 0 { ", " } else { " " },
                    quote(s.name())
                );
            }
            out.push_str(if i + 1 < measured.len() {
                " },\n"
            } else {
                " }\n"
            });
        }
        out.push_str("  },\n  \"not_applicable\": {\n");
        let mut workloads: Vec<&str> = Vec::new();
        for (workload, _, _) in &self.not_applicable {
            if !workloads.contains(&workload.as_str()) {
                workloads.push(workload);
            }
        }
        for (i, workload) in workloads.iter().enumerate() {
            let _ = write!(out, "    {}: {{", quote(workload));
            let systems = self.not_applicable.iter().filter(|(w, _, _)| w == workload);
            for (j, (_, s, reason)) in systems.enumerate() {
                let _ = write!(
                    out,
                    "{}{}: {}",
                    if j > 0 { ", " } else { " " },
                    quote(s.name()),
                    quote(reason)
                );
            }
            out.push_str(if i + 1 < workloads.len() {
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
