//! The host's resource limits, enforced for real: connections (accepted and opened), the write
//! queue cap and the memory cap. (The timeout and the exit statuses are tested through the
//! `wasio` binary in host/tests/host/cli.rs.)

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wasio_host::{Capabilities, Exit, Limits};
use wasio_tests::{LINE_ECHO, PROBE, WAIT, loopback, spawn_limited};

fn limits(edit: impl FnOnce(&mut Limits)) -> Limits {
    let mut limits = Limits::default();
    edit(&mut limits);
    limits
}

/// Sends a line and waits up to `within` for its echo.
async fn ask(stream: &mut TcpStream, line: &[u8], within: Duration) -> anyhow::Result<bool> {
    stream.write_all(line).await?;
    let mut echoed = vec![0u8; line.len()];
    match tokio::time::timeout(within, stream.read_exact(&mut echoed)).await {
        Ok(read) => {
            read?;
            assert_eq!(echoed, line);
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_max_connections_accepts_wait_until_one_closes() -> anyhow::Result<()> {
    let mut server = spawn_limited(
        LINE_ECHO,
        &["--port", "0"],
        loopback(),
        Vec::new(),
        // The listening socket takes one place; two are left for connections.
        limits(|l| l.max_connections = Some(3)),
    )?;
    let line = server.line_starting("Serving on ").await?;
    let port: u16 = line.rsplit(':').next().unwrap_or_default().trim().parse()?;
    let mut a = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut b = TcpStream::connect(("127.0.0.1", port)).await?;
    assert!(ask(&mut a, b"a\n", WAIT).await?);
    assert!(ask(&mut b, b"b\n", WAIT).await?);
    // The third client's connect succeeds (the kernel's backlog), but nobody serves it...
    let mut c = TcpStream::connect(("127.0.0.1", port)).await?;
    assert!(
        !ask(&mut c, b"c\n", Duration::from_millis(500)).await?,
        "a third connection was served with two places for connections"
    );
    // ...until one of the first two closes; then its line is answered.
    drop(a);
    let mut echoed = [0u8; 2];
    tokio::time::timeout(WAIT, c.read_exact(&mut echoed)).await??;
    assert_eq!(&echoed, b"c\n");
    assert!(ask(&mut b, b"b2\n", WAIT).await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_beyond_max_connections_is_an_error_not_a_trap() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port().to_string();
    // Keep every accepted connection open until the app closes it.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let (exit, lines) = spawn_limited(
        PROBE,
        &["connect-many", "127.0.0.1", &port, "5"],
        loopback(),
        Vec::new(),
        limits(|l| l.max_connections = Some(3)),
    )?
    .finish()
    .await?;
    assert!(exit.success(), "{exit}: {lines:?}");
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0], "opened 3");
    assert!(
        lines[1].starts_with("refused at 3: ErrorCode::Other(Some(\"too many open sockets"),
        "{lines:?}"
    );
    // Closing frees the places again.
    assert_eq!(lines[2..], ["reopened", "done"]);
    Ok(())
}

/// Runs the probe under `--max-connections max` and returns its output after checking it ended
/// well.
async fn probe_limited(args: &[&str], caps: Capabilities, max: u32) -> anyhow::Result<Vec<String>> {
    let (exit, lines) = spawn_limited(
        PROBE,
        args,
        caps,
        Vec::new(),
        limits(|l| l.max_connections = Some(max)),
    )?
    .finish()
    .await?;
    assert!(exit.success(), "{exit}: {lines:?}");
    Ok(lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasi_sockets_0_3_used_directly_count_against_max_connections() -> anyhow::Result<()> {
    for kind in ["tcp", "udp"] {
        let lines = probe_limited(&["raw-many", kind, "50"], Capabilities::allow_all(), 4).await?;
        assert_eq!(lines.len(), 3, "{kind}: {lines:?}");
        assert_eq!(lines[0], "opened 4", "{kind}");
        assert!(
            lines[1].starts_with("refused at 4: ErrorCode::Other(Some(\"too many open sockets"),
            "{kind}: {lines:?}"
        );
        // Dropping the sockets frees their places.
        assert_eq!(lines[2], "reopened", "{kind}");
    }
    Ok(())
}

/// A component that reads a WASI 0.3 accept stream itself is held at the limit: further
/// clients wait (they are not handed to it) until one of its sockets closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasi_0_3_accept_stream_read_directly_stops_at_max_connections() -> anyhow::Result<()> {
    // The listener and two connections fill a limit of 3.
    let mut app = spawn_limited(
        PROBE,
        &["raw-accept", "3"],
        Capabilities::allow_all(),
        Vec::new(),
        limits(|l| l.max_connections = Some(3)),
    )?;
    let port: u16 = app
        .line_starting("listening ")
        .await?
        .trim_start_matches("listening ")
        .parse()?;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(TcpStream::connect(("127.0.0.1", port)).await?);
    }
    app.line_starting("accepted 2").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lines = app.lines_so_far();
    assert!(
        !lines.iter().any(|l| l == "accepted 3"),
        "a third connection was handed to the app at the limit: {lines:?}"
    );
    // Closing the first client ends the app's first socket; the third client is then accepted.
    drop(clients.remove(0));
    let (exit, lines) = app.finish().await?;
    assert!(exit.success(), "{exit}: {lines:?}");
    let closed = lines.iter().position(|l| l == "closed");
    let third = lines.iter().position(|l| l == "accepted 3");
    assert!(
        matches!((closed, third), (Some(c), Some(t)) if c < t),
        "{lines:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn std_net_over_wasi_0_2_counts_against_max_connections() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let lines = probe_limited(
        &["std-many", "127.0.0.1", &port, "50"],
        Capabilities::allow_all(),
        3,
    )
    .await?;
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(lines[0], "opened 3");
    assert!(lines[1].starts_with("refused at 3: "), "{lines:?}");
    // UDP sockets and listeners are sockets too; nothing was left for them.
    assert!(lines[2].starts_with("udp refused: "), "{lines:?}");
    assert!(lines[3].starts_with("listener refused: "), "{lines:?}");
    assert_eq!(lines[4], "reopened");
    Ok(())
}

/// A native peer that accepts one connection and never reads from it; returns the port.
async fn silent_peer() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            tokio::time::sleep(WAIT).await;
            drop(stream);
        }
    });
    Ok(port)
}

