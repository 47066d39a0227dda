#!/usr/bin/env bash
# Builds the web app into dist/ (trunk build --release) and puts the default model next to it
# (dist/models/, copied from cram's model cache when scripts/fetch-default-model.sh has fetched it),
# so any static file server can serve the folder. Prints the size of the wasm.
# The gallery (app/gallery/: .cram files `cram compress` made for the default model) is committed and
# trunk copies it to dist/gallery/; `--gallery` remakes it first with scripts/app-gallery.sh (minutes).
# Usage: bash scripts/app-build.sh [--gallery]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --gallery ]; then bash scripts/app-gallery.sh; fi
export PATH="$PWD/tests/browser/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
eval "$(bash scripts/wasm-target.sh)"
trunk build --release
mkdir -p dist/models
home="${CRAM_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/cram}"
model="$home/models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -s "$model" ]; then
  cp -f "$model" dist/models/
else
  echo "note: the default model is not in $home/models (run scripts/fetch-default-model.sh); the page can still load files from disk" >&2
fi
for f in dist/*.wasm; do
  echo "wasm: $f $(stat -c %s "$f") bytes ($(gzip -c "$f" | wc -c) gzipped)"
done
