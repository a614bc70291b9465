//! Peers that send and never read, against the echo-server example under a small memory cap and
//! otherwise default limits: the run stays up (the provider stops reading and accepting instead of
//! growing), and serves a well-behaved client once the hostile peers are gone.
//!
//! `WASIO_HOSTILE_PEERS` (default 400) and `WASIO_PRESSURE_MAX_MEMORY_MIB` (default 64; 0 for no
//! cap) change the attack, e.g. to measure what one connection pins without a cap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasio_host::Limits;
use wasio_tests::{ECHO_SERVER, WAIT, loopback, raise_nofile, spawn_limited};

/// What each hostile peer tries to send (it never reads a byte of the echo).
const SEND: usize = 2 << 20;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Waits until the run's linear memory has not grown for `quiet`, or the run ended, or `within`
/// passed. Returns the memory then.
async fn settled(
    server: &wasio_tests::Running,
    memory: &wasio_host::MemoryUsage,
    quiet: Duration,
    within: Duration,
) -> u64 {
    let started = Instant::now();
    let mut last = memory.bytes();
    let mut since = Instant::now();
    while started.elapsed() < within && !server.is_finished() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = memory.bytes();
        if std::env::var_os("WASIO_PRESSURE_TRACE").is_some() && now != last {
            eprintln!("{:?}: {now}", started.elapsed());
        }
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            break;
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_that_send_and_never_read_cannot_get_the_server_stopped() -> anyhow::Result<()> {
    let hostile = env_or("WASIO_HOSTILE_PEERS", 400) as usize;
    let cap_mib = env_or("WASIO_PRESSURE_MAX_MEMORY_MIB", 64);
    raise_nofile(2 * hostile as u64 + 256)?;
    let cap = (cap_mib > 0).then_some(cap_mib << 20);
    let limits = Limits {
        max_memory: cap,
        ..Limits::default()
    };
    let mut server = spawn_limited(
        ECHO_SERVER,
        &["--host", "127.0.0.1", "--port", "0"],
        loopback(),
        Vec::new(),
        limits,
    )?;
    let line = server.line_starting("Serving on ").await?;
    let port: u16 = line.rsplit(':').next().unwrap_or_default().trim().parse()?;
    let memory = server.memory_usage();
    let base = memory.bytes();

    // Each hostile peer connects and sends SEND bytes from its own task, never reading. Under
    // pressure the server stops accepting, so later peers wait in the listen backlog (or in
    // their SYN retries) meanwhile.
    let started = Instant::now();
    let payload: Arc<[u8]> = vec![b'x'; SEND].into();
    let (closed_tx, closed_rx) = tokio::sync::watch::channel(false);
    let mut peers = Vec::with_capacity(hostile);
    for _ in 0..hostile {
        let payload = payload.clone();
        let mut closed = closed_rx.clone();
        peers.push(tokio::spawn(async move {
            let connect = TcpStream::connect(("127.0.0.1", port));
            let stream = tokio::select! {
                stream = connect => stream,
                _ = closed.wait_for(|c| *c) => return,
            };
            let Ok(mut stream) = stream else { return };
            tokio::select! {
                _ = stream.write_all(&payload) => {}
                _ = closed.wait_for(|c| *c) => {}
            }
            // Keep the connection, unread data and all, until the test lets it go.
            let _ = closed.wait_for(|c| *c).await;
            drop(stream);
        }));
    }
    let pinned = settled(&server, &memory, Duration::from_secs(3), WAIT).await;
    if server.is_finished() {
        let (exit, _) = server.finish().await?;
        anyhow::bail!("the server stopped under {hostile} peers that never read: {exit}");
    }
    eprintln!(
        "{hostile} peers that never read: linear memory {base} -> {pinned} bytes, {} bytes per \
         peer (settled after {:?})",
        (pinned - base) / hostile as u64,
        started.elapsed()
    );

    // The hostile peers go away (with unread data, so with a reset); their connections close
    // and what they pinned is released.
    closed_tx.send_replace(true);
    for peer in peers {
        peer.await?;
    }
    // A well-behaved client is then served.
    let mut client = tokio::time::timeout(WAIT, TcpStream::connect(("127.0.0.1", port))).await??;
    let message = b"hello after the flood\n";
    client.write_all(message).await?;
    let mut echoed = vec![0u8; message.len()];
    tokio::time::timeout(WAIT, client.read_exact(&mut echoed)).await??;
    assert_eq!(echoed, message);
    eprintln!("a new client was served after {:?}", started.elapsed());
    assert!(!server.is_finished(), "the server stopped");
    if let Some(cap) = cap {
        assert!(memory.bytes() <= cap);
    }
    drop(client);
    drop(server);
    Ok(())
}
