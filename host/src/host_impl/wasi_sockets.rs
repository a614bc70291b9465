//! `wasi:sockets` 0.2 and 0.3 under the run's socket budget ([`crate::socket_budget`]).
//!
//! wasmtime-wasi serves `wasi:sockets`; this module shadows the few linker entries that make a
//! socket resource or free one, and delegates each to wasmtime-wasi's own implementation:
//!
//! - 0.2: `create-tcp-socket`, `create-udp-socket`, `tcp-socket.accept` and the destructors of
//!   `tcp-socket` and `udp-socket`;
//! - 0.3: `udp-socket.create` and the destructor of `udp-socket` (0.3 TCP is the host's own:
//!   [`super::wasi_tcp`]).
//!
//! Every socket resource created here holds a [`Permit`] in the store's host state, keyed by
//! its resource-table index, until its destructor runs. A 0.2 `accept` here takes its place
//! before accepting, and passes the `TcpAccept` address check
//! ([`crate::capabilities::Capabilities::apply`]) at once since it already holds it. The names and versions below are the ones
//! wasmtime-wasi 48 links (`wasi:sockets@0.2.12`, `wasi:sockets@0.3.0`); guests importing an
//! older 0.2 patch version are served by the same entries. Shadowing is a workaround
//! (WORKAROUNDS.md, W5): wasmtime-wasi has no hook when a socket is made or freed.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceType};
use wasmtime_wasi::TrappableError;
use wasmtime_wasi::p2::bindings::sockets as p2;
use wasmtime_wasi::p3::bindings::sockets::types as p3;
use wasmtime_wasi::sockets::WasiSocketsView as _;

use crate::ctx::WasioView;
use crate::socket_budget::Permit;

const P2_TCP_CREATE: &str = "wasi:sockets/tcp-create-socket@0.2.12";
const P2_UDP_CREATE: &str = "wasi:sockets/udp-create-socket@0.2.12";
const P2_TCP: &str = "wasi:sockets/tcp@0.2.12";
const P2_UDP: &str = "wasi:sockets/udp@0.2.12";
const P3_TYPES: &str = "wasi:sockets/types@0.3.0";

/// The run's budget and a place in it, or the error the app gets at the limit.
fn acquire<T: WasioView>(store: &mut StoreContextMut<'_, T>) -> Result<Permit, String> {
    let host = store.data_mut().host();
    let budget = host.ctx.socket_budget();
    budget.try_acquire().ok_or_else(|| budget.exhausted())
}

/// Keeps `permit` for the socket resource at table index `rep` until its destructor runs.
fn hold<T: WasioView>(store: &mut StoreContextMut<'_, T>, rep: u32, permit: Permit) {
    store.data_mut().host().ctx.hold_permit(rep, permit);
}

/// What a socket-making call returns: the new socket, now holding `permit`, or the error
/// wasmtime-wasi gave (a trap stays a trap, and `permit` is freed).
fn held<T: WasioView, R: 'static, E>(
    store: &mut StoreContextMut<'_, T>,
    permit: Permit,
    created: Result<Resource<R>, TrappableError<E>>,
) -> wasmtime::Result<Result<Resource<R>, E>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match created {
        Ok(socket) => {
            hold(store, socket.rep(), permit);
            Ok(Ok(socket))
        }
        Err(e) => Ok(Err(e.downcast()?)),
    }
}

/// Frees the place of the socket resource at `rep` (its destructor runs).
fn release<T: WasioView>(store: &mut StoreContextMut<'_, T>, rep: u32) {
    store.data_mut().host().ctx.release_permit(rep);
}

/// Shadows wasmtime-wasi's socket-making entries in `linker` (which must already hold
/// wasmtime-wasi's p2 and p3 interfaces) with budgeted ones.
pub fn add_to_linker<T: WasioView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let result = shadow(linker);
    linker.allow_shadowing(false);
    result
}

fn shadow<T: WasioView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.instance(P2_TCP_CREATE)?.func_wrap(
        "create-tcp-socket",
        |mut store: StoreContextMut<'_, T>, (family,): (p2::network::IpAddressFamily,)| {
            let Ok(permit) = acquire(&mut store) else {
                return Ok((Err(p2::network::ErrorCode::NewSocketLimit),));
            };
            let created = p2::tcp_create_socket::Host::create_tcp_socket(
                &mut store.data_mut().sockets(),
                family,
            );
            Ok((held(&mut store, permit, created)?,))
        },
    )?;
    linker.instance(P2_UDP_CREATE)?.func_wrap_async(
        "create-udp-socket",
        |mut store: StoreContextMut<'_, T>, (family,): (p2::network::IpAddressFamily,)| {
            Box::new(async move {
                let Ok(permit) = acquire(&mut store) else {
                    return Ok((Err(p2::network::ErrorCode::NewSocketLimit),));
                };
                let created = p2::udp_create_socket::Host::create_udp_socket(
                    &mut store.data_mut().sockets(),
                    family,
                )
                .await;
                Ok((held(&mut store, permit, created)?,))
            })
        },
    )?;
    let mut tcp = linker.instance(P2_TCP)?;
    tcp.func_wrap(
        "[method]tcp-socket.accept",
        |mut store: StoreContextMut<'_, T>,
         (socket,): (Resource<wasmtime_wasi::p2::TcpSocket>,)| {
            // A 0.2 accept cannot wait: at the limit it fails and the client stays queued.
            let Ok(permit) = acquire(&mut store) else {
                return Ok((Err(p2::network::ErrorCode::NewSocketLimit),));
            };
            let budget = store.data_mut().host().ctx.socket_budget().clone();
            let accepted = budget.holding_accept(|| {
                p2::tcp::HostTcpSocket::accept(&mut store.data_mut().sockets(), socket)
            });
            Ok((match accepted {
                Ok((socket, input, output)) => {
                    hold(&mut store, socket.rep(), permit);
                    Ok((socket, input, output))
                }
                Err(e) => Err(e.downcast()?),
            },))
        },
    )?;
    tcp.resource(
        "tcp-socket",
        ResourceType::host::<wasmtime_wasi::p2::TcpSocket>(),
        |mut store, rep| {
            release(&mut store, rep);
            p2::tcp::HostTcpSocket::drop(&mut store.data_mut().sockets(), Resource::new_own(rep))
        },
    )?;
    linker.instance(P2_UDP)?.resource(
        "udp-socket",
        ResourceType::host::<wasmtime_wasi::p2::UdpSocket>(),
        |mut store, rep| {
            release(&mut store, rep);
            p2::udp::HostUdpSocket::drop(&mut store.data_mut().sockets(), Resource::new_own(rep))
        },
    )?;

    let mut types = linker.instance(P3_TYPES)?;
    types.func_wrap_async(
        "[static]udp-socket.create",
        |mut store: StoreContextMut<'_, T>, (family,): (p3::IpAddressFamily,)| {
            Box::new(async move {
                let permit = match acquire(&mut store) {
                    Ok(permit) => permit,
                    Err(message) => return Ok((Err(p3::ErrorCode::Other(Some(message))),)),
                };
                let created =
                    p3::HostUdpSocket::create(&mut store.data_mut().sockets(), family).await;
                Ok((held(&mut store, permit, created)?,))
            })
        },
    )?;
    types.resource(
        "udp-socket",
        ResourceType::host::<wasmtime_wasi::sockets::UdpSocket>(),
        |mut store, rep| {
            release(&mut store, rep);
            p3::HostUdpSocket::drop(&mut store.data_mut().sockets(), Resource::new_own(rep))
        },
    )?;
    Ok(())
}