/// The `queued=N` of a `fill` run's `refused` line, after checking the error.
fn queued(lines: &[String]) -> anyhow::Result<u64> {
    let line = lines
        .iter()
        .find(|l| l.starts_with("refused "))
        .ok_or_else(|| anyhow::anyhow!("no refused line: {lines:?}"))?;
    assert!(
        line.starts_with("refused ErrorCode::BufferFull queued="),
        "{line}"
    );
    Ok(line.rsplit('=').next().unwrap_or_default().parse()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_write_queue_cap_is_buffer_full_and_a_ceiling() -> anyhow::Result<()> {
    const CAP: u64 = 1 << 20;
    const CHUNK: u64 = 64 * 1024;
    // Fills a write queue toward a silent peer under the host's cap, the app asking for
    // `asked` (none: the default); returns the exit and output.
    let fill = async |asked: Option<&str>| -> anyhow::Result<(Exit, Vec<String>)> {
        let port = silent_peer().await?.to_string();
        let mut args = vec!["fill", "127.0.0.1", port.as_str()];
        args.extend(asked);
        spawn_limited(
            PROBE,
            &args,
            loopback(),
            Vec::new(),
            limits(|l| l.write_queue_cap = CAP),
        )?
        .finish()
        .await
    };
    // The app asks for nothing: the host's cap is the default.
    let (exit, lines) = fill(None).await?;
    assert!(exit.success(), "{exit}: {lines:?}");
    let queued = queued(&lines)?;
    // The refused write would have crossed the cap; the socket took part of what was written.
    assert!(queued <= CAP && queued + CHUNK > CAP, "queued {queued}");
    // The app asks for 64 MiB: it gets the host's 1 MiB still.
    let (exit, lines) = fill(Some("67108864")).await?;
    assert!(exit.success(), "{exit}: {lines:?}");
    let queued = self::queued(&lines)?;
    assert!(queued <= CAP && queued + CHUNK > CAP, "queued {queued}");
    // A smaller cap asked for is honoured.
    let (_, lines) = fill(Some("262144")).await?;
    let queued = self::queued(&lines)?;
    assert!(
        queued <= 262_144 && queued + CHUNK > 262_144,
        "queued {queued}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_cap_stops_the_run_clearly() -> anyhow::Result<()> {
    let cap = 48 << 20;
    let run = |mib: &'static str| {
        spawn_limited(
            PROBE,
            &["alloc", mib],
            loopback(),
            Vec::new(),
            limits(|l| l.max_memory = Some(cap)),
        )
    };
    let (exit, lines) = run("8")?.finish().await?;
    assert!(exit.success(), "{exit}: {lines:?}");
    assert_eq!(lines, ["allocated 8", "done"]);
    let over = run("64")?;
    let memory = over.memory_usage();
    let (exit, lines) = over.finish().await?;
    let Exit::MemoryLimit(hit) = &exit else {
        anyhow::bail!("not stopped at the memory limit: {exit}: {lines:?}");
    };
    assert_eq!(hit.limit, cap);
    assert!(hit.requested > cap, "{hit:?}");
    assert_eq!(exit.code(), 137);
    assert!(
        exit.to_string()
            .contains("beyond the run's limit of 48 MiB (--max-memory)"),
        "{exit}"
    );
    assert!(lines.is_empty(), "{lines:?}");
    // The run's memory never went past the cap.
    assert!(memory.bytes() <= cap, "{}", memory.bytes());
    Ok(())
}

/// Unix sockets (`wasio:host` host-sockets) count too: a socketpair is two sockets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_sockets_count_against_max_connections() -> anyhow::Result<()> {
    let run = async |max: u32| {
        spawn_limited(
            PROBE,
            &["socketpair"],
            Capabilities::deny_all(),
            Vec::new(),
            limits(|l| l.max_connections = Some(max)),
        )?
        .finish()
        .await
    };
    let (exit, lines) = run(1).await?;
    assert!(!exit.success(), "{exit}: {lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("too many open sockets")),
        "{lines:?}"
    );
    let (exit, lines) = run(2).await?;
    assert!(exit.success(), "{exit}: {lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some("done"), "{lines:?}");
    Ok(())
}
