//! The command line: every clap type of `wasio` (subcommands, flags, their help texts) and the
//! parsers of flag values.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use wasio_host::compile_cache;
use wasio_host::limits::{self, Limits, Size};
use wasio_host::{AddrPattern, ListenSpec, Runtime, UnixGrant};

pub(crate) const AFTER_HELP: &str = "\
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

Exit status: the app's (0 when its run returns ok; when it returns an error, the status it set
with wasio:streams' set-exit-status, as Python's sys.exit(3), or else 1; or the code it passes
to exit); 134 if it traps; 137 if it reached --max-memory; 124 if it reached --timeout;
130 or 143 after SIGINT or SIGTERM; 1 if wasio cannot run it; 2 for a usage error.";

/// Runs WebAssembly components that use asyncio-style streams (wasio:streams) on WASI 0.3.
#[derive(Parser)]
#[command(name = "wasio", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run an app component's wasi:cli/run@0.3.0.
    ///
    /// If APP imports wasio:streams it is first composed with the provider built into wasio; an
    /// app that links the stream semantics itself (wasio-sdk's default) runs as it is.
    /// The app inherits wasio's stdin, stdout and stderr; it sees no environment variables and,
    /// unless granted, no files and no network.
    #[command(after_help = AFTER_HELP)]
    Run(RunArgs),
    /// Build a Python asyncio script into an app component (needs `pip install ./python`).
    ///
    /// The script's own modules (NAME.py or a package NAME/ beside it, for each name its
    /// imports name) are built in; the build works on copies and sees nothing else of the host.
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
    /// runs it as is. An app that imports no wasio:streams (a Rust app in wasio-sdk's default
    /// linked mode) has nothing to compose: the command says so and fails.
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
pub(crate) struct Cap<T>(Option<T>);

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

/// The most workers a run may have.
const MAX_WORKERS: usize = 1024;

fn parse_workers(s: &str) -> Result<usize, String> {
    if s.trim() == "auto" {
        return Ok(std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    match s.trim().parse::<usize>() {
        Ok(n @ 1..=MAX_WORKERS) => Ok(n),
        _ => Err(format!(
            "`{s}` is not a worker count: write a number from 1 to {MAX_WORKERS}, or `auto`"
        )),
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
pub(crate) struct RunFlags {
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
    pub(crate) no_cache: bool,
}

impl RunFlags {
    /// A runtime for these flags: with a timeout, one whose engine can stop busy apps too; with
    /// the compile cache unless `--no-cache` (a cache that cannot be set up only costs speed,
    /// so the run goes on without it, with a warning).
    pub(crate) fn runtime(&self) -> anyhow::Result<Runtime> {
        let mut config = if self.timeout.is_some() {
            wasio_host::config_with_deadlines()
        } else {
            wasio_host::config()
        };
        if !self.no_cache
            && let Some(dir) = compile_cache::default_dir()
            && let Err(e) = compile_cache::enable(&mut config, &dir)
        {
            say!("wasio: warning: compiling without the cache: {e:#}");
        }
        Runtime::from_config(&config)
    }

    /// The run's resource limits.
    pub(crate) fn limits(&self) -> Limits {
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

/// The arguments of `wasio run`.
#[derive(Args)]
pub(crate) struct RunArgs {
    /// The app component (.wasm: a file or a pipe, at most 256 MiB), or a Python asyncio script
    /// (.py, built with the wasio-asyncio package, see `wasio build`); the app sees its file
    /// name as its program name (argv 0).
    pub(crate) app: PathBuf,
    /// Allow TCP connections to addresses matching PATTERN (repeatable).
    #[arg(long, value_name = "PATTERN", value_parser = parse_pattern)]
    pub(crate) allow_connect: Vec<AddrPattern>,
    /// Allow binding and listening on addresses matching PATTERN, and accepting any client on
    /// them (repeatable). A port 0 grant allows a port the OS picks.
    #[arg(long, value_name = "PATTERN", value_parser = parse_pattern)]
    pub(crate) allow_listen: Vec<AddrPattern>,
    /// Allow all network access (TCP and UDP, any address). Unix paths need --allow-unix.
    #[arg(long)]
    pub(crate) allow_net: bool,
    /// Allow connecting to and listening on Unix sockets at PATH: a file, a directory and
    /// everything under it (an existing directory, or PATH ending in /), @NAME (a Linux
    /// abstract-namespace name) or @* (repeatable).
    #[arg(long, value_name = "PATH", value_parser = UnixGrant::parse)]
    pub(crate) allow_unix: Vec<UnixGrant>,
    /// Open a listener before the run for the app to adopt as a server (asyncio
    /// `start_server(sock=...)`): tcp:HOST:PORT or unix:PATH (unix:@NAME: abstract namespace).
    /// A stale socket file at PATH is replaced, and the file is removed after the run
    /// (repeatable).
    #[arg(long, value_name = "SPEC", value_parser = parse_listen)]
    pub(crate) listen: Vec<ListenSpec>,
    /// Let the app read the host directory HOST_DIR, which it sees at GUEST_DIR (default: the
    /// same path), read-only: it may list it and read the files under it, not create, change or
    /// remove anything there (repeatable; as `wasmtime run --dir`). HOST_DIR must exist.
    #[arg(long, value_name = "HOST_DIR[::GUEST_DIR]", value_parser = parse_dir)]
    pub(crate) dir: Vec<DirGrant>,
    /// Run N instances of the app (workers), each in its own store on its own thread, or
    /// `auto`: one per available core. Every listener the app opens, and every --listen one, is
    /// shared, so connections are spread across the workers; workers share no memory.
    /// --max-connections counts all workers' sockets together, --max-memory caps each worker.
    /// With more than one, each line a worker prints starts with `[worker K] `. A worker that
    /// traps or reaches a limit ends the run (the others shut down as on Ctrl-C).
    #[arg(long, value_name = "N|auto", default_value = "1", value_parser = parse_workers)]
    pub(crate) workers: usize,
    #[command(flatten)]
    pub(crate) flags: RunFlags,
    /// Arguments passed to the app (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    pub(crate) args: Vec<String>,
}

/// The built-in examples `wasio demo` runs one at a time.
#[derive(Subcommand)]
pub(crate) enum DemoExample {
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
pub(crate) struct DirGrant {
    pub(crate) host: PathBuf,
    pub(crate) guest: String,
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

fn parse_pattern(s: &str) -> Result<AddrPattern, String> {
    s.parse::<AddrPattern>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
