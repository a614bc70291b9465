//! The asyncio docs' "TCP echo server using streams" as a wasio app component.
//!
//! `echo-server [--host H] [--port P]` (default 127.0.0.1:8888) prints `Serving on H:P`, then for
//! every client, concurrently: reads, prints `Received 'MSG' from ('IP', PORT)` and `Send: 'MSG'`
//! for the first message, echoes everything until the client's EOF, prints `Close the connection`
//! and closes. It serves until the process is stopped.
//!
//! `--unix PATH` serves on a Unix socket instead (asyncio `start_unix_server`; the peer shows as
//! `''`, an unnamed client socket). `--preopened` serves on every listener the host opened for
//! the run (`wasio run --listen ...`; asyncio `start_server(sock=...)`) and prints
//! `Serving on NAME at ADDRESS` for each.

/// Generated bindings of the `wasio:streams/app` world (generated code uses `unsafe`).
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "wasio:streams/app",
        generate_all,
    });
}

use bindings::exports::wasi::cli::run::Guest;
use bindings::wasio::streams::streams::{self, Connection, Reader, Server, Writer};
use bindings::wasio::streams::types::{
    AddressFamily, ErrorCode, ServerOptions, SocketAddress, UnixServerOptions,
};

struct EchoServer;

/// Python's `repr` of a str: single quotes, backslash and quote escaped.
fn py_repr(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Python's `repr` of a peername tuple.
fn peer_repr(addr: Option<SocketAddress>) -> String {
    match addr {
        Some(SocketAddress::Inet(a)) if a.host.contains(':') => {
            format!(
                "('{}', {}, {}, {})",
                a.host, a.port, a.flow_info, a.scope_id
            )
        }
        Some(SocketAddress::Inet(a)) => format!("('{}', {})", a.host, a.port),
        Some(SocketAddress::Unix(path)) => py_repr(&path),
        None => "None".to_string(),
    }
}

/// `H:P`, with brackets for IPv6.
fn address_text(addr: &SocketAddress) -> String {
    match addr {
        SocketAddress::Inet(a) if a.host.contains(':') => format!("[{}]:{}", a.host, a.port),
        SocketAddress::Inet(a) => format!("{}:{}", a.host, a.port),
        SocketAddress::Unix(path) => path.clone(),
    }
}

async fn handle_echo(reader: Reader, writer: Writer) -> Result<(), ErrorCode> {
    let peer = peer_repr(writer.extra_info().peername);
    let mut first = true;
    loop {
        let data = match reader.try_read(65536) {
            Some(result) => result?,
            None => reader.read(65536, None).await?,
        };
        if data.is_empty() {
            break;
        }
        if first {
            let message = String::from_utf8_lossy(&data);
            println!("Received {} from {peer}", py_repr(&message));
            println!("Send: {}", py_repr(&message));
            first = false;
        }
        writer.write(&data)?;
        if writer.try_drain().is_none() {
            writer.drain(None).await?;
        }
    }
    println!("Close the connection");
    writer.close();
    writer.wait_closed(None).await
}

/// Where to serve.
enum Serve {
    Tcp(String, u16),
    Unix(String),
    Preopened,
}

fn parse_args() -> Result<Serve, String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = 8888u16;
    let mut unix = None;
    let mut preopened = false;
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
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: echo-server [--host H] [--port P] | --unix PATH | --preopened"
                ));
            }
        }
    }
    Ok(match (unix, preopened) {
        (Some(path), _) => Serve::Unix(path),
        (None, true) => Serve::Preopened,
        (None, false) => Serve::Tcp(host, port),
    })
}

fn server_options() -> ServerOptions {
    ServerOptions {
        limit: None,
        family: AddressFamily::Unspecified,
        backlog: None,
        reuse_address: None,
        reuse_port: false,
        keep_alive: false,
        ssl: None,
        ssl_handshake_timeout: None,
        ssl_shutdown_timeout: None,
        start_serving: None,
        write_queue_cap: None,
    }
}

/// Serves `server` forever, one task per client.
async fn serve(server: Server) -> Result<(), ()> {
    let serving = server
        .serve_forever()
        .map_err(|e| eprintln!("echo-server: {e:?}"))?;
    loop {
        match serving.accept(None).await {
            Ok(conn) => {
                let (reader, writer) = Connection::split(conn);
                wit_bindgen::spawn_local(async move {
                    if let Err(e) = handle_echo(reader, writer).await {
                        eprintln!("Unhandled exception in client connection handler: {e:?}");
                    }
                });
            }
            Err(e) => {
                eprintln!("echo-server: accept failed: {e:?}");
                return Err(());
            }
        }
    }
}

impl Guest for EchoServer {
    async fn run() -> Result<(), ()> {
        let cannot = |e: ErrorCode| eprintln!("echo-server: cannot serve: {e:?}");
        let server = match parse_args().map_err(|e| eprintln!("echo-server: {e}"))? {
            Serve::Tcp(host, port) => streams::start_server(vec![host], port, server_options())
                .await
                .map_err(cannot)?,
            Serve::Unix(path) => {
                let options = UnixServerOptions {
                    limit: None,
                    backlog: None,
                    ssl: None,
                    ssl_handshake_timeout: None,
                    ssl_shutdown_timeout: None,
                    start_serving: None,
                    cleanup_socket: None,
                    write_queue_cap: None,
                };
                streams::start_unix_server(path, options)
                    .await
                    .map_err(cannot)?
            }
            Serve::Preopened => {
                let servers = streams::preopened_servers(server_options())
                    .await
                    .map_err(cannot)?;
                if servers.is_empty() {
                    eprintln!("echo-server: the host opened no listeners (wasio run --listen ...)");
                    return Err(());
                }
                for (name, server) in servers {
                    let addrs: Vec<String> = server.sockets().iter().map(address_text).collect();
                    println!("Serving on {name} at {}", addrs.join(", "));
                    wit_bindgen::spawn_local(async move {
                        let _ = serve(server).await;
                    });
                }
                // The servers run as tasks; this one waits forever.
                return std::future::pending().await;
            }
        };
        let addrs: Vec<String> = server.sockets().iter().map(address_text).collect();
        println!("Serving on {}", addrs.join(", "));
        serve(server).await
    }
}

/// The component's `wasi:cli/run` export (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::EchoServer;
    crate::bindings::export!(EchoServer with_types_in crate::bindings);
}
