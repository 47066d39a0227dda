#!/usr/bin/env bash
# The browser walk-through of docs/browser.md on the real model, automated: serve dist/ (scripts/app-build.sh
# copies the default SmolLM2-135M GGUF into dist/models/), open it in headless Chromium, load the
# default model, cram examples/hello.txt with the page's default recipe, check that it comes back, and
# decompress the page's export with the CLI; `walk` runs the guided walk's "Try it" examples instead
# (tests/browser/walk.mjs: each should be exact within a minute). Not part of the test command.
# Usage: bash scripts/app-smollm2.sh [cpu|webgpu|walk ...]   (default: cpu). Output in target/app-smollm2/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tests/browser/node_modules/.bin:$PATH"
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "dist/$model" ] || { echo "error: dist/$model is missing: run scripts/fetch-default-model.sh and scripts/app-build.sh first" >&2; exit 1; }
cram=target/release/cram
[ -x "$cram" ] || cram=target/debug/cram
out="$PWD/target/app-smollm2"
mkdir -p "$out"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory dist >"$out/http.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.2; done

status=0
for device in "${@:-cpu}"; do
  echo "== $device"
  if [ "$device" = walk ]; then
    node tests/browser/walk.mjs "http://127.0.0.1:$port/" | tee -a "$out/walk.jsonl" || status=1
    continue
  fi
  node tests/browser/smollm2.mjs "http://127.0.0.1:$port/" "$out" "$device" examples/hello.txt | tee -a "$out/smollm2.jsonl" || status=1
  if [ -x "$cram" ] && [ -f "$out/smollm2-$device.cram" ]; then
    if back=$("$cram" decompress "$out/smollm2-$device.cram" --model "dist/$model"); then
      echo "cram decompress of the page's export: $back"
      [ "$back" = "$(tr -d '\n' < examples/hello.txt)" ] || { echo "FAIL: the CLI decoded something else"; status=1; }
    else
      status=1
    fi
  fi
done
exit $status
