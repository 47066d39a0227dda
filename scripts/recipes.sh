#!/usr/bin/env bash
# Steps to greedy-exact for several cramming recipes on the same book chunks (issue #13's study):
#   bash scripts/recipes.sh [--lengths 16,32,64] [--samples 8] [--batch 8] [--max-steps 600] [--only NAME,...]
# Each recipe is one `cram capacity` run into results/recipes/NAME.jsonl (resumable: run it again
# after a stop and only the missing texts run); the summary table is printed at the end and written to
# results/recipes/summary.md. A text that is not greedy-exact within --max-steps counts as a failure
# and with --max-steps in the mean over all texts. Env: CRAM (the binary, default target/release/cram).
set -euo pipefail
cd "$(dirname "$0")/.."
lengths=16,32,64 samples=8 batch=8 max_steps=600 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --lengths) lengths=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --max-steps) max_steps=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cram=${CRAM:-target/release/cram}
[ -x "$cram" ] || { echo "$cram not found: cargo build --release -p cram-cli" >&2; exit 2; }
out=results/recipes
mkdir -p "$out"

# name | flags (the recipe; everything else is the default)
recipes=(
  "dense-lr0.1|--method dense --lr 0.1"
  "dense-lr0.1-cosine|--method dense --lr 0.1 --schedule cosine --warmup 20 --min-lr 0.001"
  "memory-lr0.1|--method memory --lr 0.1"
  "memory-lr0.1-textmean|--method memory --lr 0.1 --init text-mean"
  "memory-lr0.1-cosine|--method memory --lr 0.1 --schedule cosine --warmup 20 --min-lr 0.001"
  "dense-lr0.01|--method dense --lr 0.01"
  "paper|--method memory --lr 0.01"
)

for entry in "${recipes[@]}"; do
  name=${entry%%|*}
  flags=${entry#*|}
  if [ -n "$only" ] && ! [[ ",$only," == *",$name,"* ]]; then continue; fi
  echo "== $name: $flags" >&2
  # shellcheck disable=SC2086
  "$cram" capacity --data data/eval/books.jsonl --lengths "$lengths" --samples "$samples" --batch "$batch" \
    --max-steps "$max_steps" --patience "$max_steps" $flags --out "$out/$name.jsonl" >"$out/$name.table.txt" || true
done

python3 - "$out" "$max_steps" <<'EOF' | tee "$out/summary.md"
import json, pathlib, statistics, sys
out, budget = pathlib.Path(sys.argv[1]), int(sys.argv[2])
print(f"| recipe | tokens | texts | greedy-exact | mean steps (exact texts) | mean steps (failures at {budget}) | mean accuracy | s/text |")
print("|---|---|---|---|---|---|---|---|")
for f in sorted(out.glob("*.jsonl")):
    rows = [json.loads(l) for l in f.read_text().splitlines() if l.strip()]
    for length in sorted({r["length"] for r in rows}):
        rs = [r for r in rows if r["length"] == length]
        exact = [r for r in rs if r["greedy_exact"]]
        mean_exact = statistics.mean(r["steps"] for r in exact) if exact else float("nan")
        mean_all = statistics.mean(r["steps"] if r["greedy_exact"] else budget for r in rs)
        acc = statistics.mean(r["teacher_forced_accuracy"] for r in rs)
        secs = statistics.mean(r["seconds"] for r in rs)
        print(f"| {f.stem} | {length} | {len(rs)} | {len(exact)}/{len(rs)} | {mean_exact:.0f} | {mean_all:.0f} | {acc:.3f} | {secs:.0f} |")
EOF
