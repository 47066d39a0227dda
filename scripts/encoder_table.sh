#!/usr/bin/env bash
# The encoder tables of docs/measurements.md (#15), measured with the release binary:
#  1. encoders (AE and VAE, 1 and 4 head layers, LoRA rank 8 on the model copy) trained on chunks of
#     the shipped evaluation books (data/eval/books.jsonl, the first 48 books' passages), tested on the
#     chunks their training held out: teacher-forced and greedy accuracy;
#  2. warm starts: `cram capacity` at 16/32/64 tokens on the other 16 passages, from the random start
#     and from the AE encoder's vectors (--init), with the default recipe; the steps to a
#     greedy-exact text are the steps saved.
# Usage: scripts/encoder_table.sh [model] [label]   (default: the default model, label smollm2)
# Settings through the environment: TOKENS (32) CHUNKS (200) EPOCHS (5) BATCH (8) LR (1e-3) SAMPLES (4)
# LENGTHS (16,32,64: the warm starts); TRAIN=0 skips training (the encoders exist), WARM=0 the warm starts.
# Results: docs/measurements/encoder/<label>_*.jsonl; the encoder files stay in target/encoders/.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-smollm2-135m}
label=${2:-smollm2}
tokens=${TOKENS:-32} chunks=${CHUNKS:-200} epochs=${EPOCHS:-5} batch=${BATCH:-8} lr=${LR:-1e-3} samples=${SAMPLES:-4} lengths=${LENGTHS:-16,32,64}
cargo build --release -p cram-cli >/dev/null
cram=target/release/cram
out=docs/measurements/encoder
files=target/encoders/$label
mkdir -p "$out" "$files"
head -48 data/eval/books.jsonl >"$files/train.jsonl"
tail -16 data/eval/books.jsonl >"$files/heldout.jsonl"
[ "${TRAIN:-1}" = 1 ] && rm -f "$out/${label}_eval.jsonl"
for kind in ae vae; do
  [ "${TRAIN:-1}" = 1 ] || break
  for layers in 1 4; do
    enc="$files/$kind-$layers.safetensors"
    rm -f "$enc"
    echo "== $label: $kind, $layers layer(s)"
    $cram encoder train --model "$model" --data "$files/train.jsonl" --tokens "$tokens" --chunks "$chunks" \
      --epochs "$epochs" --batch "$batch" --lr "$lr" --kind "$kind" --layers "$layers" --out "$enc" --json \
      | tee "$out/${label}_train_$kind-$layers.jsonl"
    $cram encoder eval --model "$model" --encoder "$enc" --batch "$batch" --out "$out/${label}_eval.jsonl" | tail -1
  done
done
if [ "${WARM:-1}" = 1 ]; then
  for start in random encoder; do
    rm -f "$out/${label}_warm_$start.jsonl"
    init=(--init normal)
    [ "$start" = encoder ] && init=(--init "$files/ae-1.safetensors")
    echo "== $label: warm start from $start"
    $cram capacity --model "$model" --data "$files/heldout.jsonl" --lengths "$lengths" --samples "$samples" \
      "${init[@]}" --out "$out/${label}_warm_$start.jsonl" | tail -8
  done
fi
