//! TLS (issue 5): `ssl=` for clients and servers, `start_tls` both ways (with a ClientHello
//! already buffered), TLS extra info, failures with clear errors, and interop with peers nobody
//! here wrote: openssl s_server / s_client and CPython's ssl with asyncio. Certificates are made
//! at test time (see `wasio_tests::certs`).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use wasio_tests::certs::Pki;
use wasio_tests::{
    ECHO_CLIENT, Running, TLS_APP, WAIT, assert_success, every_listed_scenario_is_named, loopback,
    run, spawn,
};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// Starts the tls-app `server` (or `starttls-server`) scenario; returns it and its port.
async fn tls_server(scenario: &str, extra: &[&str]) -> anyhow::Result<(Running, u16)> {
    let mut args = vec![scenario, "127.0.0.1", "0"];
    args.extend_from_slice(extra);
    let mut server = spawn(TLS_APP, &args, loopback())?;
    let line = server.line_starting("serving ").await?;
    let port = line[8..].trim().parse()?;
    Ok((server, port))
}

fn has(lines: &[String], wanted: &str) -> bool {
    lines.iter().any(|l| l.contains(wanted))
}

/// A rustls server config (native peer) with the given certificate.
fn native_server_config(cert: &str, key: &str) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls_pki_types::pem::PemObject;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?,
    ))
}

