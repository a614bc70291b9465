//! A bounded soak: for a fixed time, many concurrent clients run mixed connect / echo / close
//! load on loopback against wasio's echo server and line server (each under the wasio host in its
//! own process, as the benchmark starts them), every byte checked by a checksum, while the host
//! processes' RSS is sampled.
//!
//! `cargo run --release -p wasio-bench -- soak [--minutes N] [--clients C]`
//!
//! Each client repeats, until the time is up, one of:
//! - echo, half-close (1/2): a random payload (1 B .. 1 MiB, log-uniform) written in random-sized
//!   pieces while reading the echo, then `shutdown(Write)`; the echo must end in EOF and match;
//! - echo, abrupt close (1/4): a random payload written while reading back a random prefix of it,
//!   then the socket is dropped mid-transfer (half the time with SO_LINGER 0, i.e. a reset); the
//!   prefix must match;
//! - lines (1/4): random lines (0 .. 4 KiB, no newline inside) totalling up to 1 MiB, sent in pieces
//!   that split lines, then half-close; the echoed lines must match.
//!
//! The checksum is 64-bit FNV-1a over the byte stream, computed as bytes are sent and as they come
//! back (with the lengths); one step of FNV-1a is a bijection of the state, so a stream that differs
//! in a single byte always has another checksum. The run fails (non-zero exit) on any checksum
//! mismatch, any error (a connect, read or write failing, an echo ending early; the abrupt closes
//! are the client's own and end no operation early), an operation taking over
//! [`OPERATION_TIMEOUT`], a server exiting, or a host RSS growth after the warm-up (the first
//! [`WARM_UP_FRACTION`] of the run) above `--max-rss-growth-mib`.

use std::path::Path;
use std::pin::pin;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::{Mode, Server, System};

/// The largest payload of one connection.
const MAX_PAYLOAD: usize = 1 << 20;
/// The longest line (without its newline) of the line traffic; below the server's 64 KiB limit.
const MAX_LINE: usize = 4 << 10;
/// An operation (one connection's whole exchange) taking longer than this is a failure (a hang).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// The share of the run that counts as warm-up for the RSS check.
pub const WARM_UP_FRACTION: f64 = 0.2;

/// What `wasio-bench soak` was asked to do.
pub struct Options {
    /// How long the load runs.
    pub duration: Duration,
    /// Concurrent clients.
    pub clients: usize,
    /// The largest host RSS growth after the warm-up that passes, in MiB.
    pub max_rss_growth_mib: u64,
    /// The seed of the clients' random choices and payloads.
    pub seed: u64,
}

/// The kinds of exchange, in the order of the summary's rows.
#[derive(Clone, Copy)]
enum Kind {
    HalfClose,
    Abrupt,
    Lines,
}

const KINDS: [(Kind, &str); 3] = [
    (Kind::HalfClose, "echo, half-close"),
    (Kind::Abrupt, "echo, abrupt close"),
    (Kind::Lines, "lines, half-close"),
];

/// splitmix64: a small, fast, seedable generator (quality is plenty for load shapes and payloads).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Log-uniform in 1..=max: small sizes are as common as large ones per power of two.
    fn size(&mut self, max: usize) -> usize {
        let bits = max.ilog2() as usize;
        let low = 1usize << self.below(bits + 1);
        (low + self.below(low)).min(max)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// 64-bit FNV-1a over a byte stream, with its length.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Checksum {
    hash: u64,
    len: u64,
}

impl Checksum {
    fn new() -> Self {
        Self {
            hash: 0xcbf2_9ce4_8422_2325,
            len: 0,
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.len += bytes.len() as u64;
    }

    fn of(bytes: &[u8]) -> Self {
        let mut sum = Self::new();
        sum.update(bytes);
        sum
    }
}

/// What the clients did, summed.
#[derive(Default)]
struct Tally {
    connections: [u64; 3],
    bytes_sent: [u64; 3],
    bytes_checked: [u64; 3],
    mismatches: u64,
    errors: u64,
    /// The first few failures, in words.
    failures: Vec<String>,
}

impl Tally {
    fn fail(&mut self, what: String) {
        if self.failures.len() < 10 {
            self.failures.push(what);
        }
    }

