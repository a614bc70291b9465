//! Ctrl-C and SIGTERM sent to the `wasio` binary: the run shuts down gracefully (servers closed,
//! socket files removed, queued bytes flushed), exits with 130 / 143, and a second signal ends
//! it at once.
#![cfg(feature = "embed")]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// Generous for a debug build on a busy machine: compiling the app is most of it.
pub(crate) const START_LIMIT: Duration = Duration::from_secs(300);

/// The host's grace period after a shutdown request (wasio_host::shutdown::DEFAULT_GRACE).
pub(crate) const GRACE: Duration = wasio_host::shutdown::DEFAULT_GRACE;

/// A `wasio` process with its stdout lines on a channel; killed when dropped.
pub(crate) struct Wasio {
    child: Child,
    pub(crate) lines: mpsc::Receiver<String>,
}

impl Wasio {
    pub(crate) fn start(args: &[&str]) -> anyhow::Result<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasio"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { child, lines })
    }

    /// The next line of stdout, waiting at most `limit`.
    pub(crate) fn line(&self, limit: Duration) -> anyhow::Result<String> {
        self.lines
            .recv_timeout(limit)
            .map_err(|e| anyhow::anyhow!("no line from wasio within {limit:?}: {e}"))
    }

    /// Closes the read end of wasio's stderr: its writes then fail (EPIPE).
    fn close_stderr(&mut self) {
        drop(self.child.stderr.take());
    }

    pub(crate) fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        kill_process(Pid::from_child(&self.child), signal)?;
        Ok(())
    }

    /// Waits for the process to end within `limit`; its exit code, how long it took and its
    /// stderr.
    pub(crate) fn wait(
        mut self,
        limit: Duration,
    ) -> anyhow::Result<(Option<i32>, Duration, String)> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                let mut stderr = String::new();
                if let Some(mut err) = self.child.stderr.take() {
                    err.read_to_string(&mut stderr)?;
                }
                return Ok((status.code(), started.elapsed(), stderr));
            }
            if started.elapsed() > limit {
                anyhow::bail!("wasio was still running {limit:?} after the signal");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Wasio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn utf8(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .ok_or_else(|| anyhow::anyhow!("temp path is not UTF-8"))
}

#[test]
fn help_says_what_ctrl_c_does() -> anyhow::Result<()> {
    for command in ["run", "demo"] {
        let out = Command::new(env!("CARGO_BIN_EXE_wasio"))
            .args([command, "--help"])
            .output()?;
        let help = String::from_utf8_lossy(&out.stdout);
        for words in [
            "Ctrl-C (SIGINT) or SIGTERM shuts the run down gracefully",
            "A second signal\nstops the run at once",
            "130 or 143 after SIGINT or SIGTERM",
        ] {
            assert!(help.contains(words), "{command}: {words:?} in {help}");
        }
    }
    Ok(())
}

/// The demo echo server on a Unix path with a client in the middle of a conversation: the
/// signal closes the server (its socket file goes), the client's connection is closed cleanly
/// (EOF, not a reset) and wasio exits with 128 + the signal's number.
fn echo_server_shuts_down_on(signal: Signal, status: i32) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("echo.sock");
    let wasio = Wasio::start(&["demo", "echo-server", "--unix", utf8(&path)?])?;
    assert_eq!(
        wasio.line(START_LIMIT)?,
        format!("Serving on {}", path.display())
    );
    let mut client = std::os::unix::net::UnixStream::connect(&path)?;
    client.set_read_timeout(Some(GRACE * 2))?;
    client.write_all(b"hello")?;
    let mut echo = [0u8; 5];
    client.read_exact(&mut echo)?;
    assert_eq!(&echo, b"hello");
    wasio.signal(signal)?;
    let (code, took, stderr) = wasio.wait(GRACE * 2)?;
    assert_eq!(code, Some(status), "{stderr}");
    assert!(took < GRACE, "took {took:?}: {stderr}");
    assert!(!path.exists(), "the socket file was left behind");
    let mut rest = Vec::new();
    client.read_to_end(&mut rest)?;
    assert!(rest.is_empty(), "{rest:?}");
    Ok(())
}