/// Every scenario of the TLS test app is run by a test in this file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_of_the_tls_app_is_run() -> anyhow::Result<()> {
    every_listed_scenario_is_named(TLS_APP, &[include_str!("tls.rs")]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasio_client_and_server_with_extra_info() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let (mut server, port) = tls_server(
        "server",
        &[
            "--cert",
            &pki.server_cert,
            "--key",
            &pki.server_key,
            "--alpn",
            "h2",
            "--alpn",
            "echo",
        ],
    )
    .await?;
    let (exit, out) = run(
        TLS_APP,
        &[
            "client",
            "localhost",
            &port.to_string(),
            "--ca",
            &pki.ca,
            "--alpn",
            "echo",
        ],
        loopback(),
    )
    .await?;
    assert_success(&exit, &out)?;
    for wanted in [
        "info client version TLSv1.3",
        "info client cipher TLS13_",
        "info client alpn echo",
        "info client server-hostname localhost",
        "info client peer-subject CN=localhost",
        "info client peer-issuer CN=wasio test CA",
        "info client peer-san DNS:localhost,IP:127.0.0.1,IP:::1",
        "info client can-write-eof false",
        "write-eof not-supported",
        "echo hello\\n",
        "closed",
    ] {
        assert!(has(&out, wanted), "{wanted:?} missing in {out:#?}");
    }
    server.line_starting("server closed Ok").await?;
    let seen = server.lines_so_far();
    assert!(
        has(&seen, "info server server-hostname localhost"),
        "{seen:#?}"
    );
    assert!(has(&seen, "info server alpn echo"), "{seen:#?}");
    assert!(has(&seen, "info server peer-cert none"), "{seen:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_and_missing_client_certificate() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let (mut server, port) = tls_server(
        "server",
        &[
            "--cert",
            &pki.server_cert,
            "--key",
            &pki.server_key,
            "--client-ca",
            &pki.ca,
        ],
    )
    .await?;
    let port = port.to_string();
    let (exit, out) = run(
        TLS_APP,
        &[
            "client",
            "127.0.0.1",
            &port,
            "--ca",
            &pki.ca,
            "--cert",
            &pki.client_cert,
            "--key",
            &pki.client_key,
        ],
        loopback(),
    )
    .await?;
    assert_success(&exit, &out)?;
    server
        .line_starting("info server peer-subject CN=wasio test client")
        .await?;
    // Without a client certificate: the server refuses (and says why), the client sees an alert.
    let (exit, out) = run(
        TLS_APP,
        &["client", "127.0.0.1", &port, "--ca", &pki.ca],
        loopback(),
    )
    .await?;
    assert!(!exit.success(), "{out:#?}");
    assert!(has(&out, "ErrorCode::Tls("), "{out:#?}");
    let line = server
        .line_starting("wasio: TLS handshake with a client failed")
        .await?;
    assert!(
        line.ends_with("failed: TLS handshake failed: the peer sent no certificate"),
        "{line}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_failures_have_clear_errors() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let (_server, port) = tls_server(
        "server",
        &["--cert", &pki.server_cert, "--key", &pki.server_key],
    )
    .await?;
    let port = port.to_string();
    let cases: [(&[&str], &str); 3] = [
        (&["--ca", &pki.other_ca], "issuer is unknown"),
        // The default roots (the bundled web PKI) do not include a private CA.
        (&[], "issuer is unknown"),
        (
            &["--ca", &pki.ca, "--server-hostname", "other.example"],
            "not valid for name",
        ),
    ];
    for (extra, wanted) in cases {
        let mut args = vec!["client", "127.0.0.1", port.as_str()];
        args.extend_from_slice(extra);
        let (exit, out) = run(TLS_APP, &args, loopback()).await?;
        assert!(!exit.success(), "{out:#?}");
        assert!(
            has(&out, "ErrorCode::Tls(") && has(&out, wanted),
            "{wanted}: {out:#?}"
        );
    }
    // An empty server_hostname disables the name check (the chain is still verified).
    let (exit, out) = run(
        TLS_APP,
        &[
            "client",
            "127.0.0.1",
            &port,
            "--ca",
            &pki.ca,
            "--server-hostname",
            "",
        ],
        loopback(),
    )
    .await?;
    assert_success(&exit, &out)?;
    let (_expired, port) = tls_server(
        "server",
        &["--cert", &pki.expired_cert, "--key", &pki.expired_key],
    )
    .await?;
    let (exit, out) = run(
        TLS_APP,
        &["client", "127.0.0.1", &port.to_string(), "--ca", &pki.ca],
        loopback(),
    )
    .await?;
    assert!(!exit.success(), "{out:#?}");
    assert!(
        has(&out, "ErrorCode::Tls(") && has(&out, "certificate has expired"),
        "{out:#?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_client_hello_and_silent_clients() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let (mut server, port) = tls_server(
        "server",
        &[
            "--cert",
            &pki.server_cert,
            "--key",
            &pki.server_key,
            "--handshake-timeout-ms",
            "500",
        ],
    )
    .await?;
    let mut garbage = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    garbage.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
    let mut rest = Vec::new();
    // The server answers with an alert (or nothing) and closes.
    tokio::time::timeout(WAIT, garbage.read_to_end(&mut rest)).await??;
    let line = server
        .line_starting("wasio: TLS handshake with a client failed")
        .await?;
    assert!(
        line.ends_with(
            "failed: TLS handshake failed: the peer sent a message that is not valid TLS \
             (invalid content type); is it speaking TLS?"
        ),
        "{line}"
    );
    // A client that never says anything times out.
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let line = server
        .line_starting("wasio: TLS handshake with a client failed")
        .await?;
    assert!(line.ends_with("failed: timed out"), "{line}");
    // The server keeps serving others.
    let (exit, out) = run(
        TLS_APP,
        &["client", "127.0.0.1", &port.to_string(), "--ca", &pki.ca],
        loopback(),
    )
    .await?;
    assert_success(&exit, &out)?;
    Ok(())
}

/// asyncio's `wait_closed` also waits for connections still in their TLS handshake; it returns
/// once the handshake ends (here by its timeout), and the late connection is not handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_closed_waits_for_handshakes_in_progress() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let (mut server, port) = tls_server(
        "close-while-handshaking",
        &[
            "--cert",
            &pki.server_cert,
            "--key",
            &pki.server_key,
            "--read-timeout-ms",
            "2000",
            "--handshake-timeout-ms",
            "4000",
        ],
    )
    .await?;
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    server
        .line_starting("accept Err(ErrorCode::Timeout)")
        .await?;
    server
        .line_starting("wait-closed early Err(ErrorCode::Timeout)")
        .await?;
    let failed = server
        .line_starting("wasio: TLS handshake with a client failed")
        .await?;
    assert!(failed.ends_with("failed: timed out"), "{failed}");
    server.line_starting("wait-closed Ok(())").await?;
    Ok(())
}

