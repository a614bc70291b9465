//! Python asyncio programs using TLS and files under `wasio run`: tests/python/tls_app.py, which
//! uses asyncio's `ssl` (the wasio-asyncio package's stand-in under wasio), against CPython
//! asyncio peers (tests/python/tls_asyncio_peer.py), natively and under wasio with the same
//! output; `--dir` read-only grants; the `ssl` stand-in against CPython's `ssl`
//! (tests/python/ssl_standin.py). Certificates are made by openssl at test time
//! (cli_tls::Certs). Like python.rs these need componentize-py and the package installed; they
//! fail, never skip, without them.
#![cfg(feature = "embed")]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::python::{Kill, script, text};

/// How long a TLS or file step may take once the app runs, before the test fails.
const STEP_WAIT: Duration = Duration::from_secs(60);

/// How long a first `wasio run` of a script may take: building it with componentize-py and
/// compiling the component in a debug host takes minutes on a cold cache.
const START_WAIT: Duration = Duration::from_secs(900);

/// The tests running tls_app.py take turns, so that the second finds the component the first
/// built and compiled in the caches instead of building it again at the same time.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A child's stdout lines, read by a thread so that every wait is bounded.
struct Lines(std::sync::mpsc::Receiver<String>);

impl Lines {
    fn of(child: &mut Child) -> anyhow::Result<Self> {
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self(rx))
    }

    /// The next line within `limit`; `None` once the output has ended.
    fn next(&self, limit: Duration) -> anyhow::Result<Option<String>> {
        use std::sync::mpsc::RecvTimeoutError;
        match self.0.recv_timeout(limit) {
            Ok(line) => Ok(Some(line)),
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => anyhow::bail!("no output line within {limit:?}"),
        }
    }
}

