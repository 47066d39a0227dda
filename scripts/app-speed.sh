#!/usr/bin/env bash
# Steps per second of the web app's CPU path, the loop in the Web Worker against the page's own
# thread, for the tiny Llama fixture and (when dist/ has it) the default SmolLM2-135M; also the page's
# longest frame gap meanwhile. Serves dist/ (build it first: scripts/app-build.sh) and drives headless
# Chromium (tests/browser/speed.mjs). A measurement for docs/browser.md, not a test.
# Usage: bash scripts/app-speed.sh [TINY_STEPS] [SMOLLM2_STEPS]   (default 400 and 20)
# Output: target/app-speed/speed.jsonl (appended) and a table.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tests/browser/node_modules/.bin:$PATH"
tiny_steps=${1:-400}
smollm2_steps=${2:-20}
[ -f dist/index.html ] || { echo "error: dist/ is not built: run scripts/app-build.sh first" >&2; exit 1; }
out="$PWD/target/app-speed"
mkdir -p "$out" dist/models
cp -f core/tests/fixtures/llama_gguf/tiny-llama.gguf dist/models/

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory dist >"$out/http.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.2; done

rows=$(mktemp)
node tests/browser/speed.mjs "http://127.0.0.1:$port/" models/tiny-llama.gguf 16 "$tiny_steps" | tee -a "$out/speed.jsonl" "$rows"
smollm2=models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -f "dist/$smollm2" ]; then
  node tests/browser/speed.mjs "http://127.0.0.1:$port/" "$smollm2" 16 "$smollm2_steps" | tee -a "$out/speed.jsonl" "$rows"
else
  echo "note: dist/$smollm2 is missing (scripts/fetch-default-model.sh, then scripts/app-build.sh): SmolLM2 not measured" >&2
fi
echo
echo "| model | loop | tokens | steps | steps/s | page's longest frame gap |"
echo "| --- | --- | --- | --- | --- | --- |"
python3 - "$rows" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"| {r['model'].split('/')[-1]} | {r['place']} | {r['tokens']} | {r['steps']} | {r['steps_per_second']:.2f} | {r['max_frame_gap_ms']} ms |")
PY
rm -f "$rows"
