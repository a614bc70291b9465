//! Composing the embedded examples with the embedded provider, and linking the result.
#![cfg(feature = "embed")]

use wasio_host::compose::{RUN_EXPORT, imports_streams};
use wasio_host::embedded::{ECHO_CLIENT, ECHO_SERVER, HTTP_HEADERS, PROVIDER, prepare};

use crate::compiled_client;

#[test]
fn the_examples_import_streams_and_the_provider_does_not() -> anyhow::Result<()> {
    for app in [ECHO_CLIENT, ECHO_SERVER, HTTP_HEADERS] {
        assert!(imports_streams(app)?);
    }
    assert!(!imports_streams(PROVIDER)?);
    Ok(())
}

#[test]
fn the_composition_exports_run_and_imports_only_host_interfaces() -> anyhow::Result<()> {
    let (runtime, component) = compiled_client()?;
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(runtime.engine())
        .map(|(name, _)| name.to_owned())
        .collect();
    assert_eq!(exports, [RUN_EXPORT]);
    let imports: Vec<String> = ty
        .imports(runtime.engine())
        .map(|(name, _)| name.to_owned())
        .collect();
    assert!(
        !imports.iter().any(|n| n.starts_with("wasio:streams/")),
        "wasio:streams is satisfied inside: {imports:?}"
    );
    // The provider imports wasio:host only once it uses Unix sockets or TLS (issues 4 and 5).
    for needed in ["wasi:sockets/types@0.3.0", "wasi:cli/stdout@0.2.6"] {
        assert!(
            imports.iter().any(|n| n == needed),
            "{needed} in {imports:?}"
        );
    }
    for name in &imports {
        assert!(
            name.starts_with("wasi:") || name.starts_with("wasio:host/"),
            "unexpected import {name}"
        );
    }
    Ok(())
}

#[test]
fn the_linker_satisfies_every_import_of_the_composition() -> anyhow::Result<()> {
    let (runtime, component) = compiled_client()?;
    runtime.linker().instantiate_pre(component)?;
    Ok(())
}

#[test]
fn prepare_composes_only_apps_that_need_it() -> anyhow::Result<()> {
    let composed = prepare(ECHO_CLIENT)?;
    assert!(composed.len() > ECHO_CLIENT.len() + PROVIDER.len() / 2);
    let again = prepare(&composed)?;
    assert_eq!(
        again.as_ref(),
        composed.as_ref(),
        "a composition runs as is"
    );
    Ok(())
}
