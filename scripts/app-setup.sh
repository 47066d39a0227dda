#!/usr/bin/env bash
# Installs what building and testing the web app needs, skipping what is already there at the right
# version: the wasm32 target, trunk 0.21.14, wasm-bindgen-cli 0.2.130, wasm-opt (npm binaryen@132) and
# playwright-core (npm, in tests/browser), Debian's chromium and chromedriver. Versions are pinned with Trunk.toml
# (trunk uses a tool on PATH only when its version matches exactly). Safe to run twice.
# Afterwards: export PATH="$PWD/tests/browser/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."
TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130
export PATH="$PWD/tests/browser/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

eval "$(bash scripts/wasm-target.sh)"
if [ "${CRAM_WASM_ROUTE:-}" != rustup ]; then
  echo "note: the wasm32 target comes from Debian's rustc-web; trunk builds with RUSTC=$RUSTC" >&2
fi

have() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"; }

if have trunk "trunk $TRUNK_VERSION"; then echo "trunk $TRUNK_VERSION present"
# Unoptimised (--debug): trunk only orchestrates cargo, wasm-bindgen and wasm-opt, and this way it
# compiles in ~3 minutes instead of ~10 on 2 cores.
else cargo install trunk --version "=$TRUNK_VERSION" --locked --debug; fi

# Without --locked: its lockfile wants a crate version the registry mirror lacks.
if have wasm-bindgen "wasm-bindgen $WASM_BINDGEN_VERSION"; then echo "wasm-bindgen $WASM_BINDGEN_VERSION present"
else cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"; fi

if [ -x tests/browser/node_modules/.bin/wasm-opt ] && [ -d tests/browser/node_modules/playwright-core ]; then
  echo "wasm-opt and playwright-core present"
else
  (cd tests/browser && npm ci --no-audit --no-fund)
fi

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then echo "chromium and chromedriver present"
else
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi
echo "app setup done"