/// A client whose TLS handshake is still running when the server closes is handed out by the
/// `accept` after the close once its handshake succeeds (asyncio runs `client_connected_cb` for
/// every connection its loop accepted, TLS ones after their handshake); then `accept` fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_after_close_hands_out_a_client_still_in_its_handshake() -> anyhow::Result<()> {
    use rustls_pki_types::pem::PemObject;
    let pki = Pki::new()?;
    let (mut server, port) = tls_server(
        "accept-after-close",
        &[
            "--cert",
            &pki.server_cert,
            "--key",
            &pki.server_key,
            "--read-timeout-ms",
            "1000",
            "--handshake-timeout-ms",
            "30000",
        ],
    )
    .await?;
    let socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    server.line_starting("closed").await?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls_pki_types::CertificateDer::from_pem_slice(
        pki.ca.as_bytes(),
    )?)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls_pki_types::ServerName::try_from("localhost")?;
    let mut tls = tokio::time::timeout(WAIT, connector.connect(name, socket)).await??;
    let mut reply = Vec::new();
    tokio::time::timeout(WAIT, tls.read_to_end(&mut reply)).await??;
    assert_eq!(reply, b"served\n");
    server.line_starting("accept after close Ok").await?;
    server
        .line_starting("accept again Err(ErrorCode::Closed")
        .await?;
    server.line_starting("wait-closed Ok(())").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_times_the_handshake_out() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let holder = tokio::spawn(async move {
        let (socket, _) = listener.accept().await?;
        tokio::time::sleep(Duration::from_secs(20)).await;
        drop(socket);
        anyhow::Ok(())
    });
    let started = Instant::now();
    let (exit, out) = run(
        TLS_APP,
        &[
            "client",
            "127.0.0.1",
            &port.to_string(),
            "--ca",
            &pki.ca,
            "--handshake-timeout-ms",
            "300",
        ],
        loopback(),
    )
    .await?;
    assert!(!exit.success(), "{out:#?}");
    assert!(has(&out, "error ErrorCode::Timeout"), "{out:#?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    holder.abort();
    Ok(())
}

/// A native rustls server that completes the handshake, reads one line, then does `then`.
async fn native_tls_peer(
    pki: &Pki,
    then: &'static str,
) -> anyhow::Result<(u16, tokio::task::JoinHandle<anyhow::Result<()>>)> {
    let acceptor =
        tokio_rustls::TlsAcceptor::from(native_server_config(&pki.server_cert, &pki.server_key)?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        let (socket, _) = listener.accept().await?;
        let mut tls = acceptor.accept(socket).await?;
        let mut line = [0u8; 6];
        tls.read_exact(&mut line).await?;
        match then {
            // Answer, then vanish: close the TCP connection without close_notify, or reset it
            // (SO_LINGER 0).
            "vanish" | "reset" => {
                tls.write_all(b"partial").await?;
                tls.flush().await?;
                let (socket, _) = tls.into_inner();
                if then == "reset" {
                    rustix::net::sockopt::set_socket_linger(&socket, Some(Duration::ZERO))?;
                }
                drop(socket);
            }
            // Never read again, never close: the client's close must not wait for us.
            _ => {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        }
        anyhow::Ok(())
    });
    Ok((port, task))
}

