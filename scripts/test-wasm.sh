#!/usr/bin/env bash
# The core's wasm tests (app/tests/core_in_browser.rs) on wasm32 in headless Chromium: wasm-bindgen-test-runner
# (from wasm-bindgen-cli) drives Debian's chromium through chromedriver, with a software WebGPU adapter
# (--enable-unsafe-webgpu, tests/browser/webdriver.json). The tests sit in the app crate and build with
# the release profile, as `trunk build --release` does, so the two share every compiled dependency.
# Ends with "wasm: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/app-setup.sh
export PATH="$PWD/tests/browser/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
eval "$(bash scripts/wasm-target.sh)"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/tests/browser/webdriver.json"
# The whole suite runs in one page; WebGPU on SwiftShader is slow, so the runner's 20 s is too short.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-1200}"
mkdir -p target
set +e
cargo test -p cram-app --release --target wasm32-unknown-unknown --test core_in_browser 2>&1 | tee target/wasm-test.log
rc=${PIPESTATUS[0]}
set -e
read -r passed failed < <(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' target/wasm-test.log | tail -1)
[ "$rc" -ne 0 ] && [ "${failed:-0}" -eq 0 ] && failed=1
echo "wasm: ${passed:-0} passed, ${failed:-0} failed"
exit "$rc"
