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
        "[-- <ARGS>...]",
        "127.0.0.1:*",
    ] {
        assert!(help.contains(word), "{word} in {help}");
    }
    let out = wasio(&["demo", "--help"])?;
    let help = text(&out.stdout);
    assert!(
        help.contains("echo-server") && help.contains("echo-client"),
        "{help}"
    );
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
