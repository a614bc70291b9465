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
//! - `unix-race CONNECT SERVE VICTIM N`: N rounds of: connect to CONNECT (closing at once),
//!   serve on `SERVE-i.sock` without cleanup, serve on VICTIM with cleanup; errors are expected
//!   and only counted. Prints `racing` first, then `connected A served B bound-victim C`. For
//!   the symlink-swap race test.
//! - `socketpair`: a socketpair; one end writes and half-closes, the other reads to EOF and
//!   answers; prints what each saw and whether peer credentials are known.
//!
//! - `exit-status N`: fails, asking that the run end with exit status N.
//!
//! Limit and fault scenarios:
//!
//! - `flood HOST PORT CHUNKS`: connects, prints `ready`, waits for one byte from the peer,
//!   prints `writing`, then writes CHUNKS chunks of [`FLOOD_CHUNK`] bytes (byte `i` of the
//!   stream is `i % 251`), draining after each; closes and prints `sent N`, or
//!   `error after N: ...` when a write or drain fails.
//! - `fill HOST PORT [CAP]`: writes 64 KiB at a time without draining until a write fails
//!   (with the `write-queue-cap` option CAP if given); prints `refused ERROR queued=N` (N: the
//!   write buffer size then), then aborts.
//! - `connect-many HOST PORT N`: opens N connections and keeps them; prints `opened K` and, if
//!   one failed, `refused at K: ERROR`; then closes them all and prints `reopened` once one more
//!   connection succeeds.
//! - `immediate-calls HOST PORT BATCHES`: connects; then BATCHES times makes
//!   [`IMMEDIATE_CALLS`] pairs of async calls that finish at once (`read(0)` and an unpaused
//!   `drain`), prints `batch K` and waits for one byte from the peer before the next batch.
//! - `write-write-read HOST PORT ROUNDS on|off|default|set-off|set-on`: connects with the
//!   `tcp-nodelay` option true, false or unset (`set-off`: unset, then `set-tcp-nodelay(false)`;
//!   `set-on`: false, then `set-tcp-nodelay(true)`), with write buffer limits 0 (so that `drain` returns once the
//!   socket took the bytes); prints `connected`; then ROUNDS times writes `ping`, drains,
//!   writes `\n`, drains and reads a line: the request in two pieces that Nagle's algorithm
//!   holds apart. Prints `rounds N`.
//! - `alloc MIB`: allocates and touches MIB MiB; prints `allocated`.
//! - `spin`: prints `spinning`, then computes forever without waiting.
//!
//! Shutdown scenarios (`wasio run` interrupted by a signal):
//!
//! - `big-reply HOST BYTES`: serves on HOST, a free port, and prints `serving PORT`; accepts
//!   one client, queues BYTES bytes for it at once (byte `i` is `i % 251`), prints `queued N`
//!   (the write buffer size then), and reads until EOF; prints `eof` and `done`.
//! - `count-server HOST|/PATH`: serves on HOST, a free port (or the Unix path), prints
//!   `serving PORT` (or `serving`); answers each client with how many clients it has served
//!   (`N\n`, counting this one), closes, and prints `served N`; forever. For workers (each
//!   counts its own).
//! - `unix-hold PATH`: serves on PATH with cleanup_socket off, prints `serving`, and then waits
//!   forever, whatever happens to the server.
//!
//! Raw wasi:sockets scenarios (bypassing the provider, as any component could):
//!
//! - `raw-connect HOST PORT` (an IP address), `raw-udp`, `raw-lookup NAME`: print `ok ...` or
//!   `error ...` with the wasi:sockets error.
//! - `raw-many tcp|udp N`: creates N wasi:sockets 0.3 sockets and keeps them; prints `opened K`
//!   and, if one failed, `refused at K: ERROR`; then drops them all and prints `reopened` once
//!   one more socket can be created.
//! - `raw-accept N`: listens with wasi:sockets 0.3 on 127.0.0.1 (a free port), prints
//!   `listening PORT`, and reads its accept stream itself until it has accepted N
//!   connections, printing `accepted K` for each; each accepted socket is read until EOF in a
//!   task of its own, then dropped, printing `closed`.
//! - `std-many HOST PORT N`: the same with Rust's `std::net::TcpStream::connect` (wasi:sockets
//!   0.2); then `std-udp` once more with a `std::net::UdpSocket` and a `TcpListener`, each
//!   printing `ok ...` or `refused ...` while the N connections are still open.

