//! Unix domain sockets (asyncio's `open_unix_connection` / `start_unix_server` /
//! `socket.socketpair`) on tokio's native Unix sockets, and the socket files their listeners
//! create.
//!
//! Every path the app uses is checked against the run's `--allow-unix` grants first; a path not
//! granted is refused (`PermissionDenied`) and reported ([`crate::denials`]). An address
//! starting with NUL is a Linux abstract-namespace name.
//!
//! What is checked is exactly what is used (see `wasio_host_config::unix_grants`): the path's
//! directory is opened once and checked by identity, then the socket is bound in that held
//! directory (through `/proc/self/fd/N/name`), a connect reaches the socket file opened from it
//! without following a symlink (through `/proc/self/fd/M`), and a stale socket is removed from it
//! only if it is the very file found dead. No path string is resolved by the kernel again after
//! the check. The app still sees its own path as the listener's address.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rustix::fs::FileType;
use tokio::net::{UnixListener, UnixStream};
use wasio_host_config::unix_grants::{HeldGrants, Refusal};
use wasio_host_config::unix_path::{self, FileId, MAX_PATH_LEN, Place};

use super::socket::HostSocket;
use super::{denied, invalid};
use crate::denials::{Denials, Denied};
use crate::listener_share::{ShareKey, Shared, Sharing};

/// Checks the form of a Unix socket address: not empty, no NUL except a leading one, a path no
/// longer than a socket address holds (as the kernel would refuse it).
pub(crate) fn check_form(address: &str) -> io::Result<()> {
    let rest = address.strip_prefix('\0').unwrap_or(address);
    if address.is_empty() {
        return Err(invalid("the Unix socket path is empty"));
    }
    if rest.contains('\0') {
        return Err(invalid(
            "a Unix socket path may contain NUL only as its first character (abstract namespace)",
        ));
    }
    // A path needs its closing NUL; an abstract name has the leading one instead.
    if rest.len() > MAX_PATH_LEN {
        return Err(invalid(format!(
            "the Unix socket address is {} bytes long; at most {MAX_PATH_LEN} fit",
            rest.len()
        )));
    }
    Ok(())
}

/// The error for a path the grants refuse.
fn refused(address: &str, refusal: Refusal) -> io::Error {
    match refusal {
        Refusal::Invalid(why) => invalid(why),
        Refusal::NotGranted => not_granted(address),
        Refusal::Missing(e) | Refusal::Io(e) => e,
    }
}

/// Reports a refusal of `address` that the grants made (not a malformed or missing path).
fn report(denials: &Denials, address: &str, refusal: &Refusal) {
    if matches!(refusal, Refusal::NotGranted) {
        denials.report(Denied::UnixPath(address.to_owned()));
    }
}

/// The refusal of `address`, naming the flag that grants it.
fn not_granted(address: &str) -> io::Error {
    denied(format!(
        "the host has not granted the Unix socket path {:?} (wasio run --allow-unix PATH)",
        address
    ))
}

/// Binds a Unix listener for the app at `path` (whose form [`check_form`] passed) and listens
/// with `backlog`, if the run's `grants` allow it (a refusal is reported to `denials`).
///
/// With `sharing` (one of several workers), the first worker to bind `path` makes the listener
/// (and its socket file, returned once); the others accept from a duplicate of it. Returns the
/// listener, registered with the current tokio runtime, and the socket file it created.
pub(crate) fn listen(
    grants: &HeldGrants,
    denials: &Denials,
    sharing: Option<&Mutex<Sharing>>,
    path: &str,
    backlog: u32,
) -> io::Result<(UnixListener, Option<SocketFile>)> {
    let make: Box<dyn FnOnce() -> io::Result<Bound>> = if let Some(name) = path.strip_prefix('\0') {
        if !grants.allows_abstract(name.as_bytes()) {
            denials.report(Denied::UnixPath(path.to_owned()));
            return Err(not_granted(path));
        }
        let name = name.as_bytes().to_vec();
        Box::new(move || {
            let listener = listen_on(bind_abstract(&name)?, backlog)?;
            Ok(Bound(listener, None))
        })
    } else {
        let place = grants
            .locate(rustix::fs::CWD, Path::new(path))
            .map_err(|refusal| {
                report(denials, path, &refusal);
                refused(path, refusal)
            })?;
        Box::new(move || bind_at(place, backlog).map(|(l, file)| Bound(l, Some(file))))
    };
    let Bound(listener, file) = match sharing {
        None => make()?,
        Some(sharing) => match sharing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .claim(ShareKey::Unix(path.to_owned()), make, |fd| {
                Ok(Bound(std::os::unix::net::UnixListener::from(fd), None))
            })? {
            Shared::Made(bound) | Shared::Adopted(bound) => bound,
        },
    };
    let listener = UnixListener::from_std(listener)?;
    tracing::debug!(target: "wasio::net", path = %path.escape_debug(), "listening on a Unix socket");
    Ok((listener, file))
}

