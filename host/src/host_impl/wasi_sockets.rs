//! `wasi:sockets` 0.2 and 0.3 under the run's socket budget ([`crate::socket_budget`]).
//!
//! wasmtime-wasi serves `wasi:sockets`; this module shadows the few linker entries that make a
//! socket resource or free one, and delegates each to wasmtime-wasi's own implementation:
//!
//! - 0.2: `create-tcp-socket`, `create-udp-socket`, `tcp-socket.accept` and the destructors of
//!   `tcp-socket` and `udp-socket`;
//! - 0.3: `tcp-socket.create`, `udp-socket.create`, `tcp-socket.listen` (its stream of accepted
//!   sockets is passed through a gate that hands a connection out only with a place in the
//!   budget) and the destructors of `tcp-socket` and `udp-socket`.
//!
//! Every socket resource made here holds a [`Permit`] in the store's host state, keyed by its
//! resource-table index, until its destructor runs. The names and versions below are the ones
//! wasmtime-wasi 48 links (`wasi:sockets@0.2.12`, `wasi:sockets@0.3.0`); guests importing an
//! older 0.2 patch version are served by the same entries.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use wasmtime::component::{
    Access, Destination, Linker, Resource, ResourceType, Source, StreamConsumer, StreamProducer,
    StreamReader, StreamResult,
};
use wasmtime::{AsContextMut as _, StoreContextMut};
use wasmtime_wasi::p2::bindings::sockets as p2;
use wasmtime_wasi::p3::bindings::sockets::types as p3;
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView as _};

