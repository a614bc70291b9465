//! A test app component for wasio's integration tests. `probe SCENARIO HOST PORT` runs one
//! client-side scenario against a peer the test controls and prints one line per observation, so
//! the test can compare the output exactly:
//!
//! - `reads`: readline, readuntil (one separator, then a set), readexactly, read, at_eof, and
//!   readexactly's incomplete-read at EOF, over the byte script the test's peer sends.
//! - `half-close`: writes, write_eof, then reads the peer's answer until EOF.
//! - `connect`: connects and prints the peer address, or the error.

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
use bindings::wasio::streams::types::{AddressFamily, ConnectOptions, ErrorCode, SocketAddress};

struct Probe;

/// Bytes shown as an escaped ASCII string.
fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

fn options() -> ConnectOptions {
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

async fn connect(host: String, port: u16) -> Result<(Reader, Writer), ErrorCode> {
    Ok(Connection::split(
        streams::open_connection(host, port, options()).await?,
    ))
}

async fn reads(reader: &Reader) -> Result<(), ErrorCode> {
    println!("readline {}", show(&reader.readline(None).await?));
    println!(
        "readuntil {}",
        show(&reader.readuntil(vec![b"\r\n".to_vec()], None).await?)
    );
    let set = vec![b"DEF".to_vec(), b"BCDE".to_vec()];
    println!(
        "readuntil-set {}",
        show(&reader.readuntil(set, None).await?)
    );
    println!("readexactly {}", show(&reader.readexactly(2, None).await?));
    println!("readexactly {}", show(&reader.readexactly(10, None).await?));
    println!("read {}", show(&reader.read(3, None).await?));
    match reader.readexactly(100, None).await {
        Err(ErrorCode::IncompleteRead(e)) => println!(
            "incomplete partial={} expected={:?}",
            show(&e.partial),
            e.expected
        ),
        other => println!("unexpected {other:?}"),
    }
    println!("at_eof {}", reader.at_eof());
    println!("read-at-eof {}", show(&reader.read(10, None).await?));
    Ok(())
}

async fn half_close(reader: &Reader, writer: &Writer) -> Result<(), ErrorCode> {
    writer.write(b"ping")?;
    writer.write_eof()?;
    match writer.write(b"late") {
        Err(ErrorCode::Closed(message)) => println!("write-after-eof {message}"),
        other => println!("unexpected {other:?}"),
    }
    println!("answer {}", show(&reader.read(-1, None).await?));
    println!("at_eof {}", reader.at_eof());
    Ok(())
}

async fn scenario(name: &str, host: String, port: u16) -> Result<(), ErrorCode> {
    let (reader, writer) = connect(host, port).await?;
    match name {
        "reads" => reads(&reader).await?,
        "half-close" => half_close(&reader, &writer).await?,
        "connect" => match writer.extra_info().peername {
            Some(SocketAddress::Inet(a)) => println!("connected {} {}", a.host, a.port),
            other => println!("connected {other:?}"),
        },
        other => println!("unknown scenario {other}"),
    }
    writer.close();
    writer.wait_closed(None).await
}

impl Guest for Probe {
    async fn run() -> Result<(), ()> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let [name, host, port] = args.as_slice() else {
            eprintln!("usage: probe SCENARIO HOST PORT");
            return Err(());
        };
        let Ok(port) = port.parse() else {
            eprintln!("bad port {port:?}");
            return Err(());
        };
        match scenario(name, host.clone(), port).await {
            Ok(()) => {
                println!("done");
                Ok(())
            }
            Err(e) => {
                println!("error {e:?}");
                Err(())
            }
        }
    }
}

/// The component's `wasi:cli/run` export (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::Probe;
    crate::bindings::export!(Probe with_types_in crate::bindings);
}
