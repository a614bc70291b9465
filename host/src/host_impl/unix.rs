//! `wasio:host/unix`: Unix domain sockets (asyncio's `open_unix_connection` /
//! `start_unix_server` / `socket.socketpair`), with tokio's native Unix sockets.
//!
//! Every path is checked against the run's `--allow-unix` grants first; a path not granted is
//! `access-denied`. An address starting with NUL is a Linux abstract-namespace name.
//!
//! What is checked is exactly what is used (see `wasio_host_config::unix_grants`): the path's
//! directory is opened once and checked by identity, then the socket is bound in that held
//! directory (through `/proc/self/fd/N/name`), a connect reaches the socket file opened from it
//! without following a symlink (through `/proc/self/fd/M`), and a stale socket is removed from it
//! only if it is the very file found dead. No path string is resolved by the kernel again after
//! the check. The app still sees its own path as the listener's address.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::PoisonError;

use rustix::fs::FileType;
use tokio::net::{UnixListener, UnixStream};
use wasio_host_config::unix_grants::Refusal;
use wasio_host_config::unix_path::{self, FileId, MAX_PATH_LEN, Place};
use wasmtime::component::{Accessor, Resource};
use wasmtime::error::Context as _;

use super::WasioHost;
use super::bindings::types::ErrorCode;
use super::bindings::unix::{Host, HostWithStore};
use super::socket::{HostSocket, SocketFile};
use super::types::socket_permit;
use crate::ctx::WasioHostView;
use crate::denials::Denied;
use crate::listener_share::{ShareKey, Shared};

/// Checks the form of a Unix socket address: not empty, no NUL except a leading one, a path no
/// longer than a socket address holds (as the kernel would refuse it).
fn check_form(address: &str) -> Result<(), ErrorCode> {
    let rest = address.strip_prefix('\0').unwrap_or(address);
    if address.is_empty() {
        return Err(ErrorCode::InvalidArgument(
            "the Unix socket path is empty".to_owned(),
        ));
    }
    if rest.contains('\0') {
        return Err(ErrorCode::InvalidArgument(
            "a Unix socket path may contain NUL only as its first character (abstract namespace)"
                .to_owned(),
        ));
    }
    // A path needs its closing NUL; an abstract name has the leading one instead.
    if rest.len() > MAX_PATH_LEN {
        return Err(ErrorCode::InvalidArgument(format!(
            "the Unix socket address is {} bytes long; at most {MAX_PATH_LEN} fit",
            rest.len()
        )));
    }
    Ok(())
}

/// The error for a path the grants refuse.
fn refused(address: &str, refusal: Refusal) -> ErrorCode {
    match refusal {
        Refusal::Invalid(why) => ErrorCode::InvalidArgument(why),
        Refusal::NotGranted => not_granted(address),
        Refusal::Missing(e) | Refusal::Io(e) => e.into(),
    }
}

/// Reports a refusal of `address` that the grants made (not a malformed or missing path).
fn report(ctx: &crate::ctx::WasioHostCtx, address: &str, refusal: &Refusal) {
    if matches!(refusal, Refusal::NotGranted) {
        ctx.denials().report(Denied::UnixPath(address.to_owned()));
    }
}

/// `access-denied` for `address`, naming the flag that grants it.
fn not_granted(address: &str) -> ErrorCode {
    ErrorCode::AccessDenied(format!(
        "the host has not granted the Unix socket path {:?} (wasio run --allow-unix PATH)",
        address
    ))
}

/// Binds a Unix listener at `address` and listens with `backlog`, for a path the operator gave
/// (`--listen unix:PATH`: no grant applies). See [`bind_at`].
pub(crate) fn bind(
    address: &str,
    backlog: u32,
) -> io::Result<(std::os::unix::net::UnixListener, Option<SocketFile>)> {
    check_form(address).map_err(|e| match e {
        ErrorCode::InvalidArgument(why) => io::Error::new(io::ErrorKind::InvalidInput, why),
        _ => io::Error::from(io::ErrorKind::InvalidInput),
    })?;
    if let Some(name) = address.strip_prefix('\0') {
        return Ok((listen_on(bind_abstract(name.as_bytes())?, backlog)?, None));
    }
    let mut place = Place::open(rustix::fs::CWD, Path::new(address)).map_err(|e| match e {
        unix_path::PathError::Invalid(why) => io::Error::new(io::ErrorKind::InvalidInput, why),
        unix_path::PathError::Io(e) => e,
    })?;
    if let Some(e) = place.missing_error() {
        return Err(e);
    }
    let (listener, file) = bind_at(place, backlog)?;
    Ok((listener, Some(file)))
}

