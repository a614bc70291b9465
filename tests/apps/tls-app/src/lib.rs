//! A test app component for wasio's TLS integration tests: `tls-app SCENARIO HOST PORT [OPTIONS]`
//! runs one scenario and prints one line per observation (`info ...`, `echo ...`, `error ...`).
//!
//! Scenarios:
//! - `client`: `open_connection(ssl=...)`, prints the TLS extra info and `can-write-eof`, tries
//!   `write_eof`, sends `hello`, prints the answer line, closes and waits.
//! - `server`: `start_server(ssl=...)` on PORT (0: any), prints `serving PORT`, then for each
//!   client: prints its TLS info, echoes each line back until EOF, closes. Serves until stopped.
//! - `starttls-client`: plain connect, sends `STARTTLS`, expects `OK`, `start_tls` as client,
//!   sends `hello`, prints the answer line.
//! - `starttls-server`: plain server; per client: reads `STARTTLS`, answers `OK`, `start_tls` as
//!   server, echoes lines until EOF.
//! - `quiet-close`: TLS connect, sends `hello`, closes at once and waits (bounded shutdown).
//! - `accept-after-close`: TLS server; waits the read timeout for a client (whose handshake is
//!   still running then), closes, prints `closed`, then accepts: answers `served` to what it
//!   gets and closes it; prints the next accept's result and `wait-closed`.
//!
//! Options: `--ca PEM`, `--cert PEM --key PEM` (client certificate, or the server identity),
//! `--client-ca PEM` (server: ask for client certificates), `--optional-client-cert`,
//! `--server-hostname NAME`, `--alpn P` (repeatable), `--handshake-timeout-ms N`,
//! `--shutdown-timeout-ms N`, `--read-timeout-ms N`, `--take-ahead` (`starttls-server`: reads
//! what is buffered after the `STARTTLS` line and passes it to `start_tls` as `ahead`).

/// Generated bindings of the `wasi:cli/run` export (generated code uses `unsafe`). The contract
/// comes through wasio-sdk's `raw` module: wasio-streams linked in, or the provider (feature
/// `composed`).
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        inline: "
            package wasio:tls-app;
            world tls-app {
                export wasi:cli/run@0.3.0;
            }
        ",
        world: "wasio:tls-app/tls-app",
        generate_all,
    });
}

use bindings::exports::wasi::cli::run::Guest;
use wasio_sdk::raw::{self as streams, Connection, Reader, Server, Writer};
use wasio_types::{
    CertifiedKey, ClientTlsConfig, ConnectOptions, ErrorCode, ServerOptions, ServerTlsConfig,
    SocketAddress, TlsConfig, TrustRoots,
};

struct TlsApp;

/// The parsed options.
#[derive(Default, Clone)]
struct Opts {
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    optional_client_cert: bool,
    server_hostname: Option<String>,
    alpn: Vec<String>,
    handshake_timeout: Option<u64>,
    shutdown_timeout: Option<u64>,
    read_timeout: Option<u64>,
    take_ahead: bool,
}

