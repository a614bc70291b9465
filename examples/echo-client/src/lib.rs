//! The asyncio docs' "TCP echo client using streams" (`tcp_echo_client`) as a wasio app component,
//! written with wasio-sdk.
//!
//! `echo-client [--host H] [--port P] [--message M]` (defaults 127.0.0.1, 8888, "Hello World!")
//! prints `Send: 'M'`, `Received: 'M'` and `Close the connection`, as the docs' example does.
//! `--unix PATH` connects to a Unix socket instead (asyncio `open_unix_connection`). With
//! `--tls-ca-pem PEM` (the CA certificates' PEM text; `wasio demo echo-client --tls-ca FILE` reads
//! the file for it) it connects with TLS trusting only those CAs, checking the server's
//! certificate against the host name (asyncio's `open_connection(ssl=...)`).

use wasio_sdk::{
    ClientTlsConfig, ConnectOptions, TrustRoots, UnixConnectOptions, python_str_repr as repr,
};

wasio_sdk::main!(main);

/// Where to connect.
enum Target {
    /// Host, port and the CA bundle to trust for TLS.
    Tcp(String, u16, Option<String>),
    /// Path and the CA bundle to trust for TLS (the server must be named `localhost`).
    Unix(String, Option<String>),
}

/// TLS trusting only the CAs in `pem`.
fn tls_with(pem: String) -> ClientTlsConfig {
    ClientTlsConfig {
        roots: TrustRoots::Pem(pem),
        ..Default::default()
    }
}

async fn main() -> Result<(), String> {
    let (target, message) = parse_args()?;
    tcp_echo_client(target, &message)
        .await
        .map_err(|e| format!("echo-client: {e:?}"))
}

async fn tcp_echo_client(target: Target, message: &str) -> wasio_sdk::Result<()> {
    let (mut reader, writer) = match target {
        Target::Tcp(host, port, None) => wasio_sdk::open_connection(&host, port).await?,
        Target::Tcp(host, port, Some(ca)) => {
            let options = ConnectOptions {
                ssl: Some(tls_with(ca)),
                ..Default::default()
            };
            wasio_sdk::open_connection_with(&host, port, options).await?
        }
        Target::Unix(path, None) => wasio_sdk::open_unix_connection(&path).await?,
        Target::Unix(path, Some(ca)) => {
            let options = UnixConnectOptions {
                ssl: Some(tls_with(ca)),
                // A path names no host: asyncio requires server_hostname with ssl here.
                server_hostname: Some("localhost".into()),
                ..Default::default()
            };
            wasio_sdk::open_unix_connection_with(&path, options).await?
        }
    };

    println!("Send: {}", repr(message));
    writer.write(message)?;
    writer.drain().await?;

    let data = reader.read(100).await?;
    println!("Received: {}", repr(&String::from_utf8_lossy(&data)));

    println!("Close the connection");
    writer.close();
    writer.wait_closed().await
}

fn parse_args() -> Result<(Target, String), String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = 8888u16;
    let mut unix = None;
    let mut ca = None;
    let mut message = "Hello World!".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--host" => host = args.next().ok_or("--host needs a value")?,
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value.parse().map_err(|_| format!("bad port {value:?}"))?;
            }
            "--unix" => unix = Some(args.next().ok_or("--unix needs a path")?),
            "--message" => message = args.next().ok_or("--message needs a value")?,
            "--tls-ca-pem" => ca = Some(args.next().ok_or("--tls-ca-pem needs a value")?),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: echo-client [--host H] [--port P] [--unix PATH] [--message M] [--tls-ca-pem PEM]"
                ));
            }
        }
    }
    let target = match unix {
        Some(path) => Target::Unix(path, ca),
        None => Target::Tcp(host, port, ca),
    };
    Ok((target, message))
}
