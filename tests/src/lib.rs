//! Shared helpers of wasio's integration tests: compile each embedded component once per test
//! binary, run it in wasmtime with chosen arguments and network grants, and read its output lines.

pub mod certs;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wasio_host::capture::LineCapture;
use wasio_host::embedded::prepare;
use wasio_host::{Capabilities, Exit, Limits, MemoryUsage, Preopened, Runtime, WasioCtx};
use wasmtime::component::Component;

pub use wasio_host::embedded::{ECHO_CLIENT, ECHO_SERVER, HTTP_HEADERS, SOCKETPAIR};

/// Every test and bench component (tests/apps/*, bench/apps/*): `PROBE`, `STREAMS_TESTS`,
/// `SDK_APP`, `TLS_APP`, `LINE_ECHO`, and any new one, by the name of its package.
pub use wasio_test_components::*;

/// How long any single wait in a test may take before the test fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(60);

type Compiled = Result<Component, String>;

/// One runtime per test binary; compiling a composed component takes seconds in a debug build.
fn runtime() -> anyhow::Result<&'static Runtime> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Runtime::new().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
}

/// Which build of the test apps that use wasio-sdk a test binary runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdkMode {
    /// The default build: wasio-streams linked into the app.
    Linked,
    /// Built with wasio-sdk's `composed` feature: the app imports `wasio:streams` and runs
    /// composed with the provider.
    Composed,
}

/// The mode of this test binary: the `composed` test target (the integration suite's second
/// build, see Cargo.toml) runs the composed builds, every other binary the linked ones. Apps
/// that do not use wasio-sdk have one build, which runs in both.
pub fn sdk_mode() -> SdkMode {
    static MODE: OnceLock<SdkMode> = OnceLock::new();
    *MODE.get_or_init(|| {
        let composed = std::env::current_exe().ok().is_some_and(|exe| {
            exe.file_stem()
                .and_then(|stem| stem.to_str())
                .is_some_and(|stem| stem == "composed" || stem.starts_with("composed-"))
        });
        if composed {
            SdkMode::Composed
        } else {
            SdkMode::Linked
        }
    })
}

/// `app`'s build with wasio-sdk's `composed` feature, for a test app or an example; `app` itself
/// for a component without the SDK (the floor).
pub fn composed_build(app: &'static [u8]) -> &'static [u8] {
    use wasio_test_components::composed;
    let examples = [
        (ECHO_CLIENT, composed::ECHO_CLIENT),
        (ECHO_SERVER, composed::ECHO_SERVER),
        (HTTP_HEADERS, composed::HTTP_HEADERS),
        (SOCKETPAIR, composed::SOCKETPAIR),
    ];
    examples
        .into_iter()
        .find(|(linked, _)| std::ptr::eq(*linked, app))
        .map_or_else(|| wasio_test_components::composed_variant(app), |(_, c)| c)
}

/// `app` (its build for this binary's [`sdk_mode`]) composed with the provider if it imports
/// `wasio:streams`, and compiled, once per test binary.
pub fn compiled(app: &'static [u8]) -> anyhow::Result<Component> {
    let app = match sdk_mode() {
        SdkMode::Linked => app,
        SdkMode::Composed => composed_build(app),
    };
    static CACHE: OnceLock<Mutex<HashMap<usize, Arc<OnceLock<Compiled>>>>> = OnceLock::new();
    let slot = {
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        cache.entry(app.as_ptr() as usize).or_default().clone()
    };
    let compiled = slot.get_or_init(|| {
        let build = || -> anyhow::Result<Component> {
            let runtime = runtime()?;
            runtime.compile(&prepare(app)?)
        };
        build().map_err(|e| format!("{e:#}"))
    });
    compiled.clone().map_err(|e| anyhow!("{e}"))
}

/// Loopback grants for connect and listen, IPv4 and IPv6.
pub fn loopback() -> Capabilities {
    Capabilities::loopback()
}

/// A component running in the background; its stdout and stderr arrive as lines.
pub struct Running {
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
    task: JoinHandle<anyhow::Result<Exit>>,
    memory: MemoryUsage,
}

impl Running {
    /// The run's total linear memory (app and provider) as it goes.
    pub fn memory_usage(&self) -> MemoryUsage {
        self.memory.clone()
    }

    /// Waits for the next line that starts with `prefix`, returning it.
    pub async fn line_starting(&mut self, prefix: &str) -> anyhow::Result<String> {
        let found = tokio::time::timeout(WAIT, async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                if line.starts_with(prefix) {
                    return Some(line);
                }
            }
            None
        })
        .await
        .with_context(|| {
            format!(
                "no line starting with {prefix:?} in time; saw {:?}",
                self.seen
            )
        })?;
        found.ok_or_else(|| anyhow!("output ended without {prefix:?}; saw {:?}", self.seen))
    }

    /// Waits for the component to finish; returns its exit and every output line.
    pub async fn finish(mut self) -> anyhow::Result<(Exit, Vec<String>)> {
        let exit = tokio::time::timeout(WAIT, &mut self.task)
            .await
            .with_context(|| {
                format!("component did not finish in time; saw {:?}", self.seen)
            })???;
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        Ok((exit, std::mem::take(&mut self.seen)))
    }

    /// Whether the component's run has ended (for a server: it was stopped, or failed).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Every line received so far (after draining what is pending).
    pub fn lines_so_far(&mut self) -> Vec<String> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A server component serves forever: stop it with the test.
        self.task.abort();
    }
}

/// Starts `app` with `args` (argv[0] is added) and `caps`, in the background.
pub fn spawn(app: &'static [u8], args: &[&str], caps: Capabilities) -> anyhow::Result<Running> {
    spawn_with(app, args, caps, Vec::new())
}

