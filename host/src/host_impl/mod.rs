//! The `wasio:host` imports (`types`, `unix`, `preopens`, `tls`): what the host supplies natively
//! to the provider component.
//!
//! The bindings come from `wasmtime::component::bindgen!` over a small world that imports just
//! the four `wasio:host` interfaces from `wit/` (the WASI interfaces are served by wasmtime-wasi).
//! Functions that take or hand out `stream`/`future` values, and the WIT `async func`s, get store
//! access through [`WasioHost`], the [`HasData`] marker type implementing the generated
//! `*WithStore` traits; all other functions are implemented on [`WasioHostView`].
//!
//! Status: Unix sockets (issue 4) and TLS (issue 5) are not built yet. Until then every entry
//! point answers `error-code::not-supported` with a message naming the issue, and
//! `preopens.take-listeners` returns an empty list, so no host socket or TLS session can exist.

mod preopens;
mod tls;
mod types;
mod unix;

use wasmtime::component::{HasData, Linker};

use crate::ctx::{WasioHostView, WasioView};

/// Generated bindings for the `wasio:host` interfaces.
pub mod bindings {
    #![allow(missing_docs)]

    wasmtime::component::bindgen!({
        inline: "
            package wasio:host-imports;
            world imports {
                import wasio:host/types@0.1.0;
                import wasio:host/unix@0.1.0;
                import wasio:host/preopens@0.1.0;
                import wasio:host/tls@0.1.0;
            }
        ",
        path: "../wit",
        world: "wasio:host-imports/imports",
        imports: {
            "wasio:host/types.[method]host-socket.send": store | trappable,
            "wasio:host/types.[method]host-socket.receive": store | trappable,
            "wasio:host/tls.[static]session.client": store | trappable,
            "wasio:host/tls.[static]session.server": store | trappable,
            "wasio:host/tls.[method]session.receive": store | trappable,
            "wasio:host/tls.[method]session.send": store | trappable,
            default: trappable,
        },
        require_store_data_send: true,
    });

    pub use self::wasio::host::*;
}

/// The [`HasData`] marker for the `wasio:host` interfaces: its data is a [`WasioHostView`].
pub struct WasioHost;

impl HasData for WasioHost {
    type Data<'a> = WasioHostView<'a>;
}

/// Adds the four `wasio:host` interfaces to `linker`.
pub fn add_to_linker<T: WasioView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    bindings::Imports::add_to_linker::<T, WasioHost>(linker, T::host)
}
