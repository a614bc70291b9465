//! The asyncio docs' "TCP echo client using streams" (`tcp_echo_client`) as a wasio app component,
//! written with wasio-sdk.
//!
//! `echo-client [--host H] [--port P] [--message M]` (defaults 127.0.0.1, 8888, "Hello World!")
//! prints `Send: 'M'`, `Received: 'M'` and `Close the connection`, as the docs' example does.

use wasio_sdk::python_str_repr as repr;

wasio_sdk::main!(main);

async fn main() -> Result<(), String> {
    let (host, port, message) = parse_args()?;
    tcp_echo_client(&host, port, &message)
        .await
        .map_err(|e| format!("echo-client: {e:?}"))
}

async fn tcp_echo_client(host: &str, port: u16, message: &str) -> wasio_sdk::Result<()> {
    let (mut reader, writer) = wasio_sdk::open_connection(host, port).await?;

    println!("Send: {}", repr(message));
    writer.write(message)?;
    writer.drain().await?;

    let data = reader.read(100).await?;
    println!("Received: {}", repr(&String::from_utf8_lossy(&data)));

    println!("Close the connection");
    writer.close();
    writer.wait_closed().await
}

fn parse_args() -> Result<(String, u16, String), String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = 8888u16;
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
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: echo-client [--host H] [--port P] [--message M]"
                ));
            }
        }
    }
    Ok((host, port, message))
}
