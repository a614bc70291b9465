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
    // An empty abstract name would autobind to a name the kernel picks.
    let out = wasio(&["run", "app.wasm", "--listen", "unix:@"])?;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the abstract socket name is empty"),
        "{}",
        text(&out.stderr)
    );
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

/// The issue's "done when": `wasio demo echo-server --unix PATH` serves CPython asyncio's
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

/// What is not an app file is refused in one line, before anything is read into memory
/// (`wasio run /dev/zero` used to grow until memory ran out).
#[test]
fn files_that_cannot_be_apps_are_refused_in_one_line() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let huge = dir.path().join("huge.wasm");
    // Sparse: takes no disk space.
    std::fs::File::create(&huge)?.set_len(300 << 20)?;
    let huge = huge.display().to_string();
    let here = dir.path().display().to_string();
    for (command, path, says) in [
        (
            "run",
            "/dev/zero",
            "/dev/zero is a character device, not a file",
        ),
        ("run", here.as_str(), "is a directory, not a file"),
        (
            "run",
            huge.as_str(),
            "is larger than 256 MiB, the most wasio reads",
        ),
        (
            "compose",
            "/dev/zero",
            "/dev/zero is a character device, not a file",
        ),
    ] {
        let mut args = vec![command, path];
        if command == "compose" {
            args.extend(["-o", "/dev/null"]);
        }
        let out = wasio_within(&args, RUN_LIMIT)?;
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command} {path}: {err}");
        assert!(err.starts_with("error: ") && err.contains(says), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    Ok(())
}

/// A component exporting `wasi:cli/run@0.3.0` as something other than the interface wasio
/// calls is told what is wrong (it used to read "does not export `wasi:cli/run@0.3.0` (it
/// exports: wasi:cli/run@0.3.0)").
#[test]
fn a_run_export_of_the_wrong_kind_is_named() -> anyhow::Result<()> {
    let func = wat::parse_str(
        r#"(component
            (core module $m (func (export "run") (result i32) i32.const 0))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (export "wasi:cli/run@0.3.0" (func $run)))"#,
    )?;
    let (_dir, app) = app_file("func.wasm", &func)?;
    let out = wasio_within(&["run", &app], RUN_LIMIT)?;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("exports `wasi:cli/run@0.3.0` as a function, not as an instance"),
        "{err}"
    );
    Ok(())
}

/// With `RUST_BACKTRACE=1` set, a guest trap is still reported as the guest's: its message and
/// wasm backtrace, no Rust backtrace of the host.
#[test]
fn a_guest_trap_shows_the_guest_not_the_host_stack() -> anyhow::Result<()> {
    let trap = wat::parse_str(
        r#"(component
            (core module $m (func $boom (export "run") (result i32) unreachable))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $inst (export "run" (func $run)))
            (export "wasi:cli/run@0.3.0" (instance $inst)))"#,
    )?;
    let (_dir, app) = app_file("trap.wasm", &trap)?;
    let out = Command::new(env!("CARGO_BIN_EXE_wasio"))
        .args(["run", &app])
        .env("RUST_BACKTRACE", "1")
        .output()?;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(134), "{err}");
    assert!(err.starts_with("error: the app trapped: "), "{err}");
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains("wasm backtrace"), "{err}");
    for host in [
        "Stack backtrace",
        "stack backtrace",
        "wasio_host::",
        "tokio::",
    ] {
        assert!(!err.contains(host), "{host} in {err}");
    }
    Ok(())
}

#[test]
fn compose_writes_a_runnable_component() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // An app built with wasio-sdk's `composed` feature imports wasio:streams.
    let app = dir.path().join("sdk-app.wasm");
    std::fs::write(&app, wasio_test_components::composed::SDK_APP)?;
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
    // Nor does a linked app, and the message says it runs as it is.
    let linked = dir.path().join("echo-client.wasm");
    std::fs::write(&linked, wasio_host::embedded::ECHO_CLIENT)?;
    let Some(linked) = linked.to_str() else {
        anyhow::bail!("temp paths are not UTF-8");
    };
    let refused = wasio(&["compose", linked, "-o", out])?;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("runs it as it is"),
        "{}",
        text(&refused.stderr)
    );
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
        .position(|l| l.starts_with("[server] Serving on tcp:127.0.0.1:0 at 127.0.0.1:"));
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

