//! Capabilities through the real components, one test per kind of grant that the other test
//! files do not already cover (TCP connect: client.rs; TCP listen: echo_server.rs; Unix paths:
//! unix.rs): name resolution, abstract Unix names, what a pre-opened listener does not grant,
//! and raw wasi:sockets (UDP, TCP) from a component that bypasses the provider.

use tokio::net::TcpListener;
use wasio_host::{Capabilities, ListenSpec, Preopened, UnixGrant};
use wasio_tests::{PROBE, loopback, run, spawn_with};

/// A port on loopback where a native listener waits (kept open by the returned listener).
async fn listening() -> anyhow::Result<(TcpListener, u16)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

fn single_error(lines: &[String]) -> &str {
    assert_eq!(lines.len(), 1, "{lines:?}");
    &lines[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_lookup_is_access_denied_when_nothing_is_granted() -> anyhow::Result<()> {
    let (_listener, port) = listening().await?;
    let port = port.to_string();
    // Through the provider: asyncio's PermissionError, not a resolver failure.
    let (exit, lines) = run(
        PROBE,
        &["connect", "localhost", &port],
        Capabilities::deny_all(),
    )
    .await?;
    assert_eq!(exit.code(), 1, "{lines:?}");
    let line = single_error(&lines);
    assert!(
        line.starts_with(
            "error ErrorCode::AccessDenied(\"the host has not granted name resolution"
        ),
        "{line}"
    );
    // Unix grants alone grant no lookup either.
    let mut unix_only = Capabilities::deny_all();
    unix_only.allow_unix(UnixGrant::parse("/tmp/").map_err(anyhow::Error::msg)?);
    let (_, lines) = run(PROBE, &["connect", "localhost", &port], unix_only).await?;
    assert!(
        single_error(&lines).starts_with("error ErrorCode::AccessDenied("),
        "{lines:?}"
    );
    // Raw wasi:sockets: denied as well, and no trap.
    let (exit, lines) = run(
        PROBE,
        &["raw-lookup", "localhost"],
        Capabilities::deny_all(),
    )
    .await?;
    assert!(exit.success(), "{lines:?}");
    assert_eq!(lines, ["error ErrorCode::PermanentResolverFailure"]);
    // With a connect grant the same lookup and connect work (the test can tell).
    let (exit, lines) = run(PROBE, &["connect", "localhost", &port], loopback()).await?;
    assert!(exit.success(), "{lines:?}");
    Ok(())
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abstract_unix_name_needs_its_own_grant() -> anyhow::Result<()> {
    let name = format!("wasio-caps-{}", std::process::id());
    let address = format!("\0{name}");
    let _peer = tokio::net::UnixListener::bind(&address)?;
    // Granted: another abstract name, and every path under /tmp (paths never cover names).
    let mut caps = Capabilities::deny_all();
    caps.allow_unix(UnixGrant::Abstract(b"some-other-name".to_vec()));
    caps.allow_unix(UnixGrant::parse("/tmp/").map_err(anyhow::Error::msg)?);
    for scenario in ["unix-connect", "unix-serve"] {
        let target = if scenario == "unix-serve" {
            format!("\0{name}-new")
        } else {
            address.clone()
        };
        let (exit, lines) = run(PROBE, &[scenario, &target], caps.clone()).await?;
        assert_eq!(exit.code(), 1, "{scenario}: {lines:?}");
        assert!(
            single_error(&lines).starts_with("error ErrorCode::AccessDenied("),
            "{scenario}: {lines:?}"
        );
    }
    // Its own grant allows it.
    let mut caps = Capabilities::deny_all();
    caps.allow_unix(UnixGrant::Abstract(name.into_bytes()));
    let (exit, lines) = run(PROBE, &["unix-connect", &address], caps).await?;
    assert!(exit.success(), "{lines:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preopened_listener_grants_nothing_else() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_other, other_port) = listening().await?;
    // The app is handed pre-opened TCP and Unix listeners (adopting them needs no grant, see
    // unix.rs), but may connect nowhere: not to another socket, not to the pre-opened
    // listener's own address, not to its Unix path.
    for (i, target) in ["other", "own-tcp", "own-unix"].into_iter().enumerate() {
        let path = dir
            .path()
            .join(format!("pre{i}.sock"))
            .display()
            .to_string();
        let unix = Preopened::open(&ListenSpec::Unix(path.clone()))?;
        let tcp = Preopened::open(&ListenSpec::Tcp("127.0.0.1:0".to_owned()))?;
        let tcp_port = tcp
            .local_address()
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let args: Vec<String> = match target {
            "other" => vec!["connect".into(), "127.0.0.1".into(), other_port.to_string()],
            "own-tcp" => vec!["connect".into(), "127.0.0.1".into(), tcp_port],
            _ => vec!["unix-connect".into(), path],
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (exit, lines) = spawn_with(PROBE, &args, Capabilities::deny_all(), vec![tcp, unix])?
            .finish()
            .await?;
        assert_eq!(exit.code(), 1, "{target}: {lines:?}");
        assert!(
            single_error(&lines).starts_with("error ErrorCode::AccessDenied("),
            "{target}: {lines:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_and_raw_tcp_are_denied_unless_granted() -> anyhow::Result<()> {
    let (_listener, port) = listening().await?;
    let port = port.to_string();
    // UDP: denied with nothing granted, and with every TCP grant; only --allow-net allows it.
    for caps in [Capabilities::deny_all(), loopback()] {
        let (exit, lines) = run(PROBE, &["raw-udp"], caps).await?;
        assert!(exit.success(), "{lines:?}");
        assert_eq!(lines, ["error ErrorCode::AccessDenied"]);
    }
    let (_, lines) = run(PROBE, &["raw-udp"], Capabilities::allow_all()).await?;
    assert_eq!(lines, ["ok bound"]);
    // Raw TCP, bypassing the provider: the host's grants hold all the same.
    let (_, lines) = run(
        PROBE,
        &["raw-connect", "127.0.0.1", &port],
        Capabilities::deny_all(),
    )
    .await?;
    assert_eq!(lines, ["error ErrorCode::AccessDenied"]);
    let (_, lines) = run(PROBE, &["raw-connect", "127.0.0.1", &port], loopback()).await?;
    assert_eq!(lines, ["ok connected"]);
    Ok(())
}
