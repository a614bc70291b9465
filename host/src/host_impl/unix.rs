//! `wasio:host/unix`: Unix domain sockets (asyncio's `open_unix_connection` /
//! `start_unix_server` / `socket.socketpair`), with tokio's native Unix sockets.
//!
//! Every path is checked against the run's `--allow-unix` grants first; a path not granted is
//! `access-denied`. An address starting with NUL is a Linux abstract-namespace name.

use std::path::Path;

use tokio::net::{UnixListener, UnixStream};
use wasmtime::component::{Accessor, Resource};
use wasmtime::error::Context as _;

use super::WasioHost;
use super::bindings::types::ErrorCode;
use super::bindings::unix::{Host, HostWithStore};
use super::socket::{HostSocket, SocketFile};
use super::types::socket_permit;
use crate::ctx::WasioHostView;

/// Checks the form of a Unix socket address: not empty, no NUL except a leading one.
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
    Ok(())
}

/// Checks the form and the grant of `address`.
fn check(view: &WasioHostView<'_>, address: &str) -> Result<(), ErrorCode> {
    check_form(address)?;
    if !view.ctx.capabilities().unix_allowed(address) {
        return Err(ErrorCode::AccessDenied(format!(
            "the host has not granted the Unix socket path {:?} (wasio run --allow-unix PATH)",
            address
        )));
    }
    Ok(())
}

/// Binds a Unix listener at `address` and listens with `backlog`.
///
/// As asyncio's `start_unix_server`, a socket file already at the path (a stale one from an
/// earlier run) is removed first; any other kind of file is left alone, and binding then fails
/// with `address-in-use`. Returns the (non-blocking) listener and the socket file it created
/// (none for an abstract-namespace name), so that it can later be removed only if it is still
/// ours. Needs no async runtime.
pub(crate) fn bind(
    address: &str,
    backlog: u32,
) -> std::io::Result<(std::os::unix::net::UnixListener, Option<SocketFile>)> {
    use std::os::unix::net::UnixListener as StdListener;
    let listener = match address.strip_prefix('\0') {
        Some(name) => bind_abstract(name.as_bytes())?,
        None => {
            use std::os::unix::fs::FileTypeExt as _;
            let stale = std::fs::symlink_metadata(address).is_ok_and(|m| m.file_type().is_socket());
            if stale {
                std::fs::remove_file(address)?;
            }
            StdListener::bind(address)?
        }
    };
    // std listens with its own backlog; listen(2) again sets the one asked for.
    let backlog = i32::try_from(backlog.max(1)).unwrap_or(i32::MAX);
    rustix::net::listen(&listener, backlog)?;
    listener.set_nonblocking(true)?;
    let file = if address.starts_with('\0') {
        None
    } else {
        Some(SocketFile::of(Path::new(address))?)
    };
    Ok((listener, file))
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
        if let Err(e) = check(self, &path) {
            return Ok(Err(e));
        }
        let permit = match socket_permit(self) {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        let bound =
            bind(&path, backlog).and_then(|(l, file)| Ok((UnixListener::from_std(l)?, file)));
        let (listener, file) = match bound {
            Ok(bound) => bound,
            Err(e) => return Ok(Err(e.into())),
        };
        let socket = HostSocket::unix_listener(listener, file);
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
        let permit = accessor.with(|mut access| {
            let view = access.get();
            check(&view, &path)?;
            socket_permit(&view)
        });
        let permit = match permit {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        // Never hold the store across the wait.
        let stream = match UnixStream::connect(&path).await {
            Ok(stream) => stream,
            Err(e) => return Ok(Err(e.into())),
        };
        let socket = HostSocket::unix_stream(stream);
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
}
