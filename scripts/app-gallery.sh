#!/usr/bin/env bash
# The page's gallery: `.cram` files for the default model (SmolLM2-135M), made by `cram compress` from
# app/gallery/texts/ with fixed seeds and the default recipe, and app/gallery/gallery.json, which
# names each file with its text, what `cram decompress` gives back and how it was made. The page decodes
# them on a click, without training (docs/browser.md). The files are committed; this script remakes
# them (about 12 minutes on 2 cores; NAME... remakes only those); trunk copies app/gallery/ into
# dist/gallery/ (scripts/app-build.sh --gallery runs this first).
# Usage: bash scripts/app-gallery.sh [NAME ...]   (CRAM=path/to/cram to choose the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
cram=${CRAM:-target/release/cram}
[ -x "$cram" ] || cram=target/debug/cram
[ -x "$cram" ] || { echo "error: no cram binary: cargo build -p cram-cli first" >&2; exit 1; }
gallery=app/gallery
texts=$gallery/texts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# name | title | what it shows | compress options beyond the default recipe
entries=(
  "sentence|A secret sentence|a sentence of a workshop's size|--init normal --max-steps 300"
  "limerick|A limerick|Edward Lear (1846), line breaks and all|--init normal --max-steps 400"
  "random-words|Random words|14 words drawn from the paper's vocabulary: nothing for the model to guess|--init normal --max-steps 600"
  "paragraph|A paragraph at the edge|Alice's Adventures in Wonderland: near what one vector holds for this model|--init normal --max-steps 800"
  "too-long|One that did not fit|The Count of Monte Cristo, stopped after 60 steps: what it decodes to instead|--init normal --max-steps 60 --patience 60"
)
for entry in "${entries[@]}"; do
  IFS='|' read -r name title about options <<<"$entry"
  printf '%s\t%s\t%s\t%s\n' "$name" "$title" "$about" "$options" >>"$work/entries.tsv"
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  echo "== $name: cram compress $texts/$name.txt $options --seed 1"
  # Exit status 1: written, but not greedy-exact (the entry that did not fit).
  # shellcheck disable=SC2086
  "$cram" compress "$texts/$name.txt" $options --seed 1 --json -o "$work/$name.cram" >"$work/$name.run.json" || [ $? -eq 1 ]
  # A file that did not cram completely decodes to something else: --partial prints it (exit 1).
  if ! "$cram" decompress "$work/$name.cram" >"$work/$name.decoded" 2>"$work/$name.err"; then
    "$cram" decompress --partial --text "$texts/$name.txt" "$work/$name.cram" >"$work/$name.decoded" 2>"$work/$name.err" || true
    [ -s "$work/$name.decoded" ] || { cat "$work/$name.err" >&2; exit 1; }
  fi
  python3 -c 'import json, sys; d = open(sys.argv[1], encoding="utf-8").read(); json.dump(d[:-1] if d.endswith("\n") else d, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)' \
    "$work/$name.decoded" "$work/$name.decoded.json"
  mv "$work/$name.cram" "$work/$name.run.json" "$work/$name.decoded.json" "$gallery/"
done
python3 - "$gallery" "$work/entries.tsv" "$("$cram" --version)" <<'PY'
import json, sys, os
gallery, tsv, version = sys.argv[1:4]
entries = []
for line in open(tsv, encoding="utf-8"):
    name, title, about, options = line.rstrip("\n").split("\t")
    run = json.load(open(os.path.join(gallery, name + ".run.json")))
    text = open(os.path.join(gallery, "texts", name + ".txt"), encoding="utf-8").read()
    decoded = json.load(open(os.path.join(gallery, name + ".decoded.json"), encoding="utf-8"))
    entries.append({
        "name": name, "title": title, "about": about, "file": name + ".cram", "text": text,
        "decoded": decoded, "exact": decoded == text, "tokens": run["tokens"], "steps": run["steps"],
        "method": run["method"], "seconds": round(run["seconds"], 1),
        "made_with": f"cram compress app/gallery/texts/{name}.txt {options} --seed 1",
    })
manifest = {
    "model": "models/SmolLM2-135M-Instruct.Q4_1.gguf",
    "made_by": f"scripts/app-gallery.sh with {version}, the default recipe",
    "entries": entries,
}
with open(os.path.join(gallery, "gallery.json"), "w", encoding="utf-8") as f:
    json.dump(manifest, f, ensure_ascii=False, indent=1)
    f.write("\n")
for e in entries:
    print(f"{e['name']}: {e['tokens']} tokens, {e['steps']} steps, {e['seconds']} s, exact {e['exact']}")
PY
echo "wrote $gallery/gallery.json"
