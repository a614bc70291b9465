//! `wasi:sockets@0.3.0` TCP served by the host's own native sockets ([`crate::net::tcp`]), in place
//! of wasmtime-wasi's: the `tcp-socket` resource and all its functions in `wasi:sockets/types`.
//! wasmtime-wasi still serves the rest of that interface (UDP) and `ip-name-lookup`.
//!
//! The entries shadow wasmtime-wasi's, by name, in the linker that already holds them (the
//! `types` interface also holds UDP, which stays wasmtime-wasi's, so the interface cannot be
//! left out as a whole). Every socket holds a place in the run's socket budget
//! ([`crate::socket_budget`]) from its creation (or acceptance) until its destructor runs. The
//! grants are checked by [`crate::capabilities::Capabilities::check`], as they were through
//! wasmtime-wasi's `socket_addr_check`, and a refusal is reported to the operator
//! ([`crate::denials`]). Errors are mapped as wasmtime-wasi maps them.
//!
//! `wasio:host/tcp` (the options wasi:sockets lacks: TCP_NODELAY, SO_REUSEPORT, SO_REUSEADDR
//! off) takes a `borrow<tcp-socket>` of this resource; it is linked here too, by hand, because
//! its resource type is this module's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use wasmtime::StoreContextMut;
use wasmtime::component::{
    Accessor, FutureReader, Linker, Resource, ResourceTable, ResourceType, StreamReader,
};
use wasmtime::error::Context as _;
use wasmtime_wasi::p3::bindings::sockets::types as p3;
use wasmtime_wasi::sockets::SocketAddrUse;

use super::accept::{AcceptProducer, Acceptor};
use super::bindings::types::ErrorCode as HostError;
use crate::capabilities::Capabilities;
use crate::ctx::{WasioHostCtx, WasioView};
use crate::denials::{Denials, Denied};
use crate::net::tcp::{Family, TcpSocket};
use crate::streams_io::{ByteConsumer, ByteProducer, SocketSide};

const P3_TYPES: &str = "wasi:sockets/types@0.3.0";
const HOST_TCP: &str = "wasio:host/tcp@0.1.0";

/// A wasi:sockets result of the host's native code.
type Native<T> = Result<T, wasmtime_wasi::sockets::ErrorCode>;

/// The socket behind `socket` (a bad handle is a host bug: the component model checks handles).
fn get<'a>(
    table: &'a mut ResourceTable,
    socket: &Resource<TcpSocket>,
) -> wasmtime::Result<&'a mut TcpSocket> {
    table
        .get_mut(socket)
        .context("tcp-socket missing from the resource table")
}

/// Whether the run's grants allow `use_` of `addr`; a refusal is reported.
fn check(ctx: &WasioHostCtx, addr: SocketAddr, use_: SocketAddrUse) -> bool {
    let allowed = ctx.capabilities().check(addr, use_);
    if !allowed {
        ctx.denials().report_address(addr, use_);
    }
    allowed
}

/// A native result as the WIT result.
fn wit<T>(result: Native<T>) -> Result<T, p3::ErrorCode> {
    result.map_err(p3::ErrorCode::from)
}

/// The WIT family as the native one.
fn family(family: p3::IpAddressFamily) -> Family {
    match family {
        p3::IpAddressFamily::Ipv4 => Family::V4,
        p3::IpAddressFamily::Ipv6 => Family::V6,
    }
}

/// Runs `f` on the socket behind `socket` and returns its result to the guest.
fn with_socket<T: WasioView, R>(
    mut store: StoreContextMut<'_, T>,
    socket: &Resource<TcpSocket>,
    f: impl FnOnce(&mut TcpSocket) -> Native<R>,
) -> wasmtime::Result<(Result<R, p3::ErrorCode>,)> {
    let view = store.data_mut().host();
    Ok((wit(f(get(view.table, socket)?)),))
}

/// Accepts connections for a wasi:sockets accept stream, as new `tcp-socket`s.
struct TcpAcceptor {
    listener: Arc<tokio::net::TcpListener>,
    family: Family,
    nodelay: bool,
    capabilities: Capabilities,
    denials: Denials,
}

impl Acceptor for TcpAcceptor {
    type Socket = TcpSocket;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<TcpSocket>> {
        let check = |addr, use_| {
            let allowed = self.capabilities.check(addr, use_);
            if !allowed {
                self.denials.report_address(addr, use_);
            }
            allowed
        };
        crate::net::tcp::poll_accept(&self.listener, cx, &check).map_ok(|(stream, peer)| {
            tracing::debug!(target: "wasio::net", %peer, "accepted a TCP connection");
            TcpSocket::accepted(stream, peer, self.family, self.nodelay)
        })
    }
}

