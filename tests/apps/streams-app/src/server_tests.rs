//! Ports of CPython's server tests (test_server.py and test_streams.py's test_start_server),
//! plus the serving and connecting items of wasio's SPEC.

use crate::ensure;
use crate::harness::{
    SECOND, TestResult, connect, connect_options, eq, fail, port_of, server, server_options,
    sleep_ms, wait_until,
};
use futures::future::{Either, select};
use std::cell::Cell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::rc::Rc;
use wasio_sdk::raw::{self as streams, Connection, Reader, Server, Writer};
use wasio_types::{AddressFamily, ErrorCode, SocketAddress};

type Handler = fn(Reader, Writer) -> Pin<Box<dyn Future<Output = Result<(), ErrorCode>>>>;

/// Accepts on `server` until it closes, running `handler` per connection as its own task; a
/// failing handler is reported as asyncio does and its connection closed (its writer dropped).
fn serve(server: Rc<Server>, handler: Handler, started: Rc<Cell<u32>>) {
    wit_bindgen::spawn_local(async move {
        while let Ok(conn) = server.accept(None).await {
            let (reader, writer) = Connection::split(conn);
            started.set(started.get() + 1);
            wit_bindgen::spawn_local(async move {
                if let Err(e) = handler(reader, writer).await {
                    eprintln!("Unhandled exception in client connection handler: {e:?}");
                }
            });
        }
    });
}

/// Whether `fut` is still pending after `ms` milliseconds (it stays usable).
async fn still_pending<F: Future + ?Sized>(fut: Pin<&mut F>, ms: u64) -> bool {
    let nap = pin!(sleep_ms(ms));
    matches!(select(fut, nap).await, Either::Right(_))
}

/// The handler of CPython's wait_closed tests: read to EOF, then close.
fn read_then_close(
    reader: Reader,
    writer: Writer,
) -> Pin<Box<dyn Future<Output = Result<(), ErrorCode>>>> {
    Box::pin(async move {
        let _ = reader.read(-1, None).await;
        writer.close();
        writer.wait_closed(None).await
    })
}

/// Echoes one line, then closes (test_start_server's handler).
fn echo_line(
    reader: Reader,
    writer: Writer,
) -> Pin<Box<dyn Future<Output = Result<(), ErrorCode>>>> {
    Box::pin(async move {
        let line = reader.readline(None).await?;
        writer.write(&line)?;
        writer.drain(None).await?;
        writer.close();
        writer.wait_closed(None).await
    })
}

/// Echoes lines until EOF.
fn echo_lines(
    reader: Reader,
    writer: Writer,
) -> Pin<Box<dyn Future<Output = Result<(), ErrorCode>>>> {
    Box::pin(async move {
        loop {
            let line = reader.readline(None).await?;
            if line.is_empty() {
                break;
            }
            writer.write(&line)?;
            writer.drain(None).await?;
        }
        writer.close();
        writer.wait_closed(None).await
    })
}

async fn roundtrip(reader: &Reader, writer: &Writer, line: &[u8]) -> Result<Vec<u8>, String> {
    writer.write(line).map_err(fail("write"))?;
    reader
        .readline(Some(10 * SECOND))
        .await
        .map_err(fail("readline"))
}

pub async fn test_start_server() -> TestResult {
    let srv = Rc::new(server().await?);
    let started = Rc::new(Cell::new(0));
    serve(srv.clone(), echo_line, started);
    let (reader, writer) = connect(port_of(&srv)?, connect_options(None)).await?;
    eq(
        "echo",
        roundtrip(&reader, &writer, b"hello world!\n").await?,
        b"hello world!\n".to_vec(),
    )?;
    writer.close();
    writer
        .wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("client wait_closed"))?;
    srv.close();
    srv.wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("server wait_closed"))
}

