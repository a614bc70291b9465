//! The asyncio docs' "TCP echo server using streams" as a wasio app component.
//!
//! `echo-server [--host H] [--port P]` (default 127.0.0.1:8888) prints `Serving on H:P`, then for
//! every client, concurrently: reads, prints `Received 'MSG' from ('IP', PORT)` and `Send: 'MSG'`
//! for the first message, echoes everything until the client's EOF, prints `Close the connection`
//! and closes. It serves until the process is stopped.
//!
//! With `--tls-cert-pem PEM --tls-key-pem PEM` (the PEM texts themselves: a component reads no
//! files; `wasio demo echo-server --tls-cert FILE --tls-key FILE` reads them for it) it serves
//! TLS (asyncio's `start_server(ssl=...)`).

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
use bindings::wasio::streams::streams::{self, Connection, Reader, Writer};
use bindings::wasio::streams::types::{
    AddressFamily, CertifiedKey, ErrorCode, ServerOptions, ServerTlsConfig, SocketAddress,
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

/// The command line: host, port and the optional TLS identity.
struct Args {
    host: String,
    port: u16,
    tls: Option<ServerTlsConfig>,
}

fn parse_args() -> Result<Args, String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = 8888u16;
    let mut cert = None;
    let mut key = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--host" => host = args.next().ok_or("--host needs a value")?,
            "--tls-cert-pem" => cert = Some(args.next().ok_or("--tls-cert-pem needs a value")?),
            "--tls-key-pem" => key = Some(args.next().ok_or("--tls-key-pem needs a value")?),
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value.parse().map_err(|_| format!("bad port {value:?}"))?;
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: echo-server [--host H] [--port P] \
                     [--tls-cert-pem PEM --tls-key-pem PEM]"
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
    Ok(Args { host, port, tls })
}

impl Guest for EchoServer {
    async fn run() -> Result<(), ()> {
        let Args { host, port, tls } = parse_args().map_err(|e| eprintln!("echo-server: {e}"))?;
        let options = ServerOptions {
            limit: None,
            family: AddressFamily::Unspecified,
            backlog: None,
            reuse_address: None,
            reuse_port: false,
            keep_alive: false,
            ssl: tls,
            ssl_handshake_timeout: None,
            ssl_shutdown_timeout: None,
            start_serving: None,
            write_queue_cap: None,
        };
        let server = streams::start_server(vec![host], port, options)
            .await
            .map_err(|e| eprintln!("echo-server: cannot serve: {e:?}"))?;
        let addrs: Vec<String> = server.sockets().iter().map(address_text).collect();
        println!("Serving on {}", addrs.join(", "));
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
}

/// The component's `wasi:cli/run` export (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::EchoServer;
    crate::bindings::export!(EchoServer with_types_in crate::bindings);
}
