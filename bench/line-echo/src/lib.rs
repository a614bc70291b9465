//! wasio-bench's line-protocol server as a wasio app component: `line-echo --port P` serves on
//! 127.0.0.1, reads lines with `readline` and writes each back, for every client concurrently.
//! It prints `Serving on 127.0.0.1:PORT` once listening.

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
use bindings::wasio::streams::types::{AddressFamily, ErrorCode, ServerOptions, SocketAddress};

struct LineEcho;

async fn serve_lines(reader: Reader, writer: Writer) -> Result<(), ErrorCode> {
    loop {
        // The sync fast path first; the async call only to wait.
        let line = match reader.try_readline() {
            Some(line) => line?,
            None => reader.readline(None).await?,
        };
        if line.is_empty() {
            break;
        }
        writer.write(&line)?;
        if writer.try_drain().is_none() {
            writer.drain(None).await?;
        }
    }
    writer.close();
    Ok(())
}

impl Guest for LineEcho {
    async fn run() -> Result<(), ()> {
        let port = std::env::args()
            .skip_while(|a| a != "--port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0u16);
        let options = ServerOptions {
            limit: None,
            family: AddressFamily::Unspecified,
            backlog: Some(1024),
            reuse_address: None,
            reuse_port: false,
            keep_alive: false,
            ssl: None,
            ssl_handshake_timeout: None,
            ssl_shutdown_timeout: None,
            start_serving: None,
            write_queue_cap: None,
        };
        let server = streams::start_server(vec!["127.0.0.1".into()], port, options)
            .await
            .map_err(|e| eprintln!("line-echo: {e:?}"))?;
        if let Some(SocketAddress::Inet(a)) = server.sockets().first() {
            println!("Serving on {}:{}", a.host, a.port);
        }
        let serving = server
            .serve_forever()
            .map_err(|e| eprintln!("line-echo: {e:?}"))?;
        while let Ok(conn) = serving.accept(None).await {
            let (reader, writer) = Connection::split(conn);
            wit_bindgen::spawn_local(async move {
                if let Err(e) = serve_lines(reader, writer).await {
                    eprintln!("Unhandled exception in client connection handler: {e:?}");
                }
            });
        }
        Ok(())
    }
}

/// The component's `wasi:cli/run` export (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::LineEcho;
    crate::bindings::export!(LineEcho with_types_in crate::bindings);
}