/// Runs `command` to its end within `limit` (killed and an error otherwise), with its stdout
/// and stderr captured.
fn output_within(command: &mut Command, limit: Duration) -> anyhow::Result<std::process::Output> {
    let mut child = Kill(
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?,
    );
    let start = Instant::now();
    while child.0.try_wait()?.is_none() {
        anyhow::ensure!(
            start.elapsed() < limit,
            "{command:?} did not end within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = std::process::Output {
        status: child.0.wait()?,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    if let Some(mut s) = child.0.stdout.take() {
        std::io::Read::read_to_end(&mut s, &mut out.stdout)?;
    }
    if let Some(mut s) = child.0.stderr.take() {
        std::io::Read::read_to_end(&mut s, &mut out.stderr)?;
    }
    Ok(out)
}

/// `wasio run [flags] tls_app.py -- ARGS`.
fn wasio_app(flags: &[&std::ffi::OsStr]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasio"));
    command
        .arg("run")
        .args(flags)
        .arg(script("tls_app.py"))
        .arg("--");
    command
}

/// Runs tls_app.py's `tls` mode with `app` (CPython, or `wasio run`) against the CPython peer
/// serving on `ports`, and the peer's client against the app's server. Returns the app's
/// stdout lines (its server's port blanked) and the peer client's stdout.
fn tls_run(
    mut app: Command,
    certs: &Path,
    ports: &[String],
) -> anyhow::Result<(Vec<String>, String)> {
    let stderr = tempfile::NamedTempFile::new()?;
    app.arg("tls")
        .arg(certs)
        .env("SSL_CERT_FILE", certs.join("ca.pem"))
        .args(ports)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr.reopen()?));
    let mut child = Kill(app.spawn()?);
    let lines = Lines::of(&mut child.0)?;
    let stderr_text = || std::fs::read_to_string(stderr.path()).unwrap_or_default();
    let mut out = Vec::new();
    let port = loop {
        let Some(line) = lines.next(START_WAIT)? else {
            anyhow::bail!("the app ended before serving: {out:?}\n{}", stderr_text());
        };
        if let Some(port) = line.strip_prefix("server: PORT ") {
            out.push("server: PORT _".to_owned());
            break port.to_owned();
        }
        out.push(line);
    };
    let peer = output_within(
        Command::new("python3")
            .arg(script("tls_asyncio_peer.py"))
            .arg("connect")
            .arg(certs)
            .arg(&port),
        STEP_WAIT,
    )?;
    assert!(
        peer.status.success(),
        "peer client: {}\napp: {out:?}\n{}",
        text(&peer.stderr),
        stderr_text()
    );
    while let Some(line) = lines.next(STEP_WAIT)? {
        out.push(line);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait()? {
            break status;
        }
        anyhow::ensure!(start.elapsed() < STEP_WAIT, "the app did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "the app failed ({status}): {out:?}\n{}",
        stderr_text()
    );
    Ok((out, text(&peer.stdout)))
}

/// TLS both ways with asyncio's `ssl` (tests/python/tls_app.py): a client and a STARTTLS
/// upgrade against a CPython asyncio TLS server, both verification failures, `ssl=True` (the
/// platform store, which SSL_CERT_FILE points at the test CA for CPython and for wasio's host),
/// a handshake timeout, and a server that a CPython client verifies and that verifies the
/// client's certificate; the
/// certificates are read through `--dir`. The script prints the same lines under wasio as run
/// natively by CPython.
#[test]
fn python_tls_both_ways_prints_what_cpython_prints() -> anyhow::Result<()> {
    let _turn = one_at_a_time();
    let certs = crate::cli_tls::Certs::new()?;
    let ca = certs.path("ca.pem");
    let dir = ca
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no certificate directory"))?;
    let mut peer = Kill(
        Command::new("python3")
            .arg(script("tls_asyncio_peer.py"))
            .arg("serve")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let peer_lines = Lines::of(&mut peer.0)?;
    let first = peer_lines.next(STEP_WAIT)?.unwrap_or_default();
    let ports: Vec<String> = first
        .strip_prefix("PORTS ")
        .ok_or_else(|| anyhow::anyhow!("the peer said {first:?}"))?
        .split(' ')
        .map(str::to_owned)
        .collect();

    let mut python = Command::new("python3");
    python.arg(script("tls_app.py"));
    let (native, native_peer) = tls_run(python, dir, &ports)?;

    let mut dir_flag = std::ffi::OsString::from("--dir=");
    dir_flag.push(dir);
    let flags = [
        dir_flag.as_os_str(),
        "--allow-connect=127.0.0.1:*".as_ref(),
        "--allow-listen=127.0.0.1:0".as_ref(),
    ];
    let (wasio, wasio_peer) = tls_run(wasio_app(&flags), dir, &ports)?;

    for wanted in [
        "client: echo hello over TLS",
        "client: version TLSv1.3 alpn wasio-test server_hostname localhost server_side False",
        "starttls: plain None",
        "starttls: answer OK",
        "starttls: echo hello after STARTTLS",
        "wrong CA: SSLCertVerificationError SSLError True reason CERTIFICATE_VERIFY_FAILED \
         code 20: unable to get local issuer certificate",
        "wrong name: SSLCertVerificationError SSLError True reason CERTIFICATE_VERIFY_FAILED \
         code 62: Hostname mismatch, certificate is not valid for 'example.com'.",
        "default: echo hello with ssl=True",
        "default: verifies True",
        "silent: ConnectionAbortedError SSL handshake is taking longer than 0.5 seconds: \
         aborting the connection",
        "server: got hello from CPython",
        "server: version TLSv1.3 alpn wasio-test server_side True client localhost sslcontext True",
        "server: closed",
    ] {
        assert!(
            wasio.iter().any(|line| line == wanted),
            "no {wanted:?} in {wasio:#?}"
        );
    }
    assert_eq!(wasio, native);
    assert_eq!(
        wasio_peer,
        "peer: echo hello from CPython\npeer: version TLSv1.3 alpn wasio-test server localhost\n\
         peer: eof True\n"
    );
    assert_eq!(wasio_peer, native_peer);
    Ok(())
}

/// `wasio run --dir HOST_DIR[::GUEST_DIR]`: the app reads files through the grant and cannot
/// write there; without it it sees no file; a missing HOST_DIR stops the run at start with one
/// sentence.
#[test]
fn python_reads_files_through_read_only_dir_grants_only() -> anyhow::Result<()> {
    let _turn = one_at_a_time();
    let host = tempfile::tempdir()?;
    std::fs::write(host.path().join("hello.txt"), "hello from the host\n")?;
    let mut grant = std::ffi::OsString::from("--dir=");
    grant.push(host.path());
    grant.push("::/data");

    let out = output_within(wasio_app(&[&grant]).args(["files", "/data"]), START_WAIT)?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "read: hello from the host\nwrite failed: PermissionError\n"
    );
    assert!(!host.path().join("written.txt").exists());

    // The same directory under its own path (no ::GUEST_DIR).
    let mut same = std::ffi::OsString::from("--dir=");
    same.push(host.path());
    let out = output_within(
        wasio_app(&[&same]).arg("files").arg(host.path()),
        START_WAIT,
    )?;
    assert_eq!(
        text(&out.stdout),
        "read: hello from the host\nwrite failed: PermissionError\n",
        "{}",
        text(&out.stderr)
    );

    // No grant: no file.
    let out = output_within(wasio_app(&[]).args(["files", "/data"]), START_WAIT)?;
    assert_eq!(
        text(&out.stdout),
        "read failed: FileNotFoundError\nwrite failed: FileNotFoundError\n",
        "{}",
        text(&out.stderr)
    );

    // A directory that does not exist: refused before anything is built or run.
    let mut missing = std::ffi::OsString::from("--dir=");
    missing.push(host.path().join("missing"));
    let out = output_within(wasio_app(&[&missing]).args(["files", "/data"]), STEP_WAIT)?;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: --dir: cannot open ") && err.contains("as a directory"),
        "{err}"
    );
    Ok(())
}

/// The `ssl` stand-in against CPython's `ssl` (tests/python/ssl_standin.py, run natively: it
/// needs no component): same values and exceptions, and refusals of what wasio cannot honour.
#[test]
fn python_ssl_stand_in_behaves_as_cpython_ssl() -> anyhow::Result<()> {
    let certs = crate::cli_tls::Certs::new()?;
    let ca = certs.path("ca.pem");
    let dir = ca
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no certificate directory"))?;
    let out = output_within(
        Command::new("python3")
            .arg(script("ssl_standin.py"))
            .arg(dir),
        STEP_WAIT,
    )?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let count: u32 = said
        .strip_prefix("ok ")
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("ssl_standin.py said {said:?}"))?;
    assert!(count >= 50, "only {count} checks ran");
    Ok(())
}
