//! Converting between wasi:sockets addresses, std's, and wasio's `socket-address`.

use crate::bindings::wasi::sockets::types::{
    IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
use crate::types::{InetAddress, SocketAddress};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A std IP address from a wasi one.
pub fn to_std(ip: IpAddress) -> IpAddr {
    match ip {
        IpAddress::Ipv4((a, b, c, d)) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
        }
    }
}

/// A wasi socket address for `ip` and `port`.
pub fn socket_address(ip: IpAddr, port: u16) -> IpSocketAddress {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port,
                address: (a, b, c, d),
            })
        }
        IpAddr::V6(v6) => {
            let [a, b, c, d, e, f, g, h] = v6.segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port,
                flow_info: 0,
                address: (a, b, c, d, e, f, g, h),
                scope_id: 0,
            })
        }
    }
}

/// The wasi family of an address.
pub fn family_of(ip: IpAddr) -> IpAddressFamily {
    match ip {
        IpAddr::V4(_) => IpAddressFamily::Ipv4,
        IpAddr::V6(_) => IpAddressFamily::Ipv6,
    }
}

/// asyncio's `peername` / `sockname` form of a wasi socket address.
pub fn to_wasio(addr: IpSocketAddress) -> SocketAddress {
    match addr {
        IpSocketAddress::Ipv4(a) => {
            let (p, q, r, s) = a.address;
            SocketAddress::Inet(InetAddress {
                host: Ipv4Addr::new(p, q, r, s).to_string(),
                port: a.port,
                flow_info: 0,
                scope_id: 0,
            })
        }
        IpSocketAddress::Ipv6(a) => SocketAddress::Inet(InetAddress {
            host: to_std(IpAddress::Ipv6(a.address)).to_string(),
            port: a.port,
            flow_info: a.flow_info,
            scope_id: a.scope_id,
        }),
    }
}
