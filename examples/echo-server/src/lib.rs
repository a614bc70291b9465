//! The asyncio docs' "TCP echo server using streams" as a wasio app component, written with
//! wasio-sdk.
//!
//! `echo-server [--host H] [--port P]` (default 127.0.0.1:8888) prints `Serving on H:P`, then for
//! every client, concurrently: reads, prints `Received 'MSG' from ('IP', PORT)` and `Send: 'MSG'`
//! for the first message, echoes everything until the client's EOF, prints `Close the connection`
//! and closes. It serves until the process is stopped.

use wasio_sdk::{Reader, Writer, python_str_repr as repr};

wasio_sdk::main!(main);

async fn main() -> Result<(), String> {
    let (host, port) = parse_args()?;
    let server = wasio_sdk::start_server(&host, port)
        .await
        .map_err(|e| format!("echo-server: cannot serve: {e:?}"))?;
    let addrs: Vec<String> = server.sockets().iter().map(|a| a.to_string()).collect();
    println!("Serving on {}", addrs.join(", "));
    server
        .serve_forever(handle_echo)
        .await
        .map_err(|e| format!("echo-server: {e:?}"))
}

async fn handle_echo(mut reader: Reader, writer: Writer) -> wasio_sdk::Result<()> {
    let peer = writer.peername().map_or("None".into(), |a| a.python_repr());
    let mut first = true;
    loop {
        let data = reader.read(65536).await?;
        if data.is_empty() {
            break;
        }
        if first {
            let message = repr(&String::from_utf8_lossy(&data));
            println!("Received {message} from {peer}");
            println!("Send: {message}");
            first = false;
        }
        writer.write(&data)?;
        writer.drain().await?;
    }
    println!("Close the connection");
    writer.close();
    writer.wait_closed().await
}

fn parse_args() -> Result<(String, u16), String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = 8888u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--host" => host = args.next().ok_or("--host needs a value")?,
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value.parse().map_err(|_| format!("bad port {value:?}"))?;
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: echo-server [--host H] [--port P]"
                ));
            }
        }
    }
    Ok((host, port))
}