/// asyncio's `abort` over TLS sends no close_notify (it aborts the transport underneath), while
/// `close` does: a native rustls client sees truncation after an abort and a clean end after a
/// close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_sends_no_close_notify_and_close_does() -> anyhow::Result<()> {
    use rustls_pki_types::pem::PemObject;
    let pki = Pki::new()?;
    let (mut server, port) = tls_server(
        "server",
        &["--cert", &pki.server_cert, "--key", &pki.server_key],
    )
    .await?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls_pki_types::CertificateDer::from_pem_slice(
        pki.ca.as_bytes(),
    )?)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    for (last, truncated) in [("abort\n", true), ("", false)] {
        let socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let name = rustls_pki_types::ServerName::try_from("localhost")?;
        let mut tls = connector.connect(name, socket).await?;
        tls.write_all(b"hello\n").await?;
        let mut echo = [0u8; 6];
        tokio::time::timeout(WAIT, tls.read_exact(&mut echo)).await??;
        assert_eq!(&echo, b"hello\n");
        if last.is_empty() {
            // End our side cleanly: the server's readline sees EOF and it closes.
            tls.shutdown().await?;
        } else {
            tls.write_all(last.as_bytes()).await?;
            tls.flush().await?;
        }
        let mut rest = Vec::new();
        let end = tokio::time::timeout(WAIT, tls.read_to_end(&mut rest)).await?;
        match end {
            Err(e) if truncated => {
                assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}")
            }
            Ok(0) if !truncated => {}
            other => anyhow::bail!("after {last:?}: {other:?} (rest {rest:?})"),
        }
        server.line_starting("server closed Ok(())").await?;
    }
    Ok(())
}