    fn add(&mut self, other: Tally) {
        for i in 0..3 {
            self.connections[i] += other.connections[i];
            self.bytes_sent[i] += other.bytes_sent[i];
            self.bytes_checked[i] += other.bytes_checked[i];
        }
        self.mismatches += other.mismatches;
        self.errors += other.errors;
        for f in other.failures {
            self.fail(f);
        }
    }
}

/// One exchange's result: bytes sent, and the checksums of what should and did come back.
struct Exchange {
    sent: u64,
    want: Checksum,
    got: Checksum,
}

/// Writes `data` in random-sized pieces (so the server sees every kind of chunking).
async fn write_pieces(
    wr: &mut (impl AsyncWriteExt + Unpin),
    data: &[u8],
    pieces: &[usize],
) -> std::io::Result<()> {
    let mut at = 0;
    for &len in pieces {
        let end = (at + len).min(data.len());
        wr.write_all(&data[at..end]).await?;
        at = end;
    }
    wr.write_all(&data[at..]).await
}

/// Reads to EOF, checksumming.
async fn read_to_end(rd: &mut (impl AsyncReadExt + Unpin)) -> std::io::Result<Checksum> {
    let mut sum = Checksum::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            return Ok(sum);
        }
        sum.update(&buf[..n]);
    }
}

fn pieces(rng: &mut Rng, count: usize) -> Vec<usize> {
    (0..count).map(|_| rng.size(64 * 1024)).collect()
}

/// Sends `data` in pieces, half-closes and reads the echo to EOF, concurrently.
async fn echo_half_close(port: u16, data: Vec<u8>, pieces: Vec<usize>) -> anyhow::Result<Exchange> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (mut rd, mut wr) = stream.into_split();
    let write = async {
        write_pieces(&mut wr, &data, &pieces).await?;
        wr.shutdown().await
    };
    let (_, got) = tokio::try_join!(write, read_to_end(&mut rd))?;
    Ok(Exchange {
        sent: data.len() as u64,
        want: Checksum::of(&data),
        got,
    })
}

/// Sends `data` while reading back its first `keep` bytes, then drops the socket mid-transfer.
async fn echo_abrupt(
    port: u16,
    data: Vec<u8>,
    keep: usize,
    reset: bool,
) -> anyhow::Result<Exchange> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    if reset {
        stream.set_zero_linger()?;
    }
    let (mut rd, mut wr) = stream.into_split();
    let mut back = vec![0u8; keep];
    let mut read = pin!(rd.read_exact(&mut back));
    let mut write = pin!(wr.write_all(&data));
    let mut written = false;
    loop {
        tokio::select! {
            r = &mut read => {
                r?;
                break;
            }
            w = &mut write, if !written => {
                w?;
                written = true;
            }
        }
    }
    Ok(Exchange {
        sent: data.len() as u64,
        want: Checksum::of(&data[..keep]),
        got: Checksum::of(&back),
    })
}

/// Random lines totalling up to `budget` bytes, each ending in its only newline.
fn lines(rng: &mut Rng, budget: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(budget + MAX_LINE + 1);
    while out.len() < budget {
        let start = out.len();
        let len = rng.below(MAX_LINE + 1);
        out.resize(start + len, 0);
        rng.fill(&mut out[start..]);
        for b in &mut out[start..] {
            if *b == b'\n' {
                *b = b' ';
            }
        }
        out.push(b'\n');
    }
    out
}

