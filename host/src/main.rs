//! `wasio`: run components that use asyncio-style streams (`wasio:streams`) on WASI 0.3.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use wasio_host::capture::LineCapture;
use wasio_host::compile_cache;
use wasio_host::compose::compose;
use wasio_host::embedded::{self, ECHO_CLIENT, ECHO_SERVER, PROVIDER, SOCKETPAIR};
use wasio_host::limits::{self, Limits, Size};
use wasio_host::python_app;
use wasio_host::run::trap_report;
use wasio_host::{
    AddrPattern, Capabilities, Exit, ListenSpec, Preopened, Runtime, Shutdown, SocketFiles,
    UnixGrant, WasioCtx, WasioCtxBuilder,
};
use wasmtime::component::Component;

const AFTER_HELP: &str = "\
Network access is denied unless granted. PATTERN is HOST:PORT, where HOST is an IP address
(IPv6 in brackets) or *, and PORT a number or *: 127.0.0.1:*, [::1]:8080, *:443. Host names
are not patterns: the app resolves names itself and the address it then uses is checked.
Name lookup is allowed whenever a TCP address is granted (not with --allow-unix alone).

Files are denied unless a directory is granted with --dir HOST_DIR[::GUEST_DIR], read-only:
the app may list it and read the files under it (a Python app's TLS certificates, say), and
may not create, change or remove anything there.

Unix socket paths are denied unless granted with --allow-unix: a file, a directory (and
everything under it; an existing directory or a path ending in /), @NAME for a Linux
abstract-namespace name, or @* for all of them. --listen opens a listener in the host before
the run (tcp:HOST:PORT or unix:PATH); the app adopts it with preopened-servers, needing no grant.

Resource limits (each has a default; `none` lifts the first two): --max-memory caps the app's
linear memory, all memories together (default 1GiB); --max-connections caps the sockets open
at once, connections, listeners and UDP sockets, whichever interface opened them (default
4096, or one per 256KiB of a lower --max-memory, so that what they can pin stays inside the
memory cap; beyond it a server
stops accepting, so clients wait in the listen backlog, and opening a socket fails with an
error the app sees); --write-queue-cap caps
each connection's write queue (default 64MiB; a write beyond it fails with buffer-full and
queues nothing); --timeout ends the run after that long (default none). See the README's
\"Capabilities and limits\" section.

Ctrl-C (SIGINT) or SIGTERM shuts the run down gracefully, as asyncio.run does: the app's
servers are closed (their socket files removed) and its connections closed once their write
queues are flushed, so its run can return; wasio waits at most 3s for that. A second signal
stops the run at once. Either way the Unix socket files wasio created are removed and the exit
status is 130 (SIGINT) or 143 (SIGTERM).

Exit status: the app's (0 when its run returns ok, 1 when it returns an error, or the code it
passes to exit); 134 if it traps; 137 if it reached --max-memory; 124 if it reached --timeout;
130 or 143 after SIGINT or SIGTERM; 1 if wasio cannot run it; 2 for a usage error.";

/// Runs WebAssembly components that use asyncio-style streams (wasio:streams) on WASI 0.3.
#[derive(Parser)]
#[command(name = "wasio", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an app component's wasi:cli/run@0.3.0.
    ///
    /// If APP imports wasio:streams it is first composed with the provider built into wasio.
    /// The app inherits wasio's stdin, stdout and stderr; it sees no environment variables and,
    /// unless granted, no files and no network.
    #[command(after_help = AFTER_HELP)]
    Run(RunArgs),
    /// Build a Python asyncio script into an app component (needs `pip install ./python`).
    ///
    /// The component is also kept in the compile cache, so `wasio run SCRIPT` reuses it.
    Build {
        /// The Python script (.py, at most 1 MiB).
        script: PathBuf,
        /// Where to write the component.
        #[arg(short, long, value_name = "OUT.wasm")]
        output: PathBuf,
    },
    /// Compose an app component with the built-in provider and write the result.
    ///
    /// The output imports WASI 0.2/0.3 and wasio:host and exports what APP exports; `wasio run`
    /// runs it as is.
    Compose {
        /// The app component (.wasm, at most 256 MiB) importing wasio:streams.
        app: PathBuf,
        /// Where to write the composed component.
        #[arg(short, long, value_name = "OUT.wasm")]
        output: PathBuf,
    },
    /// Run the built-in echo examples on loopback.
    ///
    /// Without a subcommand: start the echo server on 127.0.0.1 (a free port), run the echo
    /// client against it, stop the server, and show both sides' output, labelled. Both may use
    /// loopback addresses (127.0.0.1, ::1) only.
    #[command(after_help = AFTER_HELP)]
    Demo {
        #[command(flatten)]
        flags: RunFlags,
        #[command(subcommand)]
        example: Option<DemoExample>,
    },
}

