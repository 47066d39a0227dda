#!/usr/bin/env bash
# The main job on a fresh machine: fetch the default model, build cram, compress a text into one
# vector and get it back.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-default-model.sh
cargo build --release -p cram-cli
cram=target/release/cram
out="$(mktemp -d)/hello.cram"
"$cram" compress --text examples/hello.txt -o "$out"
echo "--- decompressed from $out:"
"$cram" decompress "$out"