/// One client: exchanges of random kinds until `deadline`.
async fn client(ports: (u16, u16), seed: u64, deadline: Instant) -> Tally {
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let roll = rng.below(4);
        let (index, kind) = match roll {
            0 | 1 => (0, KINDS[0].0),
            2 => (1, KINDS[1].0),
            _ => (2, KINDS[2].0),
        };
        let exchange = match kind {
            Kind::HalfClose => {
                let mut data = vec![0u8; rng.size(MAX_PAYLOAD)];
                rng.fill(&mut data);
                let pieces = pieces(&mut rng, 8);
                tokio::time::timeout(OPERATION_TIMEOUT, echo_half_close(ports.0, data, pieces))
                    .await
            }
            Kind::Abrupt => {
                let mut data = vec![0u8; rng.size(MAX_PAYLOAD)];
                rng.fill(&mut data);
                let keep = rng.below(data.len() + 1);
                let reset = rng.below(2) == 0;
                tokio::time::timeout(OPERATION_TIMEOUT, echo_abrupt(ports.0, data, keep, reset))
                    .await
            }
            Kind::Lines => {
                let budget = rng.size(MAX_PAYLOAD);
                let data = lines(&mut rng, budget);
                let pieces = pieces(&mut rng, 8);
                tokio::time::timeout(OPERATION_TIMEOUT, echo_half_close(ports.1, data, pieces))
                    .await
            }
        };
        let name = KINDS[index].1;
        tally.connections[index] += 1;
        match exchange {
            Ok(Ok(x)) => {
                tally.bytes_sent[index] += x.sent;
                tally.bytes_checked[index] += x.got.len;
                if x.got != x.want {
                    tally.mismatches += 1;
                    tally.fail(format!(
                        "{name}: checksum mismatch: sent {} bytes, expected {:?}, got {:?}",
                        x.sent, x.want, x.got
                    ));
                }
            }
            Ok(Err(e)) => {
                tally.errors += 1;
                tally.fail(format!("{name}: {e:#}"));
            }
            Err(_) => {
                tally.errors += 1;
                tally.fail(format!("{name}: no end after {OPERATION_TIMEOUT:?}"));
            }
        }
    }
    tally
}

/// RSS samples of one server: (seconds since start, bytes).
struct Samples(Vec<(f64, u64)>);

/// What the RSS did over the run.
struct RssSummary {
    first: u64,
    warm: u64,
    last: u64,
    max: u64,
    growth_after_warm_up: u64,
    slope_mib_per_min: f64,
}

impl Samples {
    fn summary(&self, warm_up: f64) -> Option<RssSummary> {
        let first = self.0.first()?.1;
        let last = self.0.last()?.1;
        let max = self.0.iter().map(|s| s.1).max()?;
        let after: Vec<(f64, u64)> = self.0.iter().copied().filter(|s| s.0 >= warm_up).collect();
        let warm = after.first()?.1;
        let growth = after.iter().map(|s| s.1).max()?.saturating_sub(warm);
        // Least-squares slope over the samples after the warm-up.
        let n = after.len() as f64;
        let mean_t = after.iter().map(|s| s.0).sum::<f64>() / n;
        let mean_r = after.iter().map(|s| s.1 as f64).sum::<f64>() / n;
        let (mut num, mut den) = (0.0, 0.0);
        for &(t, r) in &after {
            num += (t - mean_t) * (r as f64 - mean_r);
            den += (t - mean_t) * (t - mean_t);
        }
        let slope = if den > 0.0 { num / den } else { 0.0 };
        Some(RssSummary {
            first,
            warm,
            last,
            max,
            growth_after_warm_up: growth,
            slope_mib_per_min: slope * 60.0 / MIB,
        })
    }
}

const MIB: f64 = 1024.0 * 1024.0;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