/// Runs `wasio ARGS`, killing it and failing if it has not ended within `limit` (these tests
/// prove that a run ends; a broken limit would otherwise hang the suite).
fn wasio_within(args: &[&str], limit: std::time::Duration) -> anyhow::Result<Output> {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasio"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let started = std::time::Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("wasio {args:?} was still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(child.wait_with_output()?)
}

/// Generous for a debug build on a busy machine: compiling the app is most of it.
const RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Writes `bytes` to `name` in a fresh temporary directory; returns the directory and the path.
fn app_file(name: &str, bytes: &[u8]) -> anyhow::Result<(tempfile::TempDir, String)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(name);
    std::fs::write(&path, bytes)?;
    let path = path
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("temp path is not UTF-8"))?
        .to_owned();
    Ok((dir, path))
}

#[test]
fn help_lists_the_limits_with_their_defaults() -> std::io::Result<()> {
    for command in [&["run", "--help"][..], &["demo", "--help"]] {
        let out = wasio(command)?;
        assert!(out.status.success());
        let help = text(&out.stdout);
        for word in [
            "--max-memory <SIZE>",
            "[default: 1GiB]",
            "--max-connections <N>",
            "[default: 4096, or one per 256KiB of a lower --max-memory]",
            "--write-queue-cap <SIZE>",
            "[default: 64MiB]",
            "--timeout <DURATION>",
            "137 if it reached --max-memory; 124 if it reached --timeout",
        ] {
            assert!(help.contains(word), "{command:?}: {word} in {help}");
        }
    }
    Ok(())
}

#[test]
fn bad_limits_are_usage_errors() -> std::io::Result<()> {
    for (flag, value, message) in [
        ("--max-memory", "12parsecs", "unknown unit `parsecs`"),
        ("--max-memory", "0", "above 0"),
        ("--max-connections", "0", "a number from 1, or `none`"),
        ("--max-connections", "many", "not a connection count"),
        ("--write-queue-cap", "none", "not a size"),
        ("--timeout", "soon", "not a duration"),
        ("--timeout", "0", "the timeout must be above 0"),
        ("--timeout", "0ms", "the timeout must be above 0"),
    ] {
        let out = wasio(&["run", "app.wasm", flag, value])?;
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = text(&out.stderr);
        assert!(err.contains(message), "{flag} {value}: {err}");
    }
    Ok(())
}

#[test]
fn timeout_stops_an_app_that_waits() -> anyhow::Result<()> {
    let (_dir, app) = app_file("echo_server.wasm", wasio_host::embedded::ECHO_SERVER)?;
    let out = wasio_within(
        &[
            "run",
            &app,
            "--allow-listen",
            "127.0.0.1:0",
            "--timeout",
            "1s",
            "--",
            "--port",
            "0",
        ],
        RUN_LIMIT,
    )?;
    assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("Serving on 127.0.0.1:"));
    assert_eq!(
        text(&out.stderr),
        "error: the app was stopped: the run reached its time limit of 1s (--timeout)\n"
    );
    Ok(())
}

#[test]
fn timeout_stops_an_app_that_computes_forever() -> anyhow::Result<()> {
    let (_dir, app) = app_file("probe.wasm", wasio_test_components::PROBE)?;
    let out = wasio_within(
        &["run", &app, "--timeout", "500ms", "--", "spin"],
        RUN_LIMIT,
    )?;
    assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "error: the app was stopped: the run reached its time limit of 500ms (--timeout)\n"
    );
    Ok(())
}

/// A timeout beyond what the clock can represent is accepted and never fires (it used to
/// panic the host when it computed the deadline).
#[test]
fn a_timeout_too_far_away_never_fires() -> anyhow::Result<()> {
    let (_dir, app) = app_file("probe.wasm", wasio_test_components::PROBE)?;
    let far = "10000000000000000000s";
    let out = wasio_within(
        &["run", &app, "--timeout", far, "--", "alloc", "1"],
        RUN_LIMIT,
    )?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    Ok(())
}