#[test]
fn ctrl_c_closes_the_unix_echo_server_and_exits_130() -> anyhow::Result<()> {
    echo_server_shuts_down_on(Signal::INT, 130)
}

#[test]
fn sigterm_closes_the_unix_echo_server_and_exits_143() -> anyhow::Result<()> {
    echo_server_shuts_down_on(Signal::TERM, 143)
}

/// Bytes the app queued for a client are flushed before the run ends: more than the kernel's
/// socket buffers hold, so most of them are still in the provider's write queue at the signal.
#[test]
fn queued_bytes_reach_the_client_before_the_run_ends() -> anyhow::Result<()> {
    const BYTES: usize = 16 << 20;
    let dir = tempfile::tempdir()?;
    let app = dir.path().join("probe.wasm");
    std::fs::write(&app, wasio_test_components::PROBE)?;
    let bytes = BYTES.to_string();
    let wasio = Wasio::start(&[
        "run",
        utf8(&app)?,
        "--allow-listen",
        "127.0.0.1:0",
        "--",
        "big-reply",
        "127.0.0.1",
        &bytes,
    ])?;
    let serving = wasio.line(START_LIMIT)?;
    let port: u16 = serving
        .strip_prefix("serving ")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("unexpected {serving:?}"))?;
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port))?;
    assert_eq!(wasio.line(GRACE)?, format!("queued {BYTES}"));
    wasio.signal(Signal::INT)?;
    client.set_read_timeout(Some(GRACE * 2))?;
    let mut reply = Vec::with_capacity(BYTES);
    client.read_to_end(&mut reply)?;
    assert_eq!(reply.len(), BYTES);
    assert!(
        reply.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8),
        "the reply's bytes are not the ones queued"
    );
    assert_eq!(wasio.line(GRACE)?, "eof");
    let (code, _, stderr) = wasio.wait(GRACE * 2)?;
    assert_eq!(code, Some(130), "{stderr}");
    Ok(())
}

/// An app that keeps waiting after its server was closed, with a Unix server the app made
/// with cleanup_socket off and a pre-opened Unix listener: each socket file the host created
/// must go however the run ends.
fn holding_app(dir: &Path) -> anyhow::Result<(Wasio, [std::path::PathBuf; 2])> {
    let app = dir.join("probe.wasm");
    std::fs::write(&app, wasio_test_components::PROBE)?;
    let own = dir.join("own.sock");
    let preopened = dir.join("preopened.sock");
    let listen = format!("unix:{}", utf8(&preopened)?);
    let wasio = Wasio::start(&[
        "run",
        utf8(&app)?,
        "--allow-unix",
        utf8(&own)?,
        "--listen",
        &listen,
        "--",
        "unix-hold",
        utf8(&own)?,
    ])?;
    assert_eq!(wasio.line(START_LIMIT)?, "serving");
    assert!(own.exists() && preopened.exists());
    Ok((wasio, [own, preopened]))
}

#[test]
fn a_second_signal_ends_the_run_at_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (wasio, files) = holding_app(dir.path())?;
    wasio.signal(Signal::INT)?;
    std::thread::sleep(Duration::from_millis(300));
    assert!(wasio.lines.try_recv().is_err());
    wasio.signal(Signal::INT)?;
    let (code, took, stderr) = wasio.wait(GRACE * 2)?;
    assert_eq!(code, Some(130), "{stderr}");
    assert!(took < GRACE / 2, "took {took:?} after the second signal");
    for file in files {
        assert!(!file.exists(), "{} was left behind", file.display());
    }
    Ok(())
}

