#!/usr/bin/env python3
"""Decode a `.cram` file with Hugging Face transformers, without cram.

A `.cram` file is a safetensors file: the tensor `mem` ([K, d], f32) holds the memory vectors, and the
string metadata holds what decoding needs (see docs/formats.md, "The .cram file"): `prefix_ids` (the sink
token(s) in front of the vectors), `given_ids` (text tokens given rather than decoded), `tokens`, the
`dtype` the model computed in, and the sha256 of the text. Decoding is greedy: the input embeddings
are [embed(prefix_ids), mem, embed(given_ids)], and each next token is the argmax of the last
position's logits, appended as its embedding.

    python scripts/cram_decode.py FILE.cram --model MODEL_FOLDER_OR_HUB_ID [--gguf FILE.gguf] [--dtype f32|bf16|f16]

prints the text and exits 0 when its sha256 is the file's, 1 when it is not. Needs torch,
transformers and safetensors (`scripts/reference/requirements.txt`; `--gguf` also needs `gguf`).
Files of the LoRA method hold adapters instead of vectors and are refused.
"""

import argparse
import hashlib
import json
import sys

import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--model", required=True, help="a Hugging Face folder or hub id (with --gguf: the folder holding the GGUF)")
    p.add_argument("--gguf", help="a GGUF file name inside --model, loaded through transformers' GGUF support")
    p.add_argument("--dtype", choices=DTYPES, help="default: the dtype the file was made in")
    a = p.parse_args()

    with safe_open(a.file, framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("format") != "cram":
            sys.exit(f"{a.file}: not a .cram file (metadata `format` is {meta.get('format')!r})")
        if "mem" not in f.keys():
            sys.exit(f"{a.file}: holds LoRA adapters, not vectors; decode it with `cram decompress`")
        mem = f.get_tensor("mem")
    prefix = json.loads(meta["prefix_ids"])
    given = json.loads(meta["given_ids"])
    tokens = int(meta["tokens"])
    dtype = DTYPES[a.dtype or meta.get("dtype", "f32")]

    kw = {"gguf_file": a.gguf} if a.gguf else {}
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=dtype, attn_implementation="eager", **kw).eval()
    tokenizer = AutoTokenizer.from_pretrained(a.model, **kw)
    embed = model.get_input_embeddings()
    if mem.shape[1] != embed.weight.shape[1]:
        sys.exit(f"{a.file}: vectors of width {mem.shape[1]}, the model's is {embed.weight.shape[1]}: another model")

    def emb(ids):
        return embed(torch.tensor([ids], dtype=torch.long)) if ids else torch.zeros(1, 0, mem.shape[1], dtype=dtype)

    out = list(given)
    with torch.no_grad():
        x = torch.cat([emb(prefix), mem.to(dtype).unsqueeze(0), emb(given)], dim=1)
        while len(out) < tokens:
            nxt = int(model(inputs_embeds=x).logits[0, -1].float().argmax())
            out.append(nxt)
            x = torch.cat([x, emb([nxt])], dim=1)
    text = tokenizer.decode(out, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    sys.stdout.write(text)
    ok = hashlib.sha256(text.encode("utf-8")).hexdigest() == meta.get("text_sha256")
    print(f"\n{'sha256 matches' if ok else 'sha256 DIFFERS from the file'}: {len(out)} tokens", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
