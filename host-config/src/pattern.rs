//! TCP address patterns, `HOST:PORT`, as the host's `--allow-connect` and `--allow-listen` take
//! them. HOST is an IP literal (`127.0.0.1`, `[::1]`; IPv6 in brackets) or `*` for any address, and
//! PORT is a number or `*` for any port:
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
//! How the host applies the patterns is in `wasio_host::capabilities`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// The host part of an [`AddrPattern`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostPattern {
    /// `*`: any IP address.
    Any,
    /// One IP address. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is treated as its IPv4 form.
    Ip(IpAddr),
}

/// The port part of an [`AddrPattern`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortPattern {
    /// `*`: any port.
    Any,
    /// One port. Port 0 in a listen grant means "a port the OS picks" (an ephemeral bind).
    Port(u16),
}

/// One address grant, `HOST:PORT` (see the [module docs](self) for the syntax). Parsing never
/// panics, and a parsed pattern displays as a string that parses back to the same pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrPattern {
    /// Which IP addresses match.
    pub host: HostPattern,
    /// Which ports match.
    pub port: PortPattern,
}

/// Why an address pattern was rejected; the message says how to write it instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    pattern: String,
    reason: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid address pattern `{}`: {}",
            self.pattern, self.reason
        )
    }
}

impl std::error::Error for PatternError {}

impl PatternError {
    fn new(pattern: &str, reason: impl Into<String>) -> Self {
        Self {
            pattern: pattern.to_owned(),
            reason: reason.into(),
        }
    }
}

/// An IPv4-mapped IPv6 address compares as its IPv4 form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

impl AddrPattern {
    /// `*:*`: every address and port.
    pub const ANY: Self = Self {
        host: HostPattern::Any,
        port: PortPattern::Any,
    };

    /// A pattern matching exactly `addr`.
    pub fn exact(addr: SocketAddr) -> Self {
        Self {
            host: HostPattern::Ip(canonical(addr.ip())),
            port: PortPattern::Port(addr.port()),
        }
    }

    /// Whether `ip` matches the host part.
    fn matches_ip(&self, ip: IpAddr) -> bool {
        match self.host {
            HostPattern::Any => true,
            HostPattern::Ip(p) => canonical(p) == canonical(ip),
        }
    }

    /// Whether `addr` matches, port 0 in the pattern matching only port 0.
    pub fn matches(&self, addr: SocketAddr) -> bool {
        self.matches_ip(addr.ip())
            && match self.port {
                PortPattern::Any => true,
                PortPattern::Port(p) => p == addr.port(),
            }
    }

    /// Like [`matches`](Self::matches), but port 0 in the pattern matches any port: used for the
    /// listen check, which sees the port the OS assigned to a socket bound to port 0.
    pub fn matches_listening(&self, addr: SocketAddr) -> bool {
        self.matches_ip(addr.ip())
            && match self.port {
                PortPattern::Any | PortPattern::Port(0) => true,
                PortPattern::Port(p) => p == addr.port(),
            }
    }
}

impl FromStr for AddrPattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, PatternError> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let Some((host, after)) = rest.split_once(']') else {
                return Err(PatternError::new(s, "missing `]` after the IPv6 address"));
            };
            let Some(port) = after.strip_prefix(':') else {
                return Err(PatternError::new(
                    s,
                    "expected `:PORT` after `]` (e.g. `[::1]:8080` or `[::1]:*`)",
                ));
            };
            let ip = host
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| PatternError::new(s, format!("`{host}` is not an IPv6 address")))?;
            (HostPattern::Ip(canonical(IpAddr::V6(ip))), port)
        } else {
            let Some((host, port)) = s.rsplit_once(':') else {
                return Err(PatternError::new(
                    s,
                    "expected HOST:PORT, e.g. `127.0.0.1:8080`, `[::1]:*` or `*:443`",
                ));
            };
            let host = if host == "*" {
                HostPattern::Any
            } else if host.contains(':') {
                return Err(PatternError::new(
                    s,
                    "write an IPv6 address in brackets, e.g. `[::1]:8080`",
                ));
            } else if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
                HostPattern::Ip(IpAddr::V4(ip))
            } else if host.is_empty() {
                return Err(PatternError::new(
                    s,
                    "the host is empty; use an IP address or `*`",
                ));
            } else {
                return Err(PatternError::new(
                    s,
                    format!(
                        "`{host}` is not an IP address; the host must be an IP literal or `*` \
                         (e.g. `127.0.0.1:*` or `[::1]:*` for localhost): names are resolved by \
                         the app and the address it then uses is what gets checked"
                    ),
                ));
            };
            (host, port)
        };
        let port = if port == "*" {
            PortPattern::Any
        } else {
            PortPattern::Port(port.parse::<u16>().map_err(|_| {
                PatternError::new(s, format!("port `{port}` is not a number 0-65535 or `*`"))
            })?)
        };
        Ok(Self { host, port })
    }
}

impl fmt::Display for AddrPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host {
            HostPattern::Any => f.write_str("*")?,
            HostPattern::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
        }
        match self.port {
            PortPattern::Any => f.write_str(":*"),
            PortPattern::Port(p) => write!(f, ":{p}"),
        }
    }
}
