//! Socket addresses and connection metadata: [`SocketAddress`] (asyncio's `peername` /
//! `sockname`) shown as `host:port` or as Python's tuple `repr` (both from wasio-types), and [`ExtraInfo`].

pub use wasio_types::{
    ExtraInfo, InetAddress, PeerCertificate, PeerCredentials, SocketAddress, python_str_repr,
};
