//! The raw wasi:sockets floor really echoes: `wasio-bench serve floor echo`, the server the
//! benchmark's floor column measures, checked byte for byte with the shapes of the benchmark's
//! echo workloads (ping-pong on one and three connections, bulk, many short connections), so the
//! column cannot silently measure a broken server. Loopback only; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long any single wait may take before the test fails instead of hanging (a debug build
/// compiles the component first).
const WAIT: Duration = Duration::from_secs(60);

/// `wasio-bench serve floor MODE`, with its stdin and stdout piped; killed when dropped.
fn serve(mode: &str) -> anyhow::Result<Child> {
    Command::new(env!("CARGO_BIN_EXE_wasio-bench"))
        .args(["serve", "floor", mode])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting wasio-bench serve")
}

/// Starts the floor's echo server and returns it with the port it printed.
async fn floor() -> anyhow::Result<(Child, u16)> {
    let mut child = serve("echo")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    tokio::time::timeout(WAIT, BufReader::new(stdout).read_line(&mut line))
        .await
        .context("the floor printed no port in time")??;
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("the floor printed {line:?} instead of its port"))?;
    Ok((child, port))
}

async fn connect(port: u16) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// `len` bytes that differ from message to message and within each.
fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 7 + i / 251 + seed * 13) % 256) as u8)
        .collect()
}

/// `rounds` round trips of `size`-byte messages on one connection, each echo compared.
async fn ping_pong(port: u16, size: usize, rounds: usize, seed: usize) -> anyhow::Result<()> {
    let mut stream = connect(port).await?;
    let mut back = vec![0u8; size];
    for round in 0..rounds {
        let msg = pattern(size, seed + round);
        stream.write_all(&msg).await?;
        stream.read_exact(&mut back).await?;
        ensure!(
            back == msg,
            "round {round} of {size}-byte ping-pong came back different"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_echoes_ping_pong_on_one_and_three_connections() -> anyhow::Result<()> {
    let (_server, port) = floor().await?;
    tokio::time::timeout(WAIT, async {
        for size in [1024, 10 * 1024, 100 * 1024] {
            ping_pong(port, size, 20, 0).await?;
            let three: Vec<_> = (0..3)
                .map(|c| tokio::spawn(ping_pong(port, size, 20, 100 * c)))
                .collect();
            for conn in three {
                conn.await??;
            }
        }
        anyhow::Ok(())
    })
    .await
    .context("ping-pong took too long")?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_echoes_bulk_and_ends_its_side_after_the_peers() -> anyhow::Result<()> {
    let (_server, port) = floor().await?;
    let data = pattern(16 << 20, 1);
    let stream = connect(port).await?;
    let (mut rd, mut wr) = stream.into_split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        for chunk in sent.chunks(64 * 1024) {
            wr.write_all(chunk).await?;
        }
        wr.shutdown().await?;
        anyhow::Ok(wr)
    });
    let mut echoed = Vec::with_capacity(data.len());
    tokio::time::timeout(WAIT, rd.read_to_end(&mut echoed))
        .await
        .context("the echo did not end in time after the client's FIN")??;
    drop(writer.await??);
    ensure!(
        echoed.len() == data.len(),
        "{} of {} bytes came back",
        echoed.len(),
        data.len()
    );
    ensure!(echoed == data, "the bulk echo differs from what was sent");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_serves_many_short_connections() -> anyhow::Result<()> {
    let (_server, port) = floor().await?;
    tokio::time::timeout(WAIT, async {
        for i in 0..300 {
            let msg = pattern(16, i);
            let mut stream = connect(port).await?;
            stream.write_all(&msg).await?;
            let mut back = [0u8; 16];
            stream.read_exact(&mut back).await?;
            ensure!(back[..] == msg[..], "connection {i} came back different");
        }
        anyhow::Ok(())
    })
    .await
    .context("the short connections took too long")?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_refuses_the_modes_it_does_not_speak() -> anyhow::Result<()> {
    for mode in ["lines", "tls-echo"] {
        let mut child = serve(mode)?;
        // Held open: serve exits at once, successfully, when its stdin closes.
        let _stdin = child.stdin.take();
        let mut stderr = child.stderr.take().context("no stderr")?;
        let mut said = String::new();
        let status = tokio::time::timeout(WAIT, async {
            stderr.read_to_string(&mut said).await?;
            child.wait().await
        })
        .await
        .context("serve did not end in time")??;
        ensure!(!status.success(), "serve floor {mode} succeeded");
        ensure!(
            said.contains("the floor is an echo server"),
            "serve floor {mode} said {said:?}"
        );
    }
    Ok(())
}
