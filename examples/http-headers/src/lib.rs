//! The asyncio docs' "get HTTP headers" example as a wasio app component, written with
//! wasio-sdk.
//!
//! `http-headers [--ca-pem PEM] URL` sends `HEAD PATH HTTP/1.0` and prints each response header
//! line as `HTTP header> LINE`. `https://` URLs use TLS, trusting the web PKI roots bundled into
//! the host, or only the CA certificates of `--ca-pem` (their PEM text), e.g. for a local server.

use futures::StreamExt;
use wasio_sdk::{ClientTlsConfig, ConnectOptions, TrustRoots};

wasio_sdk::main!(main);

async fn main() -> Result<(), String> {
    const USAGE: &str = "usage: http-headers [--ca-pem PEM] URL";
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut ca = None;
    if args.first().is_some_and(|a| a == "--ca-pem") {
        if args.len() < 2 {
            return Err(USAGE.into());
        }
        ca = Some(args.remove(1));
        args.remove(0);
    }
    let [url] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let url = parse_url(url).map_err(|e| format!("http-headers: {e}"))?;
    print_http_headers(url, ca)
        .await
        .map_err(|e| format!("http-headers: {e}"))
}

async fn print_http_headers(url: Url, ca: Option<String>) -> wasio_sdk::Result<()> {
    let options = ConnectOptions {
        ssl: url.https.then(|| ClientTlsConfig {
            roots: ca.map_or(TrustRoots::WebRoots, TrustRoots::Pem),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (mut reader, writer) =
        wasio_sdk::open_connection_with(&url.host, url.port, options).await?;
    writer.write(format!(
        "HEAD {} HTTP/1.0\r\nHost: {}\r\n\r\n",
        url.path, url.host
    ))?;
    let mut lines = reader.lines();
    while let Some(line) = lines.next().await {
        // latin-1 decoding, as the docs' example does.
        let text: String = line?.iter().map(|&b| char::from(b)).collect();
        let text = text.trim_end();
        if !text.is_empty() {
            println!("HTTP header> {text}");
        }
    }
    writer.close();
    writer.wait_closed().await
}

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