#[test]
fn the_memory_cap_ends_the_run_with_137() -> anyhow::Result<()> {
    let (_dir, app) = app_file("probe.wasm", wasio_test_components::PROBE)?;
    // Beyond it, while running (tests/tests/integration/limits.rs runs within it too).
    let out = wasio(&["run", &app, "--max-memory", "48MiB", "--", "alloc", "64"])?;
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: the app was stopped: the app's linear memory would grow to ")
            && err.ends_with("beyond the run's limit of 48 MiB (--max-memory)\n"),
        "{err}"
    );
    // Too small to even start the app.
    let out = wasio(&["run", &app, "--max-memory", "64KiB", "--", "alloc", "1"])?;
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("limit of 64 KiB (--max-memory)"));
    Ok(())
}

#[test]
fn demo_takes_the_limit_flags() -> std::io::Result<()> {
    let out = wasio(&[
        "demo",
        "--max-connections",
        "4",
        "--write-queue-cap",
        "1MiB",
        "--max-memory",
        "256MiB",
        "--timeout",
        "2m",
    ])?;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("[client] Received: 'Hello World!'"),
        "{stdout}"
    );
    Ok(())
}

/// The resident set of process `pid` in KiB (`VmRSS` in /proc/PID/status).
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))
}

/// wasmtime 48 kept about 400 bytes for every guest-to-guest async call that finished in its
/// first poll (an accept of a queued connection, a drain that need not wait); a server's memory
/// grew with each connection. The probe makes 10 000 such calls per batch; host RSS must not
/// grow with the batches.
#[test]
fn async_calls_that_finish_at_once_leave_no_memory_behind() -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    const BATCHES: usize = 8;
    let (_dir, app) = app_file("probe.wasm", wasio_test_components::PROBE)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasio"))
        .args(["run", &app, "--allow-connect", "127.0.0.1:*", "--"])
        .args(["immediate-calls", "127.0.0.1", &port, &BATCHES.to_string()])
        .stdout(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (mut peer, _) = listener.accept()?;
    let mut rss = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if line.starts_with("batch ") {
            rss.push(rss_kib(pid)?);
            peer.write_all(b"x")?;
        } else {
            assert_eq!(line, "done");
        }
    }
    let status = child.wait()?;
    assert!(status.success(), "{status}");
    assert_eq!(rss.len(), BATCHES, "{rss:?}");
    // Leaking 400 bytes a call would add about 4 MiB a batch, 24 MiB from batch 2 to the last.
    let growth = rss[BATCHES - 1].saturating_sub(rss[1]);
    assert!(
        growth < 4 * 1024,
        "host RSS grew by {growth} KiB over the batches: {rss:?} KiB"
    );
    Ok(())
}

/// `wasio run` keeps compiled code in $WASIO_CACHE_DIR and reuses it; `--no-cache` writes none.
#[test]
fn runs_keep_compiled_code_in_the_cache_unless_told_not_to() -> anyhow::Result<()> {
    let (_dir, app) = app_file("probe.wasm", wasio_test_components::PROBE)?;
    let cache = tempfile::tempdir()?;
    // Compiled code: files of over 100 KiB (wasmtime's cache worker also writes small usage
    // statistics beside them, in the background).
    let entries = || -> anyhow::Result<usize> {
        let mut files = 0;
        let mut dirs = vec![cache.path().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    dirs.push(entry.path());
                } else if entry.metadata()?.len() > 100 * 1024 {
                    files += 1;
                }
            }
        }
        Ok(files)
    };
    let run = |extra: &[&str]| -> anyhow::Result<Output> {
        Ok(Command::new(env!("CARGO_BIN_EXE_wasio"))
            .env("WASIO_CACHE_DIR", cache.path())
            .args(["run", &app])
            .args(extra)
            .args(["--", "alloc", "1"])
            .output()?)
    };
    let out = run(&["--no-cache"])?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "allocated 1\ndone\n");
    assert_eq!(
        std::fs::read_dir(cache.path())?.count(),
        0,
        "--no-cache wrote to the cache"
    );
    let out = run(&[])?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cached = entries()?;
    assert!(cached > 0, "the first run left nothing in the cache");
    // The second run finds the code: it runs the same and adds no entry.
    let out = run(&[])?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "allocated 1\ndone\n");
    assert_eq!(entries()?, cached);
    Ok(())
}