#[test]
fn a_run_that_does_not_end_is_stopped_after_the_grace_period() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (wasio, files) = holding_app(dir.path())?;
    wasio.signal(Signal::TERM)?;
    let (code, took, stderr) = wasio.wait(GRACE * 3)?;
    assert_eq!(code, Some(143), "{stderr}");
    assert!(took >= GRACE, "took {took:?}");
    assert!(
        stderr.contains(
            "error: the app was stopped: the run did not end within 3s of the shutdown request"
        ),
        "{stderr}"
    );
    for file in files {
        assert!(!file.exists(), "{} was left behind", file.display());
    }
    Ok(())
}

/// With nobody reading wasio's stderr, its messages are lost but a signal still ends the run
/// (the signal handler's thread used to panic at its first message, and the run went on).
#[test]
fn a_signal_ends_the_run_when_nobody_reads_stderr() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut wasio, files) = holding_app(dir.path())?;
    wasio.close_stderr();
    wasio.signal(Signal::TERM)?;
    let (code, took, _) = wasio.wait(GRACE * 3)?;
    assert_eq!(code, Some(143));
    assert!(took < GRACE * 2, "took {took:?}");
    for file in files {
        assert!(!file.exists(), "{} was left behind", file.display());
    }
    Ok(())
}

/// An app that computes without ever waiting holds the thread its run is on: the signal
/// handler, on a thread of its own, still ends the process once the grace period is over.
#[test]
fn an_app_that_computes_forever_is_stopped_after_the_grace_period() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let app = dir.path().join("probe.wasm");
    std::fs::write(&app, wasio_test_components::PROBE)?;
    let wasio = Wasio::start(&["run", utf8(&app)?, "--", "spin"])?;
    assert_eq!(wasio.line(START_LIMIT)?, "spinning");
    wasio.signal(Signal::INT)?;
    let (code, took, stderr) = wasio.wait(GRACE * 3)?;
    assert_eq!(code, Some(130), "{stderr}");
    assert!(took >= GRACE, "took {took:?}");
    assert!(
        stderr.contains("wasio: the run did not end within 3s; stopping it"),
        "{stderr}"
    );
    Ok(())
}

/// The library's side: an embedder's `Shutdown` handle ends a run of the echo server on a Unix
/// path, whose client sees its connection closed cleanly; the run returns the app's own ending
/// within the grace period, with the socket file gone.
#[tokio::test]
async fn an_embedder_shuts_a_run_down_with_its_handle() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use wasio_host::{Capabilities, Exit, Runtime, Shutdown, UnixGrant, WasioCtx};
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("echo.sock");
    let text = utf8(&path)?.to_owned();
    let mut caps = Capabilities::deny_all();
    caps.allow_unix(UnixGrant::parse(&text).map_err(|e| anyhow::anyhow!("{e}"))?);
    let runtime = Runtime::new()?;
    let component = runtime.compile(&wasio_host::embedded::prepare(
        wasio_host::embedded::ECHO_SERVER,
    )?)?;
    let shutdown = Shutdown::with_grace(Duration::from_secs(5));
    let ctx = WasioCtx::builder()
        .args(&["echo-server", "--unix", &text])
        .capabilities(caps)
        .shutdown(shutdown.clone())
        .build();
    let files = ctx.socket_files();
    let run = tokio::spawn(async move { runtime.run(&component, ctx).await });
    let started = Instant::now();
    let mut client = loop {
        if let Ok(client) = tokio::net::UnixStream::connect(&path).await {
            break client;
        }
        anyhow::ensure!(started.elapsed() < START_LIMIT, "the server never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    client.write_all(b"hello").await?;
    let mut echo = [0u8; 5];
    client.read_exact(&mut echo).await?;
    assert_eq!(&echo, b"hello");
    shutdown.request();
    let exit = tokio::time::timeout(shutdown.grace(), run).await???;
    assert!(matches!(exit, Exit::Code(0)), "{exit}");
    assert!(!path.exists(), "the socket file was left behind");
    assert_eq!(files.remove_all(), 0);
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await?;
    assert!(rest.is_empty(), "{rest:?}");
    Ok(())
}
