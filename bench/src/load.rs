//! The workloads and the load generator: one tokio client, the same for every system.

use crate::report::Results;
use crate::server::{Mode, Server, System};
use anyhow::{Context as _, ensure};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sizes and durations of one run of the benchmark.
pub struct Plan {
    /// Bytes pushed through the echo in the bulk workload.
    pub bulk_bytes: usize,
    /// How long each rate workload runs.
    pub window: Duration,
    /// Lines sent in the line workload.
    pub lines: usize,
    /// Idle connections held open for the memory workload.
    pub idle_connections: usize,
    /// Repetitions; each figure is their median.
    pub runs: usize,
}

impl Plan {
    /// The full plan, or the quick one (`--quick`, under 3 minutes).
    pub fn new(quick: bool) -> Self {
        if quick {
            Plan {
                bulk_bytes: 128 << 20,
                window: Duration::from_millis(700),
                lines: 100_000,
                idle_connections: 1_000,
                runs: 3,
            }
        } else {
            Plan {
                bulk_bytes: 1 << 30,
                window: Duration::from_secs(3),
                lines: 500_000,
                idle_connections: 10_000,
                runs: 5,
            }
        }
    }
}

/// Runs every workload against `system`, recording medians in `results`.
pub async fn run_all(
    system: System,
    plan: &Plan,
    python: &Path,
    results: &mut Results,
) -> anyhow::Result<()> {
    let echo = Server::start(system, Mode::Echo, python)?;
    let port = echo.port;
    let bulk = median(plan.runs, || bulk(port, plan.bulk_bytes)).await?;
    results.record("bulk MB/s", system, bulk);
    for conns in [1usize, 3] {
        for size in [1024usize, 10 * 1024, 100 * 1024] {
            let name = format!("ping-pong {}KiB x{conns} req/s", size / 1024);
            let rate = median(plan.runs, || ping_pong(port, size, conns, plan.window)).await?;
            results.record(&name, system, rate);
        }
    }
    for conns in [1usize, 3] {
        let name = format!("server CPU us/req (ping-pong 1KiB x{conns})");
        let cpu = median(plan.runs, || {
            cpu_per_request(&echo, 1024, conns, plan.window)
        })
        .await?;
        results.record(&name, system, cpu);
    }
    let rate = median(plan.runs, || connection_rate(port, plan.window)).await?;
    results.record("connections/s", system, rate);
    // The server's own CPU time per connection (connect, one exchange, close).
    let cpu = median(plan.runs, || cpu_per_connection(&echo, plan.window)).await?;
    results.record("server CPU us/connection", system, cpu);
    drop(echo);

    if system == System::Floor {
        // The floor is a bare echo: it shows what the platform allows for the echo workloads.
        for (workload, reason) in FLOOR_NOT_APPLICABLE {
            results.not_applicable(workload, system, reason);
        }
        return Ok(());
    }

    // A fresh server, so memory freed by the workloads above cannot hide what connections take.
    let mut idle = Server::start(system, Mode::Echo, python)?;
    let (rss, guest) = idle_memory(&mut idle, system, plan.idle_connections).await?;
    results.record("idle bytes/connection", system, rss);
    if let Some(guest) = guest {
        results.record("idle guest bytes/connection", system, guest);
    }
    drop(idle);

    let lines_server = Server::start(system, Mode::Lines, python)?;
    let rate = median(plan.runs, || lines(lines_server.port, plan.lines)).await?;
    results.record("readline lines/s", system, rate);
    drop(lines_server);

    let tls_server = Server::start(system, Mode::TlsEcho, python)?;
    let port = tls_server.port;
    let tls_bulk = median(plan.runs, || tls_bulk(port, plan.bulk_bytes / 4)).await?;
    results.record("TLS bulk MB/s", system, tls_bulk);
    let rate = median(plan.runs, || handshake_rate(port, plan.window)).await?;
    results.record("TLS handshakes/s", system, rate);
    Ok(())
}

/// The server's CPU time per connection (microseconds) over a [`connections`] window.
async fn cpu_per_connection(server: &Server, window: Duration) -> anyhow::Result<f64> {
    let before = server.cpu_time_us()?;
    let (count, _) = connections(server.port, window).await?;
    let used = server.cpu_time_us()? - before;
    anyhow::ensure!(count > 0, "no connection completed");
    Ok(used / count as f64)
}