/// A cap that `none` lifts.
#[derive(Clone, Copy, Debug)]
struct Cap<T>(Option<T>);

fn is_none_word(s: &str) -> bool {
    matches!(s.trim(), "none" | "unlimited")
}

fn parse_memory_cap(s: &str) -> Result<Cap<u64>, String> {
    if is_none_word(s) {
        return Ok(Cap(None));
    }
    let Size(bytes) = s.parse()?;
    if bytes == 0 {
        return Err("the memory cap must be above 0 (or `none`)".to_owned());
    }
    Ok(Cap(Some(bytes)))
}

fn parse_connections_cap(s: &str) -> Result<Cap<u32>, String> {
    if is_none_word(s) {
        return Ok(Cap(None));
    }
    match s.trim().parse::<u32>() {
        Ok(0) | Err(_) => Err(format!(
            "`{s}` is not a connection count: write a number from 1, or `none`"
        )),
        Ok(n) => Ok(Cap(Some(n))),
    }
}

fn parse_write_queue_cap(s: &str) -> Result<u64, String> {
    let Size(bytes) = s.parse()?;
    if bytes == 0 {
        return Err("the write-queue cap must be above 0".to_owned());
    }
    Ok(bytes)
}

/// A `--timeout`: a duration above 0 (asyncio's `wait_for(..., 0)` gives up at once; a run
/// stopped before it starts is never what was meant, and "no limit" is leaving the flag out).
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let timeout = limits::parse_duration(s)?;
    if timeout.is_zero() {
        return Err("the timeout must be above 0 (leave --timeout out for no limit)".to_owned());
    }
    Ok(timeout)
}

/// The resource limit and compile cache flags of `run` and `demo`.
#[derive(Args, Clone)]
struct RunFlags {
    /// Cap the app's linear memory, all its memories together (the app's and the provider's):
    /// bytes or e.g. 256MiB, 1GiB; `none` for no cap. Reaching it stops the run (exit 137).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_memory_cap, global = true)]
    max_memory: Cap<u64>,
    /// Cap the sockets open at once: connections made or accepted, listeners and UDP sockets,
    /// through the provider or wasi:sockets directly; `none` for no cap. At the cap a server
    /// accepts no more (clients wait in the listen backlog) and opening a socket fails with an
    /// error the app sees. [default: 4096, or one per 256KiB of a lower --max-memory]
    #[arg(long, value_name = "N", value_parser = parse_connections_cap, global = true)]
    max_connections: Option<Cap<u32>>,
    /// Cap each connection's write queue (bytes or e.g. 1MiB): the default of the app's
    /// write-queue-cap option and its ceiling. A write beyond it fails with buffer-full.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_write_queue_cap, global = true)]
    write_queue_cap: u64,
    /// End the run after this long (e.g. 30s, 500ms, 2m; above 0); exit status 124. Default: no
    /// limit.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, global = true)]
    timeout: Option<Duration>,
    /// Compile the app afresh and keep nothing. By default compiled code is kept in
    /// $WASIO_CACHE_DIR, else $XDG_CACHE_HOME/wasio, else ~/.cache/wasio, so later runs of the
    /// same app start without compiling.
    #[arg(long, global = true)]
    no_cache: bool,
}