/// Binds a Unix listener as `name` in the held directory of `place` and listens with `backlog`.
///
/// As asyncio's `start_unix_server`, a stale socket file already there (from an earlier run) is
/// removed first, but only one nobody listens on (see [`remove_if_stale`]); any other file is
/// left alone, and binding then fails with `address-in-use`. Returns the (non-blocking)
/// listener and the socket file it created, so that it can later be removed only if it is still
/// ours. Needs no async runtime.
fn bind_at(
    place: Place,
    backlog: u32,
) -> io::Result<(std::os::unix::net::UnixListener, SocketFile)> {
    remove_if_stale(place.dir.as_fd(), &place.name)?;
    // The kernel creates `name` in exactly the held directory (never following a symlink there).
    let target = unix_path::fd_path(place.dir.as_fd()).join(&place.name);
    let addr = rustix::net::SocketAddrUnix::new(&target).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the socket name `{}` is too long to bind (the host binds it as {}, which must \
                 fit in {MAX_PATH_LEN} bytes)",
                Path::new(&place.name).display(),
                target.display()
            ),
        )
    })?;
    let socket = rustix::net::socket_with(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::bind(&socket, &addr).map_err(|e| without_proc(e.into()))?;
    let file = SocketFile::of(place.dir, place.name)?;
    let listener = listen_on(std::os::unix::net::UnixListener::from(socket), backlog)?;
    Ok((listener, file))
}

/// `error`, or, when it is "not found" because `/proc` is not mounted (the host binds and
/// connects Unix paths through `/proc/self/fd`), an error that says so.
fn without_proc(error: io::Error) -> io::Error {
    if error.kind() == io::ErrorKind::NotFound && !Path::new("/proc/self/fd").is_dir() {
        return io::Error::other(
            "Unix socket paths need /proc mounted: the host binds and connects them through \
             /proc/self/fd",
        );
    }
    error
}

/// A Unix listener just bound, with the socket file it created (none for an abstract name, or
/// a listener another worker made).
struct Bound(std::os::unix::net::UnixListener, Option<SocketFile>);

impl AsFd for Bound {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Listens with `backlog` and makes the listener non-blocking.
fn listen_on(
    listener: std::os::unix::net::UnixListener,
    backlog: u32,
) -> io::Result<std::os::unix::net::UnixListener> {
    let backlog = i32::try_from(backlog.max(1)).unwrap_or(i32::MAX);
    rustix::net::listen(&listener, backlog)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Removes the socket file `name` in `dir` if nobody listens on it (a connect to it is
/// refused) and the name still is that very file. Anything else (no file, another kind of file,
/// a symlink, a live socket, one that cannot be probed) is left alone.
fn remove_if_stale(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let (file, kind) = match unix_path::open_entry(dir, name) {
        Ok(entry) => entry,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if kind != FileType::Socket || !nobody_listens(file.as_fd()) {
        return Ok(());
    }
    let id = FileId::of(&file)?;
    match unix_path::stat_entry(dir, name)? {
        Some(now) if now.id == id => unix_path::remove_entry(dir, name),
        _ => Ok(()),
    }
}

/// Whether a connect to the socket file `file` holds is refused (nobody listens on it). A live
/// listener sees one connection that closes at once.
fn nobody_listens(file: BorrowedFd<'_>) -> bool {
    let Ok(addr) = rustix::net::SocketAddrUnix::new(unix_path::fd_path(file)) else {
        return false;
    };
    let Ok(probe) = rustix::net::socket_with(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC | rustix::net::SocketFlags::NONBLOCK,
        None,
    ) else {
        return false;
    };
    rustix::net::connect(&probe, &addr) == Err(rustix::io::Errno::CONNREFUSED)
}

/// Binds a Linux abstract-namespace name.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn bind_abstract(name: &[u8]) -> std::io::Result<std::os::unix::net::UnixListener> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt as _;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt as _;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    std::os::unix::net::UnixListener::bind_addr(&addr)
}

/// Abstract-namespace names exist on Linux only.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn bind_abstract(_name: &[u8]) -> std::io::Result<std::os::unix::net::UnixListener> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "abstract-namespace Unix addresses exist on Linux only",
    ))
}

