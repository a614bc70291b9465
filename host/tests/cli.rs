//! The `wasio` binary, run as a user would.
#![cfg(feature = "embed")]

use std::process::{Command, Output};

fn wasio(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_wasio"))
        .args(args)
        .output()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_the_commands_and_flags() -> std::io::Result<()> {
    let out = wasio(&["--help"])?;
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in ["run", "compose", "demo", "Exit status"] {
        assert!(help.contains(word), "{word} in {help}");
    }
    let out = wasio(&["run", "--help"])?;
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in [
        "--allow-connect <PATTERN>",
        "--allow-listen <PATTERN>",
        "--allow-net",
        "--allow-unix <PATH>",
        "--listen <SPEC>",
        "[-- <ARGS>...]",
        "127.0.0.1:*",
    ] {
        assert!(help.contains(word), "{word} in {help}");
    }
    let out = wasio(&["demo", "--help"])?;
    let help = text(&out.stdout);
    assert!(
        help.contains("echo-server") && help.contains("echo-client") && help.contains("socketpair"),
        "{help}"
    );
    for demo in ["echo-server", "echo-client"] {
        let out = wasio(&["demo", demo, "--help"])?;
        assert!(text(&out.stdout).contains("--unix <PATH>"), "{demo}");
    }
    Ok(())
}

#[test]
fn bad_unix_flags_are_usage_errors() -> std::io::Result<()> {
    let out = wasio(&["run", "app.wasm", "--listen", "udp:1.2.3.4:5"])?;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected tcp:HOST:PORT or unix:PATH"));
    let out = wasio(&["run", "app.wasm", "--allow-unix", ""])?;
    assert_eq!(out.status.code(), Some(2));
    let out = wasio(&["demo", "echo-client", "--unix", "/x", "--port", "1"])?;
    assert_eq!(out.status.code(), Some(2));
    Ok(())
}

#[test]
fn demo_socketpair_prints_received_abc() -> std::io::Result<()> {
    let out = wasio(&["demo", "socketpair"])?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Received: abc\n");
    Ok(())
}

/// The "done when": `wasio demo echo-server --unix PATH` serves CPython asyncio's
/// `open_unix_connection` clients, and `wasio demo echo-client --unix PATH` talks to it.
#[test]
fn demo_unix_echo_server_serves_cpython_and_the_demo_client() -> anyhow::Result<()> {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("echo.sock").display().to_string();
    let mut server = Command::new(env!("CARGO_BIN_EXE_wasio"))
        .args(["demo", "echo-server", "--unix", &path])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Kill the server whatever happens below.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = server.stdout.take();
    let mut server = Kill(server);
    let Some(stdout) = stdout else {
        anyhow::bail!("no server stdout");
    };
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().transpose()?.unwrap_or_default();
    assert_eq!(first, format!("Serving on {path}"));
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/echo_client.py");
    let python = Command::new("python3")
        .arg(script)
        .args(["--unix", &path, "Hello World!", "5"])
        .output()?;
    assert!(python.status.success(), "{}", text(&python.stderr));
    assert_eq!(text(&python.stdout).trim(), "ok 5");
    let client = wasio(&["demo", "echo-client", "--unix", &path, "--message", "hi"])?;
    assert!(client.status.success(), "{}", text(&client.stderr));
    assert_eq!(
        text(&client.stdout),
        "Send: 'hi'\nReceived: 'hi'\nClose the connection\n"
    );
    assert!(server.0.try_wait()?.is_none(), "the server stopped");
    Ok(())
}

#[test]
fn bad_patterns_are_usage_errors() -> std::io::Result<()> {
    let out = wasio(&["run", "app.wasm", "--allow-connect", "localhost:*"])?;
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("`localhost` is not an IP address"), "{err}");
    Ok(())
}

#[test]
fn a_missing_app_is_a_clear_error() -> std::io::Result<()> {
    let out = wasio(&["run", "/nonexistent/app.wasm"])?;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: reading /nonexistent/app.wasm"),
        "{err}"
    );
    Ok(())
}

#[test]
fn compose_writes_a_runnable_component() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let app = dir.path().join("echo-client.wasm");
    std::fs::write(&app, wasio_host::embedded::ECHO_CLIENT)?;
    let out_path = dir.path().join("composed.wasm");
    let (Some(app), Some(out)) = (app.to_str(), out_path.to_str()) else {
        anyhow::bail!("temp paths are not UTF-8");
    };
    let status = wasio(&["compose", app, "-o", out])?;
    assert!(status.status.success(), "{}", text(&status.stderr));
    let composed = std::fs::read(&out_path)?;
    assert!(!wasio_host::compose::imports_streams(&composed)?);
    // A composition needs no second composing.
    let again = wasio(&["compose", out, "-o", out])?;
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("imports no wasio:streams interface"));
    Ok(())
}

#[test]
fn demo_runs_server_and_client_on_loopback() -> std::io::Result<()> {
    let out = wasio(&["demo"])?;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    let position = |line: &str| lines.iter().position(|l| *l == line);
    let serving = lines
        .iter()
        .position(|l| l.starts_with("[server] Serving on 127.0.0.1:"));
    let send = position("[client] Send: 'Hello World!'");
    let received = position("[client] Received: 'Hello World!'");
    let client_close = position("[client] Close the connection");
    assert!(
        serving < send && send < received && received < client_close,
        "{stdout}"
    );
    assert!(serving.is_some(), "{stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("[server] Received 'Hello World!' from ('127.0.0.1', ")),
        "{stdout}"
    );
    assert!(
        position("[server] Send: 'Hello World!'").is_some(),
        "{stdout}"
    );
    assert!(
        position("[server] Close the connection").is_some(),
        "{stdout}"
    );
    assert!(
        position("[demo] client exited with code 0").is_some(),
        "{stdout}"
    );
    Ok(())
}
