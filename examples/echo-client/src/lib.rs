//! The asyncio docs' "TCP echo client using streams" (`tcp_echo_client`) as a wasio app component,
//! written with wasio-sdk.
//!
//! `echo-client [--host H] [--port P] [--message M]` (defaults 127.0.0.1, 8888, "Hello World!")
//! prints `Send: 'M'`, `Received: 'M'` and `Close the connection`, as the docs' example does.
//! `--unix PATH` connects to a Unix socket instead (asyncio `open_unix_connection`). `--tls`
//! connects with TLS trusting the host's platform certificate store (asyncio's `ssl=True`);
//! `--tls-ca-pem PEM` (the CA certificates' PEM text; `wasio demo echo-client --tls-ca FILE` reads
//! the file for it) trusts only those CAs instead. Either way the server's certificate is checked
//! against the host name (`localhost` over a Unix socket).

use wasio_sdk::{
    ClientTlsConfig, ConnectOptions, TrustRoots, UnixConnectOptions, python_str_repr as repr,
};

wasio_sdk::main!(main);

/// Where to connect.
enum Target {
    /// Host, port and the roots to trust for TLS (none: plain TCP).
    Tcp(String, u16, Option<TrustRoots>),
    /// Path and the roots to trust for TLS (the server must be named `localhost`).
    Unix(String, Option<TrustRoots>),
}

/// TLS trusting `roots`.
fn tls_with(roots: TrustRoots) -> ClientTlsConfig {
    ClientTlsConfig {
        roots,
        ..Default::default()
    }
}

async fn main() -> Result<(), String> {
    let (target, message) = parse_args()?;
    tcp_echo_client(target, &message)
        .await
        .map_err(|e| format!("echo-client: {e}"))
}

async fn tcp_echo_client(target: Target, message: &str) -> wasio_sdk::Result<()> {
    let (mut reader, writer) = match target {
        Target::Tcp(host, port, None) => wasio_sdk::open_connection(&host, port).await?,
        Target::Tcp(host, port, Some(roots)) => {
            let options = ConnectOptions {
                ssl: Some(tls_with(roots)),
                ..Default::default()
            };
            wasio_sdk::open_connection_with(&host, port, options).await?
        }
        Target::Unix(path, None) => wasio_sdk::open_unix_connection(&path).await?,
        Target::Unix(path, Some(roots)) => {
            let options = UnixConnectOptions {
                ssl: Some(tls_with(roots)),
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
    let mut roots = None;
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
            "--tls" => roots = Some(TrustRoots::Platform),
            "--tls-ca-pem" => {
                let pem = args.next().ok_or("--tls-ca-pem needs a value")?;
                roots = Some(TrustRoots::Pem(pem));
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: echo-client [--host H] [--port P] [--unix PATH] [--message M] [--tls | --tls-ca-pem PEM]"
                ));
            }
        }
    }
    let target = match unix {
        Some(path) => Target::Unix(path, roots),
        None => Target::Tcp(host, port, roots),
    };
    Ok((target, message))
}
