//! A test app component for wasio's integration tests. `probe SCENARIO HOST PORT` runs one
//! client-side scenario against a peer the test controls and prints one line per observation, so
//! the test can compare the output exactly:
//!
//! - `reads`: readline, readuntil (one separator, then a set), readexactly, read, at_eof, and
//!   readexactly's incomplete-read at EOF, over the byte script the test's peer sends.
//! - `half-close`: writes, write_eof, then reads the peer's answer until EOF.
//! - `connect`: connects and prints the peer address, or the error.
//!
//! Unix-socket scenarios take paths instead of HOST PORT:
//!
//! - `unix-half-close PATH`: `half-close` over `open_unix_connection(PATH)`, after printing the
//!   peer and local names.
//! - `unix-connect PATH`: connects and prints the peer name, or the error.
//! - `unix-serve PATH`: `start_unix_server(PATH)`, or the error.
//! - `unix-cleanup PATH CTL on|off`: serves on PATH with cleanup_socket on or off, and on CTL;
//!   prints `serving`; at the first connection to CTL closes the PATH server and prints `closed`.
//! - `socketpair`: a socketpair; one end writes and half-closes, the other reads to EOF and
//!   answers; prints what each saw and whether peer credentials are known.

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
use bindings::wasio::streams::types::{
    AddressFamily, AdoptOptions, ConnectOptions, ErrorCode, SocketAddress, UnixConnectOptions,
    UnixServerOptions,
};

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

fn unix_connect_options() -> UnixConnectOptions {
    UnixConnectOptions {
        limit: None,
        ssl: None,
        server_hostname: None,
        ssl_handshake_timeout: None,
        ssl_shutdown_timeout: None,
        timeout: None,
        write_queue_cap: None,
    }
}

fn unix_server_options(cleanup: Option<bool>) -> UnixServerOptions {
    UnixServerOptions {
        limit: None,
        backlog: None,
        ssl: None,
        ssl_handshake_timeout: None,
        ssl_shutdown_timeout: None,
        start_serving: None,
        cleanup_socket: cleanup,
        write_queue_cap: None,
    }
}

/// A socket name as text: the Unix path, or `ip port`.
fn name(addr: Option<SocketAddress>) -> String {
    match addr {
        Some(SocketAddress::Unix(path)) => format!("{:?}", path),
        Some(SocketAddress::Inet(a)) => format!("{} {}", a.host, a.port),
        None => "none".to_string(),
    }
}

async fn unix_scenario(name_: &str, args: &[String]) -> Result<(), ErrorCode> {
    match (name_, args) {
        ("unix-half-close", [path]) | ("unix-connect", [path]) => {
            let conn = streams::open_unix_connection(path.clone(), unix_connect_options()).await?;
            let (reader, writer) = Connection::split(conn);
            let info = writer.extra_info();
            println!("peer {} local {}", name(info.peername), name(info.sockname));
            if name_ == "unix-half-close" {
                half_close(&reader, &writer).await?;
            }
            writer.close();
            writer.wait_closed(None).await
        }
        ("unix-serve", [path]) => {
            let server =
                streams::start_unix_server(path.clone(), unix_server_options(None)).await?;
            println!(
                "serving {}",
                server
                    .sockets()
                    .into_iter()
                    .map(|a| name(Some(a)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            server.close();
            server.wait_closed(None).await
        }
        ("unix-cleanup", [path, ctl, cleanup]) => {
            let cleanup = match cleanup.as_str() {
                "on" => Some(true),
                "off" => Some(false),
                _ => None,
            };
            let server =
                streams::start_unix_server(path.clone(), unix_server_options(cleanup)).await?;
            let control =
                streams::start_unix_server(ctl.clone(), unix_server_options(None)).await?;
            println!("serving");
            let signal = control.accept(None).await?;
            server.close();
            server.wait_closed(None).await?;
            println!("closed");
            let (_reader, writer) = Connection::split(signal);
            writer.write(b"closed")?;
            writer.close();
            writer.wait_closed(None).await?;
            control.close();
            control.wait_closed(None).await
        }
        ("socketpair", []) => {
            let options = || AdoptOptions {
                limit: None,
                write_queue_cap: None,
            };
            let (a, b) = streams::socketpair(options()).await?;
            let (a_reader, a_writer) = Connection::split(a);
            let (b_reader, b_writer) = Connection::split(b);
            let info = a_writer.extra_info();
            println!("names {} {}", name(info.peername), name(info.sockname));
            match info.peer_credentials {
                Some(c) => println!("credentials pid={} uid={}", c.pid.is_some(), c.uid),
                None => println!("credentials none"),
            }
            a_writer.write(b"ping")?;
            a_writer.write_eof()?;
            println!("b got {}", show(&b_reader.read(-1, None).await?));
            println!("b at_eof {}", b_reader.at_eof());
            b_writer.write(b"pong")?;
            b_writer.close();
            println!("a got {}", show(&a_reader.read(-1, None).await?));
            b_writer.wait_closed(None).await?;
            a_writer.close();
            a_writer.wait_closed(None).await
        }
        _ => {
            println!("unknown scenario {name_} {args:?}");
            Ok(())
        }
    }
}

impl Guest for Probe {
    async fn run() -> Result<(), ()> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if let Some((first, rest)) = args.split_first()
            && (first.starts_with("unix-") || first == "socketpair")
        {
            return match unix_scenario(first, rest).await {
                Ok(()) => {
                    println!("done");
                    Ok(())
                }
                Err(e) => {
                    println!("error {e:?}");
                    Err(())
                }
            };
        }
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
