//! Listeners the host opens before a run (`wasio run --listen tcp:ADDR --listen unix:PATH`),
//! which the app adopts as servers (asyncio's `start_server(sock=...)`) through
//! `wasio:host/preopens`.
//!
//! Opening them is the operator's grant: the app needs no `--allow-listen` / `--allow-unix` for
//! them. A Unix socket file the host created is removed when the run's context is dropped, if it
//! is still the one it created.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::sync::Arc;

use super::socket::HostSocket;
use super::tcp::BindOptions;
use super::unix::SocketFile;

// The `--listen` value itself (parsing and display) lives in wasio-host-config, free of wasmtime so
// that it can be fuzzed on its own; it is part of this module's API.
pub use wasio_host_config::listen::ListenSpec;

/// An open listener waiting to be adopted by the app, under the name it was asked for.
#[derive(Debug)]
pub struct Preopened {
    name: String,
    listener: Listener,
    file: Option<SocketFileGuard>,
}

#[derive(Debug)]
enum Listener {
    Tcp(std::net::TcpListener),
    /// With the address as given (the kernel knows a path by its `/proc/self/fd` name).
    Unix(std::os::unix::net::UnixListener, String),
}

/// Backlog of pre-opened listeners (asyncio's default).
const BACKLOG: u32 = 100;

impl Preopened {
    /// Opens the listener `spec` names. For a Unix path, a stale socket file there is replaced
    /// (as asyncio does); the file created is removed when the run's context is dropped (or this
    /// value, if never adopted), if it is still the one created here.
    pub fn open(spec: &ListenSpec) -> anyhow::Result<Self> {
        let name = spec.to_string();
        match spec {
            ListenSpec::Tcp(addr) => {
                let addrs: Vec<SocketAddr> = addr
                    .to_socket_addrs()
                    .map_err(|e| anyhow::anyhow!("resolving {addr}: {e}"))?
                    .collect();
                // The first address that can be bound, as std's `TcpListener::bind`.
                let mut last = None;
                let mut opened = None;
                for addr in addrs {
                    match super::tcp::open_listener(addr, BindOptions::default(), BACKLOG) {
                        Ok(listener) => {
                            opened = Some(listener);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                let listener = opened.ok_or_else(|| match last {
                    Some(e) => anyhow::anyhow!("listening on {name}: {e}"),
                    None => anyhow::anyhow!("listening on {name}: the name has no address"),
                })?;
                Ok(Self {
                    name,
                    listener: Listener::Tcp(listener),
                    file: None,
                })
            }
            ListenSpec::Unix(path) => {
                let (listener, file) = super::unix::bind(path, BACKLOG)
                    .map_err(|e| anyhow::anyhow!("listening on {name}: {e}"))?;
                Ok(Self {
                    name,
                    listener: Listener::Unix(listener, path.clone()),
                    file: file.map(|file| SocketFileGuard(Arc::new(file))),
                })
            }
        }
    }

    /// The same listener for another worker of the run (`wasio run --workers`): a duplicate of
    /// its descriptor, so the workers accept from one queue. The socket file (a Unix path) stays
    /// with this value, which removes it.
    pub fn try_clone(&self) -> std::io::Result<Self> {
        let listener = match &self.listener {
            Listener::Tcp(l) => Listener::Tcp(l.try_clone()?),
            Listener::Unix(l, address) => Listener::Unix(l.try_clone()?, address.clone()),
        };
        Ok(Self {
            name: self.name.clone(),
            listener,
            file: None,
        })
    }

    /// The name the app sees (`tcp:127.0.0.1:8080`, `unix:/run/app.sock`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local address, as text (for logs).
    pub fn local_address(&self) -> String {
        match &self.listener {
            Listener::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "?".to_owned(), |a| a.to_string()),
            Listener::Unix(_, address) if address.starts_with('\0') => self.name.clone(),
            Listener::Unix(_, address) => address.clone(),
        }
    }

    /// A TCP listener's local address (`None` for a Unix listener): the port the OS picked for
    /// `tcp:HOST:0`, for a host that tells a client where to connect (`wasio demo`).
    pub fn tcp_address(&self) -> Option<SocketAddr> {
        match &self.listener {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    /// The socket file this listener created (a Unix path), for the run's
    /// [`SocketFiles`](crate::socket_files::SocketFiles).
    pub(crate) fn socket_file(&self) -> Option<Arc<SocketFile>> {
        self.file.as_ref().map(|guard| guard.0.clone())
    }

    /// The listener as a host socket (registers it with the current tokio runtime), and the
    /// guard of its socket file, to keep until the run ends.
    pub(crate) fn into_host_socket(
        self,
    ) -> std::io::Result<(String, HostSocket, Option<SocketFileGuard>)> {
        let socket = match self.listener {
            Listener::Tcp(l) => HostSocket::tcp_listener(tokio::net::TcpListener::from_std(l)?),
            Listener::Unix(l, address) => {
                HostSocket::unix_listener(tokio::net::UnixListener::from_std(l)?, &address, None)
            }
        };
        Ok((self.name, socket, self.file))
    }
}

/// Removes a socket file the host created when dropped, if it is still that file.
#[derive(Debug)]
pub(crate) struct SocketFileGuard(Arc<SocketFile>);

impl Drop for SocketFileGuard {
    fn drop(&mut self) {
        self.0.remove_if_ours();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            "tcp:127.0.0.1:80".parse(),
            Ok(ListenSpec::Tcp("127.0.0.1:80".into()))
        );
        assert_eq!(
            "unix:/run/a.sock".parse(),
            Ok(ListenSpec::Unix("/run/a.sock".into()))
        );
        assert_eq!("unix:@app".parse(), Ok(ListenSpec::Unix("\0app".into())));
        assert_eq!(
            "unix:@app".parse::<ListenSpec>().map(|s| s.to_string()),
            Ok("unix:@app".to_owned())
        );
        assert!("udp:1.2.3.4:5".parse::<ListenSpec>().is_err());
        assert!("tcp:nowhere".parse::<ListenSpec>().is_err());
        assert!("unix:".parse::<ListenSpec>().is_err());
    }

    #[test]
    fn a_unix_preopen_removes_its_file_when_dropped() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("p.sock");
        let spec = ListenSpec::Unix(path.display().to_string());
        let listener = Preopened::open(&spec)?;
        assert!(path.exists());
        assert_eq!(listener.name(), format!("unix:{}", path.display()));
        drop(listener);
        assert!(!path.exists());
        Ok(())
    }
}
