//! Python asyncio programs as wasio components: the asyncio docs' TCP echo client and server,
//! byte-identical to the docs (tests/python/tcp_echo_*.py), run by `wasio run SCRIPT.py` (which
//! builds them with the wasio-asyncio package, python/) against the same files run natively by
//! CPython as the peer.
//! These need componentize-py and the package (`python3 -m pip install componentize-py==0.25.1
//! ./python`); without them the test fails and says so, it never skips.
#![cfg(feature = "embed")]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/python")
        .join(name)
}

/// Kills the child whatever happens in the test.
pub(crate) struct Kill(pub(crate) Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something listens on 127.0.0.1:8888 (the docs' port), within `limit`.
fn wait_listening(limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while std::net::TcpStream::connect("127.0.0.1:8888").is_err() {
        anyhow::ensure!(start.elapsed() < limit, "nothing listens on 127.0.0.1:8888");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Both docs examples in one test: they use the fixed port 8888, so they must not overlap.
#[test]
fn asyncio_docs_echo_client_and_server_run_unmodified() -> anyhow::Result<()> {
    let client_py = script("tcp_echo_client.py");
    let server_py = script("tcp_echo_server.py");

    // The docs' client under wasio, against the docs' server run by CPython.
    let native = Command::new("python3")
        .arg(&server_py)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let native = Kill(native);
    wait_listening(Duration::from_secs(20))?;
    let out = Command::new(env!("CARGO_BIN_EXE_wasio"))
        .args(["run", "--allow-connect", "127.0.0.1:8888"])
        .arg(&client_py)
        .output()?;
    drop(native);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Send: 'Hello World!'\nReceived: 'Hello World!'\nClose the connection\n"
    );

    // The docs' server under wasio, talked to by the docs' client run by CPython.
    let child = Command::new(env!("CARGO_BIN_EXE_wasio"))
        .args(["run", "--allow-listen", "127.0.0.1:8888"])
        .arg(&server_py)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut child = Kill(child);
    let stdout = child.0.stdout.take();
    let Some(stdout) = stdout else {
        anyhow::bail!("no server stdout");
    };
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().transpose()?.unwrap_or_default();
    if first.is_empty() {
        let mut err = String::new();
        if let Some(mut e) = child.0.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut err)?;
        }
        anyhow::bail!("the server printed nothing: {err}");
    }
    assert_eq!(first, "Serving on ('127.0.0.1', 8888)");
    let peer = Command::new("python3").arg(&client_py).output()?;
    assert!(peer.status.success(), "{}", text(&peer.stderr));
    assert_eq!(
        text(&peer.stdout),
        "Send: 'Hello World!'\nReceived: 'Hello World!'\nClose the connection\n"
    );
    let mut served = Vec::new();
    for _ in 0..3 {
        served.push(lines.next().transpose()?.unwrap_or_default());
    }
    let (received, port) = served[0]
        .rsplit_once(", ")
        .ok_or_else(|| anyhow::anyhow!("unexpected server line {:?}", served[0]))?;
    assert_eq!(received, "Received 'Hello World!' from ('127.0.0.1'");
    assert!(port.trim_end_matches(')').parse::<u16>().is_ok(), "{port}");
    assert_eq!(
        served[1..],
        ["Send: 'Hello World!'", "Close the connection"]
    );
    assert!(child.0.try_wait()?.is_none(), "the server stopped");
    Ok(())
}

/// Without componentize-py, `wasio run app.py` fails with one sentence naming the install command.
#[test]
fn python_script_without_componentize_py_names_the_install_command() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // A PATH holding python3 alone: componentize-py cannot be found.
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()?;
    let python = text(&python.stdout).trim().to_owned();
    std::os::unix::fs::symlink(&python, dir.path().join("python3"))?;
    let out = Command::new(env!("CARGO_BIN_EXE_wasio"))
        .args(["run", "--no-cache"])
        .arg(script("tcp_echo_client.py"))
        .env("PATH", dir.path())
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("pip install ./python"), "{err}");
    Ok(())
}

/// The package's copy of the WIT (componentize-py reads it from the installed package) is the
/// repository's `wit/`, file for file.
#[test]
fn python_package_wit_matches_the_repository_wit() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let copy = root.join("python/wasio_asyncio/wit");
    for sub in ["", "deps"] {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(root.join("wit").join(sub))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "wit") {
                names.push(path);
            }
        }
        anyhow::ensure!(!names.is_empty(), "no WIT files in wit/{sub}");
        for path in names {
            let name = path.file_name().unwrap_or_default();
            let ours = std::fs::read(copy.join(sub).join(name))?;
            assert!(
                ours == std::fs::read(&path)?,
                "{} differs from {}: copy it again",
                copy.join(sub).join(name).display(),
                path.display()
            );
        }
    }
    Ok(())
}
