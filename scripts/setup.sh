#!/usr/bin/env bash
# Installs what cram needs on a fresh machine: the default model, the wasm32 target for the browser
# build, and a Vulkan driver for the wgpu backend (Mesa's lavapipe where there is no GPU). The Rust
# toolchain itself comes from rustup. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 not found: it is needed to fetch the default model with pip" >&2; exit 2; }
# The test command checks formatting and lints: rustup's default profile has both tools.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  command -v rustup >/dev/null && rustup component add rustfmt clippy
fi
bash scripts/fetch-default-model.sh
bash scripts/wasm-target.sh >/dev/null
bash scripts/vulkan-driver.sh
echo "setup done"
