//! wasio-bench's line-protocol server as a wasio app component, written with wasio-sdk as an
//! asyncio user would write it: `line-echo --port P` serves on 127.0.0.1, reads lines with
//! `readline` and writes each back (`write` + `drain`), for every client concurrently. It prints
//! `Serving on 127.0.0.1:PORT` once listening.

use wasio_sdk::{Reader, ServerOptions, Writer};

wasio_sdk::main!(main);

async fn serve_lines(mut reader: Reader, writer: Writer) -> wasio_sdk::Result<()> {
    loop {
        let line = reader.readline().await?;
        if line.is_empty() {
            break;
        }
        writer.write(&line)?;
        writer.drain().await?;
    }
    writer.close();
    Ok(())
}

async fn main() -> Result<(), String> {
    let port = std::env::args()
        .skip_while(|a| a != "--port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0u16);
    let options = ServerOptions {
        backlog: Some(1024),
        ..Default::default()
    };
    let server = wasio_sdk::start_server_with(&["127.0.0.1"], port, options)
        .await
        .map_err(|e| format!("line-echo: {e:?}"))?;
    if let Some(address) = server.sockets().first() {
        println!("Serving on {address}");
    }
    server
        .serve_forever(serve_lines)
        .await
        .map_err(|e| format!("line-echo: {e:?}"))
}
