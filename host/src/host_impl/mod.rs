//! The `wasio:host` imports (`types`, `unix`, `preopens`, `tls`, `limits`, `shutdown`, `exit`): what the host supplies natively
//! to the provider component.
//!
//! The bindings come from `wasmtime::component::bindgen!` over a small world that imports just
//! the `wasio:host` interfaces from `wit/` (the WASI interfaces are served by wasmtime-wasi).
//! Functions that take or hand out `stream`/`future` values, and the WIT `async func`s, get store
//! access through [`WasioHost`], the [`HasData`] marker type implementing the generated
//! `*WithStore` traits; all other functions are implemented on [`WasioHostView`]. A function
//! whose WIT result is `result<_, error-code>` returns `Result<_, `[`conv::HostError`]`>`
//! (bindgen's `trappable_error_type`): `?` takes a native error to the guest's `error-code`
//! and a host failure (a resource missing from the table) to a trap.
//!
//! This module is glue: the sockets themselves are native code in [`crate::net`], free of WIT
//! types, and [`conv`] is the one place their errors, addresses and credentials become WIT
//! values. `host-socket` is [`crate::net::socket::HostSocket`] (a Unix stream or listener, or a
//! TCP stream or listener the host opened with `--listen`); its methods are in `types.rs`,
//! `wasio:host/unix` in `unix.rs`, `wasio:host/preopens` in `preopens.rs`. TLS sessions run on
//! rustls (see [`crate::tls`]; the glue is in `tls.rs`). `wasi:sockets@0.3.0` TCP and
//! `wasio:host/tcp` are linked by hand in [`wasi_tcp`] (their resource is
//! [`crate::net::tcp::TcpSocket`]). Both kinds of socket share the accept-stream adapter in
//! `accept.rs`; every byte stream, TLS's too, uses the one adapter pair of
//! [`crate::streams_io`].

mod accept;
pub mod conv;
mod exit;
mod limits;
mod preopens;
mod shutdown;
mod tls;
mod types;
mod unix;
pub mod wasi_sockets;
pub mod wasi_tcp;

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
                import wasio:host/limits@0.1.0;
                import wasio:host/shutdown@0.1.0;
                import wasio:host/exit@0.1.0;
            }
        ",
        path: "../wit",
        world: "wasio:host-imports/imports",
        with: {
            "wasio:host/types.host-socket": crate::net::socket::HostSocket,
        },
        imports: {
            "wasio:host/types.[method]host-socket.accept": store | trappable,
            "wasio:host/types.[method]host-socket.send": store | trappable,
            "wasio:host/types.[method]host-socket.receive": store | trappable,
            "wasio:host/tls.[static]session.client": store | trappable,
            "wasio:host/tls.[static]session.server": store | trappable,
            "wasio:host/tls.[method]session.receive": store | trappable,
            "wasio:host/tls.[method]session.send": store | trappable,
            default: trappable,
        },
        with: {
            "wasio:host/tls.session": crate::tls::TlsSession,
        },
        trappable_error_type: {
            "wasio:host/types.error-code" => crate::host_impl::conv::HostError,
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

/// Adds the `wasio:host` interfaces to `linker`.
pub fn add_to_linker<T: WasioView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    bindings::Imports::add_to_linker::<T, WasioHost>(linker, T::host)
}

#[cfg(test)]
mod tests {
    use crate::{Exit, Runtime, WasioCtx};
    use wasmtime::component::Component;

