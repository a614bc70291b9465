//! Builds the product's wasm32-wasip2 components (the provider and the examples, every member of
//! wasm/Cargo.toml outside tests/ and bench/) with a nested cargo, for `src/lib.rs` to embed.

#[path = "wasm_workspace.rs"]
mod wasm_workspace;

fn main() {
    wasm_workspace::build(wasm_workspace::Kind::Product);
}
