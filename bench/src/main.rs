//! `wasio-bench`: drives the same workloads, with the same tokio load generator, against wasio's
//! echo server component (under the wasio host), the raw wasi:sockets floor (an echo component
//! with no wasio semantics, under the same host), a native tokio server, CPython asyncio streams
//! and uvloop streams, in one run, and prints each system's median and its ratio to native tokio.
//!
//! `cargo run --release -p wasio-bench -- [--quick] [--json PATH]`
//!
//! `wasio-bench soak [--minutes N]` runs the bounded soak instead (see [`soak`]);
//! `wasio-bench python [--quick]` the Python rows (see [`python`]).

mod load;
mod python;
mod report;
mod serve;
mod server;
mod setup;
mod soak;
mod start;
mod tls;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Command line of wasio-bench.
#[derive(Parser)]
#[command(
    version,
    about = "wasio vs raw wasi:sockets vs native tokio vs CPython asyncio vs uvloop, side by side"
)]
struct Cli {
    /// Shorter runs and smaller sizes (finishes in under 3 minutes).
    #[arg(long)]
    quick: bool,
    /// Also write the results as JSON to PATH.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Only these systems (comma-separated: wasio,wasio-linked,wasio-wasi,wasio-x2,floor,tokio,asyncio,uvloop).
    #[arg(long, value_delimiter = ',')]
    systems: Option<Vec<server::System>>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Internal: run one server in this process (used by the benchmark itself).
    #[command(hide = true)]
    Serve {
        /// Which system.
        system: server::System,
        /// Which protocol.
        mode: server::Mode,
    },
    /// Drive one workload against a server already running on 127.0.0.1:PORT for a while and
    /// print its rate (for profiling a server, e.g. under `perf record -p`).
    #[command(hide = true)]
    Drive {
        /// The server's port.
        port: u16,
        /// Which workload.
        workload: load::Workload,
        /// Message size in bytes (ping-pong).
        #[arg(long, default_value_t = 1024)]
        size: usize,
        /// Connections (ping-pong).
        #[arg(long, default_value_t = 1)]
        conns: usize,
        /// How long, in seconds.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
    },
    /// Python asyncio programs natively by CPython and as wasio components, side by side:
    /// an echo server and the asyncio docs' echo server under load, a ping-pong client, and
    /// pure Python work with no I/O (the interpreter's own speed in a component).
    Python {
        /// Shorter runs (finishes in about 2 minutes once the scripts are built).
        #[arg(long)]
        quick: bool,
        /// Also write the results as JSON to PATH.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
    },
    /// A bounded soak: mixed connect / echo / close load on loopback against wasio's echo and line
    /// servers, every byte checked by a checksum, host RSS sampled; fails on any mismatch, error
    /// or RSS growth after the warm-up above the bound.
    Soak {
        /// How long the load runs, in minutes.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// The largest host RSS growth after the warm-up (the first fifth of the run) that
        /// passes, in MiB.
        #[arg(long, default_value_t = 32)]
        max_rss_growth_mib: u64,
        /// Seed of the clients' random choices and payloads.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve { system, mode }) => return serve::serve(system, mode),
        Some(Command::Drive {
            port,
            workload,
            size,
            conns,
            secs,
        }) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let window = std::time::Duration::from_secs_f64(secs);
            let rate = rt.block_on(load::drive(port, workload, size, conns, window))?;
            println!("{rate:.0} {}", workload.unit());
            return Ok(());
        }
        Some(Command::Python { quick, json }) => {
            return python::run(&load::Plan::new(quick), json.as_deref());
        }
        Some(Command::Soak {
            minutes,
            clients,
            max_rss_growth_mib,
            seed,
        }) => {
            anyhow::ensure!(
                minutes.is_finite() && minutes > 0.0,
                "--minutes must be a positive number"
            );
            anyhow::ensure!(clients > 0, "--clients must be at least 1");
            return soak::run(&soak::Options {
                duration: std::time::Duration::from_secs_f64(minutes * 60.0),
                clients,
                max_rss_growth_mib,
                seed,
            });
        }
        None => {}
    }
    let plan = load::Plan::new(cli.quick);
    tls::make_certificates().context("making the TLS workloads' certificates")?;
    let systems = cli.systems.unwrap_or_else(|| server::System::ALL.to_vec());
    let python = setup::python_with_uvloop(systems.contains(&server::System::Uvloop))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the load generator's runtime")?;
    let mut results = report::Results::new(report::machine());
    for &system in &systems {
        eprintln!("== {}", system.name());
        rt.block_on(load::run_all(system, &plan, &python, &mut results))?;
    }
    if systems.contains(&server::System::Wasio) || systems.contains(&server::System::WasioLinked) {
        eprintln!("== component start");
        rt.block_on(start::measure(&plan, &mut results))?;
    }
    println!("{}", results.table(&systems));
    if let Some(path) = cli.json {
        std::fs::write(&path, results.json())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
