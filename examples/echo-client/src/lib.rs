//! The asyncio docs' "TCP echo client using streams" (`tcp_echo_client`) as a wasio app component.
//!
//! `echo-client [--host H] [--port P] [--message M]` (defaults 127.0.0.1, 8888, "Hello World!")
//! prints `Send: 'M'`, `Received: 'M'` and `Close the connection`, as the docs' example does.
//!
//! With `--tls-ca-pem PEM` (the CA certificates' PEM text; `wasio demo echo-client --tls-ca FILE`
//! reads the file for it) it connects with TLS trusting only those CAs, checking the server's
//! certificate against the host name (asyncio's `open_connection(ssl=...)`).

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
use bindings::wasio::streams::types::{
    AddressFamily, ClientTlsConfig, ConnectOptions, ErrorCode, TrustRoots,
};

struct EchoClient;

/// Python's `repr` of a str: single quotes, backslash and quote escaped.
fn py_repr(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

async fn tcp_echo_client(
    host: String,
    port: u16,
    message: String,
    ca: Option<String>,
) -> Result<(), ErrorCode> {
    let options = ConnectOptions {
        limit: None,
        ssl: ca.map(|pem| ClientTlsConfig {
            roots: TrustRoots::Pem(pem),
            client_cert: None,
            alpn_protocols: Vec::new(),
        }),
        server_hostname: None,
        ssl_handshake_timeout: None,
        ssl_shutdown_timeout: None,
        family: AddressFamily::Unspecified,
        local_addr: None,
        happy_eyeballs_delay: None,
        interleave: None,
        timeout: None,
        write_queue_cap: None,
    };
    let (reader, writer) = Connection::split(streams::open_connection(host, port, options).await?);

    println!("Send: {}", py_repr(&message));
    writer.write(message.as_bytes())?;
    writer.drain(None).await?;

    let data = reader.read(100, None).await?;
    println!("Received: {}", py_repr(&String::from_utf8_lossy(&data)));

    println!("Close the connection");
    writer.close();
    writer.wait_closed(None).await
}

/// The command line: host, port, message and the optional CA bundle.
type Args = (String, u16, String, Option<String>);

fn parse_args() -> Result<Args, String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = 8888u16;
    let mut message = "Hello World!".to_string();
    let mut ca = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--host" => host = args.next().ok_or("--host needs a value")?,
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value.parse().map_err(|_| format!("bad port {value:?}"))?;
            }
            "--message" => message = args.next().ok_or("--message needs a value")?,
            "--tls-ca-pem" => ca = Some(args.next().ok_or("--tls-ca-pem needs a value")?),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: echo-client [--host H] [--port P] [--message M] [--tls-ca-pem PEM]"
                ));
            }
        }
    }
    Ok((host, port, message, ca))
}

impl Guest for EchoClient {
    async fn run() -> Result<(), ()> {
        let (host, port, message, ca) = parse_args().map_err(|e| eprintln!("echo-client: {e}"))?;
        tcp_echo_client(host, port, message, ca)
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
