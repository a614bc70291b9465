//! wasio-bench's floor: the least an echo server over raw `wasi:sockets` 0.3 does, with none of
//! wasio's semantics (no wasio:streams, no provider). It runs in the same host as wasio's apps,
//! so the benchmark shows what the platform allows and how far each wasio mode is from it.
//!
//! `floor-echo [--port P]` listens on 127.0.0.1 (port P, or one the OS picks), prints
//! `Serving on 127.0.0.1:PORT` like the other bench servers, and for every accepted connection
//! copies its receive stream into its send stream (read up to 64 KiB, write it all) until the
//! peer ends its side; then it ends its own.

/// Generated bindings: raw wasi:sockets and `wasi:cli/run`, from the repository's WIT (generated
/// code uses `unsafe`).
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        inline: "
            package wasio:floor;
            world floor {
                import wasi:sockets/types@0.3.0;
                export wasi:cli/run@0.3.0;
            }
        ",
        world: "wasio:floor/floor",
        generate_all,
    });
}

use bindings::exports::wasi::cli::run::Guest;
use bindings::wasi::sockets::types::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, TcpSocket,
};
use bindings::wit_stream;
use wit_bindgen::StreamResult;

/// The most one read takes, as the tokio baseline's echo reads.
const CHUNK: usize = 64 * 1024;

/// The listen backlog, as the other bench servers ask for, so the connection-rate workload
/// does not wait on it.
const BACKLOG: u64 = 1024;

struct Floor;

impl Guest for Floor {
    async fn run() -> Result<(), ()> {
        let port = std::env::args()
            .skip_while(|a| a != "--port")
            .nth(1)
            .map(|p| p.parse::<u16>());
        let port = match port {
            None => 0,
            Some(Ok(port)) => port,
            Some(Err(_)) => {
                eprintln!("floor-echo: --port takes a port number (0 to 65535).");
                return Err(());
            }
        };
        match serve(port).await {
            Ok(()) => Ok(()),
            Err(e) => {
                eprintln!("floor-echo: {e}.");
                Err(())
            }
        }
    }
}

/// Listens on 127.0.0.1:`port` and echoes every connection in a task of its own.
async fn serve(port: u16) -> Result<(), String> {
    let listener = TcpSocket::create(IpAddressFamily::Ipv4)
        .map_err(|e| format!("could not create a socket: {}", describe(&e)))?;
    let address = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port,
        address: (127, 0, 0, 1),
    });
    listener
        .bind(address)
        .map_err(|e| format!("could not bind 127.0.0.1:{port}: {}", describe(&e)))?;
    listener
        .set_listen_backlog_size(BACKLOG)
        .map_err(|e| format!("could not set the listen backlog: {}", describe(&e)))?;
    let mut accepted = listener
        .listen()
        .map_err(|e| format!("could not listen on 127.0.0.1:{port}: {}", describe(&e)))?;
    let port = match listener.get_local_address() {
        Ok(IpSocketAddress::Ipv4(a)) => a.port,
        Ok(IpSocketAddress::Ipv6(a)) => a.port,
        Err(e) => return Err(format!("could not read the bound port: {}", describe(&e))),
    };
    println!("Serving on 127.0.0.1:{port}");
    while let Some(socket) = accepted.next().await {
        wit_bindgen::spawn_local(echo(socket));
    }
    Err("the listener's accept stream ended".into())
}

/// Copies what `socket` receives back into it until the peer ends its side (or the connection
/// fails), then ends the send side and waits until both sides are finished.
async fn echo(socket: TcpSocket) {
    let (mut received, received_done) = socket.receive();
    let (mut send, send_stream) = wit_stream::new::<u8>();
    let sent_done = socket.send(send_stream);
    let mut buf = Vec::with_capacity(CHUNK);
    loop {
        // Awaited to the end every time: no read is cancelled.
        let (result, chunk) = received.read(buf).await;
        buf = chunk;
        if !buf.is_empty() {
            let unwritten = send.write_all(std::mem::take(&mut buf)).await;
            if !unwritten.is_empty() {
                // The host stopped taking bytes: the send side failed.
                break;
            }
            buf = unwritten;
            buf.reserve(CHUNK);
        }
        if !matches!(result, StreamResult::Complete(_)) {
            break;
        }
    }
    drop(received);
    // Ends the send stream: the host sends FIN once the bytes before it are out.
    drop(send);
    // The results only say how the connection ended; an echo has no one to tell.
    let _ = received_done.await;
    let _ = sent_done.await;
    drop(socket);
}

/// A wasi:sockets error as words.
fn describe(e: &ErrorCode) -> String {
    match e {
        ErrorCode::AccessDenied => "access denied (is the address granted?)".into(),
        ErrorCode::NotSupported => "not supported".into(),
        ErrorCode::InvalidArgument => "invalid argument".into(),
        ErrorCode::OutOfMemory => "out of memory".into(),
        ErrorCode::Timeout => "timed out".into(),
        ErrorCode::InvalidState => "the socket is in the wrong state".into(),
        ErrorCode::AddressNotBindable => "the address is not bindable".into(),
        ErrorCode::AddressInUse => "the address is in use".into(),
        ErrorCode::RemoteUnreachable => "the remote is unreachable".into(),
        ErrorCode::ConnectionRefused => "connection refused".into(),
        ErrorCode::ConnectionBroken => "connection broken".into(),
        ErrorCode::ConnectionReset => "connection reset".into(),
        ErrorCode::ConnectionAborted => "connection aborted".into(),
        ErrorCode::DatagramTooLarge => "datagram too large".into(),
        ErrorCode::Other(Some(message)) => message.clone(),
        ErrorCode::Other(None) => "an unknown error".into(),
    }
}

/// The component's `wasi:cli/run` export (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::Floor;
    crate::bindings::export!(Floor with_types_in crate::bindings);
}
