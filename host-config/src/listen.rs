//! `--listen` values: what the host should listen on before a run (`tcp:HOST:PORT` or
//! `unix:PATH`), for the app to adopt. Opening the listener is `wasio_host::net::preopen`'s job.

use std::fmt;
use std::str::FromStr;

/// What to listen on: `tcp:HOST:PORT` or `unix:PATH` (`unix:@NAME` for an abstract name).
/// Parsing never panics, and a parsed spec displays as a string that parses back to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenSpec {
    /// A TCP address (HOST an IP literal, IPv6 in brackets, or a name resolved now).
    Tcp(String),
    /// A Unix socket path, or `\0name` in the abstract namespace.
    Unix(String),
}

impl FromStr for ListenSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(addr) = s.strip_prefix("tcp:") {
            let Some((_, port)) = addr.rsplit_once(':') else {
                return Err(format!(
                    "`{s}`: expected tcp:HOST:PORT, e.g. tcp:127.0.0.1:8080"
                ));
            };
            if port.parse::<u16>().is_err() {
                return Err(format!("`{s}`: the port must be a number from 0 to 65535"));
            }
            Ok(Self::Tcp(addr.to_owned()))
        } else if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(format!("`{s}`: the Unix socket path is empty"));
            }
            // An empty abstract name would make the kernel pick one (autobind): never meant.
            if path == "@" {
                return Err(format!(
                    "`{s}`: the abstract socket name is empty (write unix:@NAME)"
                ));
            }
            Ok(Self::Unix(match path.strip_prefix('@') {
                Some(name) => format!("\0{name}"),
                None => path.to_owned(),
            }))
        } else {
            Err(format!(
                "`{s}`: expected tcp:HOST:PORT or unix:PATH (e.g. tcp:127.0.0.1:8080, unix:/run/app.sock)"
            ))
        }
    }
}

impl fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "tcp:{addr}"),
            Self::Unix(path) => match path.strip_prefix('\0') {
                Some(name) => write!(f, "unix:@{name}"),
                None => write!(f, "unix:{path}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_out_of_range_is_a_usage_error() {
        assert!("tcp:127.0.0.1:8080".parse::<ListenSpec>().is_ok());
        assert!("tcp:[::1]:0".parse::<ListenSpec>().is_ok());
        for bad in ["tcp:127.0.0.1:99999", "tcp:127.0.0.1:-1", "tcp:127.0.0.1:x"] {
            let e = bad.parse::<ListenSpec>().err().unwrap_or_default();
            assert!(
                e.contains("port must be a number from 0 to 65535"),
                "{bad}: {e}"
            );
        }
    }
}
