//! The asyncio docs' "TCP echo client using streams" (`tcp_echo_client`) as a wasio app component.
//!
//! `echo-client [--host H] [--port P] [--message M]` (defaults 127.0.0.1, 8888, "Hello World!")
//! prints `Send: 'M'`, `Received: 'M'` and `Close the connection`, as the docs' example does.
//! `--unix PATH` connects to a Unix socket instead (asyncio `open_unix_connection`).

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
use bindings::wasio::streams::streams::{self, Connection};
use bindings::wasio::streams::streams::{Reader, Writer};
use bindings::wasio::streams::types::{
    AddressFamily, ConnectOptions, ErrorCode, UnixConnectOptions,
};

struct EchoClient;

/// Python's `repr` of a str: single quotes, backslash and quote escaped.
fn py_repr(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Where to connect.
enum Target {
    Tcp(String, u16),
    Unix(String),
}

async fn connect(target: Target) -> Result<(Reader, Writer), ErrorCode> {
    let conn = match target {
        Target::Tcp(host, port) => streams::open_connection(host, port, tcp_options()).await?,
        Target::Unix(path) => {
            let options = UnixConnectOptions {
                limit: None,
                ssl: None,
                server_hostname: None,
                ssl_handshake_timeout: None,
                ssl_shutdown_timeout: None,
                timeout: None,
                write_queue_cap: None,
            };
            streams::open_unix_connection(path, options).await?
        }
    };
    Ok(Connection::split(conn))
}

fn tcp_options() -> ConnectOptions {
    ConnectOptions {
        limit: None,
        ssl: None,
        server_hostname: None,
        ssl_handshake_timeout: None,
        ssl_shutdown_timeout: None,
        family: AddressFamily::Unspecified,
        local_addr: None,
        happy_eyeballs_delay: None,
        interleave: None,
        timeout: None,
        write_queue_cap: None,
    }
}

async fn tcp_echo_client(target: Target, message: String) -> Result<(), ErrorCode> {
    let (reader, writer) = connect(target).await?;

    println!("Send: {}", py_repr(&message));
    writer.write(message.as_bytes())?;
    writer.drain(None).await?;

    let data = reader.read(100, None).await?;
    println!("Received: {}", py_repr(&String::from_utf8_lossy(&data)));

    println!("Close the connection");
    writer.close();
    writer.wait_closed(None).await
}

fn parse_args() -> Result<(Target, String), String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = 8888u16;
    let mut unix = None;
    let mut message = "Hello World!".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--host" => host = args.next().ok_or("--host needs a value")?,
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value.parse().map_err(|_| format!("bad port {value:?}"))?;
            }
            "--message" => message = args.next().ok_or("--message needs a value")?,
            "--unix" => unix = Some(args.next().ok_or("--unix needs a path")?),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: echo-client [--host H] [--port P] [--unix PATH] [--message M]"
                ));
            }
        }
    }
    let target = match unix {
        Some(path) => Target::Unix(path),
        None => Target::Tcp(host, port),
    };
    Ok((target, message))
}

impl Guest for EchoClient {
    async fn run() -> Result<(), ()> {
        let (target, message) = parse_args().map_err(|e| eprintln!("echo-client: {e}"))?;
        tcp_echo_client(target, message)
            .await
            .map_err(|e| eprintln!("echo-client: {e:?}"))
    }
}

/// The component's `wasi:cli/run` export (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::EchoClient;
    crate::bindings::export!(EchoClient with_types_in crate::bindings);
}
