//! The asyncio docs' "TCP echo server using streams" as a wasio app component, written with
//! wasio-sdk.
//!
//! `echo-server [--host H] [--port P]` (default 127.0.0.1:8888) prints `Serving on H:P`, then for
//! every client, concurrently: reads, prints `Received 'MSG' from ('IP', PORT)` and `Send: 'MSG'`
//! for the first message, echoes everything until the client's EOF, prints `Close the connection`
//! and closes. It serves until the process is stopped.
//!
//! `--unix PATH` serves on a Unix socket instead (asyncio `start_unix_server`; the peer shows as
//! `''`, an unnamed client socket). `--preopened` serves on every listener the host opened for
//! the run (`wasio run --listen ...`; asyncio `start_server(sock=...)`) and prints
//! `Serving on NAME at ADDRESS` for each. With `--tls-cert-pem PEM --tls-key-pem PEM` (the PEM
//! texts themselves: a component reads no files; `wasio demo echo-server --tls-cert FILE
//! --tls-key FILE` reads them for it) it serves TLS (asyncio's `start_server(ssl=...)`).
//! `--quiet` prints no line per connection: the benchmark runs it so, as its tokio baseline
//! prints none (the three lines cost about 40 us of server CPU per connection).

use std::sync::atomic::{AtomicBool, Ordering};
use wasio_sdk::{
    CertifiedKey, Reader, Server, ServerOptions, ServerTlsConfig, UnixServerOptions, Writer,
    python_str_repr as repr,
};

wasio_sdk::main!(main);

/// `--quiet`: no line per connection.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Where to serve.
enum Serve {
    /// Host, port and the TLS identity to serve with.
    Tcp(String, u16, Option<ServerTlsConfig>),
    /// Path and the TLS identity to serve with.
    Unix(String, Option<ServerTlsConfig>),
    Preopened,
}

async fn main() -> Result<(), String> {
    let cannot = |e: wasio_sdk::Error| format!("echo-server: cannot serve: {e}");
    let server = match parse_args()? {
        Serve::Tcp(host, port, tls) => {
            let options = ServerOptions {
                ssl: tls,
                ..Default::default()
            };
            wasio_sdk::start_server_with(&[host.as_str()], port, options)
                .await
                .map_err(cannot)?
        }
        Serve::Unix(path, tls) => {
            let options = UnixServerOptions {
                ssl: tls,
                ..Default::default()
            };
            wasio_sdk::start_unix_server_with(&path, options)
                .await
                .map_err(cannot)?
        }
        Serve::Preopened => {
            let servers = wasio_sdk::preopened_servers().await.map_err(cannot)?;
            if servers.is_empty() {
                return Err(
                    "echo-server: the host opened no listeners (wasio run --listen ...)".into(),
                );
            }
            for (name, server) in servers {
                println!("Serving on {name} at {}", addresses(&server));
                wasio_sdk::spawn(async move {
                    if let Err(e) = server.serve_forever(handle_echo).await {
                        eprintln!("echo-server: {e}");
                    }
                });
            }
            // The servers run as tasks; this one waits forever.
            return std::future::pending().await;
        }
    };
    println!("Serving on {}", addresses(&server));
    server
        .serve_forever(handle_echo)
        .await
        .map_err(|e| format!("echo-server: {e}"))
}

fn addresses(server: &Server) -> String {
    let addrs: Vec<String> = server.sockets().iter().map(|a| a.to_string()).collect();
    addrs.join(", ")
}

async fn handle_echo(mut reader: Reader, writer: Writer) -> wasio_sdk::Result<()> {
    let quiet = QUIET.load(Ordering::Relaxed);
    let mut first = !quiet;
    loop {
        let data = reader.read(65536).await?;
        if data.is_empty() {
            break;
        }
        if first {
            let peer = writer.peername().map_or("None".into(), |a| a.python_repr());
            let message = repr(&String::from_utf8_lossy(&data));
            println!("Received {message} from {peer}");
            println!("Send: {message}");
            first = false;
        }
        writer.write_vec(data)?;
        writer.drain().await?;
    }
    if !quiet {
        println!("Close the connection");
    }
    writer.close();
    writer.wait_closed().await
}

fn parse_args() -> Result<Serve, String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = 8888u16;
    let mut unix = None;
    let mut preopened = false;
    let mut cert = None;
    let mut key = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--host" => host = args.next().ok_or("--host needs a value")?,
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value.parse().map_err(|_| format!("bad port {value:?}"))?;
            }
            "--unix" => unix = Some(args.next().ok_or("--unix needs a path")?),
            "--preopened" => preopened = true,
            "--quiet" => QUIET.store(true, Ordering::Relaxed),
            "--tls-cert-pem" => cert = Some(args.next().ok_or("--tls-cert-pem needs a value")?),
            "--tls-key-pem" => key = Some(args.next().ok_or("--tls-key-pem needs a value")?),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: echo-server [--host H] [--port P] [--tls-cert-pem PEM --tls-key-pem PEM] | --unix PATH | --preopened, each with [--quiet]"
                ));
            }
        }
    }
    let tls = match (cert, key) {
        (Some(cert_chain_pem), Some(private_key_pem)) => Some(ServerTlsConfig {
            identity: CertifiedKey {
                cert_chain_pem,
                private_key_pem,
            },
            client_auth_ca_pem: None,
            client_auth_required: false,
            alpn_protocols: Vec::new(),
        }),
        (None, None) => None,
        _ => return Err("--tls-cert-pem and --tls-key-pem go together".to_string()),
    };
    Ok(match (unix, preopened) {
        (Some(path), _) => Serve::Unix(path, tls),
        (None, true) => Serve::Preopened,
        (None, false) => Serve::Tcp(host, port, tls),
    })
}