/// Shadows wasmtime-wasi's `tcp-socket` in `linker` (which must already hold wasmtime-wasi's
/// p3 interfaces) with the host's own, and adds `wasio:host/tcp`.
pub fn add_to_linker<T: WasioView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let result = shadow(linker);
    linker.allow_shadowing(false);
    result?;
    add_host_tcp(linker)
}

fn shadow<T: WasioView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    let mut types = linker.instance(P3_TYPES)?;
    types.resource(
        "tcp-socket",
        ResourceType::host::<TcpSocket>(),
        |mut store, rep| {
            let view = store.data_mut().host();
            view.ctx.release_permit(rep);
            let socket = view
                .table
                .delete(Resource::<TcpSocket>::new_own(rep))
                .context("tcp-socket missing from the resource table")?;
            if tracing::enabled!(target: "wasio::net", tracing::Level::DEBUG)
                && let Ok(peer) = socket.remote_address()
            {
                tracing::debug!(target: "wasio::net", %peer, "closed a TCP connection");
            }
            Ok(())
        },
    )?;
    types.func_wrap(
        "[static]tcp-socket.create",
        |mut store: StoreContextMut<'_, T>, (address_family,): (p3::IpAddressFamily,)| {
            let view = store.data_mut().host();
            if !view.ctx.capabilities().any() {
                view.ctx.denials().report(Denied::Network);
                return Ok((Err(p3::ErrorCode::AccessDenied),));
            }
            let budget = view.ctx.socket_budget();
            let Some(permit) = budget.try_acquire() else {
                return Ok((Err(p3::ErrorCode::Other(Some(budget.exhausted()))),));
            };
            let socket = match TcpSocket::new(family(address_family)) {
                Ok(socket) => socket,
                Err(e) => return Ok((Err(wasmtime_wasi::sockets::ErrorCode::from(e).into()),)),
            };
            let resource = view.table.push(socket).context("pushing a tcp-socket")?;
            view.ctx.hold_permit(resource.rep(), permit);
            Ok((Ok(resource),))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.bind",
        |mut store: StoreContextMut<'_, T>,
         (socket, local): (Resource<TcpSocket>, p3::IpSocketAddress)| {
            let view = store.data_mut().host();
            let ctx = &*view.ctx;
            let result = get(view.table, &socket)?.bind(
                local.into(),
                &|addr, use_| check(ctx, addr, use_),
                ctx.sharing(),
            );
            Ok((wit(result),))
        },
    )?;
    types.func_wrap_concurrent(
        "[method]tcp-socket.connect",
        |accessor: &Accessor<T>, (socket, remote): (Resource<TcpSocket>, p3::IpSocketAddress)| {
            Box::pin(async move {
                let remote = SocketAddr::from(remote);
                let started = accessor.with(|mut access| {
                    let view = access.get().host();
                    let ctx = &*view.ctx;
                    wasmtime::error::Ok(
                        get(view.table, &socket)?
                            .start_connect(remote, &|addr, use_| check(ctx, addr, use_)),
                    )
                })?;
                let native = match started {
                    Ok(native) => native,
                    Err(e) => return Ok((Err(p3::ErrorCode::from(e)),)),
                };
                tracing::debug!(target: "wasio::net", %remote, "connecting over TCP");
                // Never hold the store across the wait.
                let connected = native.connect(remote).await;
                if let Err(e) = &connected {
                    tracing::debug!(target: "wasio::net", %remote, error = %e, "TCP connect failed");
                }
                accessor.with(|mut access| {
                    let view = access.get().host();
                    Ok((wit(get(view.table, &socket)?.finish_connect(connected)),))
                })
            })
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.listen",
        |mut store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            let view = store.data_mut().host();
            let ctx = &*view.ctx;
            let tcp = get(view.table, &socket)?;
            let listener = match tcp.listen(&|addr, use_| check(ctx, addr, use_), ctx.sharing()) {
                Ok(listener) => listener,
                Err(e) => return Ok((Err(p3::ErrorCode::from(e)),)),
            };
            if let Ok(local) = listener.local_addr() {
                tracing::debug!(target: "wasio::net", %local, "listening on TCP");
            }
            let acceptor = TcpAcceptor {
                listener,
                family: tcp.family(),
                nodelay: tcp.nodelay(),
                capabilities: ctx.capabilities().clone(),
                denials: ctx.denials().clone(),
            };
            let producer = AcceptProducer::new(acceptor, ctx.socket_budget().clone(), T::host);
            Ok((Ok(StreamReader::new(&mut store, producer)?),))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.send",
        |mut store: StoreContextMut<'_, T>,
         (socket, mut data): (Resource<TcpSocket>, StreamReader<u8>)| {
            let taken = get(store.data_mut().host().table, &socket)?.take_send();
            let future = match taken {
                Ok(stream) => {
                    let (done, result) = oneshot::channel();
                    data.pipe(
                        &mut store,
                        ByteConsumer::new(SocketSide::new(stream, done, send_error)),
                    )?;
                    FutureReader::new(&mut store, result)?
                }
                Err(e) => {
                    data.close(&mut store)?;
                    let e = p3::ErrorCode::from(e);
                    FutureReader::new(&mut store, async move { wasmtime::error::Ok(Err(e)) })?
                }
            };
            Ok((future,))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.receive",
        |mut store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            let taken = get(store.data_mut().host().table, &socket)?.take_receive();
            let pair = match taken {
                Ok(stream) => {
                    let (done, result) = oneshot::channel();
                    (
                        StreamReader::new(
                            &mut store,
                            ByteProducer::new(SocketSide::new(stream, done, receive_error)),
                        )?,
                        FutureReader::new(&mut store, result)?,
                    )
                }
                Err(e) => {
                    let e = p3::ErrorCode::from(e);
                    (
                        StreamReader::new(&mut store, std::iter::empty())?,
                        FutureReader::new(&mut store, async move { wasmtime::error::Ok(Err(e)) })?,
                    )
                }
            };
            Ok((pair,))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.get-local-address",
        |store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            with_socket(store, &socket, |s| {
                s.local_address().map(p3::IpSocketAddress::from)
            })
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.get-remote-address",
        |store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            with_socket(store, &socket, |s| {
                s.remote_address().map(p3::IpSocketAddress::from)
            })
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.get-is-listening",
        |mut store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            Ok((get(store.data_mut().host().table, &socket)?.is_listening(),))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.get-address-family",
        |mut store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            Ok((
                match get(store.data_mut().host().table, &socket)?.family() {
                    Family::V4 => p3::IpAddressFamily::Ipv4,
                    Family::V6 => p3::IpAddressFamily::Ipv6,
                },
            ))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.set-listen-backlog-size",
        |store: StoreContextMut<'_, T>, (socket, value): (Resource<TcpSocket>, u64)| {
            with_socket(store, &socket, |s| s.set_listen_backlog_size(value))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.get-keep-alive-enabled",
        |store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            with_socket(store, &socket, |s| s.keep_alive_enabled())
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.set-keep-alive-enabled",
        |store: StoreContextMut<'_, T>, (socket, value): (Resource<TcpSocket>, bool)| {
            with_socket(store, &socket, |s| s.set_keep_alive_enabled(value))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.get-keep-alive-idle-time",
        |store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            with_socket(store, &socket, |s| s.keep_alive_idle_time())
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.set-keep-alive-idle-time",
        |store: StoreContextMut<'_, T>, (socket, value): (Resource<TcpSocket>, u64)| {
            with_socket(store, &socket, |s| s.set_keep_alive_idle_time(value))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.get-keep-alive-interval",
        |store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            with_socket(store, &socket, |s| s.keep_alive_interval())
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.set-keep-alive-interval",
        |store: StoreContextMut<'_, T>, (socket, value): (Resource<TcpSocket>, u64)| {
            with_socket(store, &socket, |s| s.set_keep_alive_interval(value))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.get-keep-alive-count",
        |store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            with_socket(store, &socket, |s| s.keep_alive_count())
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.set-keep-alive-count",
        |store: StoreContextMut<'_, T>, (socket, value): (Resource<TcpSocket>, u32)| {
            with_socket(store, &socket, |s| s.set_keep_alive_count(value))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.get-hop-limit",
        |store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            with_socket(store, &socket, |s| s.hop_limit())
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.set-hop-limit",
        |store: StoreContextMut<'_, T>, (socket, value): (Resource<TcpSocket>, u8)| {
            with_socket(store, &socket, |s| s.set_hop_limit(value))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.get-receive-buffer-size",
        |store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            with_socket(store, &socket, |s| s.receive_buffer_size())
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.set-receive-buffer-size",
        |store: StoreContextMut<'_, T>, (socket, value): (Resource<TcpSocket>, u64)| {
            with_socket(store, &socket, |s| s.set_receive_buffer_size(value))
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.get-send-buffer-size",
        |store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            with_socket(store, &socket, |s| s.send_buffer_size())
        },
    )?;
    types.func_wrap(
        "[method]tcp-socket.set-send-buffer-size",
        |store: StoreContextMut<'_, T>, (socket, value): (Resource<TcpSocket>, u64)| {
            with_socket(store, &socket, |s| s.set_send_buffer_size(value))
        },
    )?;
    Ok(())
}

