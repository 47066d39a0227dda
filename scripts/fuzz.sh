#!/usr/bin/env bash
# Fuzzes cram-core's parsers with cargo-fuzz (libFuzzer), one target after another (issue #17).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 600. Each target stops after that time or after FUZZ_RUNS executions
# (default 10,000,000), whichever comes first. Targets default to all six in fuzz/fuzz_targets/.
# Environment:
#   FUZZ_RUNS=N           execution cap per target (0 = time only)
#   FUZZ_SANITIZER=name   address (default; with it -malloc_limit_mb catches oversized allocations) or
#                         none (faster, but then only -rss_limit_mb bounds memory)
#   FUZZ_NO_BUILD=1       skip the build (binaries already in fuzz/target)
#
# Builds into fuzz/target with nightly (`cargo +nightly fuzz build --release --debug-assertions`), at
# nice 19. Seeds are made at run time from core/tests/fixtures (copies; small derived files from
# fuzz/seeds.py, since an execution costs in proportion to the input's size; .cram, .lmz and encoder
# files made with target/debug/cram when that binary exists) into fuzz/corpus/<target>/, which grows
# across runs (gitignored). Crash inputs go to fuzz/artifacts/<target>/; minimise one with
#   cargo +nightly fuzz tmin --release --debug-assertions <target> fuzz/artifacts/<target>/crash-...
# Prints per target: executions, executions/s, new corpus units, crashes; exits 1 if any crashed.
set -euo pipefail

seconds=${1:-600}
shift || true
runs=${FUZZ_RUNS:-10000000}
sanitizer=${FUZZ_SANITIZER:-address}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

all_targets=(gguf_file gguf_tokenizer gguf_checkpoint safetensors_model cram_file encoder_file)
if (($# > 0)); then targets=("$@"); else targets=("${all_targets[@]}"); fi

build_flags=(--release --debug-assertions --sanitizer "$sanitizer")
bin_dir=fuzz/target/x86_64-unknown-linux-gnu/release
fixtures=core/tests/fixtures

# --- build -------------------------------------------------------------------------------------------
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  nice -n 19 cargo install cargo-fuzz --locked
fi
if [[ ${FUZZ_NO_BUILD:-0} != 1 ]]; then
  echo "building fuzz targets (${build_flags[*]})"
  (cd fuzz && nice -n 19 cargo +nightly fuzz build "${build_flags[@]}")
fi

# --- seeds -------------------------------------------------------------------------------------------
seed() { # target: fills fuzz/corpus/<target>/ with its seeds
  local dir=fuzz/corpus/$1 tmp
  mkdir -p "$dir"
  # Seeds are made afresh each run: one left by an older version of this script (a 300 KB fixture,
  # say) would set -max_len (below) and slow every execution down again.
  rm -f "$dir"/seed*
  case $1 in
    gguf_tokenizer)
      # The tokenizer metadata alone, in the variants the builder branches on (fuzz/seeds.py): the
      # tensors' bytes would only slow each execution down and draw mutations nobody reads.
      python3 fuzz/seeds.py tokenizer "$fixtures"/llama_gguf/tiny-llama.gguf "$dir"
      ;;
    gguf_*)
      cp "$fixtures"/llama_gguf/tiny-llama.gguf "$dir"/seed-tiny-llama.gguf
      cp "$fixtures"/gpt_neox_gguf/tiny-gptneox.gguf "$dir"/seed-tiny-gptneox.gguf
      cp "$fixtures"/gguf_quants/quants.gguf "$dir"/seed-quants.gguf
      ;;
    safetensors_model)
      # Models of width 8 with one layer (a few KB; the fixtures are 100-300 KB, which slowed every
      # execution), in both families: tied, untied, Llama-3 RoPE scaling, parallel and sequential,
      # F32/F16/BF16, with the vocabulary of the target's tokenizer.json so that whole loads succeed.
      python3 fuzz/seeds.py small-models 384 "$dir"
      ;;
    cram_file)
      local cram=target/debug/cram
      if [[ -x $cram ]]; then
        tmp=$(mktemp -d)
        printf 'Alice was beginning to get very tired of sitting by her sister.\n' >"$tmp/t.txt"
        local model=$fixtures/llama_gguf
        nice -n 19 "$cram" compress --model "$model" --text "$tmp/t.txt" --max-steps 30 -o "$dir/seed-dense.cram" >/dev/null 2>&1 || true
        nice -n 19 "$cram" compress --model "$model" --text "$tmp/t.txt" --max-steps 10 --method memory --mem 2 -o "$dir/seed-memory2.cram" >/dev/null 2>&1 || true
        nice -n 19 "$cram" compress --model "$model" --text "$tmp/t.txt" --max-steps 10 --method lora --rank 1 --targets q,v -o "$dir/seed-lora.cram" >/dev/null 2>&1 || true
        nice -n 19 "$cram" zip --model "$model" "$tmp/t.txt" -o "$dir/seed.lmz" >/dev/null 2>&1 || true
        rm -rf "$tmp"
      else
        echo "  ($cram not built: cram_file gets only the safetensors seeds)"
      fi
      cp "$fixtures"/llama_gqa_tied/reference.safetensors "$dir/seed-reference.safetensors"
      ;;
    encoder_file)
      # Two encoders for the tiny Llama, stored in F16 (fuzz/seeds.py): a regularised two-layer VAE
      # without its optimiser state, and a one-layer AE with it.
      local cram=target/debug/cram
      if [[ -x $cram ]]; then
        tmp=$(mktemp -d)
        printf 'Alice was beginning to get very tired of sitting by her sister.\n' >"$tmp/t.txt"
        local train=("$cram" encoder train --model "$fixtures/llama_gguf/tiny-llama.gguf" --data "$tmp/t.txt" --tokens 4 --chunks 3 --epochs 1 --batch 2 --encoder-lora 1)
        if nice -n 19 "${train[@]}" --layers 2 --reg --kind vae --out "$tmp/vae.safetensors" >/dev/null 2>&1 \
          && nice -n 19 "${train[@]}" --layers 1 --kind ae --out "$tmp/ae.safetensors" >/dev/null 2>&1; then
          python3 fuzz/seeds.py encoder-f16 "$tmp/vae.safetensors" "$dir/seed-encoder-vae2-f16" --no-optimiser
          python3 fuzz/seeds.py encoder-f16 "$tmp/ae.safetensors" "$dir/seed-encoder-ae1-f16"
        else
          echo "  (cram encoder train failed: encoder_file gets only the safetensors seed)"
        fi
        rm -rf "$tmp"
      else
        echo "  ($cram not built: encoder_file gets only the safetensors seed)"
      fi
      cp "$fixtures"/llama_gqa_tied/reference.safetensors "$dir/seed-reference.safetensors"
      ;;
  esac
}

