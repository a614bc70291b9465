//! asyncio `open_connection`: option checks, name resolution, connection attempts over
//! wasi:sockets TCP, and wiring the connected socket to a [`Conn`] (through a TLS session with
//! `ssl`).

use crate::addr;
use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::sockets::ip_name_lookup;
use crate::bindings::wasi::sockets::types::TcpSocket;
use crate::conn::{Conn, Opened, Settings, Streams, Transport};
use crate::errors::{invalid, read_error};
use crate::limits::{self, Slot};
use crate::tls::{self, Side, Timeouts};
use crate::types::{AddressFamily, ConnectOptions, ErrorCode};
use std::net::IpAddr;
use std::rc::Rc;
use wasio_core::staggered;

/// Resolves `host` to addresses of the wanted family: an IP literal as is, otherwise through
/// wasi:sockets name lookup.
pub async fn resolve(host: &str, family: AddressFamily) -> Result<Vec<IpAddr>, ErrorCode> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let all = match literal.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => ip_name_lookup::resolve_addresses(host.to_string())
            .await?
            .into_iter()
            .map(addr::to_std)
            .collect(),
    };
    let wanted: Vec<IpAddr> = all
        .into_iter()
        .filter(|ip| match family {
            AddressFamily::Unspecified => true,
            AddressFamily::Ipv4 => ip.is_ipv4(),
            AddressFamily::Ipv6 => ip.is_ipv6(),
        })
        .collect();
    if wanted.is_empty() {
        return Err(ErrorCode::NameUnresolvable);
    }
    Ok(wanted)
}

/// Checks the option rules asyncio enforces before connecting; returns the limit and, with
/// `ssl`, the TLS side and timeouts.
fn check_options(
    host: &str,
    options: &ConnectOptions,
) -> Result<(usize, Option<(Side, Timeouts)>), ErrorCode> {
    let limit =
        wasio_core::validate_limit(options.limit.unwrap_or(wasio_core::DEFAULT_LIMIT as u64))
            .map_err(read_error)?;
    if options.ssl.is_none() {
        if options.server_hostname.is_some() {
            return Err(invalid("server_hostname is only meaningful with ssl"));
        }
        if options.ssl_handshake_timeout.is_some() {
            return Err(invalid("ssl_handshake_timeout is only meaningful with ssl"));
        }
        if options.ssl_shutdown_timeout.is_some() {
            return Err(invalid("ssl_shutdown_timeout is only meaningful with ssl"));
        }
        return Ok((limit, None));
    }
    let Some(ssl) = options.ssl.clone() else {
        return Ok((limit, None));
    };
    // asyncio: server_hostname defaults to host; without a host it must be given.
    let name = match &options.server_hostname {
        Some(name) => Some(name.clone()),
        None if host.is_empty() => None,
        None => Some(host.to_string()),
    };
    let side = tls::client_side(ssl, name)?;
    let timeouts = Timeouts::new(options.ssl_handshake_timeout, options.ssl_shutdown_timeout);
    Ok((limit, Some((side, timeouts))))
}

/// Connection settings from the limit, the optional queue cap (lowered to the host's, which is
/// also the default) and the connection's place under the host's connection limit.
pub fn settings(limit: usize, write_queue_cap: Option<u64>, slot: Slot) -> Settings {
    Settings {
        limit,
        write_queue_cap: limits::run_limits().write_queue_cap(write_queue_cap),
        slot,
    }
}

/// Connects to `host:port`. Every resolved address is tried: in turn, or with
/// `happy-eyeballs-delay` staggered RFC 8305 style (families interleaved, by default one of each in
/// turn), the first connection winning and the other attempts dropped, which closes their sockets.
/// When all fail, the error of the attempt that failed last is reported.
pub async fn open_connection(
    host: String,
    port: u16,
    options: ConnectOptions,
) -> Result<Rc<Conn>, ErrorCode> {
    let (limit, tls) = check_options(&host, &options)?;
    let slot = limits::slot()?;
    let local = match &options.local_addr {
        Some((local_host, local_port)) => {
            let ips = resolve(local_host, options.family).await?;
            Some((ips, *local_port))
        }
        None => None,
    };
    let mut addresses = resolve(&host, options.family).await?;
    let interleave = match (options.happy_eyeballs_delay, options.interleave) {
        (_, Some(n)) => n as usize,
        (Some(_), None) => 1,
        (None, None) => 0,
    };
    if interleave > 0 {
        addresses = staggered::interleave(addresses, interleave, |ip| ip.is_ipv4());
    }
    let delay = options.happy_eyeballs_delay;
    let local = local.as_ref();
    let socket = staggered::staggered_race(
        addresses.len(),
        |i| attempt(addresses[i], port, local, options.tcp_nodelay),
        || async move {
            match delay {
                Some(nanos) => monotonic_clock::wait_for(nanos).await,
                // Without Happy Eyeballs the next attempt starts only when one fails.
                None => std::future::pending().await,
            }
        },
    )
    .await
    .map_err(|last| last.unwrap_or(ErrorCode::NameUnresolvable))?;
    let settings = settings(limit, options.write_queue_cap, slot);
    match tls {
        None => wire(socket, settings),
        Some((side, timeouts)) => wire_tls(socket, settings, side, timeouts).await,
    }
}

/// One connection attempt to `ip:port`, bound first to a local address of the same family if
/// asked; TCP_NODELAY as `nodelay` says (the host's default, on, when `None`).
async fn attempt(
    ip: IpAddr,
    port: u16,
    local: Option<&(Vec<IpAddr>, u16)>,
    nodelay: Option<bool>,
) -> Result<TcpSocket, ErrorCode> {
    let socket = TcpSocket::create(addr::family_of(ip))?;
    if let Some(nodelay) = nodelay {
        crate::bindings::wasio::host::tcp::set_nodelay(&socket, nodelay)?;
    }
    if let Some((local_ips, local_port)) = local {
        let Some(local_ip) = local_ips.iter().find(|l| l.is_ipv4() == ip.is_ipv4()) else {
            return Err(ErrorCode::AddressNotAvailable);
        };
        socket.bind(addr::socket_address(*local_ip, *local_port))?;
    }
    socket.connect(addr::socket_address(ip, port)).await?;
    Ok(socket)
}

/// Opens the byte streams of a connected wasi TCP socket.
fn open_streams(socket: TcpSocket) -> Opened {
    let peername = socket.get_remote_address().ok().map(addr::to_wasio);
    let sockname = socket.get_local_address().ok().map(addr::to_wasio);
    let streams = Streams::of_socket(socket.receive(), |data| socket.send(data));
    Opened {
        transport: Transport::Tcp(socket),
        streams,
        peername,
        sockname,
        credentials: None,
    }
}

/// Starts a [`Conn`] over a connected wasi TCP socket.
pub fn wire(socket: TcpSocket, settings: Settings) -> Result<Rc<Conn>, ErrorCode> {
    Ok(open_streams(socket).start(settings))
}

/// Runs a TLS handshake over a connected wasi TCP socket and starts a [`Conn`] over the
/// session's cleartext. On failure the socket is closed.
pub async fn wire_tls(
    socket: TcpSocket,
    settings: Settings,
    side: Side,
    timeouts: Timeouts,
) -> Result<Rc<Conn>, ErrorCode> {
    open_streams(socket)
        .start_tls(settings, side, timeouts)
        .await
}
