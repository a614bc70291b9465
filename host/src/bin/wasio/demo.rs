//! `wasio demo`: the built-in examples, alone (`wasio demo echo-server ...`) or the echo server
//! and client talking on loopback.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::sync::mpsc;
use wasio_host::capture::LineCapture;
use wasio_host::embedded::{ECHO_CLIENT, ECHO_SERVER, SOCKETPAIR};
use wasio_host::limits::Limits;
use wasio_host::{AddrPattern, Capabilities, ListenSpec, Preopened, UnixGrant, WasioCtx};

use crate::args::{DemoExample, RunFlags};
use crate::files::read_text;
use crate::interrupts::Interrupts;
use crate::run::{prepare, report, run_inherited};

/// `wasio demo EXAMPLE`: one built-in example with inherited stdio, granted only the address it
/// serves on or connects to.
pub(crate) async fn example(
    example: DemoExample,
    flags: &RunFlags,
    interrupts: &Interrupts,
) -> anyhow::Result<i32> {
    match example {
        DemoExample::Socketpair => {
            run_inherited(
                SOCKETPAIR,
                &["socketpair".to_owned()],
                Capabilities::deny_all(),
                flags,
                interrupts,
            )
            .await
        }
        DemoExample::EchoServer {
            host,
            port,
            unix,
            tls_cert,
            tls_key,
        } => {
            let (mut args, caps) = demo_target("echo-server", unix, host, port, Use::Listen)?;
            if let (Some(cert), Some(key)) = (tls_cert, tls_key) {
                let (cert_pem, key_pem) = (read_text(&cert)?, read_text(&key)?);
                // Checked now, as asyncio's `load_cert_chain`: not at each client's handshake.
                wasio_host::tls::config::check_identity(&cert_pem, &key_pem).map_err(|e| {
                    anyhow::anyhow!(
                        "--tls-cert {} --tls-key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?;
                args.extend(["--tls-cert-pem".to_owned(), cert_pem]);
                args.extend(["--tls-key-pem".to_owned(), key_pem]);
            }
            run_inherited(ECHO_SERVER, &args, caps, flags, interrupts).await
        }
        DemoExample::EchoClient {
            host,
            port,
            message,
            unix,
            tls,
            tls_ca,
        } => {
            let (mut args, caps) = demo_target("echo-client", unix, host, port, Use::Connect)?;
            args.extend(["--message".to_owned(), message]);
            if let Some(ca) = tls_ca {
                let pem = read_text(&ca)?;
                wasio_host::tls::config::check_ca(&pem)
                    .map_err(|e| anyhow::anyhow!("--tls-ca {}: {e}", ca.display()))?;
                args.extend(["--tls-ca-pem".to_owned(), pem]);
            } else if tls {
                args.push("--tls".to_owned());
            }
            run_inherited(ECHO_CLIENT, &args, caps, flags, interrupts).await
        }
    }
}

/// Whether a demo listens on or connects to its address.
enum Use {
    Listen,
    Connect,
}

/// A demo app's arguments naming its address (`--unix PATH`, or `--host H --port P`) and the one
/// grant that address needs.
fn demo_target(
    name: &str,
    unix: Option<String>,
    host: String,
    port: u16,
    usage: Use,
) -> anyhow::Result<(Vec<String>, Capabilities)> {
    let mut caps = Capabilities::deny_all();
    let mut args = vec![name.to_owned()];
    match unix {
        Some(path) => {
            let (address, grant) = unix_target(&path)?;
            caps.allow_unix(grant);
            args.extend(["--unix".to_owned(), address]);
        }
        None => {
            for addr in resolve(&host, port)? {
                let pattern = AddrPattern::exact(addr);
                match usage {
                    Use::Listen => {
                        caps.allow_listen(pattern);
                    }
                    Use::Connect => {
                        caps.allow_connect(pattern);
                    }
                }
            }
            args.extend([
                "--host".to_owned(),
                host,
                "--port".to_owned(),
                port.to_string(),
            ]);
        }
    }
    Ok((args, caps))
}

/// A demo's Unix path as the app sees it (`@NAME` becomes `\0NAME`) and the grant for it.
fn unix_target(path: &str) -> anyhow::Result<(String, UnixGrant)> {
    let grant = UnixGrant::parse(path).map_err(|e| anyhow::anyhow!("--unix {path}: {e}"))?;
    let grant = match grant {
        // The demo may use exactly this path, even when it names a directory.
        UnixGrant::Dir(dir) => UnixGrant::File(dir),
        other => other,
    };
    let address = match path.strip_prefix('@') {
        Some(name) => format!("\0{name}"),
        None => path.to_owned(),
    };
    Ok((address, grant))
}

/// The addresses `host` names, for exact grants (the app resolves the same name itself).
fn resolve(host: &str, port: u16) -> anyhow::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving --host {host}"))?
        .collect();
    if addrs.is_empty() {
        bail!("--host {host} resolves to no address");
    }
    Ok(addrs)
}

/// One line of demo output: who wrote it, and the text.
type Line = (&'static str, String);

/// A context for a demo component: loopback grants, stdout and stderr captured into `lines`
/// labelled `label` and `label stderr`, and the `listener` the host opened for it, if any.
fn demo_ctx(
    argv: &[String],
    label: &'static str,
    lines: &mpsc::UnboundedSender<Line>,
    limits: &Limits,
    interrupts: &Interrupts,
    listener: Option<Preopened>,
) -> WasioCtx {
    let capture = |label: &'static str| {
        let lines = lines.clone();
        LineCapture::with_sink(move |line| {
            // The demo loop stops reading only when it is done; a late line is dropped.
            let _ = lines.send((label, line));
        })
    };
    let stderr_label = if label == "server" {
        "server stderr"
    } else {
        "client stderr"
    };
    let mut builder = WasioCtx::builder()
        .args(argv)
        .stdout(capture(label))
        .stderr(capture(stderr_label))
        .capabilities(Capabilities::loopback())
        .limits(limits.clone());
    if let Some(listener) = listener {
        builder = builder.preopen(listener);
    }
    interrupts.ctx(builder).build()
}

/// How long the demo waits for the server to start serving, and for its last line.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(30);
const SERVER_FINISH_TIMEOUT: Duration = Duration::from_secs(2);

/// `wasio demo`: the echo server and client on loopback, their output labelled and interleaved.
pub(crate) async fn demo(flags: &RunFlags, interrupts: &Interrupts) -> anyhow::Result<i32> {
    let limits = flags.limits();
    let runtime = flags.runtime()?;
    println!("[demo] compiling the echo server and client components...");
    let server = prepare(&runtime, ECHO_SERVER).context("preparing the echo server")?;
    let client = prepare(&runtime, ECHO_CLIENT).context("preparing the echo client")?;

    // The host opens the server's listener on a free port and hands it to the server (as `wasio
    // run --listen` does), so the demo knows the port the client connects to from the start.
    let listener = Preopened::open(&ListenSpec::Tcp("127.0.0.1:0".to_owned()))
        .context("opening the echo server's listener")?;
    let port = listener
        .tcp_address()
        .context("the echo server's listener has no TCP address")?
        .port();
    let (tx, mut lines) = mpsc::unbounded_channel::<Line>();
    let server_argv = ["echo-server", "--preopened"].map(String::from);
    let server_ctx = demo_ctx(
        &server_argv,
        "server",
        &tx,
        &limits,
        interrupts,
        Some(listener),
    );
    let server_runtime = runtime.clone();
    let mut server_task =
        tokio::spawn(async move { server_runtime.run(&server, server_ctx).await });

    // Print the server's lines until it says it serves, so that the conversation reads in order
    // (a client started earlier would wait in the listen backlog, but print first).
    tokio::time::timeout(SERVER_START_TIMEOUT, async {
        loop {
            tokio::select! {
                Some((who, line)) = lines.recv() => {
                    println!("[{who}] {line}");
                    if who == "server" && line.starts_with("Serving on ") {
                        return Ok(());
                    }
                }
                ended = &mut server_task => {
                    while let Ok((who, line)) = lines.try_recv() {
                        println!("[{who}] {line}");
                    }
                    return Err(match ended {
                        Ok(Ok(exit)) => anyhow::anyhow!("the echo server stopped before serving: {exit}"),
                        Ok(Err(e)) => e.context("the echo server could not start"),
                        Err(e) => anyhow::anyhow!("the echo server task failed: {e}"),
                    });
                }
            }
        }
    })
    .await
    .context("the echo server did not start serving in time")??;

    let client_argv = [
        "echo-client",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--message",
        "Hello World!",
    ]
    .map(String::from);
    let client_ctx = demo_ctx(&client_argv, "client", &tx, &limits, interrupts, None);
    drop(tx);
    let client_runtime = runtime.clone();
    let mut client_task =
        tokio::spawn(async move { client_runtime.run(&client, client_ctx).await });
    let client_exit = loop {
        tokio::select! {
            Some((who, line)) = lines.recv() => println!("[{who}] {line}"),
            ended = &mut client_task => break ended,
        }
    };

    // Let the server finish its side of the conversation, then stop it.
    let _ = tokio::time::timeout(SERVER_FINISH_TIMEOUT, async {
        while let Some((who, line)) = lines.recv().await {
            println!("[{who}] {line}");
            if who == "server" && line == "Close the connection" {
                break;
            }
        }
    })
    .await;
    server_task.abort();
    let _ = server_task.await;
    while let Ok((who, line)) = lines.try_recv() {
        println!("[{who}] {line}");
    }
    println!("[demo] server stopped");

    let exit = client_exit
        .context("the echo client task failed")?
        .context("the echo client could not start")?;
    println!("[demo] client {exit}");
    Ok(report(exit))
}