# -max_len: the largest seed (not corpus entry) plus some room to grow.
max_len() {
  local largest
  largest=$(find "fuzz/corpus/$1" -type f -name 'seed*' -printf '%s\n' | sort -n | tail -1)
  echo $((${largest:-4096} + 8192))
}

# One of libFuzzer's final `stat::` lines from log $2.
final_stat() { grep -o "stat::$1: *[0-9]*" "$2" | grep -o '[0-9]*$' | tail -1 || true; }

# --- run ---------------------------------------------------------------------------------------------
crashed=0
total_execs=0
rows=()
for t in "${targets[@]}"; do
  [[ -x $bin_dir/$t ]] || { echo "no binary $bin_dir/$t (build failed?)" >&2; exit 2; }
  seed "$t"
  artifacts=fuzz/artifacts/$t
  mkdir -p "$artifacts"
  find "$artifacts" -type f | sort >"$artifacts.before"
  len=$(max_len "$t")
  log=fuzz/artifacts/$t.log
  echo "== $t: up to ${seconds}s or $runs execs, -max_len=$len, log $log"
  rc=0
  start=$SECONDS
  # One fuzzing process per target, in the foreground: no -jobs/-workers/-fork (with -jobs=1 libFuzzer
  # would fork a child writing fuzz-0.log into the working directory), never in parallel.
  # -malloc_limit_mb: any single allocation over 512 MB from inputs of at most a few hundred KB is a bug.
  # -detect_leaks=0: process-lifetime caches (burn, tokenizers) are not what is being looked for.
  nice -n 19 "$bin_dir/$t" "fuzz/corpus/$t" \
    -max_total_time="$seconds" -runs="$((runs > 0 ? runs : -1))" -max_len="$len" \
    -timeout=30 -rss_limit_mb=4096 -malloc_limit_mb=512 -detect_leaks=0 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
  secs=$((SECONDS - start))
  execs=$(final_stat number_of_executed_units "$log")
  rate=$(final_stat average_exec_per_sec "$log")
  units=$(final_stat new_units_added "$log")
  new_artifacts=$(find "$artifacts" -type f | sort | comm -13 "$artifacts.before" -)
  rm -f "$artifacts.before"
  crashes=$(grep -c . <<<"$new_artifacts" || true)
  if ((rc != 0 && crashes == 0)); then crashes=1; fi
  if ((crashes > 0)); then
    crashed=1
    echo "  CRASH (exit $rc):"
    grep -m3 -E "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|==ERROR" "$log" | sed 's/^/    /' || true
    sed 's/^/    artifact: /' <<<"$new_artifacts"
  fi
  execs=${execs:-0}
  total_execs=$((total_execs + execs))
  echo "  execs $execs  execs/s ${rate:-?}  new units ${units:-?}  crashes $crashes"
  rows+=("$(printf '| %s | %s | %s | %s | %s |' "$t" "$secs" "$execs" "${rate:-?}" "$crashes")")
done

echo
echo "| target | seconds | execs | execs/s | crashes |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
echo
if ((crashed)); then
  echo "fuzz: FAILED: a target crashed (${#targets[@]} targets, $total_execs execs); see fuzz/artifacts/"
  exit 1
fi
echo "fuzz: ok: ${#targets[@]} targets, $total_execs execs, no crashes"