/// The workloads the raw wasi:sockets floor does not run, and why.
const FLOOR_NOT_APPLICABLE: [(&str, &str); 5] = [
    (
        "idle bytes/connection",
        "not a memory floor: a 64 KiB buffer per connection",
    ),
    (
        "idle guest bytes/connection",
        "not a memory floor: a 64 KiB buffer per connection",
    ),
    ("readline lines/s", "an echo reads no lines"),
    ("TLS bulk MB/s", "raw wasi:sockets has no TLS"),
    ("TLS handshakes/s", "raw wasi:sockets has no TLS"),
];

/// A workload `wasio-bench drive` runs on its own.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Workload {
    /// Round trips of fixed-size messages.
    PingPong,
    /// One-way bulk transfer through the echo.
    Bulk,
    /// Connect, one exchange, close.
    Connections,
    /// One-way bulk transfer through a TLS echo (`serve SYSTEM tls-echo`), trusting the
    /// certificate the last benchmark run made.
    TlsBulk,
    /// Pipelined 100-byte lines through a readline server (`serve SYSTEM lines`).
    Lines,
}

impl Workload {
    /// The unit of the rate [`drive`] returns.
    pub fn unit(self) -> &'static str {
        match self {
            Workload::PingPong => "req/s",
            Workload::Bulk | Workload::TlsBulk => "MB/s",
            Workload::Connections => "connections/s",
            Workload::Lines => "lines/s",
        }
    }
}

/// Runs one workload against a server on `port` for about `window`.
pub async fn drive(
    port: u16,
    workload: Workload,
    size: usize,
    conns: usize,
    window: Duration,
) -> anyhow::Result<f64> {
    match workload {
        Workload::PingPong => ping_pong(port, size, conns, window).await,
        // About 1 GB/s: the bytes a window of that length would move.
        Workload::Bulk => bulk(port, (window.as_secs_f64() * 1e9) as usize).await,
        Workload::Connections => connection_rate(port, window).await,
        // About 250 MB/s: what TLS echo moves in such a window.
        Workload::TlsBulk => tls_bulk(port, (window.as_secs_f64() * 2.5e8) as usize).await,
        // About 500 000 lines/s.
        Workload::Lines => lines(port, (window.as_secs_f64() * 5e5) as usize).await,
    }
}

/// The median of `runs` measurements.
pub async fn median<F, Fut>(runs: usize, mut measure: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<f64>>,
{
    let mut values = Vec::with_capacity(runs);
    for _ in 0..runs {
        values.push(measure().await?);
    }
    values.sort_by(f64::total_cmp);
    Ok(values[values.len() / 2])
}

async fn connect(port: u16) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// MB/s through the echo: one connection, 64 KiB writes, reading the echo concurrently.
async fn bulk(port: u16, total: usize) -> anyhow::Result<f64> {
    bulk_over(connect(port).await?, total).await
}

/// [`bulk`] over TLS (the handshake is not timed).
async fn tls_bulk(port: u16, total: usize) -> anyhow::Result<f64> {
    let stream = crate::tls::connector()?
        .connect(crate::tls::server_name(), connect(port).await?)
        .await?;
    bulk_over(stream, total).await
}

async fn bulk_over<S>(stream: S, total: usize) -> anyhow::Result<f64>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        let chunk = vec![0x5au8; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let n = chunk.len().min(total - sent);
            wr.write_all(&chunk[..n]).await?;
            sent += n;
        }
        wr.flush().await?;
        // No shutdown: TLS has no half-close (asyncio's TLS servers end the whole connection
        // on close_notify, dropping echo bytes still queued). The stream closes when dropped.
        anyhow::Ok(wr)
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0;
    while got < total {
        let n = rd.read(&mut buf).await?;
        ensure!(n > 0, "echo ended after {got} of {total} bytes");
        got += n;
    }
    let secs = start.elapsed().as_secs_f64();
    drop(writer.await??);
    Ok(total as f64 / secs / 1e6)
}

/// Round trips per second of `size`-byte messages over `conns` connections.
async fn ping_pong(port: u16, size: usize, conns: usize, window: Duration) -> anyhow::Result<f64> {
    let (count, elapsed) = round_trips(port, size, conns, window).await?;
    Ok(count as f64 / elapsed.as_secs_f64())
}