pub async fn test_start_server_1() -> TestResult {
    let mut options = server_options();
    options.start_serving = Some(false);
    let srv = streams::start_server(vec!["127.0.0.1".into()], 0, options)
        .await
        .map_err(fail("start_server"))?;
    ensure!(!srv.is_serving(), "serving before serve_forever");
    let port = port_of(&srv)?;
    let serving = srv.serve_forever().map_err(fail("serve_forever"))?;
    ensure!(srv.is_serving(), "not serving in serve_forever");
    let hello = [vec![b'1'; 5 * 1024], b"\n".to_vec()].concat();
    let client = async {
        let (reader, writer) = connect(port, connect_options(None)).await?;
        writer.write(&hello).map_err(fail("write"))?;
        let got = reader
            .read(1, Some(10 * SECOND))
            .await
            .map_err(fail("read"))?;
        writer.close();
        Ok::<_, String>(got)
    };
    let server_side = async {
        let conn = serving
            .accept(Some(10 * SECOND))
            .await
            .map_err(fail("accept"))?;
        let (reader, writer) = Connection::split(conn);
        reader
            .readline(Some(10 * SECOND))
            .await
            .map_err(fail("readline"))?;
        // "main_task.cancel()": dropping the serve_forever handle closes the server.
        drop(serving);
        writer.write(b"1").map_err(fail("write"))?;
        writer.close();
        writer
            .wait_closed(Some(10 * SECOND))
            .await
            .map_err(fail("wait_closed"))
    };
    let (got, served) = futures::future::join(client, server_side).await;
    served?;
    eq("reply", got?, b"1".to_vec())?;
    eq("sockets after cancel", srv.sockets(), vec![])?;
    ensure!(!srv.is_serving(), "still serving");
    match srv.serve_forever() {
        Err(ErrorCode::Closed(message)) => ensure!(message.contains("is closed"), "{message}"),
        other => {
            return Err(format!(
                "serve_forever on a closed server: {:?}",
                other.map(|_| ())
            ));
        }
    }
    Ok(())
}

pub async fn test_wait_closed_basic() -> TestResult {
    let srv = Rc::new(server().await?);
    let started = Rc::new(Cell::new(0));
    serve(srv.clone(), read_then_close, started.clone());

    let mut task1 = pin!(srv.wait_closed(None));
    ensure!(
        still_pending(task1.as_mut(), 10).await,
        "task1 done with no client, not closed"
    );

    let (_rd, wr) = connect(port_of(&srv)?, connect_options(None)).await?;
    wait_until("the handler started", || started.get() == 1).await?;
    let mut task2 = pin!(srv.wait_closed(None));
    ensure!(
        still_pending(task1.as_mut(), 10).await,
        "task1 done with a client"
    );
    ensure!(
        still_pending(task2.as_mut(), 10).await,
        "task2 done with a client"
    );

    srv.close();
    let mut task3 = pin!(srv.wait_closed(None));
    ensure!(
        still_pending(task1.as_mut(), 10).await,
        "task1 done, client still connected"
    );
    ensure!(
        still_pending(task2.as_mut(), 10).await,
        "task2 done, client still connected"
    );
    ensure!(
        still_pending(task3.as_mut(), 10).await,
        "task3 done, client still connected"
    );

    wr.close();
    wr.wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("client wait_closed"))?;
    for (name, task) in [("task1", task1), ("task2", task2), ("task3", task3)] {
        let nap = pin!(sleep_ms(10_000));
        match select(task, nap).await {
            Either::Left((r, _)) => r.map_err(fail(name))?,
            Either::Right(_) => return Err(format!("{name} never finished")),
        }
    }
    eq(
        "returns at once afterwards",
        srv.wait_closed(Some(SECOND / 100)).await,
        Ok(()),
    )
}

pub async fn test_wait_closed_race() -> TestResult {
    let srv = Rc::new(server().await?);
    let started = Rc::new(Cell::new(0));
    serve(srv.clone(), read_then_close, started.clone());
    let mut task = pin!(srv.wait_closed(None));
    ensure!(
        still_pending(task.as_mut(), 10).await,
        "done before anything"
    );
    let (_rd, wr) = connect(port_of(&srv)?, connect_options(None)).await?;
    srv.close();
    wr.close();
    let nap = pin!(sleep_ms(10_000));
    match select(task, nap).await {
        Either::Left((r, _)) => r.map_err(fail("wait_closed")),
        Either::Right(_) => Err("wait_closed never finished".into()),
    }
}

