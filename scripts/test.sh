#!/usr/bin/env bash
# The whole test suite, what README.md calls "run the tests" and CI runs:
#  0. style: cargo fmt --check and cargo clippy -D warnings (the native crates);
#  1. native: unit, fixture and end-to-end tests (the real default model included), every reference
#     case and a cram round trip on the wgpu device too (Mesa's lavapipe where there is no GPU), and
#     scripts/gpu-check.sh --quick (the GPU machine check) on that device;
#  2. wasm: the core on wasm32 in headless Chromium, on its CPU backend and WebGPU (scripts/test-wasm.sh);
#  3. app: the web app built with trunk and driven in headless Chromium, its exports decompressed by
#     the CLI (scripts/test-app.sh).
# Every part runs even when an earlier one fails; the exit code says whether all passed.
# CRAM_SKIP_BROWSER=1 runs only part 1 (a quick local check; CI never sets it).
set -uo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
bash scripts/setup.sh || exit 1
mkdir -p target
# The Vulkan loader wants a runtime dir; a headless CI machine has none (harmless, but noisy).
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then export XDG_RUNTIME_DIR="$PWD/target/xdg-runtime"; mkdir -p -m 700 "$XDG_RUNTIME_DIR"; fi
status=0

# The app's tools and build (trunk, wasm-bindgen-cli, chromium + chromedriver, playwright-core; then
# `trunk build --release`, wasm-opt included) run beside the native build: the wasm32 release build and
# the native debug build lock different directories, and each leaves a core idle in its serial stretches.
browser=1
[ "${CRAM_SKIP_BROWSER:-}" = 1 ] && browser=0
if [ "$browser" = 1 ]; then
  echo "== app: setup and build, in the background (log: target/app-build.log)"
  (bash scripts/app-setup.sh && bash scripts/app-build.sh) >target/app-build.log 2>&1 &
  app_build=$!
fi

# Habits first (fast): the tree formatted as rustfmt.toml says, and clippy clean with warnings as errors.
echo "== style: cargo fmt --check, cargo clippy -D warnings"
if cargo fmt --all -- --check >target/fmt.log 2>&1; then
  style="fmt: 1 passed, 0 failed"
else
  status=1 style="fmt: 0 passed, 1 failed"
  head -40 target/fmt.log
fi
if cargo clippy --workspace --features cram-core/wgpu --all-targets -- -D warnings >target/clippy.log 2>&1; then
  style="$style; clippy: 1 passed, 0 failed"
else
  status=1 style="$style; clippy: 0 passed, 1 failed"
  grep -E "^(error|warning)" -A8 target/clippy.log | head -60
fi
echo "$style"

# One build with the wgpu backend: the CPU tests and the wgpu tests share it, so burn compiles once.
# CRAM_REQUIRE_WGPU=1 turns "no wgpu adapter" into a failure instead of a skip.
echo "== native: build (the end-to-end tests run the cram binary)"
cargo build -p cram-cli --features wgpu || exit 1
echo "== native: cargo test (CPU, and wgpu where the test names it)"
CRAM_REQUIRE_WGPU=1 cargo test --workspace --features cram-core/wgpu --no-fail-fast 2>&1 | tee target/test.log
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
native_passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' target/test.log | awk '{s+=$4} END {print s+0}')
native_failed=$(grep -Eo '[0-9]+ failed;' target/test.log | awk '{s+=$1} END {print s+0}')
summary="$style; native: $native_passed passed, $native_failed failed"

# The GPU machine check, quick and on lavapipe here: the same build, so it costs its runs only.
echo "== gpu-check: scripts/gpu-check.sh --quick on the wgpu device"
if bash scripts/gpu-check.sh --quick >target/gpu-check.log 2>&1; then
  summary="$summary; gpu-check: 1 passed, 0 failed"
else
  status=1
  summary="$summary; gpu-check: 0 passed, 1 failed"
  tail -40 target/gpu-check.log
fi
cat target/gpu-check/summary.txt 2>/dev/null || true

if [ "$browser" = 0 ]; then
  echo "note: CRAM_SKIP_BROWSER=1: the wasm and app tests were skipped"
else
  echo "== app: waiting for the setup and build"
  wait "$app_build"
  built=$?
  cat target/app-build.log
  [ "$built" -eq 0 ] || { echo "the app setup or build failed (above)"; exit 1; }
  echo "== app: browser tests"
  CRAM_APP_BUILT=1 bash scripts/test-app.sh 2>&1 | tee target/app-test.log
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  # Built like the app (release, same dependency set): only the test crate compiles here.
  echo "== wasm: the core in headless Chromium"
  bash scripts/test-wasm.sh 2>&1 | tee target/wasm-test-run.log
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  summary="$summary; $(grep -E '^wasm: ' target/wasm-test-run.log | tail -1 || echo 'wasm: did not run'); $(grep -E '^app: ' target/app-test.log | tail -1 || echo 'app: did not run')"
fi

total_passed=$(echo "$summary" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
total_failed=$(echo "$summary" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
[ "$status" -ne 0 ] && [ "$total_failed" -eq 0 ] && total_failed=1
echo "$summary"
echo "took $(( $(date +%s) - started )) s"
echo "tests: $total_passed passed, $total_failed failed"
exit "$status"