impl Host for WasioHostView<'_> {
    fn listen(
        &mut self,
        path: String,
        backlog: u32,
    ) -> wasmtime::Result<Result<Resource<HostSocket>, ErrorCode>> {
        if let Err(e) = check_form(&path) {
            return Ok(Err(e));
        }
        let permit = match socket_permit(self) {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        let grants = self.ctx.unix_grants();
        let make: Box<dyn FnOnce() -> io::Result<Bound>> =
            if let Some(name) = path.strip_prefix('\0') {
                if !grants.allows_abstract(name.as_bytes()) {
                    self.ctx.denials().report(Denied::UnixPath(path.clone()));
                    return Ok(Err(not_granted(&path)));
                }
                let name = name.as_bytes().to_vec();
                Box::new(move || {
                    let listener = listen_on(bind_abstract(&name)?, backlog)?;
                    Ok(Bound(listener, None))
                })
            } else {
                let place = match grants.locate(rustix::fs::CWD, Path::new(&path)) {
                    Ok(place) => place,
                    Err(refusal) => {
                        report(self.ctx, &path, &refusal);
                        return Ok(Err(refused(&path, refusal)));
                    }
                };
                Box::new(move || bind_at(place, backlog).map(|(l, file)| Bound(l, Some(file))))
            };
        let bound = match self.ctx.sharing() {
            None => make(),
            // One of several workers: the first to bind `path` makes the listener (and its
            // socket file, registered once); the others accept from a duplicate of it.
            Some(sharing) => sharing
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .claim(ShareKey::Unix(path.clone()), make, |fd| {
                    Ok(Bound(std::os::unix::net::UnixListener::from(fd), None))
                })
                .map(|claimed| match claimed {
                    Shared::Made(bound) | Shared::Adopted(bound) => bound,
                }),
        };
        let bound = bound.map(|Bound(l, file)| (l, file));
        let bound = bound.and_then(|(l, file)| Ok((UnixListener::from_std(l)?, file)));
        let (listener, file) = match bound {
            Ok(bound) => bound,
            Err(e) => return Ok(Err(e.into())),
        };
        tracing::debug!(target: "wasio::net", path = %path.escape_debug(), "listening on a Unix socket");
        // Kept run-wide too, so the file goes however the run ends (see `socket_files`).
        let file = file.map(|file| self.ctx.socket_files().register(file));
        let socket = HostSocket::unix_listener(listener, &path, file);
        let resource = self.table.push(socket).context("pushing a Unix listener")?;
        self.ctx.hold_permit(resource.rep(), permit);
        Ok(Ok(resource))
    }

    fn socketpair(
        &mut self,
    ) -> wasmtime::Result<Result<(Resource<HostSocket>, Resource<HostSocket>), ErrorCode>> {
        let permits = socket_permit(self).and_then(|a| Ok((a, socket_permit(self)?)));
        let (permit_a, permit_b) = match permits {
            Ok(permits) => permits,
            Err(e) => return Ok(Err(e)),
        };
        let (a, b) = match UnixStream::pair() {
            Ok(pair) => pair,
            Err(e) => return Ok(Err(e.into())),
        };
        let a = self
            .table
            .push(HostSocket::unix_stream(a))
            .context("pushing a socketpair end")?;
        let b = self
            .table
            .push(HostSocket::unix_stream(b))
            .context("pushing a socketpair end")?;
        self.ctx.hold_permit(a.rep(), permit_a);
        self.ctx.hold_permit(b.rep(), permit_b);
        Ok(Ok((a, b)))
    }
}

impl<T> HostWithStore<T> for WasioHost {
    async fn connect(
        accessor: &Accessor<T, Self>,
        path: String,
    ) -> wasmtime::Result<Result<Resource<HostSocket>, ErrorCode>> {
        // The socket file itself, held open (`None` for an abstract name), and the socket's place
        // under --max-connections.
        let checked = accessor.with(|mut access| {
            check_form(&path)?;
            let view = access.get();
            let grants = view.ctx.unix_grants();
            if let Some(name) = path.strip_prefix('\0') {
                return if grants.allows_abstract(name.as_bytes()) {
                    Ok((None, socket_permit(&view)?))
                } else {
                    view.ctx.denials().report(Denied::UnixPath(path.clone()));
                    Err(not_granted(&path))
                };
            }
            let file = grants.open_granted(Path::new(&path)).map_err(|refusal| {
                report(view.ctx, &path, &refusal);
                refused(&path, refusal)
            })?;
            Ok((Some(file), socket_permit(&view)?))
        });
        let (file, permit) = match checked {
            Ok(checked) => checked,
            Err(e) => return Ok(Err(e)),
        };
        // Never hold the store across the wait. `file` stays open until the connect is made.
        let connected = match &file {
            Some(file) => UnixStream::connect(unix_path::fd_path(file.as_fd()))
                .await
                .map_err(without_proc),
            None => UnixStream::connect(&path).await,
        };
        drop(file);
        let stream = match connected {
            Ok(stream) => stream,
            Err(e) => return Ok(Err(e.into())),
        };
        tracing::debug!(target: "wasio::net", path = %path.escape_debug(), "connected to a Unix socket");
        let socket = HostSocket::unix_connected(stream, &path);
        accessor.with(|mut access| {
            let view = access.get();
            let resource = view
                .table
                .push(socket)
                .context("pushing a Unix connection")?;
            view.ctx.hold_permit(resource.rep(), permit);
            Ok(Ok(resource))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert!(check_form("").is_err());
        assert!(check_form("a\0b").is_err());
        assert!(check_form("\0abstract").is_ok());
        assert!(check_form("/tmp/x.sock").is_ok());
    }

    #[tokio::test]
    async fn bind_replaces_a_stale_socket_but_not_a_file() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.sock");
        let text = path.display().to_string();
        let (first, file) = bind(&text, 5)?;
        drop(first);
        assert!(path.exists(), "closing a listener leaves its file");
        let (_second, file2) = bind(&text, 5)?;
        // The first listener's file was replaced: it is not removed in its name.
        assert!(file.is_some_and(|f| !f.remove_if_ours()));
        assert!(path.exists());
        assert!(file2.is_some_and(|f| f.remove_if_ours()));
        assert!(!path.exists());
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"keep")?;
        let Err(e) = bind(&plain.display().to_string(), 5) else {
            anyhow::bail!("bound over a regular file");
        };
        assert!(matches!(ErrorCode::from(e), ErrorCode::AddressInUse));
        assert_eq!(std::fs::read(&plain)?, b"keep");
        Ok(())
    }

