//! Interop with a peer nobody here wrote: CPython's own asyncio streams (python3 on the machine).

use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use wasio_tests::{
    ECHO_CLIENT, WAIT, assert_success, echo_server, loopback, run, unix_dir, unix_echo_server,
};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpython_asyncio_clients_against_wasio_echo_server() -> anyhow::Result<()> {
    let (_server, port) = echo_server("127.0.0.1").await?;
    let output = tokio::time::timeout(
        WAIT,
        Command::new("python3")
            .arg(script("echo_client.py"))
            .args(["127.0.0.1", &port.to_string(), "Hello World!", "20"])
            .output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), "ok 20");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasio_echo_client_against_cpython_asyncio_server() -> anyhow::Result<()> {
    let mut python = Command::new("python3")
        .arg(script("echo_server.py"))
        .arg("127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = python
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await??
        .unwrap_or_default();
    let port = first
        .strip_prefix("PORT ")
        .ok_or_else(|| anyhow::anyhow!("unexpected first line {first:?}"))?
        .to_string();
    let args = [
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--message",
        "Hello World!",
    ];
    let (exit, out) = run(ECHO_CLIENT, &args, loopback()).await?;
    assert_success(&exit, &out)?;
    assert_eq!(
        out,
        [
            "Send: 'Hello World!'",
            "Received: 'Hello World!'",
            "Close the connection"
        ]
    );
    let got = tokio::time::timeout(WAIT, lines.next_line())
        .await??
        .unwrap_or_default();
    assert_eq!(got, "got 'Hello World!'");
    drop(python.stdin.take());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpython_open_unix_connection_clients_against_wasio_unix_echo_server() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("echo.sock").display().to_string();
    let _server = unix_echo_server(dir.path(), &path).await?;
    let output = tokio::time::timeout(
        WAIT,
        Command::new("python3")
            .arg(script("echo_client.py"))
            .args(["--unix", &path, "Hello World!", "20"])
            .output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), "ok 20");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasio_unix_echo_client_against_cpython_start_unix_server() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("py.sock").display().to_string();
    let mut python = Command::new("python3")
        .arg(script("echo_server.py"))
        .args(["--unix", &path])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = python
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await??
        .unwrap_or_default();
    assert_eq!(first, format!("UNIX {path}"));
    let args = ["--unix", &path, "--message", "Hello World!"];
    let (exit, out) = run(ECHO_CLIENT, &args, unix_dir(dir.path())?).await?;
    assert_success(&exit, &out)?;
    assert_eq!(
        out,
        [
            "Send: 'Hello World!'",
            "Received: 'Hello World!'",
            "Close the connection"
        ]
    );
    let got = tokio::time::timeout(WAIT, lines.next_line())
        .await??
        .unwrap_or_default();
    assert_eq!(got, "got 'Hello World!'");
    drop(python.stdin.take());
    Ok(())
}

/// The scenarios of the streams app's `asyncio_parity_tests`, run in CPython's asyncio against
/// the same kind of scripted peers: what those tests expect of wasio is what CPython does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpython_agrees_with_the_parity_tests() -> anyhow::Result<()> {
    let output = tokio::time::timeout(
        WAIT,
        Command::new("python3").arg(script("parity.py")).output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 6);
    Ok(())
}