/// Generated bindings: the `wasi:cli/run` export plus raw wasi:sockets, to show that the host's
/// grants hold for a component that bypasses wasio (generated code uses `unsafe`). The contract
/// comes through wasio-sdk's `raw` module: wasio-streams linked in, or the provider (feature
/// `composed`).
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        inline: "
            package wasio:probe;
            world probe {
                import wasi:sockets/types@0.3.0;
                import wasi:sockets/ip-name-lookup@0.3.0;
                export wasi:cli/run@0.3.0;
            }
        ",
        world: "wasio:probe/probe",
        generate_all,
    });
}

use bindings::exports::wasi::cli::run::Guest;
use wasio_sdk::raw::{self as streams, Connection, Reader, Writer};
use wasio_types::{
    AdoptOptions, ConnectOptions, ErrorCode, ServerOptions, SocketAddress, UnixConnectOptions,
    UnixServerOptions,
};

struct Probe;

/// Bytes shown as an escaped ASCII string.
fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

fn options() -> ConnectOptions {
    ConnectOptions::default()
}

async fn connect(host: String, port: u16) -> Result<(Reader, Writer), ErrorCode> {
    connect_with(host, port, options()).await
}

async fn connect_with(
    host: String,
    port: u16,
    options: ConnectOptions,
) -> Result<(Reader, Writer), ErrorCode> {
    Ok(Connection::split(
        streams::open_connection(host, port, options).await?,
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

/// The chunk size of `flood`: a multiple of 251, so every chunk carries the same bytes.
const FLOOD_CHUNK: usize = 251 * 256;

/// Writes `chunks` chunks with a drain after each; returns the bytes sent or the failure.
async fn flood(writer: &Writer, chunks: u64) -> Result<u64, (u64, ErrorCode)> {
    let chunk: Vec<u8> = (0..FLOOD_CHUNK).map(|i| (i % 251) as u8).collect();
    let mut sent = 0u64;
    for _ in 0..chunks {
        writer.write(&chunk).map_err(|e| (sent, e))?;
        writer.drain(None).await.map_err(|e| (sent, e))?;
        sent += FLOOD_CHUNK as u64;
    }
    writer.close();
    writer.wait_closed(None).await.map_err(|e| (sent, e))?;
    Ok(sent)
}

/// Writes without draining until a write is refused; returns the error and the queue size.
fn fill(writer: &Writer) -> (ErrorCode, u64) {
    let chunk = vec![7u8; 64 * 1024];
    loop {
        if let Err(e) = writer.write(&chunk) {
            return (e, writer.get_write_buffer_size());
        }
    }
}

/// The async call pairs of one `immediate-calls` batch.
const IMMEDIATE_CALLS: u32 = 5_000;

/// Makes [`IMMEDIATE_CALLS`] pairs of async calls that the provider answers in their first poll.
async fn immediate_calls(reader: &Reader, writer: &Writer) -> Result<(), ErrorCode> {
    for _ in 0..IMMEDIATE_CALLS {
        reader.read(0, None).await?;
        writer.drain(None).await?;
    }
    Ok(())
}

/// A TCP server's options: every one the default.
fn tcp_server_options() -> ServerOptions {
    ServerOptions::default()
}

/// Limit and fault scenarios with extra arguments (see the crate docs).
async fn limit_scenario(name: &str, args: &[String]) -> Result<(), ErrorCode> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let number = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    match name {
        "flood" => {
            let (reader, writer) = connect(arg(0), number(1) as u16).await?;
            // Everything of the connection is set up (the receive side has its buffer): the
            // test takes its baseline now, then sends the byte that starts the flood.
            println!("ready");
            reader.readexactly(1, None).await?;
            println!("writing");
            match flood(&writer, number(2)).await {
                Ok(sent) => println!("sent {sent}"),
                Err((sent, e)) => {
                    println!("error after {sent}: {e:?}");
                    return Err(e);
                }
            }
        }
        "fill" => {
            let options = ConnectOptions {
                write_queue_cap: args.get(2).map(|_| number(2)),
                ..options()
            };
            let (_reader, writer) = connect_with(arg(0), number(1) as u16, options).await?;
            let (error, queued) = fill(&writer);
            println!("refused {error:?} queued={queued}");
            writer.abort();
        }
        "connect-many" => {
            let mut open = Vec::new();
            let mut refused = None;
            for i in 0..number(2) {
                match connect(arg(0), number(1) as u16).await {
                    Ok(conn) => open.push(conn),
                    Err(e) => {
                        refused = Some(format!("refused at {i}: {e:?}"));
                        break;
                    }
                }
            }
            println!("opened {}", open.len());
            if let Some(refused) = refused {
                println!("{refused}");
            }
            for (_reader, writer) in open.drain(..) {
                writer.close();
                writer.wait_closed(None).await?;
            }
            let (_reader, writer) = connect(arg(0), number(1) as u16).await?;
            println!("reopened");
            writer.close();
            writer.wait_closed(None).await?;
        }
        "write-write-read" => {
            // The option at connect, then what `set-tcp-nodelay` changes after it, if anything.
            let (tcp_nodelay, set) = match arg(3).as_str() {
                "on" => (Some(true), None),
                "off" => (Some(false), None),
                "set-off" => (None, Some(false)),
                "set-on" => (Some(false), Some(true)),
                _ => (None, None),
            };
            let options = ConnectOptions {
                tcp_nodelay,
                ..options()
            };
            let (reader, writer) = connect_with(arg(0), number(1) as u16, options).await?;
            if let Some(enabled) = set {
                writer.set_tcp_nodelay(enabled)?;
            }
            writer.set_write_buffer_limits(Some(0), Some(0))?;
            println!("connected");
            for _ in 0..number(2) {
                writer.write(b"ping")?;
                writer.drain(None).await?;
                writer.write(b"\n")?;
                writer.drain(None).await?;
                reader.readline(None).await?;
            }
            println!("rounds {}", number(2));
            writer.close();
            writer.wait_closed(None).await?;
        }
        "immediate-calls" => {
            let (reader, writer) = connect(arg(0), number(1) as u16).await?;
            for batch in 1..=number(2) {
                immediate_calls(&reader, &writer).await?;
                println!("batch {batch}");
                reader.readexactly(1, None).await?;
            }
        }
        "alloc" => {
            let bytes = usize::try_from(number(0)).unwrap_or(0) << 20;
            let block = std::hint::black_box(vec![1u8; bytes]);
            println!("allocated {}", block.len() >> 20);
        }
        "big-reply" => {
            let server = streams::start_server(vec![arg(0)], 0, tcp_server_options()).await?;
            let port = match server.sockets().first() {
                Some(SocketAddress::Inet(a)) => a.port,
                _ => 0,
            };
            println!("serving {port}");
            let (reader, writer) = Connection::split(server.accept(None).await?);
            let reply: Vec<u8> = (0..number(1)).map(|i| (i % 251) as u8).collect();
            writer.write(&reply)?;
            println!("queued {}", writer.get_write_buffer_size());
            reader.read(-1, None).await?;
            println!("eof");
        }
        "count-server" => {
            let server = if arg(0).starts_with('/') {
                streams::start_unix_server(arg(0), unix_server_options(None)).await?
            } else {
                streams::start_server(vec![arg(0)], 0, tcp_server_options()).await?
            };
            match server.sockets().first() {
                Some(SocketAddress::Inet(a)) => println!("serving {}", a.port),
                _ => println!("serving"),
            }
            let _ = std::io::Write::flush(&mut std::io::stdout());
            let mut served = 0u64;
            loop {
                let (_reader, writer) = Connection::split(server.accept(None).await?);
                served += 1;
                writer.write(format!("{served}\n").as_bytes())?;
                writer.close();
                writer.wait_closed(None).await?;
                println!("served {served}");
                let _ = std::io::Write::flush(&mut std::io::stdout());
            }
        }
        "spin" => {
            println!("spinning");
            let _ = std::io::Write::flush(&mut std::io::stdout());
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        _ => println!("unknown scenario {name} {args:?}"),
    }
    Ok(())
}

/// `std-many HOST PORT N`: sockets through Rust's `std::net` (wasi:sockets 0.2).
fn std_many(args: &[String]) {
    use std::net::{TcpListener, TcpStream, UdpSocket};
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let port: u16 = arg(1).parse().unwrap_or(0);
    let count: usize = arg(2).parse().unwrap_or(0);
    let connect = || TcpStream::connect((arg(0).as_str(), port));
    let mut open = Vec::new();
    let mut refused = None;
    for i in 0..count {
        match connect() {
            Ok(stream) => open.push(stream),
            Err(e) => {
                refused = Some(format!("refused at {i}: {e}"));
                break;
            }
        }
    }
    println!("opened {}", open.len());
    if let Some(refused) = refused {
        println!("{refused}");
    }
    match UdpSocket::bind("127.0.0.1:0") {
        Ok(_) => println!("udp ok"),
        Err(e) => println!("udp refused: {e}"),
    }
    match TcpListener::bind("127.0.0.1:0") {
        Ok(_) => println!("listener ok"),
        Err(e) => println!("listener refused: {e}"),
    }
    drop(open);
    match connect() {
        Ok(_) => println!("reopened"),
        Err(e) => println!("error {e}"),
    }
}

/// The raw wasi:sockets scenarios: each prints `ok ...` or `error ...`.
async fn raw_scenario(name: &str, args: &[String]) {
    use bindings::wasi::sockets::ip_name_lookup::resolve_addresses;
    use bindings::wasi::sockets::types::{
        IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, TcpSocket, UdpSocket,
    };
    use std::any::Any;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let v4 = |host: &str, port: u16| {
        let ip: std::net::Ipv4Addr = host.parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST);
        let [a, b, c, d] = ip.octets();
        IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port,
            address: (a, b, c, d),
        })
    };
    match name {
        "raw-connect" => {
            let result = match TcpSocket::create(IpAddressFamily::Ipv4) {
                Ok(socket) => socket
                    .connect(v4(&arg(0), arg(1).parse().unwrap_or(0)))
                    .await
                    .map(|()| socket),
                Err(e) => Err(e),
            };
            match result {
                Ok(_) => println!("ok connected"),
                Err(e) => println!("error {e:?}"),
            }
        }
        "raw-udp" => {
            let result = UdpSocket::create(IpAddressFamily::Ipv4)
                .and_then(|socket| socket.bind(v4("127.0.0.1", 0)).map(|()| socket));
            match result {
                Ok(_) => println!("ok bound"),
                Err(e) => println!("error {e:?}"),
            }
        }
        "raw-many" => {
            let count: usize = arg(1).parse().unwrap_or(0);
            let create = || match arg(0).as_str() {
                "udp" => {
                    UdpSocket::create(IpAddressFamily::Ipv4).map(|s| Box::new(s) as Box<dyn Any>)
                }
                _ => TcpSocket::create(IpAddressFamily::Ipv4).map(|s| Box::new(s) as Box<dyn Any>),
            };
            let mut open = Vec::new();
            let mut refused = None;
            for i in 0..count {
                match create() {
                    Ok(socket) => open.push(socket),
                    Err(e) => {
                        refused = Some(format!("refused at {i}: {e:?}"));
                        break;
                    }
                }
            }
            println!("opened {}", open.len());
            if let Some(refused) = refused {
                println!("{refused}");
            }
            drop(open);
            match create() {
                Ok(_) => println!("reopened"),
                Err(e) => println!("error {e:?}"),
            }
        }
        "raw-accept" => {
            let count: usize = arg(0).parse().unwrap_or(0);
            let listener = match TcpSocket::create(IpAddressFamily::Ipv4)
                .and_then(|socket| socket.bind(v4("127.0.0.1", 0)).map(|()| socket))
            {
                Ok(socket) => socket,
                Err(e) => return println!("error {e:?}"),
            };
            let (mut accepted, port) = match (listener.listen(), listener.get_local_address()) {
                (Ok(stream), Ok(IpSocketAddress::Ipv4(a))) => (stream, a.port),
                (Err(e), _) | (_, Err(e)) => return println!("error {e:?}"),
                (Ok(_), Ok(other)) => return println!("error {other:?}"),
            };
            println!("listening {port}");
            for k in 1..=count {
                let Some(socket) = accepted.next().await else {
                    return println!("error the accept stream ended");
                };
                println!("accepted {k}");
                wit_bindgen::spawn_local(async move {
                    let (mut bytes, _result) = socket.receive();
                    while let (wit_bindgen::StreamResult::Complete(_), _) =
                        bytes.read(Vec::with_capacity(64)).await
                    {}
                    drop(bytes);
                    drop(socket);
                    println!("closed");
                });
            }
        }
        "raw-lookup" => match resolve_addresses(arg(0)).await {
            Ok(addresses) => println!("ok {} addresses", addresses.len()),
            Err(e) => println!("error {e:?}"),
        },
        _ => println!("unknown scenario {name}"),
    }
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
    UnixConnectOptions::default()
}