pub async fn test_close_clients() -> TestResult {
    let srv = Rc::new(server().await?);
    let started = Rc::new(Cell::new(0));
    serve(srv.clone(), read_then_close, started.clone());
    let (_rd, _wr) = connect(port_of(&srv)?, connect_options(None)).await?;
    wait_until("the handler started", || started.get() == 1).await?;
    let mut task = pin!(srv.wait_closed(None));
    ensure!(
        still_pending(task.as_mut(), 10).await,
        "done with a client connected"
    );
    srv.close();
    srv.close_clients();
    ensure!(
        !still_pending(task.as_mut(), 2_000).await,
        "close_clients did not finish wait_closed"
    );
    Ok(())
}

pub async fn test_abort_clients() -> TestResult {
    let srv = server().await?;
    let port = port_of(&srv)?;
    let (_c_rd, _c_wr) = connect(port, connect_options(Some(4096))).await?;
    let conn = srv
        .accept(Some(10 * SECOND))
        .await
        .map_err(fail("accept"))?;
    let (_s_rd, s_wr) = Connection::split(conn);
    // Fill the client's receive side (it never reads) and the server's queue.
    for _ in 0..64 {
        s_wr.write(&vec![b'a'; 1 << 20]).map_err(fail("write"))?;
    }
    sleep_ms(50).await;
    ensure!(s_wr.get_write_buffer_size() > 0, "nothing left queued");
    let mut task = pin!(srv.wait_closed(None));
    ensure!(
        still_pending(task.as_mut(), 10).await,
        "done with a client connected"
    );
    srv.close();
    srv.abort_clients();
    ensure!(
        !still_pending(task.as_mut(), 2_000).await,
        "abort_clients did not finish wait_closed"
    );
    eq("queue dropped", s_wr.get_write_buffer_size(), 0)
}

pub async fn test_open_connection_error() -> TestResult {
    let srv = server().await?;
    let port = port_of(&srv)?;
    srv.close();
    srv.wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))?;
    // Nobody listens there any more.
    let r = streams::open_connection("127.0.0.1".into(), port, connect_options(None)).await;
    ensure!(
        matches!(r, Err(ErrorCode::ConnectionRefused)),
        "connect: {:?}",
        r.map(|_| ())
    );
    Ok(())
}

pub async fn close_keeps_clients_open() -> TestResult {
    let srv = Rc::new(server().await?);
    let started = Rc::new(Cell::new(0));
    serve(srv.clone(), echo_lines, started.clone());
    let port = port_of(&srv)?;
    let (reader, writer) = connect(port, connect_options(None)).await?;
    eq(
        "before close",
        roundtrip(&reader, &writer, b"one\n").await?,
        b"one\n".to_vec(),
    )?;
    srv.close();
    eq("sockets", srv.sockets(), vec![])?;
    eq(
        "after close",
        roundtrip(&reader, &writer, b"two\n").await?,
        b"two\n".to_vec(),
    )?;
    let r = streams::open_connection("127.0.0.1".into(), port, connect_options(None)).await;
    ensure!(r.is_err(), "a new connection was accepted after close");
    writer.close();
    srv.wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))
}

pub async fn serve_forever_rules() -> TestResult {
    let srv = server().await?;
    let serving = srv.serve_forever().map_err(fail("serve_forever"))?;
    eq(
        "twice",
        srv.serve_forever().map(|_| ()),
        Err(ErrorCode::Busy),
    )?;
    drop(serving);
    ensure!(
        !srv.is_serving(),
        "serving after its serve_forever was dropped"
    );
    eq("sockets", srv.sockets(), vec![])?;
    ensure!(
        matches!(srv.serve_forever(), Err(ErrorCode::Closed(_))),
        "serve_forever on a closed server"
    );
    ensure!(
        matches!(srv.accept(Some(SECOND)).await, Err(ErrorCode::Closed(_))),
        "accept on a closed server"
    );
    Ok(())
}

