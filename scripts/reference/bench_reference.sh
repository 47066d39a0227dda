#!/usr/bin/env bash
# PyTorch + transformers reference timing of cram's cramming step (see README.md here).
#   scripts/reference/bench_reference.sh --model PATH (--ids FILE.json | --texts FILE.jsonl) [...]
# Creates or reuses the venv .venv-ref exactly as make_fixtures.sh does (venv.sh), then runs
# bench_reference.py with the venv's python; all arguments are passed through (--help lists them).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=venv.sh
. "$here/venv.sh"
ensure_ref_venv >&2
exec "$REF_PYTHON" "$here/bench_reference.py" "$@"