/// Checks a connect to `path` against the run's `grants` before it is made (a refusal is
/// reported to `denials`). Returns the socket file the connect is to reach, held open (`None`
/// for an abstract name): see [`connect`].
pub(crate) fn check_connect(
    grants: &HeldGrants,
    denials: &Denials,
    path: &str,
) -> io::Result<Option<OwnedFd>> {
    check_form(path)?;
    if let Some(name) = path.strip_prefix('\0') {
        if grants.allows_abstract(name.as_bytes()) {
            return Ok(None);
        }
        denials.report(Denied::UnixPath(path.to_owned()));
        return Err(not_granted(path));
    }
    let file = grants.open_granted(Path::new(path)).map_err(|refusal| {
        report(denials, path, &refusal);
        refused(path, refusal)
    })?;
    Ok(Some(file))
}

/// Connects to `path` through the socket file [`check_connect`] held (by name for an abstract
/// address); `file` stays open until the connect is made.
pub(crate) async fn connect(path: &str, file: Option<OwnedFd>) -> io::Result<HostSocket> {
    let connected = match &file {
        Some(file) => UnixStream::connect(unix_path::fd_path(file.as_fd()))
            .await
            .map_err(without_proc),
        None => UnixStream::connect(path).await,
    };
    drop(file);
    let stream = connected?;
    tracing::debug!(target: "wasio::net", path = %path.escape_debug(), "connected to a Unix socket");
    Ok(HostSocket::unix_connected(stream, path))
}

/// A connected pair of Unix sockets (`socket.socketpair`).
pub(crate) fn pair() -> io::Result<(HostSocket, HostSocket)> {
    let (a, b) = UnixStream::pair()?;
    Ok((HostSocket::unix_stream(a), HostSocket::unix_stream(b)))
}

/// Binds a Unix listener at `address` and listens with `backlog`, for a path the operator gave
/// (`--listen unix:PATH`: no grant applies). See [`bind_at`].
pub(crate) fn bind(
    address: &str,
    backlog: u32,
) -> io::Result<(std::os::unix::net::UnixListener, Option<SocketFile>)> {
    check_form(address)?;
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

/// The socket file a Unix listener created: its name in the directory it was bound in (held
/// open, so that removing it never resolves a path again), identified by device, inode and
/// (where the file system records it) birth time, so that a file that was removed or replaced
/// since is recognised as not ours. CPython compares the inode only; a replacement created right
/// after the removal can get the same inode number back, which the birth time tells apart.
#[derive(Debug)]
pub struct SocketFile {
    dir: OwnedFd,
    name: OsString,
    id: FileId,
    born: Option<(i64, u32)>,
}

impl SocketFile {
    /// Notes the socket file now at `name` in `dir` (just bound).
    pub fn of(dir: OwnedFd, name: OsString) -> io::Result<Self> {
        let Some(entry) = unix_path::stat_entry(dir.as_fd(), &name)? else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the socket file just bound is gone",
            ));
        };
        Ok(Self {
            dir,
            name,
            id: entry.id,
            born: entry.born,
        })
    }

    /// Whether the file at the path is still the socket this listener created.
    pub fn is_ours(&self) -> bool {
        matches!(
            unix_path::stat_entry(self.dir.as_fd(), &self.name),
            Ok(Some(entry)) if entry.kind == FileType::Socket
                && entry.id == self.id
                && entry.born == self.born
        )
    }

    /// Removes the file if it is still the socket this listener created; keeps a file that is
    /// gone or was replaced. Returns whether it removed it.
    pub fn remove_if_ours(&self) -> bool {
        self.is_ours() && unix_path::remove_entry(self.dir.as_fd(), &self.name).is_ok()
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
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
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
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
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
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
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
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
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
    use crate::net::Address;
    use crate::net::socket::Kind;

    fn unix(address: &Address) -> String {
        match address {
            Address::Unix(path) => path.clone(),
            Address::Inet(addr) => addr.to_string(),
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
