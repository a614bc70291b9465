//! Network grants, enforced for real: the embedded echo client against a native echo server.
#![cfg(feature = "embed")]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasio_host::capture::LineCapture;
use wasio_host::{AddrPattern, Capabilities, Exit, WasioCtx};

use crate::compiled_client;

/// The client was refused by its grants: it exited with status 1 after printing the
/// `AccessDenied` error.
fn assert_access_denied(exit: &Exit, lines: &[String]) {
    assert!(matches!(exit, Exit::Code(1)), "{exit}: {lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Permission denied: the host has not granted")),
        "{lines:?}"
    );
}

/// A native echo server on loopback serving one connection.
async fn native_echo() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            while let Ok(n @ 1..) = sock.read(&mut buf).await {
                if sock.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    });
    Ok(addr)
}

/// Runs the echo client against `addr` with `caps`; returns its exit and stdout + stderr lines.
async fn client(addr: SocketAddr, caps: Capabilities) -> anyhow::Result<(Exit, Vec<String>)> {
    let (runtime, component) = compiled_client()?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let lines = lines.clone();
        move |line: String| {
            lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    };
    let ctx = WasioCtx::builder()
        .args(&[
            "echo-client".to_owned(),
            "--host".to_owned(),
            addr.ip().to_string(),
            "--port".to_owned(),
            addr.port().to_string(),
        ])
        .stdout(LineCapture::with_sink(sink.clone()))
        .stderr(LineCapture::with_sink(sink))
        .capabilities(caps)
        .build();
    let exit = runtime.run(component, ctx).await?;
    let lines = lines.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok((exit, lines))
}

fn grant_connect(pattern: &str) -> anyhow::Result<Capabilities> {
    let mut caps = Capabilities::deny_all();
    caps.allow_connect(pattern.parse::<AddrPattern>()?);
    Ok(caps)
}

#[tokio::test]
async fn an_exact_connect_grant_is_enough() -> anyhow::Result<()> {
    let addr = native_echo().await?;
    let (exit, lines) = client(addr, grant_connect(&addr.to_string())?).await?;
    assert!(exit.success(), "{exit}: {lines:?}");
    assert!(
        lines.iter().any(|l| l == "Received: 'Hello World!'"),
        "{lines:?}"
    );
    Ok(())
}

#[tokio::test]
async fn connecting_elsewhere_is_access_denied() -> anyhow::Result<()> {
    let addr = native_echo().await?;
    let other = format!("{}:{}", addr.ip(), addr.port().wrapping_add(1));
    let (exit, lines) = client(addr, grant_connect(&other)?).await?;
    assert_access_denied(&exit, &lines);
    Ok(())
}

#[tokio::test]
async fn a_listen_grant_does_not_allow_connecting() -> anyhow::Result<()> {
    let addr = native_echo().await?;
    let mut caps = Capabilities::deny_all();
    caps.allow_listen("127.0.0.1:*".parse()?);
    let (exit, lines) = client(addr, caps).await?;
    assert_access_denied(&exit, &lines);
    Ok(())
}

#[tokio::test]
async fn no_grant_is_access_denied() -> anyhow::Result<()> {
    let addr = native_echo().await?;
    let (exit, lines) = client(addr, Capabilities::deny_all()).await?;
    assert_access_denied(&exit, &lines);
    Ok(())
}