    /// A component that imports `wasio:host/unix` and `wasio:host/preopens` as the provider
    /// would, calls `unix.listen("/tmp/x.sock", 5)` and `preopens.take-listeners()`, and exits
    /// 0 only if listen failed with `access-denied` (case 0 of error-code: no path is granted)
    /// and no listener came.
    const PROBE: &str = r#"(component
        (import "wasio:host/types@0.1.0" (instance $types
            (export "host-socket" (type (sub resource)))
            (type $ecd (variant
                (case "access-denied" string) (case "not-supported" string)
                (case "invalid-argument" string) (case "address-in-use")
                (case "address-not-available") (case "not-found") (case "connection-refused")
                (case "connection-reset") (case "connection-aborted") (case "broken-pipe")
                (case "timeout") (case "tls" string) (case "other" (option string))))
            (export "error-code" (type (eq $ecd)))))
        (alias export $types "host-socket" (type $hs))
        (alias export $types "error-code" (type $ec))
        (import "wasio:host/unix@0.1.0" (instance $unix
            (alias outer 1 $ec (type $ec0))
            (export "error-code" (type $ec1 (eq $ec0)))
            (alias outer 1 $hs (type $hs0))
            (export "host-socket" (type $hs1 (eq $hs0)))
            (export "listen" (func (param "path" string) (param "backlog" u32)
                (result (result (own $hs1) (error $ec1)))))))
        (import "wasio:host/preopens@0.1.0" (instance $preopens
            (alias outer 1 $hs (type $hs0))
            (export "host-socket" (type $hs1 (eq $hs0)))
            (export "take-listeners" (func (result (list (tuple string (own $hs1))))))))
        (core module $mem
            (memory (export "mem") 1)
            (global $bump (mut i32) (i32.const 4096))
            (func (export "realloc") (param i32 i32 i32 i32) (result i32)
                (local $p i32)
                ;; Aligned to 8, enough for every alignment asked here.
                (local.set $p (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))
                (global.set $bump (i32.add (local.get $p) (local.get 3)))
                (local.get $p)))
        (core instance $mem (instantiate $mem))
        (alias export $unix "listen" (func $listen))
        (alias export $preopens "take-listeners" (func $take))
        (core func $listen (canon lower (func $listen)
            (memory (core memory $mem "mem")) (realloc (core func $mem "realloc")) string-encoding=utf8))
        (core func $take (canon lower (func $take)
            (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
        (core module $m
            (import "mem" "mem" (memory 1))
            (import "host" "listen" (func $listen (param i32 i32 i32 i32)))
            (import "host" "take" (func $take (param i32)))
            (data (i32.const 0) "/tmp/x.sock")
            (func (export "run") (result i32)
                (call $listen (i32.const 0) (i32.const 11) (i32.const 5) (i32.const 64))
                ;; result<_, error-code> at 64: discriminant, then the error-code at 68.
                (if (i32.ne (i32.load8_u (i32.const 64)) (i32.const 1))
                    (then (return (i32.const 1))))
                (if (i32.ne (i32.load8_u (i32.const 68)) (i32.const 0))
                    (then (return (i32.const 1))))
                (call $take (i32.const 128))
                ;; list<...> at 128: pointer, length.
                (if (i32.ne (i32.load (i32.const 132)) (i32.const 0))
                    (then (return (i32.const 1))))
                (i32.const 0)))
        (core instance $i (instantiate $m
            (with "mem" (instance $mem))
            (with "host" (instance (export "listen" (func $listen)) (export "take" (func $take))))))
        (func $run (result (result)) (canon lift (core func $i "run")))
        (instance $run (export "run" (func $run)))
        (export "wasi:cli/run@0.3.0" (instance $run)))"#;

    /// A component whose `run` calls `wasio:host/exit.set-status` with each of `statuses` in
    /// turn, then returns an error if `fail`, ok otherwise.
    fn exit_probe(statuses: &[u8], fail: bool) -> String {
        let calls: String = statuses
            .iter()
            .map(|status| format!("(call $set (i32.const {status}))"))
            .collect();
        let result = u8::from(fail);
        format!(
            r#"(component
            (import "wasio:host/exit@0.1.0" (instance $exit
                (export "set-status" (func (param "status" u8)))))
            (alias export $exit "set-status" (func $set))
            (core func $set (canon lower (func $set)))
            (core module $m
                (import "host" "set" (func $set (param i32)))
                (func (export "run") (result i32) {calls} (i32.const {result})))
            (core instance $i (instantiate $m (with "host" (instance (export "set" (func $set))))))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $run (export "run" (func $run)))
            (export "wasi:cli/run@0.3.0" (instance $run)))"#
        )
    }

    #[tokio::test]
    async fn a_failed_run_ends_with_the_status_the_app_set() -> anyhow::Result<()> {
        let runtime = Runtime::new()?;
        let cases: [(&[u8], bool, i32); 6] = [
            (&[], true, 1),
            (&[3], true, 3),
            (&[255], true, 255),
            (&[5, 9], true, 9),
            (&[0], true, 1),
            (&[7], false, 0),
        ];
        for (statuses, fail, expected) in cases {
            let component = Component::new(runtime.engine(), exit_probe(statuses, fail))?;
            let exit = runtime.run(&component, WasioCtx::builder().build()).await?;
            assert!(
                matches!(exit, Exit::Code(code) if code == expected),
                "set {statuses:?}, failed: {fail}: {exit}, expected {expected}"
            );
        }
        Ok(())
    }

    #[tokio::test]
    async fn ungranted_unix_paths_are_access_denied_at_the_wit_level() -> anyhow::Result<()> {
        let runtime = Runtime::new()?;
        let component = Component::new(runtime.engine(), PROBE)?;
        let exit = runtime.run(&component, WasioCtx::builder().build()).await?;
        assert!(matches!(exit, Exit::Code(0)), "{exit}");
        Ok(())
    }
}