impl RunFlags {
    /// A runtime for these flags: with a timeout, one whose engine can stop busy apps too; with
    /// the compile cache unless `--no-cache` (a cache that cannot be set up only costs speed,
    /// so the run goes on without it, with a warning).
    fn runtime(&self) -> anyhow::Result<Runtime> {
        let mut config = if self.timeout.is_some() {
            wasio_host::config_with_deadlines()
        } else {
            wasio_host::config()
        };
        if !self.no_cache
            && let Some(dir) = compile_cache::default_dir()
            && let Err(e) = compile_cache::enable(&mut config, &dir)
        {
            eprintln!("wasio: warning: compiling without the cache: {e:#}");
        }
        Runtime::from_config(&config)
    }

    fn limits(&self) -> Limits {
        Limits {
            max_memory: self.max_memory.0,
            max_connections: self.max_connections.map_or_else(
                || limits::connections_for_memory(self.max_memory.0),
                |cap| cap.0,
            ),
            write_queue_cap: self.write_queue_cap,
            timeout: self.timeout,
        }
    }
}

#[derive(Args)]
struct RunArgs {
    /// The app component (.wasm: a file or a pipe, at most 256 MiB), or a Python asyncio script
    /// (.py, built with the wasio-asyncio package, see `wasio build`); the app sees its file
    /// name as its program name (argv 0).
    app: PathBuf,
    /// Allow TCP connections to addresses matching PATTERN (repeatable).
    #[arg(long, value_name = "PATTERN", value_parser = parse_pattern)]
    allow_connect: Vec<AddrPattern>,
    /// Allow binding and listening on addresses matching PATTERN, and accepting any client on
    /// them (repeatable). A port 0 grant allows a port the OS picks.
    #[arg(long, value_name = "PATTERN", value_parser = parse_pattern)]
    allow_listen: Vec<AddrPattern>,
    /// Allow all network access (TCP and UDP, any address). Unix paths need --allow-unix.
    #[arg(long)]
    allow_net: bool,
    /// Allow connecting to and listening on Unix sockets at PATH: a file, a directory and
    /// everything under it (an existing directory, or PATH ending in /), @NAME (a Linux
    /// abstract-namespace name) or @* (repeatable).
    #[arg(long, value_name = "PATH", value_parser = UnixGrant::parse)]
    allow_unix: Vec<UnixGrant>,
    /// Open a listener before the run for the app to adopt as a server (asyncio
    /// `start_server(sock=...)`): tcp:HOST:PORT or unix:PATH (unix:@NAME: abstract namespace).
    /// A stale socket file at PATH is replaced, and the file is removed after the run
    /// (repeatable).
    #[arg(long, value_name = "SPEC", value_parser = parse_listen)]
    listen: Vec<ListenSpec>,
    /// Let the app read the host directory HOST_DIR, which it sees at GUEST_DIR (default: the
    /// same path), read-only: it may list it and read the files under it, not create, change or
    /// remove anything there (repeatable; as `wasmtime run --dir`). HOST_DIR must exist.
    #[arg(long, value_name = "HOST_DIR[::GUEST_DIR]", value_parser = parse_dir)]
    dir: Vec<DirGrant>,
    #[command(flatten)]
    flags: RunFlags,
    /// Arguments passed to the app (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

#[derive(Subcommand)]
enum DemoExample {
    /// Run the built-in echo server (serves until interrupted). It may listen on HOST:PORT (or
    /// the --unix PATH) only.
    EchoServer {
        /// The address to serve on (an IP address or a name the host resolves).
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// The port to serve on (0: a free port).
        #[arg(long, default_value_t = 8888)]
        port: u16,
        /// Serve on this Unix socket path instead (asyncio start_unix_server; @NAME: a Linux
        /// abstract-namespace name).
        #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
        unix: Option<String>,
        /// Serve TLS with this PEM certificate chain (needs --tls-key).
        #[arg(long, value_name = "CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, value_name = "KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Run the built-in echo client once. It may connect to HOST:PORT (or the --unix PATH)
    /// only.
    EchoClient {
        /// The server's address (an IP address or a name the host resolves).
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// The server's port.
        #[arg(long, default_value_t = 8888)]
        port: u16,
        /// The message to send.
        #[arg(long, default_value = "Hello World!")]
        message: String,
        /// Connect to this Unix socket path instead (asyncio open_unix_connection; @NAME: a
        /// Linux abstract-namespace name).
        #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
        unix: Option<String>,
        /// Connect with TLS, trusting the host's platform certificate store (as asyncio's
        /// `ssl=True`; SSL_CERT_FILE / SSL_CERT_DIR are honoured). The server's certificate must
        /// match HOST (`localhost` with --unix).
        #[arg(long)]
        tls: bool,
        /// Connect with TLS, trusting only the CA certificates in this PEM file (the server's
        /// certificate must match HOST; `localhost` with --unix).
        #[arg(long, value_name = "CA", conflicts_with = "tls")]
        tls_ca: Option<PathBuf>,
    },
    /// Run the built-in socketpair example (the asyncio docs' "register an open socket to
    /// wait for data"); prints `Received: abc`.
    Socketpair,
}

/// A `--dir HOST_DIR[::GUEST_DIR]` grant: the host directory and where the app sees it.
#[derive(Clone, Debug)]
struct DirGrant {
    host: PathBuf,
    guest: String,
}

fn parse_dir(s: &str) -> Result<DirGrant, String> {
    let (host, guest) = s.split_once("::").unwrap_or((s, s));
    if host.is_empty() || guest.is_empty() {
        return Err(format!(
            "`{s}` is not HOST_DIR or HOST_DIR::GUEST_DIR (neither may be empty)"
        ));
    }
    Ok(DirGrant {
        host: PathBuf::from(host),
        guest: guest.to_owned(),
    })
}

fn parse_listen(s: &str) -> Result<ListenSpec, String> {
    s.parse::<ListenSpec>()
}

/// A demo's Unix path as the app sees it (`@NAME` becomes `\0NAME`) and the grant for it.
fn unix_target(path: &str) -> anyhow::Result<(String, UnixGrant)> {
    let grant = UnixGrant::parse(path).map_err(|e| anyhow::anyhow!("--unix {path}: {e}"))?;
    let grant = match grant {
        // The demo may use exactly this path, even when it names a directory.
        UnixGrant::Dir(dir) => UnixGrant::File(dir),
        other => other,
    };
    let address = match path.strip_prefix('@') {
        Some(name) => format!("\0{name}"),
        None => path.to_owned(),
    };
    Ok((address, grant))
}

fn parse_pattern(s: &str) -> Result<AddrPattern, String> {
    s.parse::<AddrPattern>().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => exit_code(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A process exit status from an app's code (exit statuses are 8 bits; other codes become 1).
fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// What SIGINT and SIGTERM do to the runs of this process.
///
/// The first signal asks every run whose context was made with [`ctx`](Self::ctx) to shut down
/// gracefully (see `wasio_host::shutdown`): the provider closes the app's servers and
/// connections, so its run returns, and `wasio_host::run` stops a run that has not ended within
/// the grace period. A second signal, or a run stuck past the grace period (an app computing
/// without ever waiting holds its thread), makes the process exit at once from a task of its
/// own. Every path removes the Unix socket files the host created for the runs (if they are
/// still the ones it created) and exits with 128 + the signal's number.
#[derive(Clone)]
struct Interrupts {
    shutdown: Shutdown,
    files: SocketFiles,
    /// The exit status the first signal set (130 or 143); 0 while none came.
    status: Arc<AtomicI32>,
}

/// 128 + SIGINT, as a shell reports a process that Ctrl-C ended.
const SIGINT_STATUS: i32 = 130;
/// 128 + SIGTERM.
const SIGTERM_STATUS: i32 = 143;

/// How long after the grace period the process exits even if the run could not be stopped
/// (its thread busy in wasm); the run normally ends, or is stopped, before.
const HARD_STOP_MARGIN: Duration = Duration::from_secs(1);

impl Interrupts {
    /// Catches SIGINT and SIGTERM from now on (they no longer end the process at once).
    fn install() -> anyhow::Result<Self> {
        let mut int = signal(SignalKind::interrupt()).context("catching SIGINT")?;
        let mut term = signal(SignalKind::terminate()).context("catching SIGTERM")?;
        let interrupts = Self {
            shutdown: Shutdown::new(),
            files: SocketFiles::new(),
            status: Arc::new(AtomicI32::new(0)),
        };
        let this = interrupts.clone();
        tokio::spawn(async move {
            let (name, status) = next_signal(&mut int, &mut term).await;
            this.status.store(status, Ordering::SeqCst);
            let grace = this.shutdown.grace();
            eprintln!(
                "wasio: {name} received: closing the app's servers and connections (at most \
                 {grace:?}; {name} again stops it at once)"
            );
            this.shutdown.request();
            tokio::select! {
                _ = next_signal(&mut int, &mut term) => {}
                () = tokio::time::sleep(grace + HARD_STOP_MARGIN) => {
                    eprintln!("wasio: the run did not end within {grace:?}; stopping it");
                }
            }
            this.files.remove_all();
            std::process::exit(status);
        });
        Ok(interrupts)
    }

    /// `builder` with this process's shutdown handle and socket file registry.
    fn ctx(&self, builder: WasioCtxBuilder) -> WasioCtxBuilder {
        builder
            .shutdown(self.shutdown.clone())
            .socket_files(self.files.clone())
    }

    /// The process's exit status once its runs ended: after a signal, 130 or 143 (with the
    /// socket files removed), whatever the runs did; else `ended`'s.
    fn finish(&self, ended: anyhow::Result<i32>) -> anyhow::Result<i32> {
        let status = self.status.load(Ordering::SeqCst);
        if status == 0 {
            return ended;
        }
        self.files.remove_all();
        if let Err(e) = ended {
            eprintln!("error: {e:#}");
        }
        Ok(status)
    }
}

/// The next SIGINT or SIGTERM: its name and the exit status it calls for.
async fn next_signal(int: &mut Signal, term: &mut Signal) -> (&'static str, i32) {
    tokio::select! {
        _ = int.recv() => ("SIGINT", SIGINT_STATUS),
        _ = term.recv() => ("SIGTERM", SIGTERM_STATUS),
    }
}

async fn dispatch(command: Command) -> anyhow::Result<i32> {
    // Composing runs nothing: Ctrl-C keeps ending it at once.
    if let Command::Compose { app, output } = &command {
        return compose_app(app, output);
    }
    let interrupts = Interrupts::install()?;
    let ended = execute(command, &interrupts).await;
    interrupts.finish(ended)
}

/// `wasio compose`.
fn compose_app(app: &Path, output: &Path) -> anyhow::Result<i32> {
    let bytes = read(app)?;
    let composed = compose(&bytes, PROVIDER)
        .with_context(|| format!("composing {} with the provider", app.display()))?;
    std::fs::write(output, composed).with_context(|| format!("writing {}", output.display()))?;
    Ok(0)
}

/// Carries out `command`; `interrupts` shuts its runs down.
async fn execute(command: Command, interrupts: &Interrupts) -> anyhow::Result<i32> {
    match command {
        Command::Run(args) => run(args, interrupts).await,
        Command::Build { script, output } => {
            let source = read_script(&script)?;
            python_app::build(&script, &source, &output, python_cache(false).as_deref())?;
            Ok(0)
        }
        Command::Compose { app, output } => compose_app(&app, &output),
        Command::Demo {
            example: None,
            flags,
        } => demo(&flags, interrupts).await,
        Command::Demo {
            flags,
            example: Some(DemoExample::Socketpair),
        } => {
            run_inherited(
                SOCKETPAIR,
                &["socketpair".to_owned()],
                Capabilities::deny_all(),
                &flags,
                interrupts,
            )
            .await
        }
        Command::Demo {
            flags,
            example:
                Some(DemoExample::EchoServer {
                    host,
                    port,
                    unix,
                    tls_cert,
                    tls_key,
                }),
        } => {
            let (mut args, caps) = demo_target("echo-server", unix, host, port, Use::Listen)?;
            if let (Some(cert), Some(key)) = (tls_cert, tls_key) {
                let (cert_pem, key_pem) = (read_text(&cert)?, read_text(&key)?);
                // Checked now, as asyncio's `load_cert_chain`: not at each client's handshake.
                wasio_host::tls::config::check_identity(&cert_pem, &key_pem).map_err(|e| {
                    anyhow::anyhow!(
                        "--tls-cert {} --tls-key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?;
                args.extend(["--tls-cert-pem".to_owned(), cert_pem]);
                args.extend(["--tls-key-pem".to_owned(), key_pem]);
            }
            run_inherited(ECHO_SERVER, &args, caps, &flags, interrupts).await
        }
        Command::Demo {
            flags,
            example:
                Some(DemoExample::EchoClient {
                    host,
                    port,
                    message,
                    unix,
                    tls,
                    tls_ca,
                }),
        } => {
            let (mut args, caps) = demo_target("echo-client", unix, host, port, Use::Connect)?;
            args.extend(["--message".to_owned(), message]);
            if let Some(ca) = tls_ca {
                let pem = read_text(&ca)?;
                wasio_host::tls::config::check_ca(&pem)
                    .map_err(|e| anyhow::anyhow!("--tls-ca {}: {e}", ca.display()))?;
                args.extend(["--tls-ca-pem".to_owned(), pem]);
            } else if tls {
                args.push("--tls".to_owned());
            }
            run_inherited(ECHO_CLIENT, &args, caps, &flags, interrupts).await
        }
    }
}

/// Whether a demo listens on or connects to its address.
enum Use {
    Listen,
    Connect,
}

/// A demo app's arguments naming its address (`--unix PATH`, or `--host H --port P`) and the one
/// grant that address needs.
fn demo_target(
    name: &str,
    unix: Option<String>,
    host: String,
    port: u16,
    usage: Use,
) -> anyhow::Result<(Vec<String>, Capabilities)> {
    let mut caps = Capabilities::deny_all();
    let mut args = vec![name.to_owned()];
    match unix {
        Some(path) => {
            let (address, grant) = unix_target(&path)?;
            caps.allow_unix(grant);
            args.extend(["--unix".to_owned(), address]);
        }
        None => {
            for addr in resolve(&host, port)? {
                let pattern = AddrPattern::exact(addr);
                match usage {
                    Use::Listen => {
                        caps.allow_listen(pattern);
                    }
                    Use::Connect => {
                        caps.allow_connect(pattern);
                    }
                }
            }
            args.extend([
                "--host".to_owned(),
                host,
                "--port".to_owned(),
                port.to_string(),
            ]);
        }
    }
    Ok((args, caps))
}

/// The largest app file wasio reads (`run`, `compose`): far above any real component (wasio's
/// composed examples are a few MiB), low enough that a wrong path (`/dev/zero`, a disk image)
/// is refused instead of filling memory.
const MAX_APP_FILE: u64 = 256 << 20;

/// The largest PEM file wasio reads (`--tls-cert`, `--tls-key`, `--tls-ca`); a large CA bundle
/// is about 200 KiB.
const MAX_PEM_FILE: u64 = 16 << 20;

/// A PEM file's text (a component reads no files: the demo hands PEM texts in as arguments).
fn read_text(path: &Path) -> anyhow::Result<String> {
    let bytes = read_bounded(path, MAX_PEM_FILE, "a PEM file")?;
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{} is not a PEM text file (not UTF-8)", path.display()))
}

/// A Python script's bytes (at most 1 MiB).
fn read_script(path: &Path) -> anyhow::Result<Vec<u8>> {
    read_bounded(path, 1 << 20, "a Python script (.py)")
}

/// Where built Python components are kept: the compile cache directory, unless `--no-cache`.
fn python_cache(no_cache: bool) -> Option<PathBuf> {
    if no_cache {
        None
    } else {
        compile_cache::default_dir()
    }
}

/// An app file's bytes (at most [`MAX_APP_FILE`]).
fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    read_bounded(path, MAX_APP_FILE, "an app component (.wasm)")
}

/// Reads at most `max` bytes of a regular file or a pipe (`<(...)`), refusing anything else
/// (a directory, a device such as /dev/zero, a socket) and anything larger, in one line. The
/// kind and size are checked on the opened file itself, which is the one read.
fn read_bounded(path: &Path, max: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    use std::os::unix::fs::FileTypeExt as _;
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("reading {shown}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("reading {shown}"))?;
    let kind = meta.file_type();
    let not = if kind.is_dir() {
        Some("a directory")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    };
    if let Some(not) = not {
        bail!("{shown} is {not}, not a file: give {what}");
    }
    let too_large = || {
        anyhow::anyhow!(
            "{shown} is larger than {}, the most wasio reads for {what}",
            Size(max)
        )
    };
    if kind.is_file() && meta.len() > max {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {shown}"))?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The addresses `host` names, for exact grants (the app resolves the same name itself).
fn resolve(host: &str, port: u16) -> anyhow::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving --host {host}"))?
        .collect();
    if addrs.is_empty() {
        bail!("--host {host} resolves to no address");
    }
    Ok(addrs)
}

/// Composes (if needed) and compiles an app.
fn prepare(runtime: &Runtime, app: &[u8]) -> anyhow::Result<Component> {
    let prepared = embedded::prepare(app)?;
    runtime.compile(&prepared)
}

/// Reports how an app ended and returns its exit status.
fn report(exit: Exit) -> i32 {
    match &exit {
        Exit::Trap(e) => eprintln!("error: the app trapped: {}", trap_report(e)),
        Exit::Timeout(_) | Exit::MemoryLimit(_) | Exit::ShutdownTimedOut(_) => {
            eprintln!("error: the app was {exit}")
        }
        Exit::Code(_) => {}
    }
    exit.code()
}

async fn run(args: RunArgs, interrupts: &Interrupts) -> anyhow::Result<i32> {
    // The directories are opened first: a missing one is reported before any slow build.
    let mut dirs = WasioCtx::builder();
    for grant in &args.dir {
        dirs = dirs
            .read_only_dir(&grant.host, &grant.guest)
            .map_err(|e| anyhow::anyhow!("--dir: {e}"))?;
    }
    let bytes = if python_app::is_script(&args.app) {
        let source = read_script(&args.app)?;
        python_app::component(
            &args.app,
            &source,
            python_cache(args.flags.no_cache).as_deref(),
        )?
    } else {
        read(&args.app)?
    };
    let mut caps = if args.allow_net {
        Capabilities::allow_all()
    } else {
        Capabilities::deny_all()
    };
    for p in args.allow_connect {
        caps.allow_connect(p);
    }
    for p in args.allow_listen {
        caps.allow_listen(p);
    }
    for g in args.allow_unix {
        caps.allow_unix(g);
    }
    let argv0 = args.app.file_name().map_or_else(
        || args.app.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut argv = vec![argv0];
    argv.extend(args.args);
    let limits = args.flags.limits();
    let runtime = args.flags.runtime()?;
    let component =
        prepare(&runtime, &bytes).with_context(|| format!("preparing {}", args.app.display()))?;
    let mut builder = interrupts.ctx(
        dirs.args(&argv)
            .inherit_stdio()
            .capabilities(caps)
            .limits(limits),
    );
    for spec in &args.listen {
        let listener = Preopened::open(spec)?;
        eprintln!(
            "wasio: listening on {} ({})",
            listener.local_address(),
            listener.name()
        );
        builder = builder.preopen(listener);
    }
    let ctx = builder.build();
    Ok(report(runtime.run(&component, ctx).await?))
}

/// Runs a built-in example with inherited stdio.
async fn run_inherited(
    app: &[u8],
    argv: &[String],
    caps: Capabilities,
    flags: &RunFlags,
    interrupts: &Interrupts,
) -> anyhow::Result<i32> {
    let runtime = flags.runtime()?;
    let component = prepare(&runtime, app)?;
    let ctx = interrupts
        .ctx(
            WasioCtx::builder()
                .args(argv)
                .inherit_stdio()
                .capabilities(caps)
                .limits(flags.limits()),
        )
        .build();
    Ok(report(runtime.run(&component, ctx).await?))
}

/// One line of demo output: who wrote it, and the text.
type Line = (&'static str, String);

/// A context for a demo component: loopback grants, stdout and stderr captured into `lines`
/// labelled `label` and `label stderr`.
fn demo_ctx(
    argv: &[String],
    label: &'static str,
    lines: &mpsc::UnboundedSender<Line>,
    limits: &Limits,
    interrupts: &Interrupts,
) -> WasioCtx {
    let capture = |label: &'static str| {
        let lines = lines.clone();
        LineCapture::with_sink(move |line| {
            // The demo loop stops reading only when it is done; a late line is dropped.
            let _ = lines.send((label, line));
        })
    };
    let stderr_label = if label == "server" {
        "server stderr"
    } else {
        "client stderr"
    };
    interrupts
        .ctx(
            WasioCtx::builder()
                .args(argv)
                .stdout(capture(label))
                .stderr(capture(stderr_label))
                .capabilities(Capabilities::loopback())
                .limits(limits.clone()),
        )
        .build()
}

/// The port in the echo server's `Serving on 127.0.0.1:PORT` line.
fn serving_port(line: &str) -> Option<u16> {
    let first = line.strip_prefix("Serving on ")?.split(", ").next()?;
    first.rsplit_once(':')?.1.parse().ok()
}

/// How long the demo waits for the server to print its address, and for its last line.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(30);
const SERVER_FINISH_TIMEOUT: Duration = Duration::from_secs(2);

async fn demo(flags: &RunFlags, interrupts: &Interrupts) -> anyhow::Result<i32> {
    let limits = flags.limits();
    let runtime = flags.runtime()?;
    println!("[demo] compiling the echo server and client components...");
    let server = prepare(&runtime, ECHO_SERVER).context("preparing the echo server")?;
    let client = prepare(&runtime, ECHO_CLIENT).context("preparing the echo client")?;

    let (tx, mut lines) = mpsc::unbounded_channel::<Line>();
    let server_argv = ["echo-server", "--host", "127.0.0.1", "--port", "0"].map(String::from);
    let server_ctx = demo_ctx(&server_argv, "server", &tx, &limits, interrupts);
    let server_runtime = runtime.clone();
    let mut server_task =
        tokio::spawn(async move { server_runtime.run(&server, server_ctx).await });

    // Print the server's lines until it says where it serves.
    let port = tokio::time::timeout(SERVER_START_TIMEOUT, async {
        loop {
            tokio::select! {
                Some((who, line)) = lines.recv() => {
                    println!("[{who}] {line}");
                    if who == "server" && let Some(port) = serving_port(&line) {
                        return Ok(port);
                    }
                }
                ended = &mut server_task => {
                    while let Ok((who, line)) = lines.try_recv() {
                        println!("[{who}] {line}");
                    }
                    return Err(match ended {
                        Ok(Ok(exit)) => anyhow::anyhow!("the echo server stopped before serving: {exit}"),
                        Ok(Err(e)) => e.context("the echo server could not start"),
                        Err(e) => anyhow::anyhow!("the echo server task failed: {e}"),
                    });
                }
            }
        }
    })
    .await
    .context("the echo server did not report its address in time")??;

    let client_argv = [
        "echo-client",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--message",
        "Hello World!",
    ]
    .map(String::from);
    let client_ctx = demo_ctx(&client_argv, "client", &tx, &limits, interrupts);
    drop(tx);
    let client_runtime = runtime.clone();
    let mut client_task =
        tokio::spawn(async move { client_runtime.run(&client, client_ctx).await });
    let client_exit = loop {
        tokio::select! {
            Some((who, line)) = lines.recv() => println!("[{who}] {line}"),
            ended = &mut client_task => break ended,
        }
    };

    // Let the server finish its side of the conversation, then stop it.
    let _ = tokio::time::timeout(SERVER_FINISH_TIMEOUT, async {
        while let Some((who, line)) = lines.recv().await {
            println!("[{who}] {line}");
            if who == "server" && line == "Close the connection" {
                break;
            }
        }
    })
    .await;
    server_task.abort();
    let _ = server_task.await;
    while let Ok((who, line)) = lines.try_recv() {
        println!("[{who}] {line}");
    }
    println!("[demo] server stopped");

    let exit = client_exit
        .context("the echo client task failed")?
        .context("the echo client could not start")?;
    println!("[demo] client {exit}");
    Ok(report(exit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_port_reads_the_first_address() {
        assert_eq!(serving_port("Serving on 127.0.0.1:41231"), Some(41231));
        assert_eq!(serving_port("Serving on [::1]:80, 127.0.0.1:80"), Some(80));
        assert_eq!(serving_port("Received 'x'"), None);
        assert_eq!(serving_port("Serving on nowhere"), None);
    }

    #[test]
    fn the_help_states_the_grace_period() {
        let grace = wasio_host::shutdown::DEFAULT_GRACE;
        assert!(AFTER_HELP.contains(&format!("wasio waits at most {grace:?} for that")));
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
