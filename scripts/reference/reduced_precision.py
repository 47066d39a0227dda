#!/usr/bin/env python3
"""How far Hugging Face transformers' own bf16 / f16 computation lands from its f32 computation.

For each tiny random fixture case in core/tests/fixtures/ (see core/tests/fixtures/README.md),
this script reloads the model with transformers (eager attention), recomputes the quantities of
reference.safetensors (logits_ids, logits_embeds, loss, grad_inputs_embeds) in bfloat16 and in
float16, and compares them with the float32 values stored in reference.safetensors:

    error = max |x - x_f32| / max |x_f32|   over the tensor   (loss: |loss - loss_f32| / |loss_f32|)

The computation mirrors make_fixtures.py exactly:
  logits_ids         model(input_ids=input_ids).logits
  logits_embeds      model(inputs_embeds=emb.to(dtype)).logits, with emb an f32 leaf = inputs_embeds
  loss               F.cross_entropy(logits_embeds.float()[0], labels): mean over T, no shift
  grad_inputs_embeds d loss / d emb (f32, model parameters frozen)

Loading: "cases" uses AutoModelForCausalLM.from_pretrained(folder, dtype=dtype), the usual way to
run a checkpoint in reduced precision; transformers then keeps the rotary `inv_freq` buffer in
f32. "cases_to_dtype" loads in f32 and then calls model.to(dtype), which also rounds `inv_freq`
to the reduced dtype (rotary angles are still computed in f32 from the rounded frequencies).

Before anything else, the f32 path of this script is checked to reproduce reference.safetensors
to 1e-5 in the same metric (max |x - x_ref| / max |x_ref|), so the comparison is known to be set
up right. It is not bit-exact across machines: the fixtures were made on another CPU, whose SIMD /
BLAS kernels round differently (about 1e-6 relative, up to ~2e-5 absolute on logits of size ~15).
That f32 noise floor is recorded as "f32_rerun".

Writes core/tests/fixtures/reduced_precision.json. Deterministic (one CPU thread, deterministic
algorithms, fixed inputs from the fixtures). Run from the repo root:

    .venv-ref/bin/python scripts/reference/reduced_precision.py

(.venv-ref is created by scripts/reference/venv.sh / make_fixtures.sh.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import torch
import torch.nn.functional as F
import safetensors.torch
import transformers
from transformers import AutoModelForCausalLM

transformers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "core" / "tests" / "fixtures"
OUT = FIXTURES / "reduced_precision.json"
CASES = ["gpt_neox", "gpt_neox_sequential", "gpt_neox_gguf", "llama_gqa_tied", "llama_untied", "llama3_scaled", "llama_gguf", "qwen2", "qwen3", "olmo", "olmo2", "opt", "opt_350m_style", "gemma3", "mamba"]
DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16}
KEYS = ["logits_ids", "logits_embeds", "loss", "grad_inputs_embeds"]
F32_TOL = 1e-5  # relative to max |reference|, per tensor

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def load(folder: Path, dtype: torch.dtype, cast_after_load: bool):
    if cast_after_load:
        m = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32)
        m = m.to(dtype)
    else:
        m = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=dtype)
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
        assert p.dtype == dtype, (p.dtype, dtype)
    return m


def run(model, dtype: torch.dtype, ref: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        logits_ids = model(input_ids=ref["input_ids"]).logits
    # Mamba's head upcasts its logits (`.float()`); the others return them in the model's dtype
    assert logits_ids.dtype in (dtype, torch.float32), logits_ids.dtype
    emb = ref["inputs_embeds"].clone().float().requires_grad_(True)  # f32 leaf
    logits_embeds = model(inputs_embeds=emb.to(dtype)).logits
    assert logits_embeds.dtype == logits_ids.dtype, logits_embeds.dtype
    loss = F.cross_entropy(logits_embeds.float()[0], ref["labels"].reshape(-1))  # mean over T, no shift
    loss.backward()
    return {
        "logits_ids": logits_ids.detach().float(),
        "logits_embeds": logits_embeds.detach().float(),
        "loss": loss.detach().reshape(1).float(),
        "grad_inputs_embeds": emb.grad.detach().float(),
    }


def rel_err(k: str, x: torch.Tensor, r: torch.Tensor) -> float:
    x, r = x.reshape(r.shape).double(), r.double()
    assert torch.isfinite(x).all(), f"{k}: non-finite values"
    return ((x - r).abs().max() / r.abs().max()).item()


def sig3(v: float) -> float:
    return float(f"{v:.3g}")


def main():
    print(f"torch {torch.__version__}, transformers {transformers.__version__}", flush=True)
    cases, cases_to, f32_rerun = {}, {}, {}
    for case in CASES:
        folder = FIXTURES / case
        ref = safetensors.torch.load_file(folder / "reference.safetensors")
        for k in KEYS:
            assert ref[k].dtype == torch.float32, (case, k, ref[k].dtype)

        # sanity: the f32 path reproduces the stored reference
        got = run(load(folder, torch.float32, False), torch.float32, ref)
        f32_rerun[case] = {}
        for k in KEYS:
            d = rel_err(k, got[k], ref[k])
            assert d <= F32_TOL, f"{case} {k}: f32 path differs from reference.safetensors by {d:.3e} (relative)"
            f32_rerun[case][k] = sig3(d)
        print(f"[{case}] f32 path reproduces reference.safetensors: {f32_rerun[case]} (<= {F32_TOL:g})", flush=True)

        cases[case], cases_to[case] = {}, {}
        for name, dtype in DTYPES.items():
            for cast_after, table in ((False, cases), (True, cases_to)):
                got = run(load(folder, dtype, cast_after), dtype, ref)
                table[case][name] = {k: sig3(rel_err(k, got[k], ref[k])) for k in KEYS}
            print(f"    {name:4s} {cases[case][name]}  (.to(dtype): {cases_to[case][name]})", flush=True)

    result = {
        "made_by": "scripts/reference/reduced_precision.py",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "metric": "max |x - x_f32| / max |x_f32| per tensor (loss: relative)",
        "load": "cases: AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, attn_implementation='eager') "
                "(rotary inv_freq stays f32); cases_to_dtype: loaded in f32 then model.to(dtype) "
                "(inv_freq rounded to dtype too). inputs_embeds: f32 leaf cast to dtype; loss on logits.float(); "
                "grad w.r.t. the f32 leaf. Reference: the f32 tensors of each case's reference.safetensors.",
        "cases": cases,
        "cases_to_dtype": cases_to,
        "f32_rerun": f32_rerun,
        "f32_rerun_note": "the f32 path of this script vs reference.safetensors, same metric (asserted <= 1e-5): "
                          "CPU-kernel rounding noise, the floor under the numbers above",
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(REPO)}", flush=True)


if __name__ == "__main__":
    main()