/// A send error as wasi:sockets reports it (EPIPE is `connection-broken`).
fn send_error(e: std::io::Error) -> p3::ErrorCode {
    wasmtime_wasi::sockets::ErrorCode::from(e).into()
}

/// A receive error as wasi:sockets reports it.
fn receive_error(e: std::io::Error) -> p3::ErrorCode {
    wasmtime_wasi::sockets::ErrorCode::from(e).into()
}

/// A `wasio:host/tcp` result: a native error as the host interfaces' `error-code`.
fn host_result(result: Native<()>) -> Result<(), HostError> {
    result.map_err(|e| match e {
        wasmtime_wasi::sockets::ErrorCode::InvalidState => HostError::InvalidArgument(
            "this option cannot be set in the socket's present state (SO_REUSEADDR and \
             SO_REUSEPORT only before bind)"
                .to_owned(),
        ),
        wasmtime_wasi::sockets::ErrorCode::ConnectionRefused
        | wasmtime_wasi::sockets::ErrorCode::ConnectionReset
        | wasmtime_wasi::sockets::ErrorCode::ConnectionAborted
        | wasmtime_wasi::sockets::ErrorCode::ConnectionBroken
        | wasmtime_wasi::sockets::ErrorCode::Timeout
        | wasmtime_wasi::sockets::ErrorCode::AccessDenied => HostError::InvalidArgument(
            "the socket's connect failed, so its options can no longer be set".to_owned(),
        ),
        _ => HostError::Other(Some(
            "the operating system refused the TCP socket option".to_owned(),
        )),
    })
}

