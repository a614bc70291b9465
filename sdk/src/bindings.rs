//! The generated bindings of the `wasio:streams/app` world: what the SDK wraps.
//!
//! The world imports `wasio:streams` and exports `wasi:cli/run@0.3.0`. The imports are used by the
//! SDK's own types; the export is emitted only when an app invokes [`main!`](crate::main), through
//! the public `export!` macro generated here (so a crate that depends on the SDK does not export
//! `wasi:cli/run` by accident). Everything here is also reachable for code that needs the raw
//! contract, e.g. `reader.into-stream` (see [`Reader::raw`](crate::Reader::raw)).
#![allow(missing_docs, unsafe_code, clippy::all)]

wit_bindgen::generate!({
    path: "../wit",
    world: "wasio:streams/app",
    generate_all,
    pub_export_macro: true,
    default_bindings_module: "wasio_sdk::bindings",
    runtime_path: "wasio_sdk::__private::wit_bindgen::rt",
});
