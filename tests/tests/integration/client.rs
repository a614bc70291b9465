//! The provider as client (probe and echo-client components) against native tokio peers.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wasio_host::Capabilities;
use wasio_tests::{ECHO_CLIENT, PROBE, WAIT, assert_success, loopback, run};

/// A native server on `host` that runs `serve` on its first connection; returns its port.
async fn native_peer<F, Fut>(host: &str, serve: F) -> anyhow::Result<u16>
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let listener = TcpListener::bind((host, 0)).await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        if let Ok(Ok((stream, _))) = tokio::time::timeout(WAIT, listener.accept()).await {
            let _ = serve(stream).await;
        }
    });
    Ok(port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_readline_readuntil_readexactly() -> anyhow::Result<()> {
    let port = native_peer("127.0.0.1", |mut s| async move {
        // Chunks split lines and separators across arrivals.
        for chunk in [
            &b"hel"[..],
            b"lo\nworld\r",
            b"\nABCD",
            b"EFG0123",
            b"456789",
            b"xyz",
            b"tail",
        ] {
            s.write_all(chunk).await?;
            s.flush().await?;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        s.shutdown().await?;
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await?;
        Ok(())
    })
    .await?;
    let (exit, lines) = run(
        PROBE,
        &["reads", "127.0.0.1", &port.to_string()],
        loopback(),
    )
    .await?;
    assert_success(&exit, &lines)?;
    assert_eq!(
        lines,
        [
            "readline hello\\n",
            "readuntil world\\r\\n",
            "readuntil-set ABCDE",
            "readexactly FG",
            "readexactly 0123456789",
            "read xyz",
            "incomplete partial=tail expected=Some(100)",
            "at_eof true",
            "read-at-eof ",
            "done",
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_eof_half_closes_and_reading_goes_on() -> anyhow::Result<()> {
    let port = native_peer("127.0.0.1", |mut s| async move {
        let mut got = Vec::new();
        s.read_to_end(&mut got).await?;
        // Our side saw the client's FIN; answer on the still-open direction.
        s.write_all(b"got ").await?;
        s.write_all(&got).await?;
        s.shutdown().await?;
        Ok(())
    })
    .await?;
    let (exit, lines) = run(
        PROBE,
        &["half-close", "127.0.0.1", &port.to_string()],
        loopback(),
    )
    .await?;
    assert_success(&exit, &lines)?;
    assert_eq!(
        lines,
        [
            "write-after-eof Cannot call write() after write_eof()",
            "answer got ping",
            "at_eof true",
            "done",
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_client_against_native_echo_server() -> anyhow::Result<()> {
    let port = native_peer("127.0.0.1", |mut s| async move {
        let mut buf = vec![0u8; 1024];
        loop {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            s.write_all(&buf[..n]).await?;
        }
    })
    .await?;
    let port = port.to_string();
    let args = [
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--message",
        "Hello World!",
    ];
    let (exit, lines) = run(ECHO_CLIENT, &args, loopback()).await?;
    assert_success(&exit, &lines)?;
    assert_eq!(
        lines,
        [
            "Send: 'Hello World!'",
            "Received: 'Hello World!'",
            "Close the connection"
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_over_ipv6_loopback() -> anyhow::Result<()> {
    let port = native_peer("::1", |_s| async move { Ok(()) }).await?;
    let (exit, lines) = run(PROBE, &["connect", "::1", &port.to_string()], loopback()).await?;
    assert_success(&exit, &lines)?;
    assert_eq!(lines, [format!("connected ::1 {port}"), "done".to_string()]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_connect_is_access_denied_not_a_trap() -> anyhow::Result<()> {
    let port = native_peer("127.0.0.1", |_s| async move { Ok(()) }).await?;
    let (exit, lines) = run(
        PROBE,
        &["connect", "127.0.0.1", &port.to_string()],
        Capabilities::deny_all(),
    )
    .await?;
    assert_eq!(exit.code(), 1, "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("error ErrorCode::AccessDenied("),
        "{lines:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_closed_port_is_connection_refused() -> anyhow::Result<()> {
    // Bind and drop to find a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();
    let (exit, lines) = run(
        PROBE,
        &["connect", "127.0.0.1", &port.to_string()],
        loopback(),
    )
    .await?;
    assert_eq!(exit.code(), 1, "{lines:?}");
    assert_eq!(lines, ["error ErrorCode::ConnectionRefused"]);
    Ok(())
}

/// An app that fails after `set-exit-status` ends the run with that status (0 counts as 1), in
/// the linked and the composed mode alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_exits_with_the_status_the_app_set() -> anyhow::Result<()> {
    for (status, expected) in [("3", 3), ("255", 255), ("0", 1)] {
        let (exit, lines) = run(PROBE, &["exit-status", status], Capabilities::deny_all()).await?;
        assert_eq!(exit.code(), expected, "{exit}: {lines:?}");
        assert!(lines.is_empty(), "{lines:?}");
    }
    Ok(())
}

/// Every scenario of the probe is run by a test: in this binary's files, or in the host's CLI
/// and signal tests, which run it through the `wasio` binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_of_the_probe_is_run() -> anyhow::Result<()> {
    wasio_tests::every_listed_scenario_is_named(
        PROBE,
        &[
            include_str!("capabilities.rs"),
            include_str!("client.rs"),
            include_str!("faults.rs"),
            include_str!("limits.rs"),
            include_str!("tcp_options.rs"),
            include_str!("unix.rs"),
            include_str!("../../../host/tests/host/cli.rs"),
            include_str!("../../../host/tests/host/signals.rs"),
            include_str!("../../../host/tests/host/workers.rs"),
        ],
    )
    .await
}