/// Links `wasio:host/tcp`: the socket options wasi:sockets lacks, on a `tcp-socket` of
/// [`shadow`]'s resource type.
fn add_host_tcp<T: WasioView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    let mut tcp = linker.instance(HOST_TCP)?;
    tcp.func_wrap(
        "set-nodelay",
        |mut store: StoreContextMut<'_, T>, (socket, enabled): (Resource<TcpSocket>, bool)| {
            let view = store.data_mut().host();
            Ok((host_result(get(view.table, &socket)?.set_nodelay(enabled)),))
        },
    )?;
    tcp.func_wrap(
        "set-reuse-address",
        |mut store: StoreContextMut<'_, T>, (socket, enabled): (Resource<TcpSocket>, bool)| {
            let view = store.data_mut().host();
            Ok((host_result(
                get(view.table, &socket)?.set_reuse_address(enabled),
            ),))
        },
    )?;
    tcp.func_wrap(
        "set-reuse-port",
        |mut store: StoreContextMut<'_, T>, (socket, enabled): (Resource<TcpSocket>, bool)| {
            let view = store.data_mut().host();
            Ok((host_result(
                get(view.table, &socket)?.set_reuse_port(enabled),
            ),))
        },
    )?;
    tcp.func_wrap(
        "abort",
        |mut store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            let view = store.data_mut().host();
            get(view.table, &socket)?.abort();
            Ok(())
        },
    )?;
    Ok(())
}

/// Links `wasio:host/tcp` over wasmtime-wasi's own `tcp-socket` (for [`crate::TcpImpl`]'s
/// comparison setting): every option is `not-supported` there.
pub fn add_options_unsupported<T: WasioView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    type WasiTcp = wasmtime_wasi::sockets::TcpSocket;
    fn unsupported() -> Result<(), HostError> {
        Err(HostError::NotSupported(
            "wasmtime-wasi's TCP (a benchmark setting of the host) has no such option".to_owned(),
        ))
    }
    let mut tcp = linker.instance(HOST_TCP)?;
    for name in ["set-nodelay", "set-reuse-address", "set-reuse-port"] {
        tcp.func_wrap(
            name,
            |_: StoreContextMut<'_, T>, (_, _): (Resource<WasiTcp>, bool)| Ok((unsupported(),)),
        )?;
    }
    // Its send stream always ends with a FIN (`TcpSendStream::drop`): nothing to change.
    tcp.func_wrap(
        "abort",
        |_: StoreContextMut<'_, T>, (_,): (Resource<WasiTcp>,)| Ok(()),
    )?;
    Ok(())
}
