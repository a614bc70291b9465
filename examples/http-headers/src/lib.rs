//! The asyncio docs' "get HTTP headers" example as a wasio app component.
//!
//! `http-headers [--ca-pem PEM] URL` sends `HEAD PATH HTTP/1.0` and prints each response header
//! line as `HTTP header> LINE`. `https://` URLs use TLS, trusting the web PKI roots bundled into
//! the host, or only the CA certificates of `--ca-pem` (their PEM text), e.g. for a local server.

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
use bindings::wasio::streams::types::{
    AddressFamily, ClientTlsConfig, ConnectOptions, ErrorCode, TrustRoots,
};

struct HttpHeaders;

/// The parts of a URL this example needs.
struct Url {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Url, String> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!("{url:?} is not an http:// or https:// URL"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let default_port = if https { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed [ in URL")?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
            None => default_port,
        };
        (host.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, p)) => (
                host.to_string(),
                p.parse().map_err(|_| format!("bad port {p:?}"))?,
            ),
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    Ok(Url {
        https,
        host,
        port,
        path: path.to_string(),
    })
}

async fn print_http_headers(url: Url, ca: Option<String>) -> Result<(), ErrorCode> {
    let options = ConnectOptions {
        limit: None,
        ssl: url.https.then(|| ClientTlsConfig {
            roots: ca.map_or(TrustRoots::WebRoots, TrustRoots::Pem),
            client_cert: None,
            alpn_protocols: Vec::new(),
        }),
        server_hostname: None,
        ssl_handshake_timeout: None,
        ssl_shutdown_timeout: None,
        family: AddressFamily::Unspecified,
        local_addr: None,
        happy_eyeballs_delay: None,
        interleave: None,
        timeout: None,
        write_queue_cap: None,
    };
    let (reader, writer) =
        Connection::split(streams::open_connection(url.host.clone(), url.port, options).await?);
    let query = format!("HEAD {} HTTP/1.0\r\nHost: {}\r\n\r\n", url.path, url.host);
    writer.write(query.as_bytes())?;
    loop {
        let line = match reader.try_readline() {
            Some(result) => result?,
            None => reader.readline(None).await?,
        };
        if line.is_empty() {
            break;
        }
        // latin-1 decoding, as the docs' example does.
        let text: String = line.iter().map(|&b| char::from(b)).collect();
        let text = text.trim_end();
        if !text.is_empty() {
            println!("HTTP header> {text}");
        }
    }
    writer.close();
    writer.wait_closed(None).await
}

impl Guest for HttpHeaders {
    async fn run() -> Result<(), ()> {
        let mut args: Vec<String> = std::env::args().skip(1).collect();
        let mut ca = None;
        if args.first().is_some_and(|a| a == "--ca-pem") && args.len() >= 2 {
            ca = Some(args.remove(1));
            args.remove(0);
        }
        let [url] = args.as_slice() else {
            eprintln!("usage: http-headers [--ca-pem PEM] URL");
            return Err(());
        };
        let url = parse_url(url).map_err(|e| eprintln!("http-headers: {e}"))?;
        print_http_headers(url, ca)
            .await
            .map_err(|e| eprintln!("http-headers: {e:?}"))
    }
}

/// The component's `wasi:cli/run` export (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::HttpHeaders;
    crate::bindings::export!(HttpHeaders with_types_in crate::bindings);
}
