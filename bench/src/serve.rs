//! The servers that run inside a `wasio-bench serve` process: the native tokio baseline, and
//! wasio's components and the raw wasi:sockets floor under the wasio host. Each prints
//! `PORT <n>` and serves until stdin closes.

use crate::server::{Mode, System};
use anyhow::Context as _;
use std::sync::OnceLock;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use wasio_host::capture::LineCapture;
use wasio_host::embedded::prepare;
use wasio_host::limits::MemoryUsage;
use wasio_host::{Capabilities, ListenerShare, Runtime, Shutdown, TcpImpl, WasioCtx};

/// The linear memory of the wasio server's components, once it runs.
static GUEST_MEMORY: OnceLock<MemoryUsage> = OnceLock::new();

/// Serves `mode` as `system` until stdin closes. A `memory` line on stdin is answered on stdout
/// with `MEMORY <bytes>`: the total linear memory of the components (wasio), or `MEMORY none`.
pub fn serve(system: System, mode: Mode) -> anyhow::Result<()> {
    // Stop when the benchmark closes our stdin (or dies).
    std::thread::spawn(|| {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if line.trim() == "memory" {
                match GUEST_MEMORY.get() {
                    Some(usage) => println!("MEMORY {}", usage.bytes()),
                    None => println!("MEMORY none"),
                }
            }
        }
        std::process::exit(0);
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match system {
            System::Tokio => serve_tokio(mode).await,
            System::Wasio => serve_wasio(mode, Build::Composed, TcpImpl::Host, 1).await,
            System::WasioLinked => serve_wasio(mode, Build::Linked, TcpImpl::Host, 1).await,
            System::WasioWasi => serve_wasio(mode, Build::Composed, TcpImpl::WasmtimeWasi, 1).await,
            System::WasioX2 => serve_wasio(mode, Build::Composed, TcpImpl::Host, 2).await,
            System::Floor => match mode {
                Mode::Echo => {
                    let floor = wasio_test_components::FLOOR_ECHO;
                    serve_component(floor, &[], TcpImpl::Host, 1).await
                }
                Mode::Lines | Mode::TlsEcho => {
                    anyhow::bail!("the floor is an echo server: it speaks neither lines nor TLS")
                }
            },
            System::Asyncio | System::Uvloop => anyhow::bail!("python servers run as python"),
        }
    })
}

async fn serve_tokio(mode: Mode) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("PORT {}", listener.local_addr()?.port());
    let acceptor = match mode {
        Mode::TlsEcho => Some(crate::tls::acceptor()?),
        Mode::Echo | Mode::Lines => None,
    };
    loop {
        let (stream, _) = listener.accept().await?;
        if mode == Mode::TlsEcho {
            // Else every TLS 1.3 handshake waits ~40 ms for a delayed ACK: rustls sends session
            // tickets as a separate small write (wasio's TLS server sends none). The plain modes
            // keep tokio's default, as a typical tokio server does.
            stream.set_nodelay(true)?;
        }
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = match (mode, acceptor) {
                (Mode::TlsEcho, Some(acceptor)) => match acceptor.accept(stream).await {
                    Ok(tls) => echo(tls).await,
                    Err(e) => Err(e),
                },
                (Mode::Lines, _) => lines(stream).await,
                _ => echo(stream).await,
            };
        });
    }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> std::io::Result<()> {
    let mut buf = vec![0u8; 65536];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
        // A TLS stream may hold encrypted bytes until flushed; a plain one has none.
        stream.flush().await?;
    }
}

async fn lines(stream: TcpStream) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut line = String::new();
    loop {
        line.clear();
        if rd.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        wr.write_all(line.as_bytes()).await?;
    }
}

/// Which build of a wasio-sdk app a wasio server runs.
#[derive(Clone, Copy)]
enum Build {
    /// wasio-streams linked in (the SDK's default).
    Linked,
    /// The SDK's `composed` feature: composed with the provider.
    Composed,
}

