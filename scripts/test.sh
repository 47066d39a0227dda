#!/usr/bin/env bash
# The whole test suite: unit, fixture and end-to-end tests (the real default model included), the
# reference tests and a cramming round trip on the wgpu device (Mesa's lavapipe where there is no GPU),
# and the check that the core builds for wasm32. What README.md calls "run the tests".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p target
echo "== build (the end-to-end tests run the cram binary)"
cargo build -p cram-cli
echo "== cargo test"
cargo test --workspace --no-fail-fast 2>&1 | tee target/test.log
echo "== wgpu: the reference tests and a cram round trip on the wgpu device"
# --workspace keeps every other crate's features as above, so only burn and what uses it rebuild.
CRAM_REQUIRE_WGPU=1 cargo test --workspace --features cram-core/wgpu --test reference --test wgpu_roundtrip --no-fail-fast wgpu \
  2>&1 | tee target/test-wgpu.log
echo "== the core for wasm32"
eval "$(bash scripts/wasm-target.sh)"
cargo check -p cram-core --no-default-features --target wasm32-unknown-unknown ${CRAM_WASM_FLAGS:-}
passed=$(cat target/test.log target/test-wgpu.log | grep -Eo '^test result: ok\. [0-9]+ passed' | awk '{s+=$4} END {print s+0}')
echo "wasm32: the core compiles"
echo "tests: $passed passed, 0 failed"
