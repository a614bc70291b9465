//! The SDK's generated bindings. Composed mode (feature `composed`): the `wasio:streams/app`
//! world, which imports `wasio:streams` (the provider's exports) and exports `wasi:cli/run@0.3.0`.
//! Linked mode (the default): the `wasio:streams/linked-app` world, only the `wasi:cli/run`
//! export; wasio-streams brings its own imports. The contract's types are wasio-types' in both.
//!
//! The export is emitted only when an app invokes [`main!`](crate::main), through the public
//! `export!` macro generated here (so a crate that depends on the SDK does not export
//! `wasi:cli/run` by accident).
#![allow(missing_docs, unsafe_code, clippy::all)]

#[cfg(feature = "composed")]
wit_bindgen::generate!({
    path: "../wit",
    world: "wasio:streams/app",
    with: { "wasio:streams/types@0.1.0": wasio_types },
    generate_all,
    pub_export_macro: true,
    default_bindings_module: "wasio_sdk::bindings",
    runtime_path: "wasio_sdk::__private::wit_bindgen::rt",
});

#[cfg(not(feature = "composed"))]
wit_bindgen::generate!({
    path: "../wit",
    world: "wasio:streams/linked-app",
    generate_all,
    pub_export_macro: true,
    default_bindings_module: "wasio_sdk::bindings",
    runtime_path: "wasio_sdk::__private::wit_bindgen::rt",
});