/// [`spawn`], also handing the app listeners the host opened (`wasio run --listen`).
pub fn spawn_with(
    app: &'static [u8],
    args: &[&str],
    caps: Capabilities,
    preopened: Vec<Preopened>,
) -> anyhow::Result<Running> {
    spawn_limited(app, args, caps, preopened, Limits::default())
}

/// [`spawn_with`] under the given resource limits.
pub fn spawn_limited(
    app: &'static [u8],
    args: &[&str],
    caps: Capabilities,
    preopened: Vec<Preopened>,
    limits: Limits,
) -> anyhow::Result<Running> {
    let component = compiled(app)?;
    let runtime = runtime()?.clone();
    let (capture, lines) = LineCapture::new();
    let mut argv = vec!["app".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let mut builder = WasioCtx::builder()
        .args(&argv)
        .stdout(capture.clone())
        .stderr(capture)
        .capabilities(caps)
        .limits(limits);
    for listener in preopened {
        builder = builder.preopen(listener);
    }
    let ctx = builder.build();
    let memory = ctx.memory_usage();
    let task = tokio::spawn(async move { runtime.run(&component, ctx).await });
    Ok(Running {
        lines,
        seen: Vec::new(),
        task,
        memory,
    })
}

/// Runs `app` to completion and returns its exit and output lines.
pub async fn run(
    app: &'static [u8],
    args: &[&str],
    caps: Capabilities,
) -> anyhow::Result<(Exit, Vec<String>)> {
    spawn(app, args, caps)?.finish().await
}

/// Starts the echo-server example on `host` port 0 and returns it with the port it serves on.
pub async fn echo_server(host: &str) -> anyhow::Result<(Running, u16)> {
    echo_server_with(host, &[]).await
}

/// [`echo_server`] with more arguments (e.g. `--quiet`).
pub async fn echo_server_with(host: &str, extra: &[&str]) -> anyhow::Result<(Running, u16)> {
    let args = [&["--host", host, "--port", "0"], extra].concat();
    let mut server = spawn(ECHO_SERVER, &args, loopback())?;
    let line = server.line_starting("Serving on ").await?;
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .with_context(|| format!("no port in {line:?}"))?;
    Ok((server, port))
}

/// Grants for the Unix socket paths under `dir`.
pub fn unix_dir(dir: &std::path::Path) -> anyhow::Result<Capabilities> {
    let mut caps = Capabilities::deny_all();
    let grant =
        wasio_host::UnixGrant::parse(&format!("{}/", dir.display())).map_err(|e| anyhow!("{e}"))?;
    caps.allow_unix(grant);
    Ok(caps)
}

/// Starts the echo-server example on the Unix socket `path` (granted `dir`), once it serves.
pub async fn unix_echo_server(dir: &std::path::Path, path: &str) -> anyhow::Result<Running> {
    let mut server = spawn(ECHO_SERVER, &["--unix", path], unix_dir(dir)?)?;
    server.line_starting("Serving on ").await?;
    Ok(server)
}

/// Closes `stream` with a reset (SO_LINGER 0) instead of a FIN: what a crashed or hostile peer
/// does, and what no wasio socket can.
pub fn reset(stream: tokio::net::TcpStream) {
    #[allow(
        deprecated,
        reason = "a zero linger never blocks; it is how a reset is made"
    )]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Fails unless the exit is success, showing the output.
pub fn assert_success(exit: &Exit, lines: &[String]) -> anyhow::Result<()> {
    if !exit.success() {
        bail!("component failed ({exit}); output: {lines:#?}");
    }
    Ok(())
}

/// The names of this test binary's tests in `module` (e.g. `streams` gives `test_read` for
/// `streams::test_read`), as libtest lists them: a check that each scenario of a test component
/// has a test of the same name.
pub fn tests_in_module(module: &str) -> anyhow::Result<Vec<String>> {
    let exe = std::env::current_exe().context("this test binary's path is unknown")?;
    let output = std::process::Command::new(&exe)
        .args(["--list", "--format", "terse"])
        .output()
        .with_context(|| format!("could not list the tests of {}", exe.display()))?;
    if !output.status.success() {
        bail!(
            "{} --list failed: {}",
            exe.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // The `composed` binary nests the suite one module deeper (`integration::MODULE::test`).
    let prefixes = [format!("{module}::"), format!("integration::{module}::")];
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .filter_map(|name| prefixes.iter().find_map(|p| name.strip_prefix(p.as_str())))
        .map(str::to_string)
        .collect())
}

/// Fails unless every scenario `app --list` prints is named, as a string literal (`"NAME"`), in
/// `sources`: the text of the test files that run `app` (a scenario added to a test component
/// that no test runs fails the suite instead of passing silently).
pub async fn every_listed_scenario_is_named(
    app: &'static [u8],
    sources: &[&str],
) -> anyhow::Result<()> {
    let (exit, listed) = run(app, &["--list"], Capabilities::deny_all()).await?;
    assert_success(&exit, &listed)?;
    if listed.is_empty() {
        bail!("the app lists no scenario");
    }
    let missing: Vec<&String> = listed
        .iter()
        .filter(|name| {
            let quoted = format!("\"{name}\"");
            !sources.iter().any(|source| source.contains(&quoted))
        })
        .collect();
    if !missing.is_empty() {
        bail!("scenarios no test runs (no test file names them): {missing:?}");
    }
    Ok(())
}

/// Raises this process's soft open-files limit to at least `want` (within the hard limit);
/// returns the limit now in force.
pub fn raise_nofile(want: u64) -> anyhow::Result<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= want {
        return Ok(current);
    }
    let raised = limit.maximum.map_or(want, |max| max.min(want));
    limit.current = Some(raised);
    setrlimit(Resource::Nofile, limit)?;
    Ok(raised)
}
