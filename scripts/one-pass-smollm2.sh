#!/usr/bin/env bash
# One-pass reconstruction (#35) on the default model, for docs/measurements.md: (1) its capacity
# sweep on the book chunks of data/eval/books.jsonl at 16-64 tokens beside the autoregressive
# recipe's (128 takes the paper's thousands of steps: add it to --lengths with a larger budget);
# (2) the decode time of one forward pass against token-by-token decoding, the same text at each
# length on this machine (`cram decompress --json`: the decoding alone, model loaded before;
# the files are made with one step, since the time to decode does not depend on what the vectors
# hold); (3) one-pass with a shared m: a one-pass start meta-trained on data/start/books_train.jsonl,
# then the same chunks at 16 tokens with e alone (not run for docs/measurements.md yet). Not part of
# the tests; the sweep alone took 80 minutes on 2 cores.
# Usage: bash scripts/one-pass-smollm2.sh [sweep|decode|shared]...   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
cram=${CRAM:-target/release/cram}
[ -x "$cram" ] || cram=target/debug/cram
out=target/one-pass-smollm2
mkdir -p "$out"
parts=${*:-sweep decode shared}
if [[ " $parts " == *" sweep "* ]]; then
  "$cram" capacity --data data/eval/books.jsonl --lengths 16,32,64 --samples 4 --batch 4 --method one-pass --lr 0.1 \
    --max-steps 600 --patience 600 --out "$out/capacity_one_pass.jsonl"
fi
if [[ " $parts " == *" decode "* ]]; then
  python3 -c 'import json; print(json.loads(open("data/eval/books.jsonl").readline())["text"])' >"$out/chunk.txt"
  for n in 16 32 64 128; do
    for method in one-pass dense; do
      "$cram" compress "$out/chunk.txt" --tokens "$n" --method "$method" --init normal --max-steps 1 -o "$out/$method-$n.cram" >/dev/null 2>&1 || true
      "$cram" decompress "$out/$method-$n.cram" --partial --json 2>/dev/null | tee -a "$out/decode.jsonl" || true
    done
  done
fi
if [[ " $parts " == *" shared "* ]]; then
  [ -f "$out/op-start.safetensors" ] || "$cram" start train --method one-pass --lr 0.1 --data data/start/books_train.jsonl --tokens 16 \
    --chunks 72 --test-fraction 0.112 --inner-steps 10 --meta-lr 0.5 --batch 8 --epochs 2 --eval-steps 150 \
    --out "$out/op-start.safetensors" --json | tee "$out/op-start.jsonl"
  for init in shared learned; do
    flags=(--init "$out/op-start.safetensors")
    [ "$init" = shared ] && flags+=(--shared-m)
    "$cram" capacity --data data/eval/books.jsonl --lengths 16 --samples 4 --batch 4 --method one-pass --lr 0.1 \
      --max-steps 600 --patience 600 "${flags[@]}" --out "$out/capacity_one_pass_$init.jsonl"
  done
fi
