//! The host's integration tests, in one binary: each test binary links all of wasmtime, so one
//! link instead of four saves build time and disk.

mod capabilities;
mod cli;
mod cli_tls;
mod compose;
mod python;
mod python_build;
mod python_tls;
mod signals;
mod workers;

#[cfg(feature = "embed")]
use std::sync::OnceLock;

#[cfg(feature = "embed")]
use wasio_host::{Runtime, embedded::ECHO_CLIENT, embedded::prepare};
#[cfg(feature = "embed")]
use wasmtime::component::Component;

/// One runtime and one compiled echo client (the docs' example, linked with wasio-streams) for
/// all the tests here: compiling is the slow step.
#[cfg(feature = "embed")]
fn compiled_client() -> anyhow::Result<&'static (Runtime, Component)> {
    // `get_or_init` makes concurrent tests wait for one compile instead of each compiling.
    static CELL: OnceLock<Result<(Runtime, Component), String>> = OnceLock::new();
    let compiled = CELL.get_or_init(|| {
        let build = || -> anyhow::Result<(Runtime, Component)> {
            let runtime = Runtime::new()?;
            let component = runtime.compile(&prepare(ECHO_CLIENT)?)?;
            Ok((runtime, component))
        };
        build().map_err(|e| format!("{e:#}"))
    });
    compiled.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
}
