#!/usr/bin/env bash
# The web app's tests: build dist/ with trunk, serve it on loopback, and drive headless Chromium
# (tests/browser/e2e.mjs): the tiny Llama fixture crammed and reconstructed on the WebGPU path
# (SwiftShader), on the CPU fallback and loaded by hub id from a hub-like folder, a .cram made by the CLI imported, the gallery's
# files decoded with the real default model (dist/models/, copied by scripts/app-build.sh), Stop mid-run, a bad file,
# a model over the GPU's buffer limit and a GPU device lost mid-run each given a clear message; then
# `cram decompress` (target/debug/cram, built beforehand) must decompress the files the page exported,
# and the plots of two small `cram capacity` sweeps, rendered to PNG in Chromium, must show their data.
# Screenshots and exported files land in target/app-artifacts/. Ends with "app: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
bash scripts/app-setup.sh
export PATH="$PWD/tests/browser/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
art="$PWD/target/app-artifacts"
mkdir -p "$art"
# CRAM_APP_BUILT=1: dist/ is already built (scripts/test.sh builds it beside the native build).
if [ "${CRAM_APP_BUILT:-}" != 1 ]; then
  echo "== trunk build --release"
  bash scripts/app-build.sh
fi
cp -f core/tests/fixtures/llama_gguf/tiny-llama.gguf dist/models/
# The tiny Llama's Hugging Face folder laid out like the hub, for loading by model id.
hub=dist/hub/cram-fixtures/tiny-llama/resolve/main
mkdir -p "$hub"
cp -f core/tests/fixtures/llama_gguf/{config.json,tokenizer.json,model.safetensors} "$hub/"
# and every other family's tiny checkpoint, as cram-fixtures/tiny-<case>
for case in pythia_tokenizer qwen2 qwen3 olmo olmo2 opt opt_350m_style gemma3 mamba; do
  mkdir -p "dist/hub/cram-fixtures/tiny-$case/resolve/main"
  cp -f core/tests/fixtures/$case/{config.json,tokenizer.json,model.safetensors} "dist/hub/cram-fixtures/tiny-$case/resolve/main/"
done
tiny=core/tests/fixtures/llama_gguf/tiny-llama.gguf
cram=target/debug/cram
text="Alice was beginning to get very tired of sitting"

passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi; }

cli_cram=""
if [ -x "$cram" ]; then
  printf '%s' "$text" > "$art/text.txt"
  "$cram" compress --model "$tiny" --text "$art/text.txt" --tokens 6 --lr 0.1 --max-steps 2000 -o "$art/cli.cram" >/dev/null
  cli_cram="$art/cli.cram"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory dist >"$art/http.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.2; done

echo "== browser tests"
set +e
node tests/browser/e2e.mjs "http://127.0.0.1:$port/" "$art" $cli_cram | tee "$art/e2e.log"
set -e
read -r bp bf < <(sed -n 's/^browser: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$art/e2e.log")
passed=$((passed + ${bp:-0})); failed=$((failed + ${bf:-1}))

decompresses() {
  local file="$art/app-$1.cram"
  [ -f "$file" ] || { echo "FAIL cram decompress $1: no exported file"; return 1; }
  local out
  out=$("$cram" decompress "$file" --model "$tiny") || { echo "FAIL cram decompress $1"; return 1; }
  case "$text" in "$out"*) [ ${#out} -ge 10 ] && echo "ok   cram decompress of the page's $1 export: \"$out\"" && return 0 ;; esac
  echo "FAIL cram decompress $1: got \"$out\""; return 1
}
# The sweeps' plots rendered to PNG in Chromium (tests/browser/plots.mjs): a sweep of two lengths and
# two vector counts, and one of a single length, on the tiny model; each plot must show its data.
plots() {
  local books="data/eval/books.jsonl" args=(--model "$tiny" --samples 1 --lr 0.1 --max-steps 300 --patience 200)
  rm -rf "$art/plots-two" "$art/plots-one" "$art"/plots-*.jsonl
  "$cram" capacity "${args[@]}" --data "$books" --lengths 4,6 --mem 1,2 --out "$art/plots-two.jsonl" --plot "$art/plots-two" >/dev/null 2>&1 &&
    "$cram" capacity "${args[@]}" --data "$books" --lengths 4 --out "$art/plots-one.jsonl" --plot "$art/plots-one" >/dev/null 2>&1 ||
    { echo "FAIL plots: the sweeps did not run"; return 1; }
  node tests/browser/plots.mjs "$art/plots-two=2" "$art/plots-one=1"
}
if [ -x "$cram" ]; then
  check decompresses webgpu
  check decompresses cpu
  check plots
else
  echo "note: $cram not built; skipping the CLI checks (scripts/test.sh builds it first)"
fi
echo "app tests took $(( $(date +%s) - started )) s; artifacts in $art"
echo "app: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