pub async fn start_serving_is_idempotent() -> TestResult {
    let mut options = server_options();
    options.start_serving = Some(false);
    let srv = Rc::new(
        streams::start_server(vec!["127.0.0.1".into()], 0, options)
            .await
            .map_err(fail("start_server"))?,
    );
    ensure!(!srv.is_serving(), "serving with start_serving=False");
    srv.start_serving().map_err(fail("start_serving"))?;
    srv.start_serving().map_err(fail("start_serving again"))?;
    ensure!(srv.is_serving(), "not serving after start_serving");
    serve(srv.clone(), echo_lines, Rc::new(Cell::new(0)));
    let (reader, writer) = connect(port_of(&srv)?, connect_options(None)).await?;
    eq(
        "echo",
        roundtrip(&reader, &writer, b"x\n").await?,
        b"x\n".to_vec(),
    )
}

pub async fn several_hosts_and_all_interfaces() -> TestResult {
    let srv = streams::start_server(vec!["127.0.0.1".into(), "::1".into()], 0, server_options())
        .await
        .map_err(fail("two hosts"))?;
    let hosts: Vec<String> = srv
        .sockets()
        .into_iter()
        .filter_map(|s| match s {
            SocketAddress::Inet(a) => Some(a.host),
            SocketAddress::Unix(_) => None,
        })
        .collect();
    eq(
        "hosts",
        hosts,
        vec!["127.0.0.1".to_string(), "::1".to_string()],
    )?;
    let all = streams::start_server(vec![], 0, server_options())
        .await
        .map_err(fail("all interfaces"))?;
    eq("all interfaces", all.sockets().len(), 2)?;
    let mut options = server_options();
    options.family = AddressFamily::Ipv4;
    let v4 = streams::start_server(vec![], 0, options)
        .await
        .map_err(fail("all IPv4 interfaces"))?;
    eq("IPv4 only", v4.sockets().len(), 1)
}

/// `reuse_port`: servers that all ask for it share a port; one that does not ask is refused
/// there, and a reuse_port server is refused on a port a plain server holds. `reuse_address`
/// False binds (nothing lingers on a fresh port; the TIME_WAIT case is a host test). The other
/// option rules are invalid-argument.
pub async fn server_option_rules() -> TestResult {
    let here = || vec!["127.0.0.1".to_string()];
    let reuse_port = || {
        let mut options = server_options();
        options.reuse_port = true;
        options
    };
    let first = streams::start_server(here(), 0, reuse_port())
        .await
        .map_err(fail("a reuse_port server"))?;
    let port = port_of(&first)?;
    let second = streams::start_server(here(), port, reuse_port())
        .await
        .map_err(fail("a second reuse_port server on the same port"))?;
    eq("the shared port", port_of(&second)?, port)?;
    // Both serve: a client gets through whichever the kernel picks.
    let (_reader, writer) = connect(port, connect_options(None)).await?;
    writer.close();
    let r = streams::start_server(here(), port, server_options()).await;
    ensure!(
        matches!(r, Err(ErrorCode::AddressInUse)),
        "a plain server on a reuse_port port: {:?}",
        r.map(|_| ())
    );
    first.close();
    second.close();
    let plain = server().await?;
    let r = streams::start_server(here(), port_of(&plain)?, reuse_port()).await;
    ensure!(
        matches!(r, Err(ErrorCode::AddressInUse)),
        "a reuse_port server on a plain server's port: {:?}",
        r.map(|_| ())
    );
    plain.close();
    let mut options = server_options();
    options.reuse_address = Some(false);
    let strict = streams::start_server(here(), 0, options)
        .await
        .map_err(fail("reuse_address=False"))?;
    strict.close();
    let mut options = server_options();
    options.ssl_handshake_timeout = Some(SECOND);
    let r = streams::start_server(here(), 0, options).await;
    ensure!(
        matches!(r, Err(ErrorCode::InvalidArgument(_))),
        "timeout without ssl: {:?}",
        r.map(|_| ())
    );
    let mut options = server_options();
    options.limit = Some(0);
    let r = streams::start_server(here(), 0, options).await;
    ensure!(
        matches!(r, Err(ErrorCode::InvalidArgument(_))),
        "limit 0: {:?}",
        r.map(|_| ())
    );
    Ok(())
}

