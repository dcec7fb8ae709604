#!/usr/bin/env bash
# Builds the stage as a WebAssembly component: <crate name>.wasm next to this
# file, or the path given.
#
#   ./build.sh [OUT.wasm]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
name="$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
out="${1:-$name.wasm}"
# rust-toolchain.toml makes rustup fetch the toolchain and wasm32-wasip2.
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/${name//-/_}.wasm" "$out.tmp"
# Rename into place: a running Sluice never sees half a file.
mv -f "$out.tmp" "$out"
echo "$out: $(( $(stat -c %s "$out") / 1024 )) KiB"
