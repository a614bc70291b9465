//! asyncio `open_connection`: option checks, name resolution, connection attempts over
//! wasi:sockets TCP, and wiring the connected socket to a [`Conn`].

use crate::addr;
use crate::bindings::exports::wasio::streams::types::{AddressFamily, ConnectOptions, ErrorCode};
use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::sockets::ip_name_lookup;
use crate::bindings::wasi::sockets::types::TcpSocket;
use crate::bindings::wit_stream;
use crate::conn::{Completion, Conn, Settings, Streams, Transport};
use crate::errors::invalid;
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

/// Checks the option rules asyncio enforces before connecting.
fn check_options(options: &ConnectOptions) -> Result<usize, ErrorCode> {
    let limit =
        wasio_core::validate_limit(options.limit.unwrap_or(wasio_core::DEFAULT_LIMIT as u64))?;
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
    } else {
        return Err(crate::tls_not_built());
    }
    Ok(limit)
}

/// Connection settings from the limit and the optional queue cap.
pub fn settings(limit: usize, write_queue_cap: Option<u64>) -> Settings {
    Settings {
        limit,
        write_queue_cap: write_queue_cap.map_or(wasio_core::DEFAULT_WRITE_QUEUE_CAP, |cap| {
            usize::try_from(cap).unwrap_or(usize::MAX)
        }),
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
    let limit = check_options(&options)?;
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
        |i| attempt(addresses[i], port, local),
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
    wire(socket, settings(limit, options.write_queue_cap))
}

/// One connection attempt to `ip:port`, bound first to a local address of the same family if asked.
async fn attempt(
    ip: IpAddr,
    port: u16,
    local: Option<&(Vec<IpAddr>, u16)>,
) -> Result<TcpSocket, ErrorCode> {
    let socket = TcpSocket::create(addr::family_of(ip))?;
    if let Some((local_ips, local_port)) = local {
        let Some(local_ip) = local_ips.iter().find(|l| l.is_ipv4() == ip.is_ipv4()) else {
            return Err(ErrorCode::AddressNotAvailable);
        };
        socket.bind(addr::socket_address(*local_ip, *local_port))?;
    }
    socket.connect(addr::socket_address(ip, port)).await?;
    Ok(socket)
}

/// Starts a [`Conn`] over a connected wasi TCP socket.
pub fn wire(socket: TcpSocket, settings: Settings) -> Result<Rc<Conn>, ErrorCode> {
    let peername = socket.get_remote_address().ok().map(addr::to_wasio);
    let sockname = socket.get_local_address().ok().map(addr::to_wasio);
    let (receive, receive_done) = socket.receive();
    let (send, send_rx) = wit_stream::new::<u8>();
    let send_done = socket.send(send_rx);
    let receive_done: Completion =
        Box::pin(async move { receive_done.await.map_err(ErrorCode::from) });
    let send_done: Completion = Box::pin(async move { send_done.await.map_err(ErrorCode::from) });
    Ok(Conn::start(
        Transport::Tcp(socket),
        Streams {
            receive,
            receive_done,
            send,
            send_done,
        },
        settings,
        peername,
        sockname,
    ))
}
