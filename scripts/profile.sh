#!/usr/bin/env bash
# Where one optimiser step spends its time on the CPU backend: `perf record` (cpu-clock sampling, so
# it works in VMs without hardware counters) of `cram bench` on SmolLM2-135M at each length, samples
# grouped by symbol into matmul / softmax+exp / element-wise / autodiff / allocation / threads / other.
#   bash scripts/profile.sh [--lengths 16,64,256] [--steps 20]
# Needs perf (Debian: linux-perf) and a release build (CRAM, default target/release/cram). Sampling
# starts --delay ms after launch (default 5000), past model loading and the first step; the row
# "model loading" shows what is left of it. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
lengths=16,64,256 steps=20 delay=5000
while [ $# -gt 0 ]; do
  case "$1" in
    --lengths) lengths=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --delay) delay=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cram=${CRAM:-target/release/cram}
command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 2; }
[ -x "$cram" ] || { echo "$cram not found: cargo build --release -p cram-cli" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
IFS=, read -ra ls <<<"$lengths"
for L in "${ls[@]}"; do
  perf record -q -D "$delay" -e cpu-clock -F 999 -o "$dir/$L.data" -- "$cram" bench --lengths "$L" --steps "$steps" --json >"$dir/$L.json" 2>/dev/null
  perf report -i "$dir/$L.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' >"$dir/$L.txt"
done
python3 - "$dir" "${ls[@]}" <<'EOF'
import json, re, sys
d, lengths = sys.argv[1], sys.argv[2:]
groups = [
    ("matmul (gemm kernels and packing)", r"gemm"),
    ("softmax, exp, log (cross-entropy over the vocabulary, attention, SiLU)", r"expf|logf|softmax|log_softmax|exp_|silu"),
    ("autodiff graph and gradients", r"burn_autodiff|Gradients|Checkpointer|NodeId"),
    ("allocation and page faults", r"malloc|free|mi_|clear_page|page_fault|_mm_|do_anonymous|memcg|folio|alloc_pages|unmap|memset|handle_mm"),
    ("element-wise ops, copies, gathers", r"burn_flex|macerator|memmove|memcpy|strided|zip"),
    ("threads (rayon hand-offs, scheduling)", r"rayon|sched|futex|task_switch|spin_unlock|crossbeam|LocalKey"),
    ("model loading (dequantise, transpose)", r"dequantize|transpose|gguf"),
]
table = {}
secs = {}
for L in lengths:
    shares = {g: 0.0 for g, _ in groups}
    shares["other"] = 0.0
    for line in open(f"{d}/{L}.txt"):
        m = re.match(r"\s*([0-9.]+)%\s+\[[.k]\]\s+(.*)", line)
        if not m:
            continue
        pct, sym = float(m.group(1)), m.group(2)
        for g, pat in groups:
            if re.search(pat, sym):
                shares[g] += pct
                break
        else:
            shares["other"] += pct
    table[L] = shares
    row = json.loads(open(f"{d}/{L}.json").read().splitlines()[0])
    secs[L] = row["seconds_per_step"]
print("| share of samples | " + " | ".join(f"T = {L}" for L in lengths) + " |")
print("|---|" + "---|" * len(lengths))
print("| seconds per step | " + " | ".join(f"{secs[L]:.3f}" for L in lengths) + " |")
for g in [g for g, _ in groups] + ["other"]:
    print(f"| {g} | " + " | ".join(f"{table[L][g]:.1f} %" for L in lengths) + " |")
EOF
