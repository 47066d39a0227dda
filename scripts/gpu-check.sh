#!/usr/bin/env bash
# Checks cram on this machine's GPU, start to end, in one command (about 10 minutes on a real GPU;
# it also passes on Mesa's lavapipe, a Vulkan driver on the CPU, only slowly):
#   1. builds the `cram` command with the GPU backend (wgpu, or CUDA with --cuda);
#   2. runs every transformers reference case on the device: f32, per-layer checkpointing, and
#      bf16/f16 where the device computes in them;
#   3. crams a text into SmolLM2-135M on the device in its default dtype and decompresses it there;
#   4. times `cram bench` on the device and on the CPU, and prints the ratio.
# Usage: bash scripts/gpu-check.sh [--cuda] [--quick]
#   --quick: debug build (shares the test suite's build), 8 tokens, 2 bench steps at 16 tokens.
# Exit code 0 only when every step passed; the summary is in target/gpu-check/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
feature=wgpu device=wgpu quick=0
for arg in "$@"; do
  case "$arg" in
    --cuda) feature=cuda device=cuda ;;
    --quick) quick=1 ;;
    *) echo "usage: bash scripts/gpu-check.sh [--cuda] [--quick]" >&2; exit 2 ;;
  esac
done
out=target/gpu-check
mkdir -p "$out"
started=$(date +%s)
summary="$out/summary.txt"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then export XDG_RUNTIME_DIR="$PWD/target/xdg-runtime"; mkdir -p -m 700 "$XDG_RUNTIME_DIR"; fi

bash scripts/fetch-default-model.sh >/dev/null
[ "$feature" = wgpu ] && bash scripts/vulkan-driver.sh >/dev/null
if [ "$quick" = 1 ]; then
  profile=() bin=target/debug/cram tokens=8 lengths=16 steps=2
else
  profile=(--release) bin=target/release/cram tokens=32 lengths=16,64 steps=5
fi

echo "== 1. build with --features $feature"
cargo build "${profile[@]}" -p cram-cli --features "$feature"
say "build: ok ($bin, --features $feature)"

echo "== 2. the transformers reference cases on $device"
# The filter names the device's modules of the reference cases (reference::wgpu::, reference::wgpu_f16::,
# ...; reference::cuda...) in core's one test binary. Built as the test suite builds it (--workspace),
# so --quick reuses that build.
CRAM_REQUIRE_WGPU=1 CRAM_REQUIRE_CUDA=1 cargo test "${profile[@]}" --workspace --features "cram-core/$feature" --test all "reference::$device" 2>&1 | tee "$out/reference.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || { say "reference cases: FAILED (see $out/reference.log)"; exit 1; }
# Both crates' `all` binaries run under --workspace (cram-tests' filters every test out): sum them.
say "reference cases: $(grep -Eo '[0-9]+ passed; [0-9]+ failed' "$out/reference.log" | awk '{p += $1; f += $3} END {print p " passed; " f " failed"}')"
grep -E " in (bf16|f16)" "$out/reference.log" | sed 's/^/  /' | tee -a "$summary" || true
grep -E "^skipping .* in " "$out/reference.log" | sed 's/^/  /' | tee -a "$summary" || true

echo "== 3. cram and decompress a SmolLM2-135M text on $device"
"$bin" compress --device "$device" --text examples/hello.txt --tokens "$tokens" -o "$out/hello.cram" --json >"$out/compress.json"
"$bin" decompress "$out/hello.cram" --device "$device" -o "$out/hello.back.txt"
python3 - "$out" "$tokens" <<'PY' | tee -a "$summary"
import json, sys
out, tokens = sys.argv[1], int(sys.argv[2])
m = json.load(open(f"{out}/compress.json"))
back = open(f"{out}/hello.back.txt", encoding="utf-8").read()
text = open("examples/hello.txt", encoding="utf-8").read()
ok = m["greedy_exact"] and text.startswith(back) and len(back) > 0
print(f"round trip: {'ok' if ok else 'FAILED'} ({tokens} tokens in {m['steps']} steps, {m['seconds']:.1f} s, dtype {m.get('dtype', '?')}; decompressed {back!r})")
sys.exit(0 if ok else 1)
PY

echo "== 4. cram bench: $device against the CPU"
"$bin" bench --device "$device" --lengths "$lengths" --steps "$steps" --json >"$out/bench-$device.jsonl"
"$bin" bench --device cpu --lengths "$lengths" --steps "$steps" --json >"$out/bench-cpu.jsonl"
python3 - "$out" "$device" <<'PY' | tee -a "$summary"
import json, sys
out, device = sys.argv[1], sys.argv[2]
rows = lambda name: {(r["length"], r["batch"]): r for r in map(json.loads, open(f"{out}/bench-{name}.jsonl")) if r.get("implementation") == "cram"}
gpu, cpu = rows(device), rows("cpu")
print(f"{'tokens':>6} {'batch':>5} {device + ' s/step':>14} {'cpu s/step':>11} {'cpu/' + device:>9}")
for key in sorted(gpu):
    g, c = gpu[key]["seconds_per_step"], cpu[key]["seconds_per_step"]
    print(f"{key[0]:>6} {key[1]:>5} {g:>14.3f} {c:>11.3f} {c / g:>9.2f}")
PY
say "gpu-check: passed in $(( $(date +%s) - started )) s"
