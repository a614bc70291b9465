//! A test app component for wasio-sdk: `sdk-app SCENARIO ARGS...` runs one scenario through the
//! real provider and prints one line per observation, so the integration test (tests/tests/
//! integration/sdk.rs) can compare the output exactly against what its native peers did.
//!
//! - `client HOST PORT`: every Reader and Writer method against a scripted peer.
//! - `server`: `start_server`, `accept`, `serve_forever` with a failing handler, `close`...
//! - `copy HOST PORT_A PORT_B`: `futures::io::copy` from A to B, then `copy_buf` from B to A.
//! - `mixed-echo HOST PORT`: echoes everything the peer sends, read by a rotation of `read` sizes
//!   on both sides of the SDK's bulk threshold, `readline` and `readexactly`, each piece written
//!   back at once.
//! - `burst HOST PORT`: 300 bulk writes of 5000 bytes without waiting in between (more than the
//!   provider lets wait to exit, so some calls must wait), then `write_eof` and close.
//! - `exact HOST PORT`: large `readexactly` calls (the SDK's bulk form): one that times out with
//!   part of its bytes there, one that then gets all of them, one that meets EOF.
//! - `lines-ahead HOST PORT`: the peer sends `one\ntwo\nthree\nfour\ntail` and closes;
//!   `readline`s that take lines ahead, mixed with `buffered`, `readuntil` and `lines()`.
//! - `unsupported PATH HOST PORT`: what `open_unix_connection` and `start_tls` (against a peer
//!   that never answers, 200 ms handshake timeout) report here.

use std::rc::Rc;
use std::time::Duration;

use futures::{AsyncWriteExt, StreamExt};
use wasio_sdk::{ClientTlsConfig, Error, Reader, Server, TlsConfig, Writer};

wasio_sdk::main!(main);

/// Every scenario, as `--list` prints them: a name missing here is refused, and the integration
/// tests check that each one listed is run by a test (`every_scenario_of_the_sdk_app_is_run`).
const SCENARIOS: &[&str] = &[
    "client",
    "server",
    "copy",
    "mixed-echo",
    "burst",
    "exact",
    "lines-ahead",
    "unsupported",
];

async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if args.as_slice() == ["--list"] {
        for name in SCENARIOS {
            println!("{name}");
        }
        return Ok(());
    }
    if !args.first().is_some_and(|name| SCENARIOS.contains(name)) {
        return Err(format!(
            "unknown scenario; one of {SCENARIOS:?}; got {args:?}"
        ));
    }
    let result = match args.as_slice() {
        ["client", host, port] => client(host, parse(port)?).await,
        ["server"] => server().await,
        ["copy", host, a, b] => copy(host, parse(a)?, parse(b)?).await,
        ["mixed-echo", host, port] => mixed_echo(host, parse(port)?).await,
        ["burst", host, port] => burst(host, parse(port)?).await,
        ["exact", host, port] => exact(host, parse(port)?).await,
        ["lines-ahead", host, port] => lines_ahead(host, parse(port)?).await,
        ["unsupported", path, host, port] => unsupported(path, host, parse(port)?).await,
        _ => return Err(format!("usage: sdk-app SCENARIO ARGS; got {args:?}")),
    };
    result.map_err(|e| format!("{}: {e} ({e:?})", e.exception_name()))
}

fn parse(port: &str) -> Result<u16, String> {
    port.parse().map_err(|_| format!("bad port {port:?}"))
}

/// Bytes as an escaped ASCII string.
fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// An error as `Name: message`.
fn err(e: &Error) -> String {
    format!("{}: {e}", e.exception_name())
}