use crate::ctx::WasioView;
use crate::socket_budget::{Permit, SocketBudget};

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
            Ok((match created {
                Ok(socket) => {
                    hold(&mut store, socket.rep(), permit);
                    Ok(socket)
                }
                Err(e) => Err(e.downcast()?),
            },))
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
                Ok((match created {
                    Ok(socket) => {
                        hold(&mut store, socket.rep(), permit);
                        Ok(socket)
                    }
                    Err(e) => Err(e.downcast()?),
                },))
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
            let accepted = p2::tcp::HostTcpSocket::accept(&mut store.data_mut().sockets(), socket);
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
    types.func_wrap(
        "[static]tcp-socket.create",
        |mut store: StoreContextMut<'_, T>, (family,): (p3::IpAddressFamily,)| {
            let permit = match acquire(&mut store) {
                Ok(permit) => permit,
                Err(message) => return Ok((Err(p3::ErrorCode::Other(Some(message))),)),
            };
            let created = p3::HostTcpSocket::create(&mut store.data_mut().sockets(), family);
            Ok((match created {
                Ok(socket) => {
                    hold(&mut store, socket.rep(), permit);
                    Ok(socket)
                }
                Err(e) => Err(e.downcast()?),
            },))
        },
    )?;
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
                Ok((match created {
                    Ok(socket) => {
                        hold(&mut store, socket.rep(), permit);
                        Ok(socket)
                    }
                    Err(e) => Err(e.downcast()?),
                },))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]tcp-socket.listen",
        |mut store: StoreContextMut<'_, T>,
         (socket,): (Resource<wasmtime_wasi::sockets::TcpSocket>,)| {
            Box::new(async move {
                let access = Access::<T, WasiSockets>::new(store.as_context_mut(), T::sockets);
                let accepted =
                    match <WasiSockets as p3::HostTcpSocketWithStore<T>>::listen(access, socket)
                        .await
                    {
                        Ok(accepted) => accepted,
                        Err(e) => return Ok((Err(e.downcast()?),)),
                    };
                let budget = store.data_mut().host().ctx.socket_budget().clone();
                let gate = Arc::new(Mutex::new(Gate::default()));
                accepted.pipe(
                    &mut store,
                    GateIn {
                        gate: gate.clone(),
                        budget,
                    },
                )?;
                let gated = StreamReader::new(&mut store, GateOut::<T>::new(gate))?;
                Ok((Ok(gated),))
            })
        },
    )?;
    types.resource(
        "tcp-socket",
        ResourceType::host::<wasmtime_wasi::sockets::TcpSocket>(),
        |mut store, rep| {
            release(&mut store, rep);
            p3::HostTcpSocket::drop(&mut store.data_mut().sockets(), Resource::new_own(rep))
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

type P3Socket = Resource<wasmtime_wasi::sockets::TcpSocket>;

/// The hand-over between wasmtime-wasi's accept stream ([`GateIn`]) and the app's
/// ([`GateOut`]): at most one accepted socket, with its place in the budget.
#[derive(Default)]
struct Gate {
    ready: Option<(P3Socket, Permit)>,
    /// wasmtime-wasi's stream ended (the listener failed).
    ended: bool,
    /// The app dropped its stream.
    abandoned: bool,
    /// [`GateIn`] waits for `ready` to empty (or for the app to go).
    in_waker: Option<Waker>,
    /// [`GateOut`] waits for `ready` to fill (or for the end).
    out_waker: Option<Waker>,
}

fn lock(gate: &Mutex<Gate>) -> std::sync::MutexGuard<'_, Gate> {
    gate.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes wasmtime-wasi's accepted sockets, one at a time, each once it has a place in the
/// budget (until then the stream waits, so later clients stay in the kernel's backlog).
struct GateIn {
    gate: Arc<Mutex<Gate>>,
    budget: SocketBudget,
}

impl Drop for GateIn {
    fn drop(&mut self) {
        let mut gate = lock(&self.gate);
        gate.ended = true;
        if let Some(waker) = gate.out_waker.take() {
            waker.wake();
        }
    }
}

impl<T: WasioView> StreamConsumer<T> for GateIn {
    type Item = P3Socket;

    fn poll_consume(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'_, T>,
        mut source: Source<'_, Self::Item>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let mut gate = lock(&self.gate);
        if gate.abandoned {
            // The app is gone: close what was accepted for it.
            if let Some((socket, permit)) = gate.ready.take() {
                drop(gate);
                let _ = store.data_mut().sockets().table.delete(socket);
                drop(permit);
            }
            return Poll::Ready(Ok(StreamResult::Dropped));
        }
        let pending = if finish {
            Poll::Ready(Ok(StreamResult::Cancelled))
        } else {
            Poll::Pending
        };
        if gate.ready.is_some() {
            gate.in_waker = Some(cx.waker().clone());
            return pending;
        }
        if source.remaining(&mut store) == 0 {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        let Poll::Ready(permit) = self.budget.poll_acquire(cx) else {
            return pending;
        };
        let mut taken = None;
        source.read(&mut store, &mut taken)?;
        let Some(socket) = taken else {
            return Poll::Ready(Ok(StreamResult::Completed));
        };
        gate.ready = Some((socket, permit));
        if let Some(waker) = gate.out_waker.take() {
            waker.wake();
        }
        Poll::Ready(Ok(StreamResult::Completed))
    }
}

/// The app's stream of accepted sockets: hands each over with its permit, which the store's
/// host state then keeps until the socket's destructor runs.
struct GateOut<T> {
    gate: Arc<Mutex<Gate>>,
    _store: std::marker::PhantomData<fn(T)>,
}

impl<T> GateOut<T> {
    fn new(gate: Arc<Mutex<Gate>>) -> Self {
        Self {
            gate,
            _store: std::marker::PhantomData,
        }
    }
}

impl<T> Drop for GateOut<T> {
    fn drop(&mut self) {
        let mut gate = lock(&self.gate);
        gate.abandoned = true;
        if let Some(waker) = gate.in_waker.take() {
            waker.wake();
        }
    }
}

impl<T: WasioView> StreamProducer<T> for GateOut<T> {
    type Item = P3Socket;
    type Buffer = Option<P3Socket>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, T>,
        mut dst: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let mut gate = lock(&self.gate);
        if gate.ready.is_none() {
            if gate.ended {
                return Poll::Ready(Ok(StreamResult::Dropped));
            }
            gate.out_waker = Some(cx.waker().clone());
            return if finish {
                Poll::Ready(Ok(StreamResult::Cancelled))
            } else {
                Poll::Pending
            };
        }
        // A zero-length read is a readiness check: the socket stays for the next read.
        if dst.remaining(&mut store) == Some(0) {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        let Some((socket, permit)) = gate.ready.take() else {
            return Poll::Ready(Ok(StreamResult::Completed));
        };
        if let Some(waker) = gate.in_waker.take() {
            waker.wake();
        }
        drop(gate);
        hold(&mut store, socket.rep(), permit);
        dst.set_buffer(Some(socket));
        Poll::Ready(Ok(StreamResult::Completed))
    }
}
