//! The host's own TCP options through the provider: TCP_NODELAY is on for every connection
//! unless the app turns it off with the `tcp-nodelay` option or the writer's `set-tcp-nodelay`
//! (SO_REUSEPORT and SO_REUSEADDR:
//! streams.rs `server_option_rules` and the host's `tcp` unit tests).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wasio_tests::{PROBE, WAIT, assert_success, loopback, spawn};

/// Round trips of one write-write-read exchange.
const ROUNDS: usize = 20;

/// Answers `rounds` request lines on the connection the app makes, with `pong\n` each, and
/// returns the time of every round trip after the first (from one request line complete to the
/// next). After every read it turns TCP_QUICKACK off, so that it delays its ACKs as a peer
/// with nothing to answer yet does (Linux waits 40 ms or more).
async fn delaying_peer(listener: TcpListener, rounds: usize) -> anyhow::Result<Vec<Duration>> {
    let (mut stream, _) = tokio::time::timeout(WAIT, listener.accept()).await??;
    let mut times = Vec::new();
    let mut last: Option<Instant> = None;
    let mut buf = [0u8; 64];
    for _ in 0..rounds {
        read_line(&mut stream, &mut buf).await?;
        let now = Instant::now();
        if let Some(last) = last {
            times.push(now - last);
        }
        last = Some(now);
        stream.write_all(b"pong\n").await?;
    }
    Ok(times)
}

/// Reads one `ping\n` request, in whatever pieces it comes.
async fn read_line(stream: &mut TcpStream, buf: &mut [u8]) -> anyhow::Result<()> {
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        rustix::net::sockopt::set_tcp_quickack(&*stream, false)?;
        let n = tokio::time::timeout(WAIT, stream.read(buf)).await??;
        anyhow::ensure!(n > 0, "the app closed the connection early");
        line.extend_from_slice(&buf[..n]);
    }
    anyhow::ensure!(line == b"ping\n", "unexpected request {line:?}");
    Ok(())
}

/// Runs the probe's write-write-read exchange with `nodelay` (`on`, `off`, `default`,
/// `set-off`, `set-on`) against
/// a delaying peer; returns the median round trip.
async fn exchange(nodelay: &str) -> anyhow::Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port().to_string();
    let rounds = ROUNDS.to_string();
    let app = spawn(
        PROBE,
        &["write-write-read", "127.0.0.1", &port, &rounds, nodelay],
        loopback(),
    )?;
    let peer = tokio::spawn(delaying_peer(listener, ROUNDS));
    // The app's end first: an app that fails before connecting fails the test at once.
    let (exit, lines) = app.finish().await?;
    assert_success(&exit, &lines)?;
    let mut times = tokio::time::timeout(WAIT, peer).await???;
    anyhow::ensure!(lines.contains(&format!("rounds {ROUNDS}")), "{lines:?}");
    times.sort();
    let median = times[times.len() / 2];
    eprintln!("tcp-nodelay {nodelay}: median round trip {median:?}, all {times:?}");
    Ok(median)
}

/// TCP_NODELAY by default: the request's second piece goes out at once, not after the peer's
/// delayed ACK of the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_write_read_does_not_wait_for_a_delayed_ack() -> anyhow::Result<()> {
    for nodelay in ["default", "on", "set-on"] {
        let median = exchange(nodelay).await?;
        assert!(
            median < Duration::from_millis(5),
            "tcp-nodelay {nodelay}: a round trip took {median:?}"
        );
    }
    Ok(())
}

/// `tcp-nodelay` false, at connect or set after it: Nagle's algorithm holds the second piece until the delayed ACK, about
/// 40 ms per round trip (this also shows the peer above does delay its ACKs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_nodelay_write_write_read_waits_for_the_delayed_ack() -> anyhow::Result<()> {
    for nodelay in ["off", "set-off"] {
        let median = exchange(nodelay).await?;
        assert!(
            median >= Duration::from_millis(30),
            "tcp-nodelay {nodelay}: a round trip with Nagle's algorithm on took only {median:?}"
        );
    }
    Ok(())
}
