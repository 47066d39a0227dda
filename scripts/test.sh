#!/usr/bin/env bash
# The whole test suite: unit, fixture and end-to-end tests (the real default model included), the
# reference tests and a cramming round trip on the wgpu device (Mesa's lavapipe where there is no GPU),
# and the check that the core builds for wasm32. What README.md calls "run the tests".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p target
# One build with the wgpu backend: the CPU tests and the wgpu tests (every reference case and a cram
# round trip on the wgpu device; Mesa's lavapipe where there is no GPU) share it, so burn compiles once.
# CRAM_REQUIRE_WGPU=1 turns "no wgpu adapter" into a failure instead of a skip.
# The Vulkan loader wants a runtime dir; a headless CI machine has none (harmless, but noisy).
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then export XDG_RUNTIME_DIR="$PWD/target/xdg-runtime"; mkdir -p -m 700 "$XDG_RUNTIME_DIR"; fi
echo "== build (the end-to-end tests run the cram binary)"
cargo build -p cram-cli --features wgpu
echo "== cargo test (CPU, and wgpu where the test names it)"
CRAM_REQUIRE_WGPU=1 cargo test --workspace --features cram-core/wgpu --no-fail-fast 2>&1 | tee target/test.log
echo "== the core for wasm32"
eval "$(bash scripts/wasm-target.sh)"
cargo check -p cram-core --no-default-features --target wasm32-unknown-unknown ${CRAM_WASM_FLAGS:-}
passed=$(grep -Eo '^test result: ok\. [0-9]+ passed' target/test.log | awk '{s+=$4} END {print s+0}')
echo "wasm32: the core compiles"
echo "tests: $passed passed, 0 failed"
