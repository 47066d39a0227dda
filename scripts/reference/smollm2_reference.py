#!/usr/bin/env python3
"""Reference numbers for the real default model of cram, SmolLM2-135M-Instruct (Q4_1 GGUF).

Usage: smollm2_reference.py [PATH/TO/SmolLM2-135M-Instruct.Q4_1.gguf]

Writes core/tests/fixtures/smollm2/passage.txt (a public-domain passage, see the fixtures
README for its provenance) and core/tests/fixtures/smollm2/reference.json.
transformers loads the GGUF and dequantises every tensor to float32; the forward pass is
float32 with eager attention on the CPU.
"""

from __future__ import annotations

import json
import os
import re
import sys
from importlib.metadata import version
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
from tokenizers import pre_tokenizers

transformers.utils.logging.disable_progress_bar()
torch.set_num_threads(max(1, os.cpu_count() or 1))

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "core" / "tests" / "fixtures" / "smollm2"
BOOKS = Path(os.environ.get("CRAM_BOOKS_DIR", REPO.parent / "shared" / "data" / "books"))
DEFAULT_GGUF = Path.home() / ".cache" / "cram" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

# Pride and Prejudice (Jane Austen), Project Gutenberg eBook #1342, header stripped:
# characters [0, 1992) = the opening of Chapter 1 up to the end of the paragraph ending "party.""
PASSAGE_BOOK = "pg1342.txt"
PASSAGE_START = 0
PASSAGE_END = 1992
N_TOKENS = 256
DIGIT_PROBE = "In 1865, the  2 cats ate 12345 mice; 7/8 of them at 10:30."


def smollm_pretokenized(tok):
    """The tokenizer as SmolLM2's own tokenizer.json / llama.cpp's "smollm" pre-type define it:
    Digits(individual_digits=True) then the GPT-2 byte-level regex, same vocab and merges."""
    backend = tok.backend_tokenizer.__class__.from_str(tok.backend_tokenizer.to_str())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ]
    )
    return backend


def main():
    gguf_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_GGUF
    if not gguf_path.exists():
        print(f"no {gguf_path}: skipping the SmolLM2 reference")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)

    text = (BOOKS / PASSAGE_BOOK).read_text(encoding="utf-8")
    passage = text[PASSAGE_START:PASSAGE_END]
    assert passage.startswith("It is a truth universally acknowledged") and passage.endswith('party."'), passage[-40:]
    assert "," in passage and '"' in passage
    # transformers' GGUF tokenizer does not apply the "smollm" digit split (see README), so the
    # passage has no digits and both tokenizations agree.
    assert not re.search(r"\d", passage)
    (OUT / "passage.txt").write_text(passage, encoding="utf-8")

    d, name = str(gguf_path.parent), gguf_path.name
    tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
    ids = tok(passage, add_special_tokens=False)["input_ids"]
    smollm = smollm_pretokenized(tok)
    ids_smollm = smollm.encode(passage, add_special_tokens=False).ids
    assert ids == ids_smollm, "transformers and smollm tokenizations of the passage differ"
    assert tok.decode(ids) == passage
    assert len(ids) >= N_TOKENS, len(ids)

    probe_tf = tok(DIGIT_PROBE, add_special_tokens=False)["input_ids"]
    probe_sm = smollm.encode(DIGIT_PROBE, add_special_tokens=False).ids
    print("pre_tokenizer from transformers' GGUF conversion:", tok.backend_tokenizer.pre_tokenizer)
    print("digit probe, transformers:", tok.convert_ids_to_tokens(probe_tf))
    print("digit probe, smollm      :", tok.convert_ids_to_tokens(probe_sm))

    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    x = torch.tensor([ids[:N_TOKENS]], dtype=torch.int64)
    with torch.no_grad():
        logits = model(input_ids=x).logits[0].float()
    tgt = x[0, 1:]
    nll = F.cross_entropy(logits[: N_TOKENS - 1], tgt).item()
    acc = (logits[: N_TOKENS - 1].argmax(-1) == tgt).float().mean().item()
    nll32 = F.cross_entropy(logits[:31], tgt[:31]).item()
    print(f"SmolLM2 NLL {nll:.6f} nats/token over {N_TOKENS - 1} predictions, accuracy {acc:.4f}, first-32 NLL {nll32:.6f}")

    ref = {
        "model_file": name,
        "passage_file": "passage.txt",
        "passage_source": {"book_file": PASSAGE_BOOK, "title": "Pride and Prejudice", "author": "Jane Austen",
                            "char_start": PASSAGE_START, "char_end": PASSAGE_END},
        "n_tokens_scored": N_TOKENS,
        "bos_prepended": False,
        "token_ids": ids,
        "nll_nats_per_token": nll,
        "next_token_accuracy": acc,
        "nll_first_32_tokens_nats_per_token": nll32,
        "logits_pos0_first5": [float(v) for v in logits[0, :5]],
        "digit_probe": {
            "text": DIGIT_PROBE,
            "ids_smollm": probe_sm,
            "ids_transformers_gguf": probe_tf,
            "equal": probe_sm == probe_tf,
        },
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "gguf": version("gguf"),
            "tokenizers": version("tokenizers"),
        },
        "definition": "positions 0..254 of token_ids[:256] predict tokens 1..255; nll = mean cross-entropy (nats), "
                      "accuracy = mean(argmax == target); first_32: positions 0..30 predict 1..31. "
                      "float32, eager attention, weights dequantised to f32 by transformers.",
    }
    (OUT / "reference.json").write_text(json.dumps(ref, indent=1) + "\n")
    print(f"wrote {OUT / 'reference.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
