//! The systems under test, each started as its own process serving on 127.0.0.1: so each gets
//! its own core and its memory can be read from /proc.

use anyhow::{Context as _, bail};
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

/// A system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum System {
    /// wasio's example component composed with the provider (wasio-sdk's `composed` feature)
    /// under the wasio host (wasmtime): the path apps in other languages take.
    Wasio,
    /// The same example linked with wasio-streams (wasio-sdk's default): a Rust app.
    #[value(name = "wasio-linked")]
    WasioLinked,
    /// wasio (composed) with wasmtime-wasi's WASI 0.3 TCP in place of the host's own (a
    /// comparison setting of the host: no TCP_NODELAY, as wasio was before).
    #[value(name = "wasio-wasi")]
    WasioWasi,
    /// wasio (composed) with two workers (`wasio run --workers 2`): two stores on two threads sharing the
    /// listener. On a 2-core machine this is also `--workers auto`.
    #[value(name = "wasio-x2")]
    WasioX2,
    /// The floor: an echo component over raw wasi:sockets 0.3 with no wasio semantics
    /// (bench/apps/floor-echo), under the same host as wasio: what the platform allows.
    Floor,
    /// A native tokio server: the baseline every ratio is against.
    Tokio,
    /// CPython asyncio streams (`asyncio.start_server`).
    Asyncio,
    /// asyncio streams on uvloop.
    Uvloop,
}

impl System {
    /// Every system: wasio (and its variants), then the floor (raw wasi:sockets in the same
    /// host), then the baseline, so ratios read naturally.
    pub const ALL: [System; 8] = [
        System::Wasio,
        System::WasioLinked,
        System::WasioWasi,
        System::WasioX2,
        System::Floor,
        System::Tokio,
        System::Asyncio,
        System::Uvloop,
    ];

    /// The column name.
    pub fn name(self) -> &'static str {
        match self {
            System::Wasio => "wasio",
            System::WasioLinked => "wasio-linked",
            System::WasioWasi => "wasio-wasi",
            System::WasioX2 => "wasio-x2",
            System::Floor => "floor",
            System::Tokio => "tokio",
            System::Asyncio => "asyncio",
            System::Uvloop => "uvloop",
        }
    }

    /// The table's column heading.
    pub fn heading(self) -> &'static str {
        match self {
            System::Floor => "raw wasi:sockets floor",
            other => other.name(),
        }
    }
}

/// The protocol a server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Echo every byte back (read up to 64 KiB, write, drain).
    Echo,
    /// Read lines (readline / BufReader::read_line) and write each back.
    Lines,
    /// Echo over TLS, with the certificate of [`crate::tls::make_certificates`].
    TlsEcho,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::Lines => "lines",
            Mode::TlsEcho => "tls-echo",
        }
    }
}

/// A running server process; stopped when dropped.
pub struct Server {
    child: Child,
    /// What it prints after its port (answers to `memory`).
    stdout: BufReader<ChildStdout>,
    /// The port it serves on.
    pub port: u16,
}

impl Server {
    /// Starts `system` speaking `mode`; `python` runs the asyncio and uvloop servers.
    pub fn start(system: System, mode: Mode, python: &Path) -> anyhow::Result<Server> {
        let mut cmd = match system {
            System::Wasio
            | System::WasioLinked
            | System::WasioWasi
            | System::WasioX2
            | System::Floor
            | System::Tokio => {
                let mut cmd = Command::new(std::env::current_exe()?);
                cmd.args(["serve", system.name(), mode.name()]);
                cmd
            }
            System::Asyncio | System::Uvloop => {
                let script = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("python")
                    .join("servers.py");
                let mut cmd = Command::new(python);
                cmd.arg(script).args([system.name(), mode.name()]);
                if mode == Mode::TlsEcho {
                    cmd.arg(crate::tls::cert_path()).arg(crate::tls::key_path());
                }
                cmd
            }
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting the {} server", system.name()))?;
        let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some(port) = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
        else {
            let _ = child.kill();
            bail!(
                "the {} server said {line:?} instead of its port",
                system.name()
            );
        };
        Ok(Server {
            child,
            stdout,
            port,
        })
    }

    /// The server process's resident memory in bytes (VmRSS).
    pub fn rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .context("no VmRSS")?;
        Ok(kb * 1024)
    }
}

impl Server {
    /// The CPU time the server process has used so far (user + system, all its threads), in
    /// microseconds. Holds when the load generator and other processes share the cores, where
    /// a rate does not.
    pub fn cpu_time_us(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // After the command name in parentheses: field 3 (state) on; utime and stime are
        // fields 14 and 15.
        let rest = stat.rsplit_once(')').context("a malformed /proc stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| -> anyhow::Result<f64> {
            Ok(fields
                .get(i)
                .context("a short /proc stat")?
                .parse::<f64>()?)
        };
        // /proc counts in USER_HZ, 100 per second on every Linux architecture wasio runs on.
        Ok((ticks(11)? + ticks(12)?) * 10_000.0)
    }

    /// The total linear memory of the server's components in bytes (wasio only; `None` for
    /// native servers). Linear memory never shrinks, so this is also its peak.
    pub fn guest_memory(&mut self) -> anyhow::Result<Option<u64>> {
        let stdin = self.child.stdin.as_mut().context("no stdin")?;
        stdin.write_all(b"memory\n")?;
        stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        match line.trim().strip_prefix("MEMORY ") {
            Some("none") => Ok(None),
            Some(bytes) => Ok(Some(bytes.parse().context("a MEMORY line")?)),
            None => bail!("the server answered {line:?} instead of its memory"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing stdin asks it to stop; kill makes sure.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