/// The server's CPU time per request (microseconds) over a [`ping_pong`] window.
async fn cpu_per_request(
    server: &Server,
    size: usize,
    conns: usize,
    window: Duration,
) -> anyhow::Result<f64> {
    let before = server.cpu_time_us()?;
    let (count, _) = round_trips(server.port, size, conns, window).await?;
    let used = server.cpu_time_us()? - before;
    anyhow::ensure!(count > 0, "no round trip completed");
    Ok(used / count as f64)
}

/// Round trips of `size` bytes over `conns` connections for `window`: how many, in how long.
async fn round_trips(
    port: u16,
    size: usize,
    conns: usize,
    window: Duration,
) -> anyhow::Result<(u64, Duration)> {
    let mut tasks = Vec::new();
    let start = Instant::now();
    for _ in 0..conns {
        let mut stream = connect(port).await?;
        tasks.push(tokio::spawn(async move {
            let msg = vec![7u8; size];
            let mut back = vec![0u8; size];
            let mut count = 0u64;
            while start.elapsed() < window {
                stream.write_all(&msg).await?;
                stream.read_exact(&mut back).await?;
                count += 1;
            }
            anyhow::Ok(count)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok((total, start.elapsed()))
}

/// Connections per second: connect, one 16-byte exchange, close.
async fn connection_rate(port: u16, window: Duration) -> anyhow::Result<f64> {
    let (count, elapsed) = connections(port, window).await?;
    Ok(count as f64 / elapsed.as_secs_f64())
}

/// Connections (connect, one 16-byte exchange, close) one after another for `window`: how many,
/// in how long.
async fn connections(port: u16, window: Duration) -> anyhow::Result<(u64, Duration)> {
    let start = Instant::now();
    let mut count = 0u64;
    let mut back = [0u8; 16];
    while start.elapsed() < window {
        let mut stream = connect(port).await?;
        stream.write_all(b"0123456789abcdef").await?;
        stream.read_exact(&mut back).await?;
        drop(stream);
        count += 1;
    }
    Ok((count, start.elapsed()))
}

/// TLS handshakes per second: connect, handshake, one 16-byte exchange, close.
async fn handshake_rate(port: u16, window: Duration) -> anyhow::Result<f64> {
    let connector = crate::tls::connector()?;
    let start = Instant::now();
    let mut count = 0u64;
    let mut back = [0u8; 16];
    while start.elapsed() < window {
        let socket = connect(port).await?;
        let mut stream = connector.connect(crate::tls::server_name(), socket).await?;
        stream.write_all(b"0123456789abcdef").await?;
        stream.flush().await?;
        stream.read_exact(&mut back).await?;
        drop(stream);
        count += 1;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// Growth per idle connection, with `n` connections open (each echoed once so the server has
/// really accepted it): of the server's RSS, and for wasio of its components' linear memory.
async fn idle_memory(
    server: &mut Server,
    system: System,
    n: usize,
) -> anyhow::Result<(f64, Option<f64>)> {
    let guest = |server: &mut Server| match system {
        System::Wasio | System::WasioLinked | System::WasioWasi => server.guest_memory(),
        _ => Ok(None),
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = server.rss()?;
    let guest_before = guest(server)?;
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let mut stream = connect(server.port)
            .await
            .with_context(|| format!("opening idle connection {i}"))?;
        stream.write_all(b"x").await?;
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await?;
        conns.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = server.rss()?;
    let guest_after = guest(server)?;
    drop(conns);
    let per_conn = |before: u64, after: u64| after.saturating_sub(before) as f64 / n as f64;
    let guest = match (guest_before, guest_after) {
        (Some(before), Some(after)) => Some(per_conn(before, after)),
        _ => None,
    };
    Ok((per_conn(before, after), guest))
}

/// Lines per second through a readline server: 100-byte lines, pipelined.
async fn lines(port: u16, count: usize) -> anyhow::Result<f64> {
    let stream = connect(port).await?;
    let (mut rd, mut wr) = stream.into_split();
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        let mut line = vec![b'l'; 99];
        line.push(b'\n');
        let batch: Vec<u8> = line.repeat(100);
        let mut sent = 0;
        while sent < count {
            let n = (count - sent).min(100);
            wr.write_all(&batch[..n * 100]).await?;
            sent += n;
        }
        anyhow::Ok(wr)
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut seen = 0usize;
    while seen < count {
        let n = rd.read(&mut buf).await?;
        ensure!(n > 0, "line server ended after {seen} of {count} lines");
        seen += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
    let secs = start.elapsed().as_secs_f64();
    drop(writer.await??);
    Ok(count as f64 / secs)
}
