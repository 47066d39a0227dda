#!/usr/bin/env bash
# The learned start shipped for the default model and recipe (data/start/smollm2-135m-fast.safetensors):
# how it was made (`cram start train`, Reptile on 32-token chunks of data/start/books_train.jsonl, six
# books the evaluation texts do not use), and the capacity sweep of docs/measurements.md that measures
# it on data/eval/books.jsonl beside the random start. About an hour of training and an hour of
# sweep on 2 cores. Not part of the tests. Usage: bash scripts/start-smollm2.sh [EPOCHS] (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
cram=${CRAM:-target/release/cram}
[ -x "$cram" ] || cram=target/debug/cram
epochs=${1:-2}
out=target/start-smollm2
mkdir -p "$out"
"$cram" start train --data data/start/books_train.jsonl --tokens 32 --chunks 136 --test-fraction 0.0588 \
  --inner-steps 10 --meta-lr 0.5 --batch 8 --epochs "$epochs" --eval-steps 60 --out "$out/start.safetensors" --json \
  | tee "$out/training.jsonl"
"$cram" capacity --data data/eval/books.jsonl --lengths 16,32,64,128 --samples 8 --batch 8 --max-steps 500 --patience 500 \
  --init "$out/start.safetensors" --out "$out/capacity_learned.jsonl"
echo "the start: $out/start.safetensors (copy it to data/start/smollm2-135m-fast.safetensors to ship it)"
