//! Unix domain sockets and adopted host sockets through the provider: the echo-server example
//! on a Unix path against native tokio clients, the probe as Unix client and server
//! (half-close, cleanup_socket, a denied path), socketpairs, and listeners the host opened.

use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use wasio_host::{Capabilities, ListenSpec, Preopened, UnixGrant};
use wasio_tests::{
    ECHO_SERVER, PROBE, SOCKETPAIR, WAIT, assert_success, run, spawn, spawn_with, unix_dir,
    unix_echo_server,
};

/// A socket path in `dir`, as text.
fn sock(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// Sends `data` over `stream`, half-closes, reads the echo until EOF.
async fn echo_over(mut stream: UnixStream, data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let (mut rd, mut wr) = stream.split();
    let send = async {
        wr.write_all(data).await?;
        wr.shutdown().await?;
        anyhow::Ok(())
    };
    let receive = async {
        let mut echoed = Vec::with_capacity(data.len());
        rd.read_to_end(&mut echoed).await?;
        anyhow::Ok(echoed)
    };
    let (sent, echoed) = tokio::time::timeout(WAIT, async { tokio::join!(send, receive) }).await?;
    sent?;
    echoed
}

async fn echo(path: &str, data: &[u8]) -> anyhow::Result<Vec<u8>> {
    echo_over(UnixStream::connect(path).await?, data).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_echo_one_byte_and_the_docs_conversation() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = sock(dir.path(), "echo.sock");
    let mut server = unix_echo_server(dir.path(), &path).await?;
    let mut client = UnixStream::connect(&path).await?;
    client.write_all(b"x").await?;
    let mut byte = [0u8; 1];
    tokio::time::timeout(WAIT, client.read_exact(&mut byte)).await??;
    assert_eq!(&byte, b"x");
    drop(client);
    // A Unix client socket is unnamed: asyncio shows its peername as ''.
    assert_eq!(
        server.line_starting("Received ").await?,
        "Received 'x' from ''"
    );
    assert_eq!(server.line_starting("Send: ").await?, "Send: 'x'");
    server.line_starting("Close the connection").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_echo_one_mebibyte() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = sock(dir.path(), "echo.sock");
    let _server = unix_echo_server(dir.path(), &path).await?;
    let data: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect();
    let echoed = echo(&path, &data).await?;
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "the echo differs from what was sent");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_echo_one_hundred_concurrent_clients() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = sock(dir.path(), "echo.sock");
    let _server = unix_echo_server(dir.path(), &path).await?;
    let clients = (0..120u32).map(|i| {
        let path = path.clone();
        tokio::spawn(async move {
            let data = format!("client {i}: {}", "z".repeat(i as usize * 37)).into_bytes();
            let echoed = echo(&path, &data).await?;
            anyhow::ensure!(echoed == data, "client {i} got a different echo");
            anyhow::Ok(())
        })
    });
    for client in clients {
        client.await??;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_echo_on_an_abstract_name() -> anyhow::Result<()> {
    let name = format!("wasio-test-{}", std::process::id());
    let address = format!("\0{name}");
    let mut caps = Capabilities::deny_all();
    caps.allow_unix(wasio_host::UnixGrant::Abstract(name.into_bytes()));
    let mut server = spawn(ECHO_SERVER, &["--unix", &address], caps)?;
    server.line_starting("Serving on ").await?;
    assert_eq!(echo(&address, b"abstract").await?, b"abstract");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_client_half_close() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = sock(dir.path(), "peer.sock");
    let listener = UnixListener::bind(&path)?;
    let peer = tokio::spawn(async move {
        let (mut s, _) = tokio::time::timeout(WAIT, listener.accept()).await??;
        let mut got = Vec::new();
        // The probe's write_eof ends our read; then we answer on the still-open direction.
        s.read_to_end(&mut got).await?;
        s.write_all(b"after-eof:").await?;
        s.write_all(&got).await?;
        s.shutdown().await?;
        anyhow::Ok(got)
    });
    let (exit, lines) = run(PROBE, &["unix-half-close", &path], unix_dir(dir.path())?).await?;
    assert_success(&exit, &lines)?;
    assert_eq!(
        lines,
        [
            format!("peer {path:?} local \"\""),
            "write-after-eof Cannot call write() after write_eof()".to_string(),
            "answer after-eof:ping".to_string(),
            "at_eof true".to_string(),
            "done".to_string(),
        ]
    );
    assert_eq!(peer.await??, b"ping");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_unix_path_is_access_denied() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let granted = tempfile::tempdir()?;
    let path = sock(dir.path(), "peer.sock");
    let _listener = UnixListener::bind(&path)?;
    for scenario in ["unix-connect", "unix-serve"] {
        let target = if scenario == "unix-serve" {
            sock(dir.path(), "new.sock")
        } else {
            path.clone()
        };
        // A grant for another directory does not cover this one.
        let (exit, lines) = run(PROBE, &[scenario, &target], unix_dir(granted.path())?).await?;
        assert!(!exit.success(), "{lines:?}");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("error ErrorCode::AccessDenied("),
            "{lines:?}"
        );
        assert!(lines[0].contains("--allow-unix"), "{lines:?}");
    }
    assert!(!dir.path().join("new.sock").exists());
    // `..` does not escape a grant either.
    let escape = format!("{}/../{}", granted.path().display(), "x.sock");
    let (exit, lines) = run(PROBE, &["unix-serve", &escape], unix_dir(granted.path())?).await?;
    assert!(!exit.success(), "{lines:?}");
    assert!(
        lines[0].starts_with("error ErrorCode::AccessDenied("),
        "{lines:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_server_reports_its_path() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = sock(dir.path(), "s.sock");
    let (exit, lines) = run(PROBE, &["unix-serve", &path], unix_dir(dir.path())?).await?;
    assert_success(&exit, &lines)?;
    assert_eq!(lines, [format!("serving {path:?}"), "done".to_string()]);
    // cleanup_socket is on by default.
    assert!(!Path::new(&path).exists());
    Ok(())
}

/// What the test does to the socket file while the probe's server runs.
enum Meddle {
    Nothing,
    Remove,
    Replace,
}

/// Runs the probe's `unix-cleanup` scenario; returns whether the socket file exists afterwards
/// and, when the test replaced it, whether the replacement still answers.
async fn cleanup_case(cleanup: &str, meddle: Meddle) -> anyhow::Result<(bool, bool)> {
    let dir = tempfile::tempdir()?;
    let path = sock(dir.path(), "served.sock");
    let ctl = sock(dir.path(), "ctl.sock");
    let mut probe = spawn(
        PROBE,
        &["unix-cleanup", &path, &ctl, cleanup],
        unix_dir(dir.path())?,
    )?;
    probe.line_starting("serving").await?;
    assert!(std::fs::symlink_metadata(&path)?.file_type().is_socket());
    let replacement = match meddle {
        Meddle::Nothing => None,
        Meddle::Remove => {
            std::fs::remove_file(&path)?;
            None
        }
        Meddle::Replace => {
            std::fs::remove_file(&path)?;
            Some(UnixListener::bind(&path)?)
        }
    };
    let mut signal = UnixStream::connect(&ctl).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, signal.read_to_end(&mut answer)).await??;
    assert_eq!(answer, b"closed");
    let (exit, lines) = probe.finish().await?;
    assert_success(&exit, &lines)?;
    assert_eq!(lines, ["serving", "closed", "done"]);
    let exists = Path::new(&path).exists();
    let answers = match replacement {
        Some(listener) => {
            let connect = UnixStream::connect(&path);
            let (client, accepted) = tokio::join!(connect, listener.accept());
            client.is_ok() && accepted.is_ok()
        }
        None => false,
    };
    Ok((exists, answers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_removes_the_socket_file_on_close() -> anyhow::Result<()> {
    assert_eq!(cleanup_case("on", Meddle::Nothing).await?, (false, false));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_of_a_file_already_gone_is_quiet() -> anyhow::Result<()> {
    assert_eq!(cleanup_case("on", Meddle::Remove).await?, (false, false));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_keeps_a_replaced_socket_file() -> anyhow::Result<()> {
    assert_eq!(cleanup_case("on", Meddle::Replace).await?, (true, true));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_off_keeps_the_socket_file() -> anyhow::Result<()> {
    assert_eq!(cleanup_case("off", Meddle::Nothing).await?, (true, false));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketpair_example_prints_received_abc() -> anyhow::Result<()> {
    let (exit, lines) = run(SOCKETPAIR, &[], Capabilities::deny_all()).await?;
    assert_success(&exit, &lines)?;
    assert_eq!(lines, ["Received: abc"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketpair_half_close_and_credentials() -> anyhow::Result<()> {
    let (exit, lines) = run(PROBE, &["socketpair"], Capabilities::deny_all()).await?;
    assert_success(&exit, &lines)?;
    let credentials = if cfg!(any(target_os = "linux", target_os = "android")) {
        // The peer is this very process: its uid is ours.
        format!("credentials pid=true uid={}", current_uid()?)
    } else {
        lines[1].clone()
    };
    assert_eq!(
        lines,
        [
            "names \"\" \"\"".to_string(),
            credentials,
            "b got ping".to_string(),
            "b at_eof true".to_string(),
            "a got pong".to_string(),
            "done".to_string(),
        ]
    );
    Ok(())
}

/// This process's real uid, from /proc (no libc call needed).
fn current_uid() -> anyhow::Result<u32> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .ok_or_else(|| anyhow::anyhow!("no Uid line"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("bad Uid line"))?
        .parse()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preopened_tcp_and_unix_listeners_are_adopted() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = sock(dir.path(), "pre.sock");
    let unix = Preopened::open(&ListenSpec::Unix(path.clone()))?;
    let tcp = Preopened::open(&ListenSpec::Tcp("127.0.0.1:0".to_owned()))?;
    let tcp_addr = tcp.local_address();
    // No grants at all: the host opened these listeners, the app only adopts them.
    let mut server = spawn_with(
        ECHO_SERVER,
        &["--preopened"],
        Capabilities::deny_all(),
        vec![unix, tcp],
    )?;
    let first = server.line_starting("Serving on ").await?;
    let second = server.line_starting("Serving on ").await?;
    assert_eq!(first, format!("Serving on unix:{path} at {path}"));
    assert_eq!(second, format!("Serving on tcp:127.0.0.1:0 at {tcp_addr}"));
    assert_eq!(echo(&path, b"over unix").await?, b"over unix");
    let mut tcp_client = tokio::net::TcpStream::connect(&tcp_addr).await?;
    tcp_client.write_all(b"over tcp").await?;
    tcp_client.shutdown().await?;
    let mut echoed = Vec::new();
    tokio::time::timeout(WAIT, tcp_client.read_to_end(&mut echoed)).await??;
    assert_eq!(echoed, b"over tcp");
    let tcp_peer = tcp_client.local_addr()?;
    let mut received = Vec::new();
    for _ in 0..2 {
        received.push(server.line_starting("Received ").await?);
    }
    received.sort();
    assert_eq!(
        received,
        [
            format!(
                "Received 'over tcp' from ('127.0.0.1', {})",
                tcp_peer.port()
            ),
            "Received 'over unix' from ''".to_string(),
        ]
    );
    // The host removes the socket file it created once the run is over.
    drop(server);
    let gone = tokio::time::timeout(WAIT, async {
        while Path::new(&path).exists() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the pre-opened socket file outlived the run");
    Ok(())
}

// Grant escapes (issue 16): `..` after a symlink, symlinks as the last component, stale-socket
// takeover, and a symlink swapped while the app connects and binds. Before the fix the grant
// check removed `..` lexically and the kernel then resolved the app's path string again.

/// A tree for the escape tests: `granted/` (the grant) with `granted/link` -> `outside/sub`, and
/// `outside/` with a live listener `x.sock` and a dead socket file `victim.sock`.
struct Tree {
    _dir: tempfile::TempDir,
    granted: std::path::PathBuf,
    outside: std::path::PathBuf,
    /// The live listener at `outside/x.sock`: must never see a connection.
    listener: UnixListener,
    /// Device and inode of `outside/victim.sock`: must never change.
    victim: (u64, u64),
}

impl Tree {
    fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let root = std::fs::canonicalize(dir.path())?;
        let granted = root.join("granted");
        let outside = root.join("outside");
        std::fs::create_dir_all(&granted)?;
        std::fs::create_dir_all(outside.join("sub"))?;
        std::os::unix::fs::symlink(outside.join("sub"), granted.join("link"))?;
        let listener = UnixListener::bind(outside.join("x.sock"))?;
        // A socket file nobody listens on: what a stale-socket replacement would remove.
        drop(std::os::unix::net::UnixListener::bind(
            outside.join("victim.sock"),
        )?);
        let victim = file_id(&outside.join("victim.sock"))?;
        Ok(Self {
            _dir: dir,
            granted,
            outside,
            listener,
            victim,
        })
    }

    fn at(&self, relative: &str) -> String {
        self.granted.join(relative).display().to_string()
    }

    /// Asserts nothing outside was reached, created or removed.
    async fn assert_untouched(&self) -> anyhow::Result<()> {
        let accepted = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            self.listener.accept(),
        )
        .await;
        assert!(accepted.is_err(), "a connection reached outside the grant");
        assert_eq!(
            file_id(&self.outside.join("victim.sock"))?,
            self.victim,
            "the socket file outside the grant was replaced"
        );
        let mut names: Vec<String> = std::fs::read_dir(&self.outside)?
            .chain(std::fs::read_dir(self.outside.join("sub"))?)
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        names.sort();
        assert_eq!(
            names,
            ["sub", "victim.sock", "x.sock"],
            "files outside the grant"
        );
        Ok(())
    }
}

fn file_id(path: &Path) -> anyhow::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::symlink_metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// Runs the probe's `scenario` on `target` and returns its one error line.
async fn probe_error(scenario: &str, target: &str, caps: Capabilities) -> anyhow::Result<String> {
    let (exit, lines) = run(PROBE, &[scenario, target], caps).await?;
    assert!(!exit.success(), "{scenario} {target}: {lines:?}");
    assert_eq!(lines.len(), 1, "{scenario} {target}: {lines:?}");
    Ok(lines[0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dotdot_after_a_symlink_does_not_leave_the_grant() -> anyhow::Result<()> {
    let tree = Tree::new()?;
    // The kernel resolves `link` first: `link/..` is `outside/`.
    for (scenario, name) in [
        ("unix-connect", "x.sock"),
        ("unix-serve", "new.sock"),
        ("unix-serve", "victim.sock"),
        ("unix-serve", "x.sock"),
    ] {
        let target = tree.at(&format!("link/../{name}"));
        let line = probe_error(scenario, &target, unix_dir(&tree.granted)?).await?;
        assert!(
            line.starts_with("error ErrorCode::AccessDenied("),
            "{scenario} {target}: {line}"
        );
    }
    tree.assert_untouched().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_as_last_component_does_not_lead_out() -> anyhow::Result<()> {
    let tree = Tree::new()?;
    std::os::unix::fs::symlink(tree.outside.join("x.sock"), tree.granted.join("out.sock"))?;
    std::os::unix::fs::symlink(
        tree.outside.join("new.sock"),
        tree.granted.join("dangling.sock"),
    )?;
    std::os::unix::fs::symlink(
        tree.outside.join("victim.sock"),
        tree.granted.join("v.sock"),
    )?;
    let caps = || unix_dir(&tree.granted);
    for name in ["out.sock", "dangling.sock", "v.sock"] {
        let line = probe_error("unix-connect", &tree.at(name), caps()?).await?;
        assert!(
            line.starts_with("error ErrorCode::AccessDenied("),
            "{name}: {line}"
        );
        // bind never follows the link: the name is taken.
        let line = probe_error("unix-serve", &tree.at(name), caps()?).await?;
        assert_eq!(line, "error ErrorCode::AddressInUse", "{name}");
    }
    tree.assert_untouched().await?;
    // A symlink that stays inside the grant keeps working.
    let inside = UnixListener::bind(tree.granted.join("real.sock"))?;
    std::os::unix::fs::symlink("real.sock", tree.granted.join("alias.sock"))?;
    let (exit, lines) = run(PROBE, &["unix-connect", &tree.at("alias.sock")], caps()?).await?;
    assert_success(&exit, &lines)?;
    assert_eq!(
        lines[0],
        format!("peer {:?} local \"\"", tree.at("real.sock"))
    );
    drop(inside);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_grant_is_not_bypassed() -> anyhow::Result<()> {
    let tree = Tree::new()?;
    let mut caps = Capabilities::deny_all();
    caps.allow_unix(UnixGrant::parse(&tree.at("app.sock")).map_err(anyhow::Error::msg)?);
    // `granted/link/../app.sock` is `outside/app.sock` to the kernel.
    let _twin = UnixListener::bind(tree.outside.join("app.sock"))?;
    let line = probe_error("unix-connect", &tree.at("link/../app.sock"), caps.clone()).await?;
    assert!(line.starts_with("error ErrorCode::AccessDenied("), "{line}");
    // The granted name as a symlink to a socket outside.
    std::os::unix::fs::symlink(tree.outside.join("x.sock"), tree.granted.join("app.sock"))?;
    let line = probe_error("unix-connect", &tree.at("app.sock"), caps).await?;
    assert!(line.starts_with("error ErrorCode::AccessDenied("), "{line}");
    std::fs::remove_file(tree.outside.join("app.sock"))?;
    tree.assert_untouched().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_socket_is_not_replaced() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = sock(dir.path(), "live.sock");
    let live = UnixListener::bind(&path)?;
    let before = file_id(Path::new(&path))?;
    let line = probe_error("unix-serve", &path, unix_dir(dir.path())?).await?;
    assert_eq!(line, "error ErrorCode::AddressInUse");
    assert_eq!(file_id(Path::new(&path))?, before);
    // The probe connection the host made to tell a live socket from a stale one, then ours.
    let (_probe, _) = tokio::time::timeout(WAIT, live.accept()).await??;
    let (client, accepted) = tokio::join!(UnixStream::connect(&path), live.accept());
    client?;
    accepted?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_unix_path_is_not_found() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let granted = || unix_dir(dir.path());
    // asyncio: FileNotFoundError for both.
    let line = probe_error("unix-connect", &sock(dir.path(), "nobody.sock"), granted()?).await?;
    assert_eq!(line, "error ErrorCode::NotFound");
    let line = probe_error("unix-serve", &sock(dir.path(), "no/dir/x.sock"), granted()?).await?;
    assert_eq!(line, "error ErrorCode::NotFound");
    assert!(!dir.path().join("no").exists());
    // Not granted: denied, whether it exists or not.
    let other = tempfile::tempdir()?;
    let line = probe_error(
        "unix-connect",
        &sock(other.path(), "nobody.sock"),
        granted()?,
    )
    .await?;
    assert!(line.starts_with("error ErrorCode::AccessDenied("), "{line}");
    Ok(())
}

/// A local process swaps `granted/link` between a directory outside the grant and one inside
/// while the app connects and binds through it: nothing outside is ever reached, created or
/// removed. Before the fix the check and the use resolved the path separately, and the swap won
/// the race often.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_a_symlink_never_reaches_outside() -> anyhow::Result<()> {
    let tree = Tree::new()?;
    let inside = tree.granted.join("in");
    std::fs::create_dir(&inside)?;
    let inside_listener = UnixListener::bind(inside.join("x.sock"))?;
    // The swap target: `outside/` itself, where x.sock listens and victim.sock lies.
    let link = tree.granted.join("swap");
    std::os::unix::fs::symlink(&inside, &link)?;
    let rounds = 800u32;
    let args = [
        "unix-race",
        &tree.at("swap/x.sock"),
        &tree.at("swap/new"),
        &tree.at("swap/victim.sock"),
        &rounds.to_string(),
    ];
    let mut probe = spawn(PROBE, &args, unix_dir(&tree.granted)?)?;
    probe.line_starting("racing").await?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (link, inside, outside) = (link.clone(), inside.clone(), tree.outside.clone());
        let tmp = tree.granted.join("swap.tmp");
        std::thread::spawn(move || -> std::io::Result<u64> {
            let mut swaps = 0;
            // Bounded in time whatever happens to the app.
            let deadline = std::time::Instant::now() + 2 * WAIT;
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && std::time::Instant::now() < deadline
            {
                for target in [&outside, &inside] {
                    std::os::unix::fs::symlink(target, &tmp)?;
                    std::fs::rename(&tmp, &link)?;
                    swaps += 1;
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
            }
            Ok(swaps)
        })
    };
    // Keep accepting inside, so that connects there never wait on the backlog.
    let accepting = tokio::spawn(async move {
        let mut n = 0u64;
        while let Ok((_stream, _)) = inside_listener.accept().await {
            n += 1;
        }
        n
    });
    let started = std::time::Instant::now();
    let result = probe.finish().await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper
        .join()
        .map_err(|_| anyhow::anyhow!("the swapping thread panicked"))??;
    accepting.abort();
    let (exit, lines) = result?;
    assert_success(&exit, &lines)?;
    eprintln!("{lines:?} after {swaps} swaps in {:?}", started.elapsed());
    // The race was really run: some attempts went through inside, some were refused...
    let counts: Vec<u32> = lines[1]
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(counts.len() == 3, "{lines:?}");
    assert!(counts.iter().all(|&n| n > 0 && n < rounds), "{lines:?}");
    // ...and none outside.
    tree.assert_untouched().await
}
