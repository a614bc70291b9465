#!/usr/bin/env bash
# Re-vendors the WASI 0.3.0 WIT packages into wit/deps from the wasmtime-wasi crate source that
# Cargo.lock pins (DESIGN.md: no WIT registry is reachable, the crate source is the ground truth).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo fetch --quiet
version=$(cargo metadata --format-version 1 --locked \
  | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="wasmtime-wasi"))')
src=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name "wasmtime-wasi-$version" | head -n 1)
[ -n "$src" ] || { echo "wasmtime-wasi-$version not found in the cargo registry" >&2; exit 1; }
for f in cli clocks filesystem random sockets; do
  cp "$src/src/p3/wit/deps/$f.wit" "wit/deps/$f.wit"
done
echo "vendored WASI 0.3.0 WIT from wasmtime-wasi $version into wit/deps"
