#!/usr/bin/env bash
# Makes the wasm32-unknown-unknown target available and prints the environment to build with it.
# First rustup (what a normal user has); where rustup cannot fetch the target, Debian's rustc-web
# with build-std (rustc-web, cargo-web, rust-web-src, lld-22; RUSTC_BOOTSTRAP=1): -Zbuild-std goes
# through CARGO_UNSTABLE_BUILD_STD so that trunk's cargo call gets it too (libtest included, for the
# wasm-bindgen tests). Prints `export ...` lines for eval. Safe to run twice.
set -euo pipefail
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "export CRAM_WASM_ROUTE=rustup"
  exit 0
fi
if timeout 300 rustup target add wasm32-unknown-unknown >&2; then
  echo "export CRAM_WASM_ROUTE=rustup"
  exit 0
fi
echo "rustup cannot fetch wasm32-unknown-unknown; using Debian's rustc-web" >&2
if ! [ -x /usr/bin/rustc ] || ! dpkg -s rust-web-src >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src lld-22) >&2
fi
echo "export CRAM_WASM_ROUTE=debian RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort,test"
