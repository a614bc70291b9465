//! Component start: composing app + provider, compiling, and instantiating (from a compiled
//! component, and from a pre-compiled one deserialized at start).

use crate::load::Plan;
use crate::report::Results;
use crate::server::System;
use std::time::Instant;
use wasio_host::compose::compose;
use wasio_host::{Runtime, WasioCtx};
use wasmtime::Store;
use wasmtime::component::Component;
use wasmtime_wasi::p3::bindings::Command;

/// Records compose, compile, deserialize and instantiate times (wasio only).
pub async fn measure(plan: &Plan, results: &mut Results) -> anyhow::Result<()> {
    let runtime = Runtime::new()?;
    let app = wasio_components::ECHO_CLIENT;
    let provider = wasio_components::PROVIDER;

    let start = Instant::now();
    let composed = compose(app, provider)?;
    results.record("compose ms", System::Wasio, ms(start));

    let start = Instant::now();
    let component = runtime.compile(&composed)?;
    results.record("compile (JIT) ms", System::Wasio, ms(start));

    let serialized = component.serialize()?;
    let start = Instant::now();
    #[allow(
        unsafe_code,
        reason = "deserializing bytes this process serialized with this engine"
    )]
    let precompiled = unsafe { Component::deserialize(runtime.engine(), &serialized)? };
    results.record("load pre-compiled ms", System::Wasio, ms(start));

    let mut times = Vec::new();
    for _ in 0..(plan.runs * 10) {
        let mut store = Store::new(runtime.engine(), WasioCtx::builder().build());
        let start = Instant::now();
        Command::instantiate_async(&mut store, &precompiled, runtime.linker()).await?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    results.record("instantiate us", System::Wasio, times[times.len() / 2]);
    Ok(())
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}