const MS: u64 = 1_000_000;

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        let ms = |v: String| {
            v.parse::<u64>()
                .map(|n| n * MS)
                .map_err(|_| format!("bad {v}"))
        };
        match arg.as_str() {
            "--ca" => o.ca = Some(value()?),
            "--cert" => o.cert = Some(value()?),
            "--key" => o.key = Some(value()?),
            "--client-ca" => o.client_ca = Some(value()?),
            "--optional-client-cert" => o.optional_client_cert = true,
            "--server-hostname" => o.server_hostname = Some(value()?),
            "--alpn" => o.alpn.push(value()?),
            "--handshake-timeout-ms" => o.handshake_timeout = Some(ms(value()?)?),
            "--shutdown-timeout-ms" => o.shutdown_timeout = Some(ms(value()?)?),
            "--read-timeout-ms" => o.read_timeout = Some(ms(value()?)?),
            "--take-ahead" => o.take_ahead = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

impl Opts {
    fn identity(&self) -> Option<CertifiedKey> {
        Some(CertifiedKey {
            cert_chain_pem: self.cert.clone()?,
            private_key_pem: self.key.clone()?,
        })
    }

    fn client(&self) -> ClientTlsConfig {
        ClientTlsConfig {
            roots: self
                .ca
                .clone()
                .map_or(TrustRoots::WebRoots, TrustRoots::Pem),
            client_cert: self.identity(),
            alpn_protocols: self.alpn.clone(),
        }
    }

    fn server(&self) -> Result<ServerTlsConfig, ErrorCode> {
        Ok(ServerTlsConfig {
            identity: self.identity().ok_or_else(|| {
                ErrorCode::InvalidArgument("server needs --cert and --key".into())
            })?,
            client_auth_ca_pem: self.client_ca.clone(),
            client_auth_required: !self.optional_client_cert,
            alpn_protocols: self.alpn.clone(),
        })
    }

    fn connect_options(&self, ssl: bool) -> ConnectOptions {
        ConnectOptions {
            ssl: ssl.then(|| self.client()),
            server_hostname: if ssl {
                self.server_hostname.clone()
            } else {
                None
            },
            ssl_handshake_timeout: if ssl { self.handshake_timeout } else { None },
            ssl_shutdown_timeout: if ssl { self.shutdown_timeout } else { None },
            ..Default::default()
        }
    }

    fn server_options(&self, ssl: bool) -> Result<ServerOptions, ErrorCode> {
        Ok(ServerOptions {
            ssl: if ssl { Some(self.server()?) } else { None },
            ssl_handshake_timeout: if ssl { self.handshake_timeout } else { None },
            ssl_shutdown_timeout: if ssl { self.shutdown_timeout } else { None },
            ..Default::default()
        })
    }
}

fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Prints the TLS extra info of a connection, one `info` line per field.
fn print_info(who: &str, writer: &Writer) {
    let info = writer.extra_info();
    println!(
        "info {who} version {}",
        info.tls_version.unwrap_or_default()
    );
    println!("info {who} cipher {}", info.cipher.unwrap_or_default());
    println!("info {who} alpn {}", info.alpn_protocol.unwrap_or_default());
    println!(
        "info {who} server-hostname {}",
        info.server_hostname.unwrap_or_default()
    );
    match info.peercert {
        Some(cert) => {
            println!("info {who} peer-subject {}", cert.subject);
            println!("info {who} peer-issuer {}", cert.issuer);
            println!("info {who} peer-san {}", cert.subject_alt_names.join(","));
            println!("info {who} peer-der-len {}", cert.der.len());
            println!("info {who} peer-not-after {}", cert.not_after);
        }
        None => println!("info {who} peer-cert none"),
    }
    println!("info {who} can-write-eof {}", writer.can_write_eof());
}

async fn client(host: String, port: u16, o: &Opts) -> Result<(), ErrorCode> {
    let conn = streams::open_connection(host, port, o.connect_options(true)).await?;
    let (reader, writer) = Connection::split(conn);
    print_info("client", &writer);
    match writer.write_eof() {
        Err(ErrorCode::NotSupported(m)) => println!("write-eof not-supported {m}"),
        other => println!("write-eof {other:?}"),
    }
    writer.write(b"hello\n")?;
    writer.drain(None).await?;
    let line = reader.readline(o.read_timeout).await?;
    println!("echo {}", show(&line));
    writer.close();
    writer.wait_closed(None).await?;
    println!("closed");
    Ok(())
}

async fn quiet_close(host: String, port: u16, o: &Opts) -> Result<(), ErrorCode> {
    let conn = streams::open_connection(host, port, o.connect_options(true)).await?;
    let (_reader, writer) = Connection::split(conn);
    writer.write(b"hello\n")?;
    writer.close();
    let result = writer.wait_closed(None).await;
    println!("wait-closed {result:?}");
    Ok(())
}

async fn echo_lines(
    reader: &Reader,
    writer: &Writer,
    read_timeout: Option<u64>,
) -> Result<(), ErrorCode> {
    loop {
        let line = reader.readline(read_timeout).await?;
        if line.is_empty() {
            return Ok(());
        }
        println!("server got {}", show(&line));
        if line == b"abort\n" {
            writer.abort();
            return Ok(());
        }
        writer.write(&line)?;
        writer.drain(None).await?;
    }
}

/// The port a server listens on (0 when its first socket is not an IP one).
fn port_of(server: &Server) -> u16 {
    match server.sockets().first() {
        Some(SocketAddress::Inet(a)) => a.port,
        _ => 0,
    }
}

async fn serve(host: String, port: u16, o: Opts, starttls: bool) -> Result<(), ErrorCode> {
    let server = streams::start_server(vec![host], port, o.server_options(!starttls)?).await?;
    let port = port_of(&server);
    println!("serving {port}");
    loop {
        let conn = server.accept(None).await?;
        let o = o.clone();
        wit_bindgen::spawn_local(async move {
            let (reader, writer) = Connection::split(conn);
            let result = async {
                if starttls {
                    let line = reader.readline(o.read_timeout).await?;
                    println!("server got {}", show(&line));
                    writer.write(b"OK\n")?;
                    println!("server buffered {}", reader.buffered());
                    // `--take-ahead`: read what is buffered and hand it to start_tls as `ahead`.
                    let ahead = match o.take_ahead {
                        true => reader
                            .try_read(reader.buffered().try_into().unwrap_or(i64::MAX))
                            .unwrap_or(Ok(Vec::new()))?,
                        false => Vec::new(),
                    };
                    println!("server took ahead {}", ahead.len());
                    writer
                        .start_tls(
                            TlsConfig::Server(o.server()?),
                            None,
                            o.handshake_timeout,
                            o.shutdown_timeout,
                            ahead,
                        )
                        .await?;
                }
                print_info("server", &writer);
                echo_lines(&reader, &writer, o.read_timeout).await
            }
            .await;
            if let Err(e) = &result {
                println!("server error {e:?}");
            }
            writer.close();
            let closed = writer.wait_closed(None).await;
            println!("server closed {closed:?}");
        });
    }
}

/// Serves TLS, waits `--read-timeout-ms` for a client that completes its handshake (the test's
/// client never does), closes, and shows that `wait_closed` waits for the handshake in progress.
async fn close_while_handshaking(host: String, port: u16, o: &Opts) -> Result<(), ErrorCode> {
    let server = streams::start_server(vec![host], port, o.server_options(true)?).await?;
    let port = port_of(&server);
    println!("serving {port}");
    let accepted = server.accept(o.read_timeout).await.map(|_| ());
    println!("accept {accepted:?}");
    server.close();
    println!(
        "wait-closed early {:?}",
        server.wait_closed(Some(100_000_000)).await
    );
    println!("wait-closed {:?}", server.wait_closed(None).await);
    Ok(())
}

async fn accept_after_close(host: String, port: u16, o: &Opts) -> Result<(), ErrorCode> {
    let server = streams::start_server(vec![host], port, o.server_options(true)?).await?;
    println!("serving {}", port_of(&server));
    let early = server.accept(o.read_timeout).await.map(|_| ());
    println!("accept before close {early:?}");
    server.close();
    println!("closed");
    let (_reader, writer) = Connection::split(server.accept(None).await?);
    println!("accept after close Ok");
    writer.write(b"served\n")?;
    writer.close();
    writer.wait_closed(None).await?;
    let again = server.accept(None).await.map(|_| ());
    println!("accept again {again:?}");
    println!("wait-closed {:?}", server.wait_closed(None).await);
    Ok(())
}

async fn starttls_client(host: String, port: u16, o: &Opts) -> Result<(), ErrorCode> {
    let conn = streams::open_connection(host.clone(), port, o.connect_options(false)).await?;
    let (reader, writer) = Connection::split(conn);
    writer.write(b"STARTTLS\n")?;
    let ok = reader.readline(o.read_timeout).await?;
    println!("plain {}", show(&ok));
    let name = o.server_hostname.clone().or(Some(host));
    writer
        .start_tls(
            TlsConfig::Client(o.client()),
            name,
            o.handshake_timeout,
            o.shutdown_timeout,
            Vec::new(),
        )
        .await?;
    print_info("client", &writer);
    writer.write(b"hello\n")?;
    let line = reader.readline(o.read_timeout).await?;
    println!("echo {}", show(&line));
    writer.close();
    writer.wait_closed(None).await?;
    println!("closed");
    Ok(())
}

/// Every scenario, as `--list` prints them: a name missing here is refused, and the integration
/// tests check that each one listed is run by a test (`every_scenario_of_the_tls_app_is_run`).
const SCENARIOS: &[&str] = &[
    "client",
    "quiet-close",
    "server",
    "starttls-server",
    "starttls-client",
    "close-while-handshaking",
    "accept-after-close",
];

impl Guest for TlsApp {
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
            eprintln!("tls-app: unknown scenario; one of {SCENARIOS:?}");
            return Err(());
        }
        let (Some(name), Some(host), Some(port)) = (args.first(), args.get(1), args.get(2)) else {
            eprintln!("usage: tls-app SCENARIO HOST PORT [OPTIONS]");
            return Err(());
        };
        let Ok(port) = port.parse::<u16>() else {
            eprintln!("bad port {port:?}");
            return Err(());
        };
        let opts = match parse(&args[3..]) {
            Ok(opts) => opts,
            Err(e) => {
                eprintln!("tls-app: {e}");
                return Err(());
            }
        };
        let host = host.clone();
        let result = match name.as_str() {
            "client" => client(host, port, &opts).await,
            "quiet-close" => quiet_close(host, port, &opts).await,
            "server" => serve(host, port, opts, false).await,
            "starttls-server" => serve(host, port, opts, true).await,
            "starttls-client" => starttls_client(host, port, &opts).await,
            "close-while-handshaking" => close_while_handshaking(host, port, &opts).await,
            "accept-after-close" => accept_after_close(host, port, &opts).await,
            other => {
                eprintln!("unknown scenario {other}");
                return Err(());
            }
        };
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
}

/// The component's `wasi:cli/run` export (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::TlsApp;
    crate::bindings::export!(TlsApp with_types_in crate::bindings);
}