/// A peer that closes its TCP connection without close_notify is a truncation; one that resets
/// it is the socket's reset, as asyncio reports it (`ConnectionResetError`): TLS sees ciphertext
/// that ended early either way, and the provider takes the socket's own error when it has one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_vanishing_without_close_notify_or_resetting() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    for (then, said, not_said) in [
        ("vanish", "close_notify", "ConnectionReset"),
        ("reset", "ConnectionReset", "close_notify"),
    ] {
        let (port, task) = native_tls_peer(&pki, then).await?;
        let (exit, out) = run(
            TLS_APP,
            &["client", "127.0.0.1", &port.to_string(), "--ca", &pki.ca],
            loopback(),
        )
        .await?;
        assert!(!exit.success(), "{then}: {out:#?}");
        assert!(has(&out, said), "{then}: {out:#?}");
        assert!(!has(&out, not_said), "{then}: {out:#?}");
        task.await??;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_closed_is_bounded_when_the_peer_never_closes() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let (port, task) = native_tls_peer(&pki, "hold").await?;
    let started = Instant::now();
    let (exit, out) = run(
        TLS_APP,
        &[
            "quiet-close",
            "127.0.0.1",
            &port.to_string(),
            "--ca",
            &pki.ca,
            "--shutdown-timeout-ms",
            "1000",
        ],
        loopback(),
    )
    .await?;
    assert_success(&exit, &out)?;
    assert!(has(&out, "wait-closed"), "{out:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    task.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_tls_with_cpython_both_ways() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    // wasio client, CPython server.
    let mut python = Command::new("python3")
        .arg(script("tls_peer.py"))
        .args([
            "server",
            &pki.arg("server.pem"),
            &pki.arg("server.key"),
            "starttls",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(python.stdout.take().context("stdout")?).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await??
        .unwrap_or_default();
    let port = first
        .strip_prefix("PORT ")
        .context("port line")?
        .to_string();
    let (exit, out) = run(
        TLS_APP,
        &[
            "starttls-client",
            "127.0.0.1",
            &port,
            "--ca",
            &pki.ca,
            "--server-hostname",
            "localhost",
        ],
        loopback(),
    )
    .await?;
    assert_success(&exit, &out)?;
    assert!(
        has(&out, "plain OK\\n") && has(&out, "echo hello\\n"),
        "{out:#?}"
    );
    assert!(has(&out, "info client version TLSv1."), "{out:#?}");
    let got = tokio::time::timeout(WAIT, lines.next_line())
        .await??
        .unwrap_or_default();
    assert_eq!(got, "got hello");
    // CPython client, wasio server.
    let (mut server, port) = tls_server(
        "starttls-server",
        &["--cert", &pki.server_cert, "--key", &pki.server_key],
    )
    .await?;
    let output = tokio::time::timeout(
        WAIT,
        Command::new("python3")
            .arg(script("tls_peer.py"))
            .args(["client", &port.to_string(), &pki.arg("ca.pem"), "starttls"])
            .output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("echo hello"), "{stdout}");
    server.line_starting("server closed").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_tls_keeps_a_client_hello_that_came_with_the_last_line() -> anyhow::Result<()> {
    let took = start_tls_after_a_pipelined_client_hello(&[]).await?;
    assert_eq!(took, "server took ahead 0");
    Ok(())
}

/// `start-tls`'s `ahead`: bytes the app read out of the reader (here the whole pipelined
/// ClientHello) go to the session first, so the handshake still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_tls_feeds_bytes_the_app_took_ahead() -> anyhow::Result<()> {
    let took = start_tls_after_a_pipelined_client_hello(&["--take-ahead"]).await?;
    assert_ne!(took, "server took ahead 0", "the app took nothing ahead");
    Ok(())
}

/// A client that sends "STARTTLS\n" and its ClientHello in one write against the tls-app
/// `starttls-server` with `options`; checks the TLS echo and returns the server's
/// `server took ahead N` line.
async fn start_tls_after_a_pipelined_client_hello(options: &[&str]) -> anyhow::Result<String> {
    let pki = Pki::new()?;
    let mut args = vec!["--cert", &pki.server_cert, "--key", &pki.server_key];
    args.extend_from_slice(options);
    let (mut server, port) = tls_server("starttls-server", &args).await?;
    let ca = pki.ca.clone();
    let client = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut tls = rustls::ClientConnection::new(Arc::new(config), "localhost".try_into()?)?;
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(WAIT))?;
        // "STARTTLS\n" and the ClientHello in one write: the server reads the line with the
        // ClientHello already buffered behind it.
        let mut first = b"STARTTLS\n".to_vec();
        tls.write_tls(&mut first)?;
        tcp.write_all(&first)?;
        let mut ok = [0u8; 3];
        tcp.read_exact(&mut ok)?;
        anyhow::ensure!(&ok == b"OK\n", "got {ok:?}");
        let mut stream = rustls::Stream::new(&mut tls, &mut tcp);
        stream.write_all(b"hello\n")?;
        let mut echo = [0u8; 6];
        stream.read_exact(&mut echo)?;
        tls.send_close_notify();
        tls.write_tls(&mut tcp)?;
        Ok(String::from_utf8_lossy(&echo).into_owned())
    });
    let echo = tokio::time::timeout(WAIT, client).await???;
    assert_eq!(echo, "hello\n");
    let buffered = server.line_starting("server buffered ").await?;
    assert_ne!(
        buffered, "server buffered 0",
        "the ClientHello was not buffered"
    );
    let took = server.line_starting("server took ahead ").await?;
    server.line_starting("server closed Ok").await?;
    Ok(took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpython_ssl_both_ways() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let (_server, port) = tls_server(
        "server",
        &["--cert", &pki.server_cert, "--key", &pki.server_key],
    )
    .await?;
    let output = tokio::time::timeout(
        WAIT,
        Command::new("python3")
            .arg(script("tls_peer.py"))
            .args(["client", &port.to_string(), &pki.arg("ca.pem")])
            .output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("echo hello") && stdout.contains("version TLSv1.3"),
        "{stdout}"
    );

    let mut python = Command::new("python3")
        .arg(script("tls_peer.py"))
        .args(["server", &pki.arg("server.pem"), &pki.arg("server.key")])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(python.stdout.take().context("stdout")?).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await??
        .unwrap_or_default();
    let port = first
        .strip_prefix("PORT ")
        .context("port line")?
        .to_string();
    let (exit, out) = run(
        TLS_APP,
        &["client", "localhost", &port, "--ca", &pki.ca],
        loopback(),
    )
    .await?;
    assert_success(&exit, &out)?;
    assert!(
        has(&out, "echo hello\\n") && has(&out, "closed"),
        "{out:#?}"
    );
    Ok(())
}

/// A free loopback port (bound, then released) for peers that want one on their command line.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `openssl s_server -rev` (answers each line reversed) with the test certificate and
/// `extra` options, for one client; returns it and its port once it accepts.
async fn openssl_s_server(
    pki: &Pki,
    extra: &[&str],
) -> anyhow::Result<(tokio::process::Child, String)> {
    let port = free_port()?.to_string();
    let mut openssl = Command::new("openssl")
        .args(["s_server", "-accept", &port, "-naccept", "1", "-rev"])
        .args(extra)
        .arg("-cert")
        .arg(pki.path("server.pem"))
        .arg("-key")
        .arg(pki.path("server.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(openssl.stdout.take().context("stdout")?).lines();
    while !tokio::time::timeout(WAIT, lines.next_line())
        .await??
        .ok_or_else(|| anyhow!("openssl s_server ended"))?
        .starts_with("ACCEPT")
    {}
    // Keep reading: s_server dies of SIGPIPE if its stdout closes.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((openssl, port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_client_with_ca_talks_to_openssl_s_server() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let (_openssl, port) = openssl_s_server(&pki, &[]).await?;
    let (exit, out) = run(
        ECHO_CLIENT,
        &[
            "--host",
            "localhost",
            "--port",
            &port,
            "--message",
            "Hello World!\n",
            "--tls-ca-pem",
            &pki.ca,
        ],
        loopback(),
    )
    .await?;
    assert_success(&exit, &out)?;
    // s_server -rev answers each line reversed.
    assert!(has(&out, "Received: '!dlroW olleH"), "{out:#?}");
    Ok(())
}

/// A running `openssl s_client`; it and its pipes (s_client ends when stdin closes, and dies of
/// SIGPIPE when stdout does) live until dropped.
struct SClient {
    _child: tokio::process::Child,
    _stdin: tokio::process::ChildStdin,
    _stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

/// Runs `openssl s_client -quiet` verifying the test CA and the name `localhost`, reaching the
/// server with `target` (`-connect HOST:PORT` or `-unix PATH`, plus options), sends `line` and
/// returns the client and the first line it prints back.
async fn openssl_s_client_echo(
    pki: &Pki,
    target: &[&str],
    line: &str,
) -> anyhow::Result<(SClient, Option<String>)> {
    let mut child = Command::new("openssl")
        .args(["s_client", "-quiet", "-servername", "localhost"])
        .args(["-verify_return_error", "-CAfile"])
        .arg(pki.path("ca.pem"))
        .args(target)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    stdin.write_all(format!("{line}\n").as_bytes()).await?;
    stdin.flush().await?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let echo = tokio::time::timeout(WAIT, lines.next_line()).await??;
    let client = SClient {
        _child: child,
        _stdin: stdin,
        _stdout: lines,
    };
    Ok((client, echo))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_against_wasio_tls_server() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let (mut server, port) = tls_server(
        "server",
        &["--cert", &pki.server_cert, "--key", &pki.server_key],
    )
    .await?;
    let (_client, echo) = openssl_s_client_echo(
        &pki,
        &["-connect", &format!("127.0.0.1:{port}")],
        "hello from openssl",
    )
    .await?;
    assert_eq!(echo.as_deref(), Some("hello from openssl"));
    server
        .line_starting("info server server-hostname localhost")
        .await?;
    server
        .line_starting("server got hello from openssl")
        .await?;
    Ok(())
}

/// TLS 1.2 both ways, with openssl limited to it: wasio's server and client negotiate it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_with_openssl_both_ways() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let (mut server, port) = tls_server(
        "server",
        &["--cert", &pki.server_cert, "--key", &pki.server_key],
    )
    .await?;
    let target = format!("127.0.0.1:{port}");
    let (_client, echo) =
        openssl_s_client_echo(&pki, &["-tls1_2", "-connect", &target], "over 1.2").await?;
    assert_eq!(echo.as_deref(), Some("over 1.2"));
    server.line_starting("info server version TLSv1.2").await?;

    let (_openssl, port) = openssl_s_server(&pki, &["-tls1_2"]).await?;
    let (exit, out) = run(
        TLS_APP,
        &["client", "localhost", &port, "--ca", &pki.ca],
        loopback(),
    )
    .await?;
    assert_success(&exit, &out)?;
    assert!(
        has(&out, "info client version TLSv1.2") && has(&out, "echo olleh\\n"),
        "{out:#?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_server_example_with_a_certificate_serves_openssl_s_client() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    // The arguments `wasio demo echo-server --tls-cert FILE --tls-key FILE` hands the example.
    let args = [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--tls-cert-pem",
        &pki.server_cert,
        "--tls-key-pem",
        &pki.server_key,
    ];
    let mut server = spawn(wasio_tests::ECHO_SERVER, &args, loopback())?;
    let line = server.line_starting("Serving on ").await?;
    let port: u16 = line.rsplit(':').next().unwrap_or_default().trim().parse()?;
    let target = format!("127.0.0.1:{port}");
    let (_client, echo) =
        openssl_s_client_echo(&pki, &["-connect", &target], "Hello over TLS").await?;
    assert_eq!(echo.as_deref(), Some("Hello over TLS"));
    server
        .line_starting("Received 'Hello over TLS\\n' from ('127.0.0.1', ")
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_headers_over_https_against_a_local_server() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let acceptor =
        tokio_rustls::TlsAcceptor::from(native_server_config(&pki.server_cert, &pki.server_key)?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await?;
        let tls = acceptor.accept(socket).await?;
        let (rd, mut wr) = tokio::io::split(tls);
        let mut rd = BufReader::new(rd);
        let mut request = Vec::new();
        loop {
            let mut line = String::new();
            if rd.read_line(&mut line).await? == 0 || line == "\r\n" {
                break;
            }
            request.push(line.trim_end().to_string());
        }
        wr.write_all(b"HTTP/1.0 200 OK\r\nServer: wasio-test\r\nContent-Length: 0\r\n\r\n")
            .await?;
        wr.shutdown().await?;
        anyhow::Ok(request)
    });
    let url = format!("https://localhost:{port}/index.html");
    let (exit, out) = run(
        wasio_tests::HTTP_HEADERS,
        &["--ca-pem", &pki.ca, &url],
        loopback(),
    )
    .await?;
    assert_success(&exit, &out)?;
    assert_eq!(
        out,
        [
            "HTTP header> HTTP/1.0 200 OK",
            "HTTP header> Server: wasio-test",
            "HTTP header> Content-Length: 0",
        ]
    );
    let request = server.await??;
    assert_eq!(request, ["HEAD /index.html HTTP/1.0", "Host: localhost"]);
    Ok(())
}

/// ssl= over Unix sockets: the echo-server example serves TLS on a Unix path; the echo-client
/// example and `openssl s_client -unix` both talk to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_over_unix_sockets() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("tls.sock").display().to_string();
    let server_args = [
        "--unix",
        &path,
        "--tls-cert-pem",
        &pki.server_cert,
        "--tls-key-pem",
        &pki.server_key,
    ];
    let mut server = spawn(
        wasio_tests::ECHO_SERVER,
        &server_args,
        wasio_tests::unix_dir(dir.path())?,
    )?;
    server.line_starting("Serving on ").await?;

    let client_args = [
        "--unix",
        &path,
        "--tls-ca-pem",
        &pki.ca,
        "--message",
        "over unix",
    ];
    let (exit, out) = run(
        ECHO_CLIENT,
        &client_args,
        wasio_tests::unix_dir(dir.path())?,
    )
    .await?;
    assert_success(&exit, &out)?;
    assert_eq!(
        out,
        [
            "Send: 'over unix'",
            "Received: 'over unix'",
            "Close the connection"
        ]
    );

    let (_client, echo) =
        openssl_s_client_echo(&pki, &["-unix", &path], "openssl over unix").await?;
    assert_eq!(echo.as_deref(), Some("openssl over unix"));
    Ok(())
}