pub async fn connect_option_rules() -> TestResult {
    let port = port_of(&server().await?)?;
    let mut bad = Vec::new();
    let mut options = connect_options(None);
    options.server_hostname = Some("example.com".into());
    bad.push(("server_hostname without ssl", options));
    let mut options = connect_options(None);
    options.ssl_handshake_timeout = Some(SECOND);
    bad.push(("ssl_handshake_timeout without ssl", options));
    let mut options = connect_options(None);
    options.ssl_shutdown_timeout = Some(SECOND);
    bad.push(("ssl_shutdown_timeout without ssl", options));
    for (what, options) in bad {
        let r = streams::open_connection("127.0.0.1".into(), port, options).await;
        ensure!(
            matches!(r, Err(ErrorCode::InvalidArgument(_))),
            "{what}: {:?}",
            r.map(|_| ())
        );
    }
    Ok(())
}

pub async fn local_addr_and_family() -> TestResult {
    let srv = server().await?;
    let port = port_of(&srv)?;
    let mut options = connect_options(None);
    options.local_addr = Some(("127.0.0.1".into(), 0));
    let (_r, w) = connect(port, options).await?;
    let accepted = srv
        .accept(Some(10 * SECOND))
        .await
        .map_err(fail("accept"))?;
    let (client_local, server_peer) =
        match (w.extra_info().sockname, accepted.extra_info().peername) {
            (Some(SocketAddress::Inet(a)), Some(SocketAddress::Inet(b))) => (a, b),
            other => return Err(format!("addresses: {other:?}")),
        };
    eq("peer host", server_peer.host, "127.0.0.1".to_string())?;
    eq(
        "peer port is the client's",
        server_peer.port,
        client_local.port,
    )?;

    let mut options = connect_options(None);
    options.family = AddressFamily::Ipv6;
    let r = streams::open_connection("127.0.0.1".into(), port, options).await;
    ensure!(
        matches!(r, Err(ErrorCode::NameUnresolvable)),
        "IPv6 family for an IPv4 host: {:?}",
        r.map(|_| ())
    );

    let mut options = connect_options(None);
    options.local_addr = Some(("::1".into(), 0));
    let r = streams::open_connection("127.0.0.1".into(), port, options).await;
    ensure!(
        matches!(r, Err(ErrorCode::AddressNotAvailable)),
        "IPv6 local address for IPv4: {:?}",
        r.map(|_| ())
    );
    Ok(())
}

pub async fn happy_eyeballs_single_address() -> TestResult {
    let srv = Rc::new(server().await?);
    serve(srv.clone(), echo_lines, Rc::new(Cell::new(0)));
    let mut options = connect_options(None);
    options.happy_eyeballs_delay = Some(SECOND / 4);
    let (reader, writer) = connect(port_of(&srv)?, options).await?;
    eq(
        "echo",
        roundtrip(&reader, &writer, b"he\n").await?,
        b"he\n".to_vec(),
    )?;
    let mut options = connect_options(None);
    options.happy_eyeballs_delay = Some(SECOND / 4);
    options.interleave = Some(2);
    let (reader, writer) = connect(port_of(&srv)?, options).await?;
    eq(
        "echo",
        roundtrip(&reader, &writer, b"he2\n").await?,
        b"he2\n".to_vec(),
    )
}

