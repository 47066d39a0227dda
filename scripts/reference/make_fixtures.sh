#!/usr/bin/env bash
# Regenerates core/tests/fixtures/ (see core/tests/fixtures/README.md).
#   scripts/reference/make_fixtures.sh [--only random llama_gguf gpt_neox_gguf]
# Env: CRAM_SMOLLM2_GGUF  path of SmolLM2-135M-Instruct.Q4_1.gguf
#      (default ~/.cache/cram/models/SmolLM2-135M-Instruct.Q4_1.gguf; its reference is skipped if absent)
#      CRAM_BOOKS_DIR     folder with pg11.txt / pg1342.txt (default <repo>/../shared/data/books)
#      PYTHON             interpreter used to create the venv (default python3, 3.11 was used)
# Safe to run twice: the venv is reused, and the outputs are deterministic.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/venv.sh"
ensure_ref_venv
"$REF_PYTHON" "$here/make_fixtures.py" "$@"

gguf="${CRAM_SMOLLM2_GGUF:-$HOME/.cache/cram/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
if [ -f "$gguf" ]; then
    "$REF_PYTHON" "$here/smollm2_reference.py" "$gguf"
else
    echo "SmolLM2 GGUF not found at $gguf: skipping core/tests/fixtures/smollm2"
fi
