#!/usr/bin/env bash
# Seconds per optimiser step of a Mamba-130M-shaped model (random weights, data/configs/mamba-130m.json)
# with cram's chunked scan, cram's sequential scan and transformers' slow path (PyTorch, the same
# recipe on the same ids), at T = 64 and 256 tokens, and cram's chunked scan at 1024 (with per-layer
# checkpointing: without it a step keeps ~48 GB of scan activations, `cram plan --model
# data/configs/mamba-130m.json --tokens 1024`), on this machine, in one run. The two sequential forms
# grow as T^2 (the backward of each position's slice writes a whole-sequence gradient): `--long` adds
# them at 1024 too, about 500 s (PyTorch) and 1000 s (cram) a step on 2 cores. Writes JSON lines to
# ${OUT:-target/mamba-scan-bench.jsonl}; docs/measurements.md's table comes from them. About 12
# minutes on 2 cores without --long.
#   scripts/mamba-scan-bench.sh [--threads N] [--steps N] [--long]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
threads=2 steps=2 long=0
while [ $# -gt 0 ]; do
    case "$1" in
        --long) long=1; shift ;;
        --threads) threads="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
out="${OUT:-target/mamba-scan-bench.jsonl}"
# the dev profile: dependencies (burn, where the time goes) at opt-level 3 as in release, and the
# build the tests already made (with wgpu, as they build it)
cargo build -p cram-cli --features wgpu >&2
cram=target/debug/cram
config=data/configs/mamba-130m.json
: > "$out"
run() { # label, then cram bench arguments
    local label="$1"; shift
    RAYON_NUM_THREADS="$threads" "$cram" bench --model "$config" --steps "$steps" --json "$@" | sed "s/^{/{\"form\":\"$label\",/" | tee -a "$out"
}
run chunked --lengths 64,256 --reference --reference-threads "$threads"
run sequential --lengths 64,256 --scan sequential
if [ "$long" = 1 ]; then
    run chunked-checkpoint --lengths 1024 --checkpoint --reference --reference-threads "$threads"
    run sequential-checkpoint --lengths 1024 --checkpoint --scan sequential
else
    run chunked-checkpoint --lengths 1024 --checkpoint
fi