    #[test]
    fn bind_keeps_a_live_socket() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("live.sock");
        let live = std::os::unix::net::UnixListener::bind(&path)?;
        let Err(e) = bind(&path.display().to_string(), 5) else {
            anyhow::bail!("took over a live socket");
        };
        assert!(matches!(ErrorCode::from(e), ErrorCode::AddressInUse));
        // The liveness probe came in; the listener is still there and still ours.
        live.set_nonblocking(true)?;
        assert!(live.accept().is_ok());
        assert!(std::os::unix::net::UnixStream::connect(&path).is_ok());
        Ok(())
    }

    #[test]
    fn bind_into_a_missing_directory_is_not_found() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("no/x.sock");
        let Err(e) = bind(&path.display().to_string(), 5) else {
            anyhow::bail!("bound in a missing directory");
        };
        assert!(matches!(ErrorCode::from(e), ErrorCode::NotFound));
        Ok(())
    }

    #[test]
    fn a_name_too_long_to_bind_is_a_clear_error() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let name = "n".repeat(100);
        let path = dir.path().join(&name);
        let Err(e) = bind(&path.display().to_string(), 5) else {
            anyhow::bail!("bound a path longer than a socket address holds");
        };
        assert!(matches!(ErrorCode::from(e), ErrorCode::InvalidArgument(_)));
        // Short enough as a path (when the directory is short), too long as /proc/self/fd/N/name.
        let mut place =
            Place::open(rustix::fs::CWD, &path).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        assert!(place.missing_error().is_none());
        let Err(e) = bind_at(place, 5) else {
            anyhow::bail!("bound a name too long for /proc/self/fd/N/");
        };
        assert!(e.to_string().contains("too long"), "{e}");
        Ok(())
    }
}

#[cfg(test)]
mod names {
    use super::*;
    use crate::host_impl::bindings::types::HostAddress;
    use crate::host_impl::socket::Kind;

    fn unix(address: &HostAddress) -> &str {
        match address {
            HostAddress::Unix(path) => path,
            HostAddress::Inet(addr) => addr,
        }
    }

    /// The host binds through `/proc/self/fd/N/NAME`; the app sees its own path on the listener,
    /// on accepted connections, and as the peer when it connects to such a listener.
    #[tokio::test]
    async fn the_app_sees_its_own_paths() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("named.sock").display().to_string();
        let (listener, _file) = bind(&path, 5)?;
        let listener = HostSocket::unix_listener(UnixListener::from_std(listener)?, &path, None);
        assert_eq!(unix(&listener.local_address()), path);
        let Kind::Listener(l) = &listener.kind else {
            anyhow::bail!("not a listener");
        };
        let io = l.io.clone();
        let client = UnixStream::connect(&path).await?;
        let kernel_name = client.peer_addr()?;
        assert!(
            kernel_name
                .as_pathname()
                .is_some_and(|p| p.starts_with("/proc/self/fd/")),
            "{kernel_name:?}"
        );
        let client = HostSocket::unix_connected(client, &path);
        let Kind::Stream(c) = &client.kind else {
            anyhow::bail!("not a stream");
        };
        assert_eq!(unix(&c.remote), path);
        let accepted = std::future::poll_fn(|cx| io.poll_accept(cx)).await?;
        assert_eq!(unix(&accepted.local_address()), path);
        Ok(())
    }
}