async fn client(host: &str, port: u16) -> wasio_sdk::Result<()> {
    let (mut reader, writer) = wasio_sdk::open_connection(host, port).await?;
    let peer = writer.peername().map(|a| a.to_string());
    println!(
        "peername {}",
        peer.as_deref() == Some(&format!("{host}:{port}"))
    );
    println!("sockname {}", writer.sockname().is_some());
    println!("tls {:?}", writer.extra_info().tls_version);
    println!("limits {:?}", writer.write_buffer_limits());
    writer.set_write_buffer_limits(Some(100), None)?;
    println!("limits {:?}", writer.write_buffer_limits());
    if let Err(e) = writer.set_write_buffer_limits(Some(1), Some(2)) {
        println!("bad limits {}", e.exception_name());
    }
    writer.set_write_buffer_limits(None, None)?;

    // Phase 1: the greeting; the peer answers with a script of reads.
    writer.write(b"hello\n")?;
    writer.writelines(["a", "", "b\n"])?;
    writer.drain().await?;
    println!(
        "buffer size after drain {}",
        writer.write_buffer_size() <= 65536
    );
    println!("readline {}", show(&reader.readline().await?));
    println!("readuntil {}", show(&reader.readuntil("||").await?));
    println!(
        "readuntil-set {}",
        show(&reader.readuntil(["DEF", "BCDE"]).await?)
    );
    println!("readexactly {}", show(&reader.readexactly(2).await?));
    println!("readexactly {}", show(&reader.readexactly(10).await?));
    println!("read0 {}", show(&reader.read(0).await?));

    // Nothing more comes until we ask: a timeout consumes nothing.
    reader.set_timeout(Some(Duration::from_millis(50)));
    match reader.read(10).await {
        Err(e) => println!("timeout {}", err(&e)),
        Ok(data) => println!("timeout expected, got {}", show(&data)),
    }
    reader.set_timeout(None);

    // Phase 2: limits, lines, EOF.
    writer.write("next\n")?;
    println!("limit {}", reader.limit());
    reader.set_limit(4)?;
    match reader.readuntil(b"!").await {
        Err(e @ Error::LimitOverrun { consumed, .. }) => println!("overrun {} {consumed}", err(&e)),
        other => println!("overrun expected, got {other:?}"),
    }
    if let Err(e) = reader.set_limit(0) {
        println!("limit 0 {}", e.exception_name());
    }
    reader.set_limit(65536)?;
    println!("readuntil {}", show(&reader.readuntil(b"!").await?));
    let mut lines = reader.lines();
    for _ in 0..2 {
        if let Some(line) = lines.next().await {
            println!("line {}", show(&line?));
        }
    }
    match reader.readexactly(10).await {
        Err(e @ Error::IncompleteRead { .. }) => {
            if let Error::IncompleteRead { partial, expected } = &e {
                println!(
                    "incomplete {} partial={} expected={expected:?}",
                    err(&e),
                    show(partial)
                );
            }
        }
        other => println!("incomplete expected, got {other:?}"),
    }
    println!("at_eof {}", reader.at_eof());
    println!("lines at eof {}", reader.lines().count().await);
    println!("read-to-eof {}", show(&reader.read(-1).await?));
    println!("buffered {}", reader.buffered());

    // Stored errors.
    println!("exception {:?}", reader.exception());
    reader.set_exception(&Error::ConnectionReset);
    println!(
        "exception {:?}",
        reader.exception().map(|e| e.exception_name())
    );
    match reader.read(1).await {
        Err(e) => println!("read after set_exception {}", err(&e)),
        Ok(data) => println!("read after set_exception ok {}", show(&data)),
    }

    // Half-close, then close.
    println!("can_write_eof {}", writer.can_write_eof());
    writer.write("bye\n")?;
    writer.write_eof()?;
    match writer.write("late") {
        Err(e) => println!("write after eof {}", err(&e)),
        Ok(()) => println!("error expected"),
    }
    println!("closing {}", writer.is_closing());
    writer.close();
    println!("closing {}", writer.is_closing());
    writer.wait_closed().await?;
    writer.wait_closed().await?;
    println!("done");
    Ok(())
}

async fn server() -> wasio_sdk::Result<()> {
    let server = Rc::new(wasio_sdk::start_server("127.0.0.1", 0).await?);
    println!("Serving on {}", server.sockets()[0]);
    println!("is_serving {}", server.is_serving());
    server.start_serving()?;

    // The first client through `accept`.
    let (mut reader, writer) = server.accept().await?;
    let line = reader.readline().await?;
    writer.write(format!("accepted {}", show(&line)).as_bytes())?;
    writer.close();
    writer.wait_closed().await?;
    println!("accepted {}", show(&line));

    // Then `serve_forever`: "fail" fails the handler, "stop" closes the server.
    let handle = server.clone();
    server
        .serve_forever(move |reader, writer| handler(handle.clone(), reader, writer))
        .await?;
    println!("serve_forever returned");
    println!("sockets {}", server.sockets().len());
    println!("is_serving {}", server.is_serving());
    match server
        .serve_forever(|r, w| handler(Rc::clone(&server), r, w))
        .await
    {
        Err(e) => println!("serve_forever again {}", e.exception_name()),
        Ok(()) => println!("error expected"),
    }
    server.close_clients();
    server.abort_clients();
    server.wait_closed().await?;
    println!("done");
    Ok(())
}

