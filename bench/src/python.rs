//! `wasio-bench python`: asyncio programs run natively by CPython and as wasio components
//! (`wasio run SCRIPT.py`), side by side in one run, driven by the same tokio load generator.
//! Each row gives both medians and the ratio wasio / CPython (above 1: wasio is faster).
//!
//! - servers: bench/python/echo_server.py (an asyncio echo loop) under ping-pong and connection
//!   load, and the asyncio docs' tcp_echo_server.py (tests/python/, port 8888) under connection
//!   load;
//! - client: bench/python/pingpong_client.py against the native tokio echo server;
//! - no I/O: bench/python/compute.py, pure Python work, whose ratio is the interpreter's own
//!   speed in a component: the ceiling of every row whose time is the server's CPU.
//!
//! The `wasio` binary is built (same profile as this one) with `cargo build -p wasio-host`, and
//! each script is built into a component before anything is timed.

use crate::load::{self, Plan, Workload};
use anyhow::{Context as _, bail, ensure};
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a script is run.
#[derive(Clone, Copy, PartialEq)]
enum Runner {
    /// `python3 SCRIPT`.
    CPython,
    /// `wasio run [grants] SCRIPT -- ARGS`.
    Wasio,
}

/// A process stopped when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the `wasio` binary of this build's profile and returns its path.
fn wasio_binary() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root())
        .args(["build", "-p", "wasio-host", "--bin", "wasio"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo to build wasio")?;
    ensure!(status.success(), "building the wasio binary failed");
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("no directory for wasio-bench")?;
    Ok(dir.join("wasio"))
}

/// The command that runs `script` with `args` under `runner`, granted `grants` under wasio.
fn command(
    runner: Runner,
    wasio: &Path,
    script: &Path,
    grants: &[&str],
    args: &[String],
) -> Command {
    match runner {
        Runner::CPython => {
            let mut cmd = Command::new("python3");
            cmd.arg(script).args(args);
            cmd
        }
        Runner::Wasio => {
            let mut cmd = Command::new(wasio);
            cmd.arg("run").args(grants).arg(script).arg("--").args(args);
            cmd
        }
    }
}

/// Starts a server script that prints `PORT <n>` first; returns it and the port.
fn start_server(runner: Runner, wasio: &Path, script: &Path) -> anyhow::Result<(Process, u16)> {
    let mut child = command(
        runner,
        wasio,
        script,
        &["--allow-listen", "127.0.0.1:0"],
        &[],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .with_context(|| format!("starting {}", script.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let process = Process(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let Some(port) = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
    else {
        bail!("{} said {line:?} instead of its port", script.display());
    };
    Ok((process, port))
}

/// Starts the docs' echo server (fixed port 8888) and waits until it accepts.
fn start_docs_server(runner: Runner, wasio: &Path) -> anyhow::Result<Process> {
    let script = root().join("tests/python/tcp_echo_server.py");
    let child = command(
        runner,
        wasio,
        &script,
        &["--allow-listen", "127.0.0.1:8888"],
        &[],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::inherit())
    .spawn()
    .context("starting the docs' echo server")?;
    let process = Process(child);
    let start = Instant::now();
    while std::net::TcpStream::connect("127.0.0.1:8888").is_err() {
        ensure!(
            start.elapsed() < Duration::from_secs(120),
            "the docs' echo server did not listen on 127.0.0.1:8888"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(process)
}

/// Round trips per second of the Python ping-pong client against the echo server on `port`.
fn client_rate(
    runner: Runner,
    wasio: &Path,
    port: u16,
    size: usize,
    window: Duration,
) -> anyhow::Result<f64> {
    let grant = format!("127.0.0.1:{port}");
    let args = [
        port.to_string(),
        size.to_string(),
        window.as_secs_f64().to_string(),
    ];
    script_rate(
        runner,
        wasio,
        "bench/python/pingpong_client.py",
        &["--allow-connect", &grant],
        &args,
        "the Python ping-pong client",
    )
}

/// Units per second of bench/python/compute.py (pure Python, no I/O) run for `window`.
fn compute_rate(runner: Runner, wasio: &Path, window: Duration) -> anyhow::Result<f64> {
    script_rate(
        runner,
        wasio,
        "bench/python/compute.py",
        &[],
        &[window.as_secs_f64().to_string()],
        "the pure-Python compute script",
    )
}

/// Runs `script` (a path from the repository root) to its end and returns the number on the
/// `RATE n` line it printed; `who` names it in errors.
fn script_rate(
    runner: Runner,
    wasio: &Path,
    script: &str,
    grants: &[&str],
    args: &[String],
    who: &str,
) -> anyhow::Result<f64> {
    let out = command(runner, wasio, &root().join(script), grants, args)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {who}"))?;
    ensure!(out.status.success(), "{who} failed");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("RATE "))
        .and_then(|r| r.trim().parse().ok())
        .with_context(|| format!("{who} printed {text:?} instead of its rate"))
}

/// Runs the Python rows and prints their table (and writes JSON to `json`).
pub fn run(plan: &Plan, json: Option<&Path>) -> anyhow::Result<()> {
    let wasio = wasio_binary()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Build every script once before timing anything (the build is cached by `wasio`).
    for script in [
        "bench/python/echo_server.py",
        "bench/python/pingpong_client.py",
        "tests/python/tcp_echo_server.py",
        "bench/python/compute.py",
    ] {
        eprintln!("== building {script}");
        let out = std::env::temp_dir().join("wasio-bench-python.wasm");
        let status = Command::new(&wasio)
            .arg("build")
            .arg(root().join(script))
            .arg("-o")
            .arg(&out)
            .status()?;
        ensure!(status.success(), "wasio build {script} failed");
    }
    let mut rows: Vec<(String, [f64; 2])> = Vec::new();
    let mut record = |name: &str, runner: Runner, value: f64| {
        eprintln!("  {name}: {value:.1}");
        let column = usize::from(runner == Runner::Wasio);
        match rows.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values[column] = value,
            None => {
                let mut values = [f64::NAN; 2];
                values[column] = value;
                rows.push((name.to_string(), values));
            }
        }
    };
    let echo_script = root().join("bench/python/echo_server.py");
    let tokio_server = crate::server::Server::start(
        crate::server::System::Tokio,
        crate::server::Mode::Echo,
        Path::new("python3"),
    )?;
    for runner in [Runner::CPython, Runner::Wasio] {
        eprintln!(
            "== {}",
            if runner == Runner::Wasio {
                "wasio"
            } else {
                "CPython"
            }
        );
        let (server, port) = start_server(runner, &wasio, &echo_script)?;
        // The median of `plan.runs` runs of `workload` against `port`.
        let drive = |port, workload, size, conns| {
            rt.block_on(load::median(plan.runs, || {
                load::drive(port, workload, size, conns, plan.window)
            }))
        };
        for (size, conns) in [(1024, 1), (1024, 3), (10 * 1024, 1)] {
            let rate = drive(port, Workload::PingPong, size, conns)?;
            let name = format!("server: ping-pong {}KiB x{conns} req/s", size / 1024);
            record(&name, runner, rate);
        }
        let rate = drive(port, Workload::Connections, 0, 1)?;
        record("server: connections/s", runner, rate);
        drop(server);

        let docs = start_docs_server(runner, &wasio)?;
        let rate = drive(8888, Workload::Connections, 0, 1)?;
        record("docs' tcp_echo_server.py: connections/s", runner, rate);
        drop(docs);

        for size in [1024, 10 * 1024] {
            let rate = rt.block_on(load::median(plan.runs, || async {
                client_rate(runner, &wasio, tokio_server.port, size, plan.window)
            }))?;
            let name = format!("client: ping-pong {}KiB round trips/s", size / 1024);
            record(&name, runner, rate);
        }

        let rate = rt.block_on(load::median(plan.runs, || async {
            compute_rate(runner, &wasio, plan.window)
        }))?;
        record("no I/O: pure-Python work units/s", runner, rate);
    }
    drop(tokio_server);

    let mut table = format!(
        "machine: {}\n\n| Python workload | CPython asyncio | wasio | wasio / CPython |\n|---|---|---|---|\n",
        crate::report::machine()
    );
    let mut out = String::from("{\n  \"python\": {\n");
    for (i, (name, [native, ours])) in rows.iter().enumerate() {
        let _ = writeln!(
            table,
            "| {name} | {native:.0} | {ours:.0} | {:.2}x |",
            ours / native
        );
        let comma = if i + 1 < rows.len() { "," } else { "" };
        let name = crate::report::quote(name);
        let _ = writeln!(
            out,
            "    {name}: {{ \"cpython\": {native}, \"wasio\": {ours} }}{comma}"
        );
    }
    out.push_str("  }\n}\n");
    println!("{table}");
    if let Some(path) = json {
        std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
