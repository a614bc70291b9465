//! Component start: composing app + provider, compiling, and instantiating (from a compiled
//! component, and from a pre-compiled one deserialized at start), for the docs' echo client in
//! its composed build (wasio) and its linked one (wasio-linked, which needs no composing).

use crate::load::Plan;
use crate::report::Results;
use crate::server::System;
use std::time::Instant;
use wasio_host::compose::compose;
use wasio_host::{Runtime, WasioCtx};
use wasmtime::component::Component;
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::p3::bindings::Command;

/// Records compose, compile, deserialize and instantiate times of both wasio modes.
pub async fn measure(plan: &Plan, results: &mut Results) -> anyhow::Result<()> {
    let runtime = Runtime::new()?;
    let app = wasio_test_components::composed::ECHO_CLIENT;
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

    let times = instantiate_times(&runtime, &precompiled, plan.runs * 10).await?;
    results.record("instantiate us", System::Wasio, times);

    // The same with wasmtime's pooling allocator: memories, tables and stacks come from pools
    // reserved once, instead of an mmap per instance.
    let pooled = Runtime::from_config(&pooling_config())?;
    let component = pooled.compile(&composed)?;
    let times = instantiate_times(&pooled, &component, plan.runs * 10).await?;
    results.record("instantiate (pooling) us", System::Wasio, times);

    let linked = wasio_components::ECHO_CLIENT;
    let start = Instant::now();
    let component = runtime.compile(linked)?;
    results.record("compile (JIT) ms", System::WasioLinked, ms(start));
    let times = instantiate_times(&runtime, &component, plan.runs * 10).await?;
    results.record("instantiate us", System::WasioLinked, times);
    let component = pooled.compile(linked)?;
    let times = instantiate_times(&pooled, &component, plan.runs * 10).await?;
    results.record("instantiate (pooling) us", System::WasioLinked, times);
    Ok(())
}

/// The median time, in microseconds, of instantiating `component` `n` times, each in a fresh
/// store.
async fn instantiate_times(
    runtime: &Runtime,
    component: &Component,
    n: usize,
) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let mut store = Store::new(runtime.engine(), WasioCtx::builder().build());
        let start = Instant::now();
        Command::instantiate_async(&mut store, component, runtime.linker()).await?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    times
        .get(times.len() / 2)
        .copied()
        .ok_or_else(|| anyhow::anyhow!("no instantiation to time"))
}

/// wasio's engine configuration with a small pooling allocator: room for a few composed
/// instances at once (each has the app's and the provider's core instances and memories).
fn pooling_config() -> Config {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(4)
        .total_core_instances(128)
        .total_memories(16)
        .total_tables(128)
        .total_stacks(16)
        .max_core_instances_per_component(32)
        .max_memories_per_component(4)
        .max_tables_per_component(32);
    let mut config = wasio_host::config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}