/// Runs the soak, prints the summary and fails on any mismatch, error or RSS growth.
pub fn run(options: &Options) -> anyhow::Result<()> {
    let echo = Server::start(System::Wasio, Mode::Echo, Path::new("python3"))?;
    let line = Server::start(System::Wasio, Mode::Lines, Path::new("python3"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the load generator's runtime")?;
    eprintln!(
        "soak: {:.1} min, {} clients, echo on port {}, lines on port {}",
        options.duration.as_secs_f64() / 60.0,
        options.clients,
        echo.port,
        line.port
    );
    let start = Instant::now();
    let deadline = start + options.duration;
    let sample_every = Duration::from_secs(1);
    let (tally, samples) = rt.block_on(async {
        let mut clients = Vec::new();
        for i in 0..options.clients {
            let seed = options.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
            clients.push(tokio::spawn(client((echo.port, line.port), seed, deadline)));
        }
        let mut samples = (Samples(Vec::new()), Samples(Vec::new()));
        let mut next_report = start;
        while Instant::now() < deadline {
            let t = start.elapsed().as_secs_f64();
            samples
                .0
                .0
                .push((t, echo.rss().context("the echo server's RSS")?));
            samples
                .1
                .0
                .push((t, line.rss().context("the line server's RSS")?));
            if Instant::now() >= next_report {
                eprintln!(
                    "  {:>5.0} s  RSS echo {:.1} MiB, lines {:.1} MiB",
                    t,
                    mib(samples.0.0.last().map_or(0, |s| s.1)),
                    mib(samples.1.0.last().map_or(0, |s| s.1)),
                );
                next_report += Duration::from_secs(60);
            }
            tokio::time::sleep(sample_every).await;
        }
        let mut tally = Tally::default();
        for c in clients {
            tally.add(c.await.context("a client task panicked")?);
        }
        // Both servers must still be serving after the run.
        let t = start.elapsed().as_secs_f64();
        samples
            .0
            .0
            .push((t, echo.rss().context("the echo server after the run")?));
        samples
            .1
            .0
            .push((t, line.rss().context("the line server after the run")?));
        anyhow::Ok((tally, samples))
    })?;
    let elapsed = start.elapsed();

    println!(
        "soak: {:.1} min (ran {:.1} min), {} clients, seed {}",
        options.duration.as_secs_f64() / 60.0,
        elapsed.as_secs_f64() / 60.0,
        options.clients,
        options.seed
    );
    println!();
    println!(
        "| {:<20} | {:>11} | {:>14} | {:>14} |",
        "exchange", "connections", "MiB sent", "MiB checked"
    );
    println!("|{:-<22}|{:->13}|{:->16}|{:->16}|", "", "", "", "");
    for (i, (_, name)) in KINDS.iter().enumerate() {
        println!(
            "| {:<20} | {:>11} | {:>14.1} | {:>14.1} |",
            name,
            tally.connections[i],
            mib(tally.bytes_sent[i]),
            mib(tally.bytes_checked[i])
        );
    }
    println!(
        "| {:<20} | {:>11} | {:>14.1} | {:>14.1} |",
        "total",
        tally.connections.iter().sum::<u64>(),
        mib(tally.bytes_sent.iter().sum()),
        mib(tally.bytes_checked.iter().sum())
    );
    println!();
    println!(
        "bytes checked: {}; checksum mismatches: {}; errors: {}",
        tally.bytes_checked.iter().sum::<u64>(),
        tally.mismatches,
        tally.errors
    );
    println!();
    let warm_up = options.duration.as_secs_f64() * WARM_UP_FRACTION;
    println!(
        "host RSS (MiB; warm-up = first {warm_up:.0} s, {} samples each)",
        samples.0.0.len()
    );
    println!(
        "| {:<12} | {:>7} | {:>11} | {:>7} | {:>7} | {:>19} | {:>13} |",
        "server", "first", "after warm", "last", "max", "growth after warm", "slope MiB/min"
    );
    println!(
        "|{:-<14}|{:->9}|{:->13}|{:->9}|{:->9}|{:->21}|{:->15}|",
        "", "", "", "", "", "", ""
    );
    let mut too_much = Vec::new();
    for (name, s) in [("echo host", &samples.0), ("lines host", &samples.1)] {
        let r = s.summary(warm_up).context("too few RSS samples")?;
        println!(
            "| {:<12} | {:>7.1} | {:>11.1} | {:>7.1} | {:>7.1} | {:>19.1} | {:>13.2} |",
            name,
            mib(r.first),
            mib(r.warm),
            mib(r.last),
            mib(r.max),
            mib(r.growth_after_warm_up),
            r.slope_mib_per_min
        );
        if r.growth_after_warm_up > options.max_rss_growth_mib << 20 {
            too_much.push(format!(
                "{name}: RSS grew {:.1} MiB after the warm-up (bound {} MiB)",
                mib(r.growth_after_warm_up),
                options.max_rss_growth_mib
            ));
        }
    }
    for f in &tally.failures {
        eprintln!("failure: {f}");
    }
    ensure!(
        tally.mismatches == 0 && tally.errors == 0,
        "soak failed: {} checksum mismatches, {} errors",
        tally.mismatches,
        tally.errors
    );
    if !too_much.is_empty() {
        bail!("soak failed: {}", too_much.join("; "));
    }
    Ok(())
}