/// Without `--max-connections`, a lower `--max-memory` lowers the connection cap with it (one
/// per 256 KiB), so that peers cannot push the run past its memory cap through the default.
#[test]
fn a_lower_memory_cap_lowers_the_default_connection_cap() -> anyhow::Result<()> {
    let (_dir, app) = app_file("probe.wasm", wasio_test_components::PROBE)?;
    let opened = |flags: &[&str]| -> anyhow::Result<String> {
        let mut args = vec!["run", app.as_str(), "--allow-net"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", "raw-many", "tcp", "100"]);
        let out = wasio_within(&args, RUN_LIMIT)?;
        anyhow::ensure!(out.status.success(), "{}", text(&out.stderr));
        Ok(text(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned())
    };
    assert_eq!(opened(&["--max-memory", "16MiB"])?, "opened 64");
    assert_eq!(
        opened(&["--max-memory", "16MiB", "--max-connections", "80"])?,
        "opened 80"
    );
    assert_eq!(opened(&[])?, "opened 100");
    Ok(())
}

/// A refused connect, listen or Unix path is reported on stderr once per run, with the flag
/// that would grant it (the app still gets its access-denied error).
#[test]
fn refusals_are_reported_once_with_the_flag_that_grants_them() -> anyhow::Result<()> {
    let (dir, app) = app_file("probe.wasm", wasio_test_components::PROBE)?;
    let reports = |out: &Output| -> Vec<String> {
        text(&out.stderr)
            .lines()
            .filter(|line| line.starts_with("wasio: "))
            .map(str::to_owned)
            .collect()
    };
    // Two connects to the same address (connect-many, then its reconnect): one report.
    let out = wasio_within(
        &[
            "run",
            &app,
            "--allow-listen",
            "127.0.0.1:*",
            "--",
            "connect-many",
            "127.0.0.1",
            "9",
            "3",
        ],
        RUN_LIMIT,
    )?;
    assert!(!out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        reports(&out),
        [
            "wasio: refused a TCP connection to 127.0.0.1:9 (grant it with --allow-connect \
          127.0.0.1:9)"
        ],
        "{}",
        text(&out.stderr)
    );
    let out = wasio_within(
        &[
            "run",
            &app,
            "--allow-connect",
            "127.0.0.1:*",
            "--",
            "big-reply",
            "127.0.0.1",
            "10",
        ],
        RUN_LIMIT,
    )?;
    assert!(!out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        reports(&out),
        [
            "wasio: refused binding TCP address 127.0.0.1:0 (grant it with --allow-listen \
          127.0.0.1:0)"
        ],
        "{}",
        text(&out.stderr)
    );
    // No grant at all: the socket itself is refused.
    let out = wasio_within(
        &["run", &app, "--", "raw-connect", "127.0.0.1", "9"],
        RUN_LIMIT,
    )?;
    assert_eq!(
        reports(&out),
        [
            "wasio: the app opened a TCP socket, but the run grants no network access (grant it \
          with --allow-connect, --allow-listen or --allow-net)"
        ],
        "{}",
        text(&out.stderr)
    );
    let path = dir.path().join("x.sock");
    let path = path.to_str().unwrap_or_default();
    let out = wasio_within(&["run", &app, "--", "unix-connect", path], RUN_LIMIT)?;
    assert_eq!(
        reports(&out),
        [format!(
            "wasio: refused the Unix socket path `{path}` (grant it with --allow-unix {path})"
        )],
        "{}",
        text(&out.stderr)
    );
    Ok(())
}

/// `WASIO_LOG` shows the host's connection-level events on stderr; without it they stay quiet.
#[test]
fn wasio_log_shows_connection_events() -> anyhow::Result<()> {
    let (_dir, app) = app_file("probe.wasm", wasio_test_components::PROBE)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port().to_string();
    let run = |log: Option<&str>| -> anyhow::Result<Output> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasio"));
        cmd.args([
            "run",
            &app,
            "--allow-connect",
            "127.0.0.1:*",
            "--",
            "connect",
            "127.0.0.1",
            &port,
        ]);
        cmd.env_remove("WASIO_LOG");
        if let Some(log) = log {
            cmd.env("WASIO_LOG", log);
        }
        Ok(cmd.output()?)
    };
    let out = run(Some("wasio::net=debug"))?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("connecting over TCP") && err.contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    let out = run(None)?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    Ok(())
}
