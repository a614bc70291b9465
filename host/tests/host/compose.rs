//! The two ways an app meets the stream semantics: the embedded examples link wasio-streams and
//! run as they are; an app that imports `wasio:streams` (here the test SDK app's composed build)
//! is composed with the embedded provider, and the result links.
#![cfg(feature = "embed")]

use wasio_host::Runtime;
use wasio_host::compose::{RUN_EXPORT, compose, imports_streams};
use wasio_host::embedded::{ECHO_CLIENT, ECHO_SERVER, HTTP_HEADERS, PROVIDER, SOCKETPAIR, prepare};
use wasio_test_components::composed::SDK_APP as COMPOSED_APP;
use wasmtime::component::Component;

use crate::compiled_client;

/// The names of `component`'s imports and exports.
fn imports_and_exports(runtime: &Runtime, component: &Component) -> (Vec<String>, Vec<String>) {
    let ty = component.component_type();
    let imports = ty.imports(runtime.engine()).map(|(n, _)| n.to_owned());
    let exports = ty.exports(runtime.engine()).map(|(n, _)| n.to_owned());
    (imports.collect(), exports.collect())
}

/// Only `wasi:*` and `wasio:host/*` imports, which the host's linker satisfies, and TCP among them.
fn assert_host_imports_only(imports: &[String]) {
    assert!(
        imports.iter().any(|n| n == "wasi:sockets/types@0.3.0"),
        "wasi:sockets in {imports:?}"
    );
    for name in imports {
        assert!(
            name.starts_with("wasi:") || name.starts_with("wasio:host/"),
            "unexpected import {name}"
        );
    }
}

#[test]
fn the_examples_are_linked_and_a_composed_app_imports_streams() -> anyhow::Result<()> {
    for app in [ECHO_CLIENT, ECHO_SERVER, HTTP_HEADERS, SOCKETPAIR] {
        assert!(!imports_streams(app)?);
    }
    assert!(imports_streams(COMPOSED_APP)?);
    assert!(!imports_streams(PROVIDER)?);
    Ok(())
}

#[test]
fn a_linked_example_exports_run_imports_only_host_interfaces_and_links() -> anyhow::Result<()> {
    let (runtime, component) = compiled_client()?;
    let (imports, exports) = imports_and_exports(runtime, component);
    assert_eq!(exports, [RUN_EXPORT]);
    assert_host_imports_only(&imports);
    runtime.linker().instantiate_pre(component)?;
    Ok(())
}

#[test]
fn a_composition_exports_run_imports_only_host_interfaces_and_links() -> anyhow::Result<()> {
    let runtime = Runtime::new()?;
    let component = runtime.compile(&compose(COMPOSED_APP, PROVIDER)?)?;
    let (imports, exports) = imports_and_exports(&runtime, &component);
    assert_eq!(exports, [RUN_EXPORT]);
    assert!(
        !imports.iter().any(|n| n.starts_with("wasio:streams/")),
        "wasio:streams is satisfied inside: {imports:?}"
    );
    assert_host_imports_only(&imports);
    runtime.linker().instantiate_pre(&component)?;
    Ok(())
}

#[test]
fn prepare_composes_only_apps_that_need_it() -> anyhow::Result<()> {
    let composed = prepare(COMPOSED_APP)?;
    assert!(composed.len() > COMPOSED_APP.len() + PROVIDER.len() / 2);
    let again = prepare(&composed)?;
    assert_eq!(
        again.as_ref(),
        composed.as_ref(),
        "a composition runs as is"
    );
    assert_eq!(
        prepare(ECHO_CLIENT)?.as_ref(),
        ECHO_CLIENT,
        "a linked app runs as is"
    );
    let Err(e) = compose(ECHO_CLIENT, PROVIDER) else {
        anyhow::bail!("a linked app was composed");
    };
    assert!(format!("{e:#}").contains("nothing to compose"), "{e:#}");
    Ok(())
}