/// wasio's server for `mode` (the example echo server, or the line server) in `build` over
/// `tcp`, as `workers` workers sharing its listener.
async fn serve_wasio(mode: Mode, build: Build, tcp: TcpImpl, workers: usize) -> anyhow::Result<()> {
    use wasio_test_components::composed;
    let app = match (mode, build) {
        (Mode::Echo | Mode::TlsEcho, Build::Linked) => wasio_components::ECHO_SERVER,
        (Mode::Echo | Mode::TlsEcho, Build::Composed) => composed::ECHO_SERVER,
        (Mode::Lines, Build::Linked) => wasio_test_components::LINE_ECHO,
        (Mode::Lines, Build::Composed) => composed::LINE_ECHO,
    };
    // The echo example prints three lines per connection unless `--quiet`; the tokio baseline
    // prints none.
    let extra = match mode {
        Mode::TlsEcho => [crate::tls::pem_args()?.as_slice(), &["--quiet".into()]].concat(),
        Mode::Echo => vec!["--quiet".into()],
        Mode::Lines => Vec::new(),
    };
    serve_component(app, &extra, tcp, workers).await
}

/// The wasio servers' connection cap: above the full plan's 10,000 idle connections, which the
/// default cap (`DEFAULT_MAX_CONNECTIONS`, 4096) would refuse past its 4096th socket.
const MAX_CONNECTIONS: u32 = 16_384;

/// Runs `app` (composed with the provider if it imports wasio:streams) as `wasio run` does,
/// with loopback grants and the arguments `server --host 127.0.0.1 --port 0` then `extra`, its
/// TCP from `tcp`, as `workers` workers sharing its listener.
async fn serve_component(
    app: &[u8],
    extra: &[String],
    tcp: TcpImpl,
    workers: usize,
) -> anyhow::Result<()> {
    let mut args: Vec<String> = ["server", "--host", "127.0.0.1", "--port", "0"]
        .map(String::from)
        .into();
    args.extend_from_slice(extra);
    let runtime = Runtime::with_tcp(wasio_host::engine()?, tcp)?;
    let component = runtime.compile(&prepare(app)?)?;
    let (capture, mut lines) = LineCapture::new();
    let builder = || {
        WasioCtx::builder()
            .max_connections(Some(MAX_CONNECTIONS))
            .args(&args)
            .stdout(capture.clone())
            .stderr(capture.clone())
            .capabilities(Capabilities::loopback())
    };
    let run = if workers == 1 {
        let ctx = builder().build();
        let _ = GUEST_MEMORY.set(ctx.memory_usage());
        tokio::spawn(async move { runtime.run(&component, ctx).await.map(|exit| vec![exit]) })
    } else {
        // The workers' memories are not summed: `MEMORY none` for this system.
        let (share, shutdown) = (ListenerShare::new(workers), Shutdown::new());
        let contexts: Vec<WasioCtx> = (0..workers)
            .map(|_| {
                builder()
                    .share_listeners(share.clone())
                    .shutdown(shutdown.clone())
                    .build()
            })
            .collect();
        let mut contexts = contexts.into_iter();
        tokio::spawn(async move {
            wasio_host::workers::run(&runtime, &component, workers, &shutdown, |_| {
                contexts.next().context("no context left for a worker")
            })
            .await
        })
    };
    let port = loop {
        let line = lines
            .recv()
            .await
            .context("the server ended before serving")?;
        if let Some(addr) = line.strip_prefix("Serving on ") {
            break addr
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .trim()
                .parse::<u16>()?;
        }
    };
    println!("PORT {port}");
    // Drain the per-connection lines the example prints.
    tokio::spawn(async move { while lines.recv().await.is_some() {} });
    let exits = run.await??;
    let exits: Vec<String> = exits.iter().map(ToString::to_string).collect();
    anyhow::bail!("the server component ended: {}", exits.join(", "))
}
