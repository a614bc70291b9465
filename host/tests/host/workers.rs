//! `wasio run --workers N`: instances of one app in stores of their own, sharing the listeners
//! they open (connections land on every worker), each with its own state, within one
//! `--max-connections`, stopped together.
#![cfg(feature = "embed")]

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::signals::{GRACE, START_LIMIT, Wasio, utf8};

/// The probe's `count-server` under `wasio run --workers 2` with `extra` flags, serving `on`.
fn count_server(dir: &Path, on: &str, extra: &[&str]) -> anyhow::Result<Wasio> {
    let app = dir.join("probe.wasm");
    std::fs::write(&app, wasio_test_components::PROBE)?;
    let mut args = vec!["run", utf8(&app)?, "--workers", "2"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "count-server", on]);
    Wasio::start(&args)
}

/// The `serving` lines of both workers: `(worker, rest of the line)`, sorted by worker.
fn serving(wasio: &Wasio) -> anyhow::Result<Vec<(u32, String)>> {
    let mut seen = Vec::new();
    for _ in 0..2 {
        let line = wasio.line(START_LIMIT)?;
        let (worker, rest) = labelled(&line)?;
        let Some(port) = rest.strip_prefix("serving") else {
            anyhow::bail!("expected a serving line, got {line:?}");
        };
        seen.push((worker, port.trim().to_owned()));
    }
    seen.sort();
    Ok(seen)
}

/// `[worker K] REST` as `(K, REST)`.
fn labelled(line: &str) -> anyhow::Result<(u32, &str)> {
    line.strip_prefix("[worker ")
        .and_then(|l| l.split_once("] "))
        .and_then(|(k, rest)| Some((k.parse().ok()?, rest)))
        .ok_or_else(|| anyhow::anyhow!("an unlabelled line: {line:?}"))
}

/// One client of the count server: its reply.
fn count_reply(port: u16) -> anyhow::Result<u64> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply.trim().parse()?)
}

#[test]
fn workers_share_a_listener_and_keep_their_own_state() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let wasio = count_server(dir.path(), "127.0.0.1", &["--allow-listen", "127.0.0.1:0"])?;
    let seen = serving(&wasio)?;
    assert_eq!(seen[0].0, 1);
    assert_eq!(seen[1].0, 2);
    assert_eq!(seen[0].1, seen[1].1, "the workers serve one port: {seen:?}");
    let port: u16 = seen[0].1.parse()?;

    // Clients one after another, until both workers have served some.
    let mut served: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let mut replies = Vec::new();
    let started = Instant::now();
    while served.len() < 2 || replies.len() < 20 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "after {} clients only workers {:?} served any",
            replies.len(),
            served.keys().collect::<Vec<_>>()
        );
        replies.push(count_reply(port)?);
        let line = wasio.line(Duration::from_secs(30))?;
        let (worker, rest) = labelled(&line)?;
        let Some(n) = rest.strip_prefix("served ") else {
            anyhow::bail!("expected a served line, got {line:?}");
        };
        served.entry(worker).or_default().push(n.parse()?);
    }
    // Each worker counted its own clients: 1, 2, 3, ... in each, adding up to every client.
    for (worker, counts) in &served {
        let expected: Vec<u64> = (1..=counts.len() as u64).collect();
        assert_eq!(counts, &expected, "worker {worker}");
    }
    let total: usize = served.values().map(Vec::len).sum();
    assert_eq!(total, replies.len());
    let mut all: Vec<u64> = served.values().flatten().copied().collect();
    all.sort_unstable();
    replies.sort_unstable();
    assert_eq!(replies, all);
    Ok(())
}

/// `--max-connections` counts every worker's sockets: with a cap of 2 and a listener in each
/// worker (the run's budget then has no place left), either a worker is refused its listener,
/// or both listen and no client is served; each worker alone would have room for a client.
/// With a cap of 4, a client is served.
#[test]
fn max_connections_holds_for_all_workers_together() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let full = count_server(
        dir.path(),
        "127.0.0.1",
        &["--allow-listen", "127.0.0.1:0", "--max-connections", "2"],
    )?;
    let mut ports = Vec::new();
    for _ in 0..2 {
        let line = full.line(START_LIMIT)?;
        let (_, rest) = labelled(&line)?;
        if rest.contains("too many open sockets") {
            return Ok(()); // a worker was refused its listener: the budget is the run's
        }
        let port = rest.strip_prefix("serving ");
        ports.push(
            port.ok_or_else(|| anyhow::anyhow!("unexpected {line:?}"))?
                .parse()?,
        );
    }
    let port: u16 = ports[0];
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port))?;
    client.set_read_timeout(Some(Duration::from_millis(1500)))?;
    let mut byte = [0u8; 1];
    let waited = client.read(&mut byte);
    assert!(
        waited.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "a worker accepted beyond the run's cap: {waited:?}"
    );
    drop(full);

    let room = count_server(
        dir.path(),
        "127.0.0.1",
        &["--allow-listen", "127.0.0.1:0", "--max-connections", "4"],
    )?;
    let port: u16 = serving(&room)?[0].1.parse()?;
    assert_eq!(count_reply(port)?, 1);
    Ok(())
}

/// Ctrl-C stops every worker: the run exits with 130 within the grace period, and the Unix
/// socket file the workers shared is gone.
#[test]
fn ctrl_c_stops_every_worker_and_removes_their_socket_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("count.sock");
    let wasio = count_server(dir.path(), utf8(&path)?, &["--allow-unix", utf8(&path)?])?;
    let seen = serving(&wasio)?;
    assert_eq!(seen, [(1, String::new()), (2, String::new())]);
    let mut client = std::os::unix::net::UnixStream::connect(&path)?;
    let mut reply = String::new();
    client.read_to_string(&mut reply)?;
    assert_eq!(reply, "1\n");
    wasio.signal(Signal::INT)?;
    let (code, took, stderr) = wasio.wait(GRACE * 2)?;
    assert_eq!(code, Some(130), "{stderr}");
    assert!(took < GRACE, "took {took:?}: {stderr}");
    assert!(!path.exists(), "the socket file was left behind");
    Ok(())
}

#[test]
fn an_invalid_worker_count_is_refused_with_a_sentence() -> anyhow::Result<()> {
    for bad in ["0", "many", "100000"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasio"))
            .args(["run", "app.wasm", "--workers", bad])
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains(&format!(
                "`{bad}` is not a worker count: write a number from 1 to 1024, or `auto`"
            )),
            "{stderr}"
        );
    }
    Ok(())
}