fn unix_server_options(cleanup: Option<bool>) -> UnixServerOptions {
    UnixServerOptions {
        cleanup_socket: cleanup,
        ..Default::default()
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
        ("unix-race", [connect, serve, victim, rounds]) => {
            let rounds: u32 = rounds.parse().unwrap_or(0);
            let (mut connected, mut served, mut bound_victim) = (0u32, 0u32, 0u32);
            println!("racing");
            for i in 0..rounds {
                if let Ok(conn) =
                    streams::open_unix_connection(connect.clone(), unix_connect_options()).await
                {
                    connected += 1;
                    let (_reader, writer) = Connection::split(conn);
                    writer.close();
                    let _ = writer.wait_closed(None).await;
                }
                let path = format!("{serve}-{i}.sock");
                if let Ok(server) =
                    streams::start_unix_server(path, unix_server_options(Some(false))).await
                {
                    served += 1;
                    server.close();
                    server.wait_closed(None).await?;
                }
                if let Ok(server) =
                    streams::start_unix_server(victim.clone(), unix_server_options(Some(true)))
                        .await
                {
                    bound_victim += 1;
                    server.close();
                    server.wait_closed(None).await?;
                }
            }
            println!("connected {connected} served {served} bound-victim {bound_victim}");
            Ok(())
        }
        ("unix-hold", [path]) => {
            let _server =
                streams::start_unix_server(path.clone(), unix_server_options(Some(false))).await?;
            println!("serving");
            std::future::pending().await
        }
        ("socketpair", []) => {
            let (a, b) = streams::socketpair(AdoptOptions::default())?;
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

/// Every scenario, as `--list` prints them: a name missing here is refused, and the tests check
/// that each one listed is run by a test (`every_scenario_of_the_probe_is_run`).
const SCENARIOS: &[&str] = &[
    "reads",
    "half-close",
    "connect",
    "unix-half-close",
    "unix-connect",
    "unix-serve",
    "unix-cleanup",
    "unix-race",
    "unix-hold",
    "socketpair",
    "flood",
    "fill",
    "connect-many",
    "immediate-calls",
    "write-write-read",
    "alloc",
    "spin",
    "big-reply",
    "count-server",
    "std-many",
    "raw-connect",
    "raw-udp",
    "raw-lookup",
    "raw-many",
    "raw-accept",
    "exit-status",
];

impl Guest for Probe {
    async fn run() -> Result<(), ()> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args == ["--list"] {
            for name in SCENARIOS {
                println!("{name}");
            }
            return Ok(());
        }
        if !args
            .first()
            .is_some_and(|name| SCENARIOS.contains(&name.as_str()))
        {
            eprintln!("unknown scenario; one of {SCENARIOS:?}; got {args:?}");
            return Err(());
        }
        if let Some((first, rest)) = args.split_first()
            && first == "std-many"
        {
            std_many(rest);
            return Ok(());
        }
        if let [first, status] = args.as_slice()
            && first == "exit-status"
        {
            // Fails with the status asked for (the run's exit status).
            let Ok(status) = status.parse() else {
                eprintln!("bad status {status:?}");
                return Err(());
            };
            streams::set_exit_status(status);
            return Err(());
        }
        if let Some((first, rest)) = args.split_first()
            && first.starts_with("raw-")
        {
            raw_scenario(first, rest).await;
            return Ok(());
        }
        if let Some((first, rest)) = args.split_first()
            && matches!(
                first.as_str(),
                "flood"
                    | "fill"
                    | "connect-many"
                    | "immediate-calls"
                    | "write-write-read"
                    | "alloc"
                    | "spin"
                    | "big-reply"
                    | "count-server"
            )
        {
            return report(limit_scenario(first, rest).await);
        }
        if let Some((first, rest)) = args.split_first()
            && (first.starts_with("unix-") || first == "socketpair")
        {
            return report(unix_scenario(first, rest).await);
        }
        let [name, host, port] = args.as_slice() else {
            eprintln!("usage: probe SCENARIO HOST PORT");
            return Err(());
        };
        let Ok(port) = port.parse() else {
            eprintln!("bad port {port:?}");
            return Err(());
        };
        report(scenario(name, host.clone(), port).await)
    }
}

/// Prints how a scenario ended (`done`, or `error ...`) and passes it on as the run's result.
fn report(result: Result<(), ErrorCode>) -> Result<(), ()> {
    match result {
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

/// The component's `wasi:cli/run` export (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::Probe;
    crate::bindings::export!(Probe with_types_in crate::bindings);
}
