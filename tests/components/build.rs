//! Builds the test and bench components (every member of wasm/Cargo.toml under tests/ or bench/)
//! with a nested cargo, for `src/lib.rs` to embed; shares its code with the product's build.

#[path = "../../components/wasm_workspace.rs"]
mod wasm_workspace;

fn main() {
    wasm_workspace::build(wasm_workspace::Kind::Test);
}
