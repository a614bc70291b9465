//! The operator's view of what a run was refused: every TCP connect, bind, listen or Unix socket
//! path the grants refuse is reported once per run, naming the flag that would grant it, so that
//! an operator sees why an app failed without reading its code. The app gets its
//! `access-denied` error as before.
//!
//! Reports are `tracing` events (target [`TARGET`], level WARN), the host's one logging
//! mechanism (wasmtime's too), next to the connection-level events it emits at DEBUG (target
//! `wasio::net`). `wasio run` always shows the reports on stderr, and other events when asked
//! with `WASIO_LOG` (see the README); an embedder's own subscriber decides for its runs.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime_wasi::sockets::SocketAddrUse;

/// What was refused, for [`Denials::report`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Denied {
    /// A TCP or UDP socket while the run has no network grant at all.
    Network,
    /// A use of an internet address.
    Address(SocketAddr, Use),
    /// A Unix socket path (or `\0name`) not granted.
    UnixPath(String),
}

/// The kind of use of a refused internet address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Use {
    /// An outgoing TCP connection.
    Connect,
    /// Binding a TCP socket.
    Bind,
    /// Listening on a TCP socket.
    Listen,
    /// Any use of UDP (only `--allow-net` grants it).
    Udp,
}

impl Use {
    /// The use of a wasmtime-wasi address check, if it is one the grants can refuse.
    pub fn of(use_: SocketAddrUse) -> Option<Self> {
        match use_ {
            SocketAddrUse::TcpConnect => Some(Self::Connect),
            SocketAddrUse::TcpBind => Some(Self::Bind),
            SocketAddrUse::TcpListen => Some(Self::Listen),
            // Allowed whenever the listener was: never reported on its own.
            SocketAddrUse::TcpAccept => None,
            SocketAddrUse::UdpBind | SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => {
                Some(Self::Udp)
            }
        }
    }
}

impl Denied {
    /// The sentence reported: what was refused and the flag that grants it.
    pub fn message(&self) -> String {
        match self {
            Self::Network => "the app opened a TCP socket, but the run grants no network access \
                              (grant it with --allow-connect, --allow-listen or --allow-net)"
                .to_owned(),
            Self::Address(addr, Use::Connect) => {
                format!("refused a TCP connection to {addr} (grant it with --allow-connect {addr})")
            }
            Self::Address(addr, Use::Bind) => {
                format!("refused binding TCP address {addr} (grant it with --allow-listen {addr})")
            }
            Self::Address(addr, Use::Listen) => {
                format!(
                    "refused listening on TCP address {addr} (grant it with --allow-listen {addr})"
                )
            }
            Self::Address(addr, Use::Udp) => {
                format!("refused UDP on {addr} (only --allow-net grants UDP)")
            }
            Self::UnixPath(path) => {
                // The grant as the flag takes it: an abstract name as @NAME, a path that
                // starts with `@` as ./@NAME. Control and invisible characters escaped in both
                // (the app chose the path: it must not write lines of its own to the
                // operator's terminal).
                let grant = match path.strip_prefix('\0') {
                    Some(name) => format!("@{name}"),
                    None if path.starts_with('@') => format!("./{path}"),
                    None => path.clone(),
                };
                format!(
                    "refused the Unix socket path `{}` (grant it with --allow-unix {})",
                    path.escape_debug(),
                    grant.escape_debug()
                )
            }
        }
    }
}

/// The `tracing` target of refusal reports.
pub const TARGET: &str = "wasio::denied";

/// Where a run's refusals go: each distinct one once, as a `tracing` event. Cheap to clone
/// (clones share what was reported).
#[derive(Clone, Debug, Default)]
pub struct Denials(Arc<Mutex<HashSet<Denied>>>);

/// The most distinct refusals a run reports (and remembers): an app can be refused at as many
/// addresses and paths as it likes, and must not grow the host's memory, or its stderr, without
/// bound by trying.
pub const MOST_REPORTED: usize = 256;

impl Denials {
    /// Reports `denied`, unless it was already; past [`MOST_REPORTED`] distinct refusals, says
    /// once that later ones go unreported.
    pub fn report(&self, denied: Denied) {
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= MOST_REPORTED || seen.contains(&denied) {
            return;
        }
        seen.insert(denied.clone());
        let full = seen.len() == MOST_REPORTED;
        drop(seen);
        tracing::warn!(target: TARGET, "{}", denied.message());
        if full {
            tracing::warn!(
                target: TARGET,
                "{MOST_REPORTED} different refusals reported; later ones are not"
            );
        }
    }

    /// Reports a refused use of `addr` (uses the grants cannot refuse are ignored).
    pub fn report_address(&self, addr: SocketAddr, use_: SocketAddrUse) {
        if let Some(use_) = Use::of(use_) {
            self.report(Denied::Address(addr, use_));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_refused_everywhere_grows_the_record_no_further_than_the_bound() {
        let denials = Denials::default();
        for i in 0..10 * MOST_REPORTED {
            denials.report(Denied::UnixPath(format!("/run/{i}.sock")));
        }
        let seen = denials.0.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(seen.len(), MOST_REPORTED);
    }

    #[test]
    fn messages_name_the_flag() {
        let addr: SocketAddr = "10.1.2.3:80"
            .parse()
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(
            Denied::Address(addr, Use::Connect)
                .message()
                .contains("--allow-connect 10.1.2.3:80")
        );
        assert!(
            Denied::Address(addr, Use::Listen)
                .message()
                .contains("--allow-listen 10.1.2.3:80")
        );
        assert!(
            Denied::UnixPath("/run/x.sock".into())
                .message()
                .contains("--allow-unix /run/x.sock")
        );
        assert!(Denied::Network.message().contains("--allow-net"));
    }

    #[test]
    fn a_refused_path_cannot_write_lines_of_its_own() {
        let message =
            Denied::UnixPath("/x\nwasio: all grants respected\r\u{202e}kcos".into()).message();
        assert!(!message.contains(['\n', '\r', '\u{202e}']), "{message}");
        assert_eq!(
            message,
            "refused the Unix socket path `/x\\nwasio: all grants respected\\r\\u{202e}kcos` \
             (grant it with --allow-unix /x\\nwasio: all grants respected\\r\\u{202e}kcos)"
        );
        assert!(
            Denied::UnixPath("@name".into())
                .message()
                .ends_with("(grant it with --allow-unix ./@name)")
        );
        assert!(
            Denied::UnixPath("\0name".into())
                .message()
                .ends_with("(grant it with --allow-unix @name)")
        );
    }

    #[test]
    fn each_refusal_is_reported_once() {
        let denials = Denials::default();
        denials.report(Denied::Network);
        denials.report(Denied::Network);
        let reported = denials.0.lock().map(|r| r.len()).unwrap_or(0);
        assert_eq!(reported, 1);
    }
}
