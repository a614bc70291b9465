//! Deny-by-default network capabilities: which TCP addresses a run may connect to or listen on,
//! and which Unix socket paths it may use (see [`crate::unix_grants`]).
//!
//! The README's "Capabilities and limits" section is the one summary of every grant and limit
//! (`wasio run --help` points there); this module and [`crate::limits`] are their reference.
//!
//! A run starts with no network access at all. Grants are address patterns, `HOST:PORT`, where
//! HOST is an IP literal (`127.0.0.1`, `[::1]`; IPv6 in brackets) or `*` for any address, and PORT
//! is a number or `*` for any port:
//!
//! | pattern          | matches                                   |
//! |------------------|-------------------------------------------|
//! | `127.0.0.1:*`    | any port on 127.0.0.1                     |
//! | `[::1]:8080`     | port 8080 on ::1                          |
//! | `*:443`          | port 443 on any address                   |
//! | `0.0.0.0:0`      | (listen) the wildcard address, a port the OS picks |
//!
//! Host names (`localhost`, `example.com`) are not accepted: the guest resolves names itself and
//! then connects to or binds the resulting IP address, and that address is what gets checked.
//!
//! Grants come in two lists, `connect` (outgoing connections, `--allow-connect`) and `listen`
//! (bind + listen, `--allow-listen`), plus `allow_net` (`--allow-net`) which allows every TCP and
//! UDP use. They are enforced through wasmtime-wasi's `socket_addr_check` (see [`Capabilities::check`]
//! for how each [`SocketAddrUse`] maps to them); a refused operation reaches the guest as the
//! wasi:sockets `access-denied` error, never as a trap. As soon as any TCP grant exists, name lookup
//! is allowed too (a lookup opens no connection; its results are checked when used).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::sockets::SocketAddrUse;

use crate::denials::Denials;
use crate::socket_budget::SocketBudget;
use crate::unix_grants::{self, UnixGrant};

// The patterns themselves (parsing, display, matching) live in wasio-host-config, free of
// wasmtime so that they can be fuzzed on their own; they are part of this module's API.
pub use wasio_host_config::pattern::{AddrPattern, HostPattern, PatternError, PortPattern};

/// The network grants of one run. The default grants nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    allow_net: bool,
    connect: Vec<AddrPattern>,
    listen: Vec<AddrPattern>,
    unix: Vec<UnixGrant>,
}

impl Capabilities {
    /// No network access at all (the default).
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Every TCP and UDP use allowed (`--allow-net`).
    pub fn allow_all() -> Self {
        Self {
            allow_net: true,
            ..Self::default()
        }
    }

    /// Loopback only, connect and listen, any port (IPv4 127.0.0.1 and IPv6 ::1): what demos
    /// and tests usually want.
    pub fn loopback() -> Self {
        let mut caps = Self::default();
        for host in [
            IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ] {
            let pattern = AddrPattern {
                host: HostPattern::Ip(host),
                port: PortPattern::Any,
            };
            caps.allow_connect(pattern).allow_listen(pattern);
        }
        caps
    }

    /// Allows every TCP and UDP use (`--allow-net`).
    pub fn allow_net(&mut self) -> &mut Self {
        self.allow_net = true;
        self
    }

    /// Allows TCP connections to addresses matching `pattern` (`--allow-connect`).
    pub fn allow_connect(&mut self, pattern: AddrPattern) -> &mut Self {
        self.connect.push(pattern);
        self
    }

    /// Allows binding and listening on addresses matching `pattern` (`--allow-listen`), and
    /// accepting any client on such a listener.
    pub fn allow_listen(&mut self, pattern: AddrPattern) -> &mut Self {
        self.listen.push(pattern);
        self
    }

    /// Allows connecting to, and binding and listening on, the Unix socket paths `grant`
    /// covers (`--allow-unix`). `allow_net` does not include Unix paths: they are files.
    pub fn allow_unix(&mut self, grant: UnixGrant) -> &mut Self {
        self.unix.push(grant);
        self
    }