/// A handler that fails: only its own connection closes (the app reports it); others go on.
pub async fn failing_handler_closes_only_its_connection() -> TestResult {
    fn fails_on_boom(
        reader: Reader,
        writer: Writer,
    ) -> Pin<Box<dyn Future<Output = Result<(), ErrorCode>>>> {
        Box::pin(async move {
            let line = reader.readline(None).await?;
            if line == b"boom\n" {
                // Dropping the writer (with the handler's failure) closes this connection.
                return Err(ErrorCode::Other(Some("handler failed".into())));
            }
            writer.write(&line)?;
            echo_lines(reader, writer).await
        })
    }
    let srv = Rc::new(server().await?);
    serve(srv.clone(), fails_on_boom, Rc::new(Cell::new(0)));
    let port = port_of(&srv)?;
    let (r1, w1) = connect(port, connect_options(None)).await?;
    let (r2, w2) = connect(port, connect_options(None)).await?;
    eq(
        "healthy",
        roundtrip(&r2, &w2, b"fine\n").await?,
        b"fine\n".to_vec(),
    )?;
    w1.write(b"boom\n").map_err(fail("write"))?;
    eq(
        "failed handler's connection",
        r1.read(-1, Some(10 * SECOND)).await,
        Ok(vec![]),
    )?;
    eq(
        "other connection",
        roundtrip(&r2, &w2, b"still\n").await?,
        b"still\n".to_vec(),
    )
}

pub async fn keep_alive_and_backlog() -> TestResult {
    let mut options = server_options();
    options.keep_alive = true;
    options.backlog = Some(1);
    let srv = Rc::new(
        streams::start_server(vec!["127.0.0.1".into()], 0, options)
            .await
            .map_err(fail("start_server"))?,
    );
    serve(srv.clone(), echo_lines, Rc::new(Cell::new(0)));
    let port = port_of(&srv)?;
    for i in 0..5 {
        let (reader, writer) = connect(port, connect_options(None)).await?;
        let line = format!("client {i}\n").into_bytes();
        eq("echo", roundtrip(&reader, &writer, &line).await?, line)?;
    }
    Ok(())
}

/// Accept while closing: an `accept` waiting when the server closes fails with `closed` (it
/// does not hang); clients that connected before the close are still handed out by `accept`
/// (see asyncio_parity_tests `close_hands_out_accepted_connections`), then accepts fail at once;
/// every client reads EOF or a reset, never hangs; `wait_closed` finishes.
pub async fn accept_while_closing() -> TestResult {
    let srv = server().await?;
    {
        let mut waiting = pin!(srv.accept(None));
        ensure!(
            still_pending(waiting.as_mut(), 20).await,
            "accept returned with no client"
        );
        srv.close();
        match waiting.await {
            Err(ErrorCode::Closed(_)) => {}
            other => return Err(format!("the accept waiting at close: {other:?}")),
        }
    }
    srv.wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))?;

    // Clients the app never accepted when the server closes.
    let srv = server().await?;
    let port = port_of(&srv)?;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(port, connect_options(None)).await?);
    }
    sleep_ms(50).await;
    srv.close();
    let mut handed_out = 0;
    loop {
        match srv.accept(Some(SECOND)).await {
            Ok(conn) => {
                handed_out += 1;
                ensure!(handed_out <= 3, "more connections than clients");
                let (_reader, writer) = Connection::split(conn);
                writer.close();
            }
            Err(ErrorCode::Closed(_)) => break,
            Err(e) => return Err(format!("accept after close: {e:?}")),
        }
    }
    for (i, (reader, _writer)) in clients.iter().enumerate() {
        match reader.read(-1, Some(10 * SECOND)).await {
            Ok(data) => eq(&format!("client {i} read"), data, Vec::new())?,
            Err(ErrorCode::ConnectionReset | ErrorCode::ConnectionAborted) => {}
            Err(e) => return Err(format!("client {i}: {e:?}")),
        }
    }
    match srv.accept(Some(SECOND)).await {
        Err(ErrorCode::Closed(_)) => {}
        other => return Err(format!("accept once none is left: {other:?}")),
    }
    srv.wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))
}