async fn handler(server: Rc<Server>, mut reader: Reader, writer: Writer) -> wasio_sdk::Result<()> {
    let mut lines = reader.lines();
    while let Some(line) = lines.next().await {
        let line = line?;
        match line.as_slice() {
            b"fail\n" => return Err(Error::Other(Some("handler failed on purpose".into()))),
            b"stop\n" => server.close(),
            _ => {}
        }
        writer.write(line.to_ascii_uppercase())?;
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

async fn copy(host: &str, port_a: u16, port_b: u16) -> wasio_sdk::Result<()> {
    let (mut reader_a, mut writer_a) = wasio_sdk::open_connection(host, port_a).await?;
    let (mut reader_b, mut writer_b) = wasio_sdk::open_connection(host, port_b).await?;
    let to_b = futures::io::copy(&mut reader_a, &mut writer_b)
        .await
        .map_err(io_error)?;
    writer_b.write_eof()?;
    println!("copied {to_b} to b");
    let to_a = futures::io::copy_buf(&mut reader_b, &mut writer_a)
        .await
        .map_err(io_error)?;
    println!("copied {to_a} to a");
    // `AsyncWriteExt::close` (close, then wait_closed); `Writer::close` is asyncio's.
    AsyncWriteExt::close(&mut writer_a)
        .await
        .map_err(io_error)?;
    AsyncWriteExt::close(&mut writer_b)
        .await
        .map_err(io_error)?;
    println!("done");
    Ok(())
}

async fn mixed_echo(host: &str, port: u16) -> wasio_sdk::Result<()> {
    let (mut reader, writer) = wasio_sdk::open_connection(host, port).await?;
    let sizes = [4096, 65536, 4095, 100_000, 1, 10_000, 5000];
    let (mut total, mut pieces) = (0usize, 0usize);
    loop {
        let piece = match pieces % 9 {
            7 => reader.readline().await?,
            8 => match reader.readexactly(6000).await {
                Ok(data) => data,
                Err(Error::IncompleteRead { partial, .. }) => partial,
                Err(e) => return Err(e),
            },
            i => reader.read(sizes[i]).await?,
        };
        if piece.is_empty() {
            break;
        }
        writer.write(&piece)?;
        writer.drain().await?;
        total += piece.len();
        pieces += 1;
    }
    println!("echoed {total}");
    writer.close();
    writer.wait_closed().await
}

/// The peer sends `one\ntwo\nthree\nfour\ntail` in one write and closes.
async fn lines_ahead(host: &str, port: u16) -> wasio_sdk::Result<()> {
    let (mut reader, writer) = wasio_sdk::open_connection(host, port).await?;
    let show = |b: &[u8]| String::from_utf8_lossy(b).escape_debug().to_string();
    let first = reader.readline().await?;
    println!("first {} buffered {}", show(&first), reader.buffered());
    let second = reader.readline().await?;
    println!(
        "second {} buffered {} at_eof {}",
        show(&second),
        reader.buffered(),
        reader.at_eof()
    );
    let until = reader.readuntil("ee\n").await?;
    println!("until {} buffered {}", show(&until), reader.buffered());
    let rest: Vec<String> = reader
        .lines()
        .map(|line| line.map_or_else(|e| e.exception_name().to_string(), |l| show(&l)))
        .collect()
        .await;
    println!("lines {rest:?} at_eof {}", reader.at_eof());
    writer.close();
    writer.wait_closed().await
}

/// The peer sends 6 000 bytes, pauses 600 ms, then sends 4 000 + 4 500 bytes and closes; byte i
/// of the whole is `i % 251`.
async fn exact(host: &str, port: u16) -> wasio_sdk::Result<()> {
    let (mut reader, writer) = wasio_sdk::open_connection(host, port).await?;
    let expected = |from: usize, len: usize| -> Vec<u8> {
        (from..from + len).map(|i| (i % 251) as u8).collect()
    };
    reader.set_timeout(Some(Duration::from_millis(200)));
    match reader.readexactly(10_000).await {
        Err(e @ Error::Timeout) => {
            println!("{} buffered={}", e.exception_name(), reader.buffered())
        }
        other => println!("timeout expected, got {:?}", other.map(|d| d.len())),
    }
    reader.set_timeout(None);
    let data = reader.readexactly(10_000).await?;
    println!(
        "exact {} in order {}",
        data.len(),
        data == expected(0, 10_000)
    );
    match reader.readexactly(5000).await {
        Err(Error::IncompleteRead {
            partial,
            expected: want,
        }) => println!(
            "incomplete {} of {want:?} in order {}",
            partial.len(),
            partial == expected(10_000, 4500)
        ),
        other => println!("incomplete expected, got {:?}", other.map(|d| d.len())),
    }
    println!("at_eof {}", reader.at_eof());
    writer.close();
    writer.wait_closed().await
}

async fn burst(host: &str, port: u16) -> wasio_sdk::Result<()> {
    let (_reader, writer) = wasio_sdk::open_connection(host, port).await?;
    let data: Vec<u8> = (0..300 * 5000u32).map(|i| (i % 251) as u8).collect();
    for chunk in data.chunks(5000) {
        writer.write(chunk)?;
    }
    writer.write_eof()?;
    println!("sent {}", data.len());
    writer.close();
    writer.wait_closed().await
}

/// An `io::Error` from the futures-io adapters back as the SDK error inside it.
fn io_error(e: std::io::Error) -> Error {
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(e)) => *e,
        Some(Err(other)) => Error::Other(Some(other.to_string())),
        None => Error::Other(None),
    }
}

async fn unsupported(path: &str, host: &str, port: u16) -> wasio_sdk::Result<()> {
    match wasio_sdk::open_unix_connection(path).await {
        Ok(_) => println!("unix connected"),
        Err(e) => println!("unix {}", e.exception_name()),
    }
    let (_reader, writer) = wasio_sdk::open_connection(host, port).await?;
    let config = TlsConfig::Client(ClientTlsConfig::default());
    let timeout = Some(Duration::from_millis(200));
    match writer
        .start_tls(config, Some("localhost"), timeout, timeout)
        .await
    {
        Ok(()) => println!("tls started"),
        Err(e) => println!("start_tls {}", e.exception_name()),
    }
    writer.abort();
    println!("done");
    Ok(())
}