    /// The Unix socket path grants.
    pub fn unix_grants(&self) -> &[UnixGrant] {
        &self.unix
    }

    /// Whether the Unix socket address `address` (a path, or `\0name` in the Linux abstract
    /// namespace) may be connected to or listened on, as the file system is now. A run does not
    /// ask this: it checks and uses each path through directories it holds open
    /// ([`crate::unix_grants::HeldGrants`]).
    pub fn unix_allowed(&self, address: &str) -> bool {
        unix_grants::allowed(&self.unix, address)
    }

    /// Whether any TCP or UDP use is granted (Unix path grants do not count).
    pub fn any(&self) -> bool {
        self.allow_net || !self.connect.is_empty() || !self.listen.is_empty()
    }

    /// The connect grants.
    pub fn connect_grants(&self) -> &[AddrPattern] {
        &self.connect
    }

    /// The listen grants.
    pub fn listen_grants(&self) -> &[AddrPattern] {
        &self.listen
    }

    /// Whether `use_` of `addr` is allowed. This is the `socket_addr_check` wasmtime-wasi calls:
    ///
    /// - `TcpConnect(remote)`: a connect grant matches `remote`.
    /// - `TcpBind(local)`: a listen grant matches `local` (port 0 only by a `:0` or `:*` grant); or
    ///   `local` is the wildcard address with port 0 and a connect grant exists. The latter is the
    ///   implicit ephemeral bind wasmtime checks before every connect of an unbound socket, so
    ///   connect grants work without a listen grant; it opens nothing by itself, since a listen
    ///   is checked on its own and a connect against the connect grants.
    /// - `TcpListen(local)`: a listen grant matches `local`; a `:0` grant matches any port here,
    ///   because wasmtime passes the port the OS assigned (the bind itself was checked already).
    /// - `TcpAccept(peer)`: allowed when any listen grant exists (the listener is the capability;
    ///   clients may come from anywhere).
    /// - UDP uses: only with `allow_net`.
    pub fn check(&self, addr: SocketAddr, use_: SocketAddrUse) -> bool {
        if self.allow_net {
            return true;
        }
        match use_ {
            SocketAddrUse::TcpConnect => self.connect.iter().any(|p| p.matches(addr)),
            SocketAddrUse::TcpBind => {
                self.listen.iter().any(|p| p.matches(addr))
                    || (addr.ip().is_unspecified() && addr.port() == 0 && !self.connect.is_empty())
            }
            SocketAddrUse::TcpListen => self.listen.iter().any(|p| p.matches_listening(addr)),
            SocketAddrUse::TcpAccept => !self.listen.is_empty(),
            SocketAddrUse::UdpBind | SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => false,
        }
    }

    /// Installs these grants into a WASI context builder: TCP and IP name lookup are switched on
    /// when anything is granted (UDP only with `allow_net`), and every address use goes through
    /// [`check`](Self::check). An allowed `TcpAccept` then waits for room in `budget`
    /// ([`SocketBudget::admit_accept`]): the one hook wasmtime-wasi offers between accepting a
    /// connection and accepting the next, so that a WASI accept stream stops accepting at
    /// the run's socket limit. A refused use is reported to `denials`. Replaces any
    /// `socket_addr_check` set on `builder` before.
    ///
    /// This covers what wasmtime-wasi still serves (WASI 0.2 sockets, UDP, name lookup); WASI
    /// 0.3 TCP is the host's own and checks [`check`](Self::check) itself
    /// ([`crate::host_impl::wasi_tcp`]).
    pub fn apply(&self, builder: &mut WasiCtxBuilder, budget: &SocketBudget, denials: &Denials) {
        let any = self.any();
        builder
            .allow_tcp(any)
            .allow_udp(self.allow_net)
            .allow_ip_name_lookup(any);
        let caps = Arc::new(self.clone());
        let budget = budget.clone();
        let denials = denials.clone();
        builder.socket_addr_check(move |addr, use_| {
            let allowed = caps.check(addr, use_);
            if !allowed {
                denials.report_address(addr, use_);
            }
            if allowed && matches!(use_, SocketAddrUse::TcpAccept) {
                let admitted = budget.admit_accept();
                return Box::pin(async move {
                    admitted.await;
                    true
                });
            }
            Box::pin(std::future::ready(allowed))
        });
    }
}

