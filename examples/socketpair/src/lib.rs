//! The asyncio docs' "Register an open socket to wait for data using streams" example as a wasio
//! app component:
//!
//! ```python
//! rsock, wsock = socket.socketpair()
//! reader, writer = await asyncio.open_connection(sock=rsock)
//! loop.call_soon(wsock.send, 'abc'.encode())
//! data = await reader.read(100)
//! print("Received:", data.decode())
//! writer.close()
//! await writer.wait_closed()
//! wsock.close()
//! ```
//!
//! The socket pair comes from the host (`socketpair`); both ends are ordinary connections. It
//! prints `Received: abc`.

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
use bindings::wasio::streams::types::{AdoptOptions, ErrorCode};

struct Socketpair;

async fn wait_for_data() -> Result<(), ErrorCode> {
    let options = AdoptOptions {
        limit: None,
        write_queue_cap: None,
    };
    let (rsock, wsock) = streams::socketpair(options)?;
    let (reader, writer) = Connection::split(rsock);
    let (_wreader, wwriter) = Connection::split(wsock);

    // loop.call_soon(wsock.send, 'abc'.encode()): the write is queued and sent in the background.
    wwriter.write(b"abc")?;

    let data = reader.read(100, None).await?;
    println!("Received: {}", String::from_utf8_lossy(&data));

    writer.close();
    writer.wait_closed(None).await?;
    wwriter.close();
    wwriter.wait_closed(None).await
}

impl Guest for Socketpair {
    async fn run() -> Result<(), ()> {
        wait_for_data()
            .await
            .map_err(|e| eprintln!("socketpair: {e}"))
    }
}

/// The component's `wasi:cli/run` export (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::Socketpair;
    crate::bindings::export!(Socketpair with_types_in crate::bindings);
}
