//! Composing an app component with the provider component, in memory (wac-graph).
//!
//! The app imports `wasio:streams` (its `streams` interface, and `types` if it names types
//! directly); the provider exports them. The composition instantiates the provider, feeds its
//! `wasio:streams/*` exports to the app's matching imports, and exports everything the app
//! exports (above all `wasi:cli/run@0.3.0`). Every other import of either side (WASI 0.2 from
//! Rust's std, WASI 0.3, `wasio:host`) becomes an import of the composition, which the host's
//! linker then satisfies. Composing takes a few milliseconds; the output is both inputs plus a
//! few KB of glue.

use anyhow::{Context as _, bail};
use wac_graph::types::{Package, Types};
use wac_graph::{CompositionGraph, EncodeOptions};

/// The prefix of every `wasio:streams` interface name (`wasio:streams/streams@0.1.0`, ...).
const STREAMS_PREFIX: &str = "wasio:streams/";

/// The export `wasio run` calls.
pub const RUN_EXPORT: &str = "wasi:cli/run@0.3.0";

/// Reads a component's import and export names.
fn decode(name: &str, bytes: &[u8], types: &mut Types) -> anyhow::Result<Package> {
    Package::from_bytes(name, None, bytes.to_vec(), types)
        .with_context(|| format!("the {name} is not a valid WebAssembly component"))
}

/// Names of a decoded package's imports.
fn import_names(package: &Package, types: &Types) -> Vec<String> {
    types[package.ty()].imports.keys().cloned().collect()
}

/// Names of a decoded package's exports.
fn export_names(package: &Package, types: &Types) -> Vec<String> {
    types[package.ty()].exports.keys().cloned().collect()
}

/// Whether the component `app` imports any `wasio:streams` interface, i.e. needs the provider.
/// Fails if `app` is not a component.
pub fn imports_streams(app: &[u8]) -> anyhow::Result<bool> {
    let mut types = Types::default();
    let package = decode("app", app, &mut types)?;
    Ok(import_names(&package, &types)
        .iter()
        .any(|name| name.starts_with(STREAMS_PREFIX)))
}

/// Composes `app` with `provider` (see the [module docs](self)) and returns the encoded,
/// validated composition.
///
/// Fails if either input is not a component, if the app imports no `wasio:streams` interface,
/// or if it imports one the provider does not export.
pub fn compose(app: &[u8], provider: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let provider_pkg = decode("provider", provider, graph.types_mut())?;
    let app_pkg = decode("app", app, graph.types_mut())?;

    let app_imports = import_names(&app_pkg, graph.types());
    let app_exports = export_names(&app_pkg, graph.types());
    let provider_exports = export_names(&provider_pkg, graph.types());
    let streams_imports: Vec<&String> = app_imports
        .iter()
        .filter(|name| name.starts_with(STREAMS_PREFIX))
        .collect();
    if streams_imports.is_empty() {
        bail!(
            "the app imports no wasio:streams interface, so there is nothing to compose: \
             `wasio run` runs it as it is (a Rust app built with wasio-sdk's default linked mode \
             carries the stream semantics itself; it imports: {})",
            app_imports.join(", ")
        );
    }
    for name in &streams_imports {
        if !provider_exports.contains(name) {
            bail!(
                "the app imports `{name}`, which the provider does not export \
                 (the provider exports: {})",
                provider_exports.join(", ")
            );
        }
    }

    let provider_id = graph
        .register_package(provider_pkg)
        .context("registering the provider")?;
    let app_id = graph
        .register_package(app_pkg)
        .context("registering the app")?;
    let provider_instance = graph.instantiate(provider_id);
    let app_instance = graph.instantiate(app_id);

    for name in streams_imports {
        let export = graph
            .alias_instance_export(provider_instance, name)
            .with_context(|| format!("taking `{name}` from the provider"))?;
        graph
            .set_instantiation_argument(app_instance, name, export)
            .with_context(|| format!("passing the provider's `{name}` to the app"))?;
    }
    for name in &app_exports {
        let export = graph
            .alias_instance_export(app_instance, name)
            .with_context(|| format!("taking the app's export `{name}`"))?;
        graph
            .export(export, name)
            .with_context(|| format!("exporting `{name}` from the composition"))?;
    }

    graph
        .encode(EncodeOptions::default())
        .context("encoding the composition of app and provider")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_is_not_a_component() {
        let core_module = b"\0asm\x01\0\0\0";
        let Err(e) = imports_streams(core_module) else {
            unreachable!("a core module is not a component")
        };
        assert!(format!("{e:#}").contains("not a valid WebAssembly component"));
        let Err(e) = compose(b"junk", core_module) else {
            unreachable!("junk composes")
        };
        assert!(format!("{e:#}").contains("the provider is not a valid WebAssembly component"));
    }

    #[test]
    fn an_empty_component_imports_nothing() -> anyhow::Result<()> {
        // The smallest component: preamble only (version 0xd, layer 1).
        let empty = b"\0asm\x0d\0\x01\0";
        assert!(!imports_streams(empty)?);
        let Err(e) = compose(empty, empty) else {
            unreachable!("an app without wasio:streams imports composes")
        };
        assert!(format!("{e:#}").contains("imports no wasio:streams interface"));
        Ok(())
    }
}