impl fmt::Display for Capabilities {
    /// A one-line summary, e.g. `connect 127.0.0.1:*; listen none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[AddrPattern]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        if self.allow_net {
            f.write_str("all network access")?;
        } else {
            write!(
                f,
                "connect {}; listen {}",
                list(&self.connect),
                list(&self.listen)
            )?;
        }
        if !self.unix.is_empty() {
            let unix: Vec<String> = self.unix.iter().map(ToString::to_string).collect();
            write!(f, "; unix {}", unix.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn pat(s: &str) -> AddrPattern {
        match s.parse() {
            Ok(p) => p,
            Err(e) => unreachable!("{s}: {e}"),
        }
    }

    fn addr(s: &str) -> SocketAddr {
        match s.parse() {
            Ok(a) => a,
            Err(e) => unreachable!("{s}: {e}"),
        }
    }

    fn err(s: &str) -> String {
        match s.parse::<AddrPattern>() {
            Ok(p) => unreachable!("{s} parsed as {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(
            pat("127.0.0.1:*"),
            AddrPattern {
                host: HostPattern::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                port: PortPattern::Any
            }
        );
        assert_eq!(
            pat("[::1]:8080"),
            AddrPattern {
                host: HostPattern::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                port: PortPattern::Port(8080)
            }
        );
        assert_eq!(
            pat("*:80"),
            AddrPattern {
                host: HostPattern::Any,
                port: PortPattern::Port(80)
            }
        );
        assert_eq!(pat("*:*"), AddrPattern::ANY);
        assert_eq!(
            pat("0.0.0.0:0"),
            AddrPattern {
                host: HostPattern::Ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                port: PortPattern::Port(0)
            }
        );
        assert_eq!(
            pat("[::]:*").host,
            HostPattern::Ip(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "127.0.0.1:*",
            "[::1]:8080",
            "*:80",
            "*:*",
            "0.0.0.0:0",
            "[fe80::1]:1",
        ] {
            assert_eq!(pat(s).to_string(), s);
            assert_eq!(pat(&pat(s).to_string()), pat(s));
        }
    }

    #[test]
    fn bad_patterns_say_why() {
        assert!(err("localhost:*").contains("`localhost` is not an IP address"));
        assert!(err("localhost:*").contains("127.0.0.1:*"));
        assert!(err("example.com:443").contains("not an IP address"));
        assert!(err("::1:80").contains("brackets"));
        assert!(err("127.0.0.1").contains("HOST:PORT"));
        assert!(err("127.0.0.1:").contains("port ``"));
        assert!(err("127.0.0.1:65536").contains("0-65535"));
        assert!(err("127.0.0.1:-1").contains("0-65535"));
        assert!(err("127.0.0.1:http").contains("`http`"));
        assert!(err(":80").contains("host is empty"));
        assert!(err("[::1]8080").contains("`:PORT`"));
        assert!(err("[::1:80").contains("missing `]`"));
        assert!(err("[127.0.0.1]:80").contains("not an IPv6 address"));
        assert!(err("").contains("HOST:PORT"));
        assert!(err("256.0.0.1:80").contains("not an IP address"));
        assert!(err("localhost:*").starts_with("invalid address pattern `localhost:*`"));
    }

    #[test]
    fn matching() {
        assert!(pat("127.0.0.1:*").matches(addr("127.0.0.1:1")));
        assert!(pat("127.0.0.1:*").matches(addr("127.0.0.1:0")));
        assert!(!pat("127.0.0.1:*").matches(addr("127.0.0.2:1")));
        assert!(!pat("127.0.0.1:*").matches(addr("[::1]:1")));
        assert!(pat("[::1]:8080").matches(addr("[::1]:8080")));
        assert!(!pat("[::1]:8080").matches(addr("[::1]:8081")));
        assert!(pat("*:80").matches(addr("10.0.0.1:80")));
        assert!(pat("*:80").matches(addr("[2001:db8::1]:80")));
        assert!(!pat("*:80").matches(addr("10.0.0.1:81")));
        assert!(pat("0.0.0.0:0").matches(addr("0.0.0.0:0")));
        assert!(!pat("0.0.0.0:0").matches(addr("0.0.0.0:8080")));
        assert!(
            !pat("0.0.0.0:*").matches(addr("127.0.0.1:8080")),
            "0.0.0.0 is not a wildcard"
        );
        // IPv4-mapped IPv6 addresses are their IPv4 form, both ways.
        assert!(pat("127.0.0.1:*").matches(addr("[::ffff:127.0.0.1]:5")));
        assert!(pat("[::ffff:127.0.0.1]:5").matches(addr("127.0.0.1:5")));
    }

    fn caps(connect: &[&str], listen: &[&str]) -> Capabilities {
        let mut c = Capabilities::deny_all();
        for p in connect {
            c.allow_connect(pat(p));
        }
        for p in listen {
            c.allow_listen(pat(p));
        }
        c
    }

    const ALL_USES: [SocketAddrUse; 7] = [
        SocketAddrUse::TcpBind,
        SocketAddrUse::TcpListen,
        SocketAddrUse::TcpAccept,
        SocketAddrUse::TcpConnect,
        SocketAddrUse::UdpBind,
        SocketAddrUse::UdpSend,
        SocketAddrUse::UdpReceive,
    ];

    #[test]
    fn deny_by_default() {
        let c = Capabilities::default();
        assert!(!c.any());
        for a in ["127.0.0.1:80", "0.0.0.0:0", "[::]:0", "[::1]:1"] {
            for u in ALL_USES {
                assert!(!c.check(addr(a), u), "{a} {u:?}");
            }
        }
    }

    #[test]
    fn allow_net_allows_everything() {
        let c = Capabilities::allow_all();
        assert!(c.any());
        for u in ALL_USES {
            assert!(c.check(addr("10.1.2.3:4"), u));
        }
    }

    #[test]
    fn connect_grant_covers_the_implicit_bind_but_not_listen() {
        let c = caps(&["127.0.0.1:8080"], &[]);
        // wasmtime checks these two for a connect of an unbound socket.
        assert!(c.check(addr("0.0.0.0:0"), SocketAddrUse::TcpBind));
        assert!(c.check(addr("[::]:0"), SocketAddrUse::TcpBind));
        assert!(c.check(addr("127.0.0.1:8080"), SocketAddrUse::TcpConnect));
        assert!(!c.check(addr("127.0.0.1:8081"), SocketAddrUse::TcpConnect));
        assert!(!c.check(addr("10.0.0.1:8080"), SocketAddrUse::TcpConnect));
        // Binding a chosen address or port, listening and accepting stay denied.
        assert!(!c.check(addr("127.0.0.1:0"), SocketAddrUse::TcpBind));
        assert!(!c.check(addr("0.0.0.0:8080"), SocketAddrUse::TcpBind));
        assert!(!c.check(addr("0.0.0.0:0"), SocketAddrUse::TcpListen));
        assert!(!c.check(addr("0.0.0.0:41000"), SocketAddrUse::TcpListen));
        assert!(!c.check(addr("127.0.0.1:5"), SocketAddrUse::TcpAccept));
        assert!(!c.check(addr("0.0.0.0:0"), SocketAddrUse::UdpBind));
    }

    #[test]
    fn listen_grant() {
        let c = caps(&[], &["127.0.0.1:8080"]);
        // Explicit bind + listen on the granted address.
        assert!(c.check(addr("127.0.0.1:8080"), SocketAddrUse::TcpBind));
        assert!(c.check(addr("127.0.0.1:8080"), SocketAddrUse::TcpListen));
        assert!(c.check(addr("10.9.9.9:1234"), SocketAddrUse::TcpAccept));
        // Other ports, other addresses, ephemeral binds and implicit listens are denied.
        assert!(!c.check(addr("127.0.0.1:8081"), SocketAddrUse::TcpBind));
        assert!(!c.check(addr("127.0.0.1:0"), SocketAddrUse::TcpBind));
        assert!(!c.check(addr("0.0.0.0:8080"), SocketAddrUse::TcpBind));
        assert!(!c.check(addr("0.0.0.0:0"), SocketAddrUse::TcpBind));
        assert!(!c.check(addr("0.0.0.0:0"), SocketAddrUse::TcpListen));
        // No connect grant: no connect.
        assert!(!c.check(addr("127.0.0.1:8080"), SocketAddrUse::TcpConnect));
    }

    #[test]
    fn listen_on_an_os_chosen_port() {
        let c = caps(&[], &["127.0.0.1:0"]);
        assert!(c.check(addr("127.0.0.1:0"), SocketAddrUse::TcpBind));
        // wasmtime passes the assigned port to the listen check.
        assert!(c.check(addr("127.0.0.1:41231"), SocketAddrUse::TcpListen));
        // But a chosen port cannot be bound.
        assert!(!c.check(addr("127.0.0.1:41231"), SocketAddrUse::TcpBind));

        let any_port = caps(&[], &["[::1]:*"]);
        assert!(any_port.check(addr("[::1]:0"), SocketAddrUse::TcpBind));
        assert!(any_port.check(addr("[::1]:9"), SocketAddrUse::TcpBind));
        assert!(any_port.check(addr("[::1]:41231"), SocketAddrUse::TcpListen));
        assert!(!any_port.check(addr("127.0.0.1:9"), SocketAddrUse::TcpBind));
    }

    #[test]
    fn implicit_listen_needs_a_wildcard_grant() {
        // wasmtime checks TcpBind and TcpListen with the wildcard address, port 0, when an
        // unbound socket listens.
        let c = caps(&[], &["0.0.0.0:0"]);
        assert!(c.check(addr("0.0.0.0:0"), SocketAddrUse::TcpBind));
        assert!(c.check(addr("0.0.0.0:0"), SocketAddrUse::TcpListen));
        assert!(!c.check(addr("[::]:0"), SocketAddrUse::TcpBind));
    }

    #[test]
    fn loopback_grants_both_ways_on_loopback_only() {
        let c = Capabilities::loopback();
        for a in ["127.0.0.1:7", "[::1]:7"] {
            for u in [
                SocketAddrUse::TcpBind,
                SocketAddrUse::TcpListen,
                SocketAddrUse::TcpAccept,
                SocketAddrUse::TcpConnect,
            ] {
                assert!(c.check(addr(a), u), "{a} {u:?}");
            }
        }
        assert!(!c.check(addr("10.0.0.1:7"), SocketAddrUse::TcpConnect));
        assert!(!c.check(addr("0.0.0.0:7"), SocketAddrUse::TcpBind));
        assert!(!c.check(addr("127.0.0.1:7"), SocketAddrUse::UdpSend));
        assert_eq!(
            c.to_string(),
            "connect 127.0.0.1:*, [::1]:*; listen 127.0.0.1:*, [::1]:*"
        );
        assert_eq!(
            Capabilities::default().to_string(),
            "connect none; listen none"
        );
    }
}
