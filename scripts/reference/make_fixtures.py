#!/usr/bin/env python3
"""Reference fixtures for cram's Rust model implementations.

Builds tiny, randomly initialised Hugging Face causal LMs (nothing is downloaded),
runs them in float32 with eager attention and writes, for each case NAME, the folder
core/tests/fixtures/NAME/ with config.json, model.safetensors and reference.safetensors
(see core/tests/fixtures/README.md for the exact contents and definitions).

Deterministic: every case has its own fixed seed, one CPU thread, float32 everywhere.
Run through scripts/reference/make_fixtures.sh, which sets up the pinned venv.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import safetensors.torch
import transformers
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    GPTNeoXConfig,
    MambaConfig,
    MambaForCausalLM,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    OlmoConfig,
    OlmoForCausalLM,
    Olmo2Config,
    Olmo2ForCausalLM,
    OPTConfig,
    OPTForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)
import gguf
from gguf import GGMLQuantizationType as QT

transformers.utils.logging.disable_progress_bar()

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "core" / "tests" / "fixtures"
BOOKS = Path(os.environ.get("CRAM_BOOKS_DIR", REPO.parent / "shared" / "data" / "books"))

T = 10  # sequence length of every tiny case
SAMPLE_TEXT = (
    "Alice's 3 sisters said: \"Down,  down,  down!\"\n"
    "Would the fall NEVER come to an end?  1865 -- 42.5% (or 7/8ths)...\n\n"
    "\tCurious & curiouser; isn't it? Caf\u00e9 r\u00e9sum\u00e9 \u00bd 2024!"
)

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def log(*a):
    print(*a, flush=True)


# ----------------------------------------------------------------------------------------
# random init
# ----------------------------------------------------------------------------------------

def reinit_(model: torch.nn.Module, seed: int, weight_std: float = 0.2, embed_std: float = 0.5) -> None:
    """Re-initialise every parameter so that logits are far from uniform.

    norm weights: 1 + 0.1 N(0,1); norm biases and linear biases: 0.1 N(0,1);
    embeddings / LM head: embed_std N(0,1); other matrices: weight_std N(0,1).
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            n = name.lower()
            if "norm" in n:
                if n.endswith("weight"):
                    p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif n.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embed" in n or "lm_head" in n:
                p.copy_(embed_std * torch.randn(p.shape, generator=g))
            else:
                p.copy_(weight_std * torch.randn(p.shape, generator=g))


# ----------------------------------------------------------------------------------------
# config.json in the layout hub checkpoints use
# ----------------------------------------------------------------------------------------

def legacy_config_dict(v5: dict) -> dict:
    """transformers 5 writes RoPE settings as a nested `rope_parameters` dict. Checkpoints on the
    hub (written by transformers 4) carry them as top-level keys instead: llama `rope_theta` +
    `rope_scaling`, gpt_neox `rotary_pct` + `rotary_emb_base` (+ `rope_scaling`). We commit the
    latter layout as config.json (what a real model folder has) and check that transformers 5
    reads it back to the identical model."""
    d = dict(v5)
    if "rope_parameters" not in d:  # OPT: learned positions
        if "dtype" in d:
            d["torch_dtype"] = d["dtype"]
        return dict(sorted(d.items()))
    rp = dict(d.pop("rope_parameters"))
    if "full_attention" in rp:  # Gemma 3: global rope_theta + rope_scaling, local rope_local_base_freq
        full, local = dict(rp["full_attention"]), dict(rp["sliding_attention"])
        d["rope_theta"] = full.pop("rope_theta")
        d["rope_local_base_freq"] = local.pop("rope_theta")
        d["rope_scaling"] = None if full.get("rope_type", "default") == "default" else full
        if "dtype" in d:
            d["torch_dtype"] = d["dtype"]
        return dict(sorted(d.items()))
    theta = rp.pop("rope_theta")
    rope_type = rp.get("rope_type", "default")
    if d["model_type"] == "gpt_neox":
        d["rotary_pct"] = rp.pop("partial_rotary_factor", 1.0)
        d["rotary_emb_base"] = theta
        rp.pop("rope_type", None)
        d["rope_scaling"] = None if not rp else dict(rp, rope_type=rope_type)
    else:
        d["rope_theta"] = theta
        d["rope_scaling"] = None if rope_type == "default" else rp
    if "dtype" in d:
        d["torch_dtype"] = d["dtype"]
    return dict(sorted(d.items()))


def save_model_folder(model, out: Path) -> None:
    """save_pretrained (safetensors, f32), then rewrite config.json in the hub (v4) layout and
    keep the transformers-5 one as config.transformers_v5.json."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save_pretrained(out, safe_serialization=True)
    v5 = json.loads((out / "config.json").read_text())
    (out / "config.transformers_v5.json").write_text(json.dumps(v5, indent=2, sort_keys=True) + "\n")
    (out / "config.json").write_text(json.dumps(legacy_config_dict(v5), indent=2, sort_keys=True) + "\n")
    for extra in ("generation_config.json",):
        if (out / extra).exists():
            (out / extra).unlink()


def reload_and_check(model, out: Path):
    """Load the folder back (from the hub-layout config.json) and require bit-identical weights
    and the same rotary frequencies."""
    m2 = AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager", dtype=torch.float32)
    m2.eval()
    sd1, sd2 = model.state_dict(), m2.state_dict()
    assert sd1.keys() == sd2.keys(), (sd1.keys() ^ sd2.keys())
    for k in sd1:
        assert torch.equal(sd1[k], sd2[k]), k
    f1, f2 = inv_freq_of(model), inv_freq_of(m2)
    assert torch.equal(f1, f2), (f1, f2)
    return m2


def inv_freq_of(model) -> torch.Tensor:
    base = model.base_model
    if not hasattr(base, "rotary_emb"):  # OPT: learned positions
        return torch.zeros(0)
    if not hasattr(base.rotary_emb, "inv_freq"):  # Gemma 3: the global layers' then the local ones'
        r = base.rotary_emb
        return torch.cat([r.full_attention_inv_freq, r.sliding_attention_inv_freq]).detach().clone().float()
    return base.rotary_emb.inv_freq.detach().clone().float()


def check_safetensors_names(out: Path, tied: bool, head_name: str) -> list[str]:
    from safetensors import safe_open

    with safe_open(out / "model.safetensors", "pt") as f:
        names = sorted(f.keys())
        for n in names:
            assert f.get_tensor(n).dtype == torch.float32, n
    if tied:
        assert head_name not in names, f"tied model must not store {head_name}"
    else:
        assert head_name in names, f"untied model must store {head_name}"
    return names


# ----------------------------------------------------------------------------------------
# reference computation
# ----------------------------------------------------------------------------------------

def compute_reference(model, seed: int, vocab: int, hidden: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed + 1000)
    input_ids = torch.randint(0, vocab, (1, T), generator=g, dtype=torch.int64)
    inputs_embeds = 0.5 * torch.randn((1, T, hidden), generator=g, dtype=torch.float32)
    labels = torch.randint(0, vocab, (T,), generator=g, dtype=torch.int64)

    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        logits_ids = model(input_ids=input_ids).logits.float()

    emb = inputs_embeds.clone().requires_grad_(True)
    logits_embeds = model(inputs_embeds=emb).logits.float()
    loss = F.cross_entropy(logits_embeds[0], labels)  # mean over the T positions, no shift
    loss.backward()
    grad = emb.grad.detach().clone()

    probs = logits_ids.softmax(-1)
    log(f"    logits std {logits_ids.std():.3f}, mean max prob {probs.max(-1).values.mean():.3f}, "
        f"loss {loss.item():.5f}, |grad| {grad.norm():.4f}")
    assert probs.max(-1).values.mean() > 2.0 / vocab, "logits are near uniform"
    return {
        "input_ids": input_ids,
        "logits_ids": logits_ids.detach().contiguous(),
        "inputs_embeds": inputs_embeds.contiguous(),
        "logits_embeds": logits_embeds.detach().contiguous(),
        "labels": labels,
        "loss": loss.detach().reshape(1).float(),
        "grad_inputs_embeds": grad.contiguous(),
    }


def write_reference(out: Path, ref: dict[str, torch.Tensor], model, extra_meta: dict | None = None):
    ref = dict(ref)
    if inv_freq_of(model).numel() > 0:
        ref["rope_inv_freq"] = inv_freq_of(model)
    meta = {
        "T": str(T),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "loss": "torch.nn.functional.cross_entropy(logits_embeds[0], labels), mean over T positions, no shift",
    }
    if extra_meta:
        meta.update({k: str(v) for k, v in extra_meta.items()})
    # a single metadata key: safetensors writes a multi-key metadata map in random order
    safetensors.torch.save_file({k: v.contiguous() for k, v in ref.items()}, out / "reference.safetensors",
                                metadata={"cram_reference": json.dumps(meta, sort_keys=True, ensure_ascii=False)})


def build_case(name: str, model, seed: int, tied: bool, head_name: str):
    out = FIXTURES / name
    log(f"[{name}]")
    save_model_folder(model, out)
    names = check_safetensors_names(out, tied, head_name)
    m2 = reload_and_check(model, out)
    cfg = m2.config
    # inputs_embeds are as wide as the word embeddings (OPT's word_embed_proj_dim; the model width elsewhere)
    width = getattr(cfg, "word_embed_proj_dim", None) or cfg.hidden_size
    ref = compute_reference(m2, seed, cfg.vocab_size, width)
    write_reference(out, ref, m2)
    log(f"    {len(names)} tensors, inv_freq {inv_freq_of(m2).tolist()}")
    return m2, ref


# ----------------------------------------------------------------------------------------
# the random-config cases
# ----------------------------------------------------------------------------------------

def neox_config(parallel: bool) -> GPTNeoXConfig:
    return GPTNeoXConfig(
        vocab_size=128,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,  # head_dim 16, rotary dims 16 * 0.25 = 4
        intermediate_size=64,
        hidden_act="gelu",
        rotary_pct=0.25,
        rotary_emb_base=10000,
        max_position_embeddings=256,
        layer_norm_eps=1e-5,
        use_parallel_residual=parallel,
        attention_bias=True,
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=0,
        hidden_dropout=0.0,
        attention_dropout=0.0,
    )


def make_neox(parallel: bool, seed: int):
    cfg = neox_config(parallel)
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = GPTNeoXForCausalLM(cfg).float()
    reinit_(model, seed)
    rot = model.gpt_neox.layers[0].attention.rotary_ndims
    assert rot == 4 and rot % 2 == 0, rot
    return model


def llama_config(**kw) -> LlamaConfig:
    base = dict(
        vocab_size=128,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        hidden_act="silu",
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=1,
        eos_token_id=2,
    )
    base.update(kw)
    return LlamaConfig(**base)


def make_llama(cfg: LlamaConfig, seed: int):
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).float()
    if cfg.tie_word_embeddings:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    reinit_(model, seed)
    if not cfg.tie_word_embeddings:
        assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()
        assert not torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)
    return model


def llama3_regimes(model) -> dict:
    """Classify the llama3-scaled inverse frequencies: unchanged / divided by factor / smoothed."""
    rp = model.config.rope_parameters
    head_dim = model.config.head_dim
    theta = rp["rope_theta"]
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    scaled = inv_freq_of(model)
    factor, lo, hi, old = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"], rp["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    regimes = []
    for i in range(len(inv)):
        if wavelen[i] < old / hi:
            regimes.append("unchanged")
            assert scaled[i] == inv[i]
        elif wavelen[i] > old / lo:
            regimes.append("scaled")
            assert scaled[i] == inv[i] / factor
        else:
            regimes.append("smooth")
            s = (old / wavelen[i] - lo) / (hi - lo)
            expect = (1 - s) * inv[i] / factor + s * inv[i]
            assert torch.allclose(scaled[i], expect, rtol=1e-6), (scaled[i], expect)
            assert inv[i] / factor < scaled[i] < inv[i]
    for i, r in enumerate(regimes):
        log(f"    i={i:2d} inv_freq {inv[i]:.6e} wavelen {wavelen[i]:10.2f} -> {r:9s} {scaled[i]:.6e}")
    assert {"unchanged", "scaled", "smooth"} <= set(regimes), regimes
    return {"regimes": regimes}


def random_cases():
    build_case("gpt_neox", make_neox(True, 11), 11, tied=False, head_name="embed_out.weight")
    build_case("gpt_neox_sequential", make_neox(False, 12), 12, tied=False, head_name="embed_out.weight")
    build_case("llama_gqa_tied", make_llama(llama_config(), 13), 13, tied=True, head_name="lm_head.weight")
    build_case(
        "llama_untied",
        make_llama(llama_config(num_key_value_heads=4, tie_word_embeddings=False, rope_theta=100000.0), 14),
        14, tied=False, head_name="lm_head.weight",
    )
    cfg = llama_config(
        hidden_size=64,
        num_attention_heads=2,  # head_dim 32: 16 frequencies, all three regimes present
        num_key_value_heads=1,
        intermediate_size=64,
        rope_theta=500000.0,
        max_position_embeddings=256,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 32,
        },
    )
    m = make_llama(cfg, 15)
    m2, _ = build_case("llama3_scaled", m, 15, tied=True, head_name="lm_head.weight")
    llama3_regimes(m2)
    conf = json.loads((FIXTURES / "llama3_scaled" / "config.json").read_text())
    assert conf["rope_scaling"]["rope_type"] == "llama3" and conf["rope_theta"] == 500000.0, conf


# ----------------------------------------------------------------------------------------
# llama_gguf: trained byte-level BPE tokenizer + quantisation-exact weights + GGUF file
# ----------------------------------------------------------------------------------------

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TOKENIZER_VOCAB = 384
TOKENIZER_TEXT_CHARS = (0, 6000)  # pg11.txt characters used for training


def train_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    text = (BOOKS / "pg11.txt").read_text(encoding="utf-8")[slice(*TOKENIZER_TEXT_CHARS)]
    tok = Tokenizer(models.BPE())
    # SmolLM2's ("smollm") pre-tokenizer: every digit on its own, then GPT-2 byte-level regex.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([text], trainer=trainer)
    assert tok.get_vocab_size() == TOKENIZER_VOCAB, tok.get_vocab_size()
    return tok


def hf_to_gguf_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py LlamaModel.permute (n_head is n_head_kv for K)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_to_hf_unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


LLAMA_GGUF_TYPES = {
    # hf suffix -> (gguf name, ggml type)
    "embed_tokens.weight": ("token_embd.weight", QT.Q8_0),
    "input_layernorm.weight": ("attn_norm.weight", QT.F32),
    "self_attn.q_proj.weight": ("attn_q.weight", QT.Q4_0),
    "self_attn.k_proj.weight": ("attn_k.weight", QT.Q4_0),
    "self_attn.v_proj.weight": ("attn_v.weight", QT.F16),
    "self_attn.o_proj.weight": ("attn_output.weight", QT.F16),
    "post_attention_layernorm.weight": ("ffn_norm.weight", QT.F32),
    "mlp.gate_proj.weight": ("ffn_gate.weight", QT.Q4_1),
    "mlp.up_proj.weight": ("ffn_up.weight", QT.Q4_1),
    "mlp.down_proj.weight": ("ffn_down.weight", QT.Q4_1),
    "norm.weight": ("output_norm.weight", QT.F32),
}


def llama_gguf_name(hf: str) -> tuple[str, QT]:
    parts = hf.split(".")
    assert parts[0] == "model", hf
    if parts[1] == "layers":
        gname, qt = LLAMA_GGUF_TYPES[".".join(parts[3:])]
        return f"blk.{parts[2]}.{gname}", qt
    return LLAMA_GGUF_TYPES[".".join(parts[1:])]


def encode_for_gguf(w: np.ndarray, qt: QT):
    """Returns (data to store in the GGUF, exactly-representable f32 values it decodes to)."""
    w = np.ascontiguousarray(w, dtype=np.float32)
    if qt == QT.F32:
        return w, w.copy()
    if qt == QT.F16:
        h = w.astype(np.float16)
        return h, h.astype(np.float32)
    q = gguf.quants.quantize(w, qt)
    deq = gguf.quants.dequantize(q, qt).astype(np.float32)
    assert deq.shape == w.shape
    # the block encoding is a fixed point: quantising the decoded values gives the same bytes
    assert np.array_equal(gguf.quants.quantize(deq, qt), q), f"{qt.name} not idempotent"
    return q, deq


def llama_gguf_case():
    name = "llama_gguf"
    out = FIXTURES / name
    tok = train_tokenizer()
    vocab = tok.get_vocab_size()
    n_head, n_kv = 4, 2
    cfg = llama_config(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=64,
        num_attention_heads=n_head,
        num_key_value_heads=n_kv,
        tie_word_embeddings=True,
        rope_theta=10000.0,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    model = make_llama(cfg, 16)

    # Round every weight to what its GGUF encoding decodes to (Q/K are quantised in the
    # permuted row order llama.cpp stores; blocks run along rows so the rounding is the same).
    gguf_tensors = []  # (gguf name, stored array, ggml type)
    with torch.no_grad():
        for hf_name, p in model.named_parameters():
            gname, qt = llama_gguf_name(hf_name)
            w = p.detach().numpy().astype(np.float32)
            perm = None
            if hf_name.endswith("q_proj.weight"):
                perm = n_head
            elif hf_name.endswith("k_proj.weight"):
                perm = n_kv
            if perm is not None:
                w = hf_to_gguf_permute(w, perm)
            stored, exact = encode_for_gguf(w, qt)
            if perm is not None:
                exact = gguf_to_hf_unpermute(exact, perm)
                assert np.array_equal(hf_to_gguf_permute(exact, perm), gguf.quants.dequantize(stored, qt))
            p.copy_(torch.from_numpy(np.ascontiguousarray(exact)))
            gguf_tensors.append((gname, stored, qt))
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()

    m2, ref = build_case(name, model, 16, tied=True, head_name="lm_head.weight")
    tok.save(str(out / "tokenizer.json"))

    # text_ids: the tokenizer.json encoding of SAMPLE_TEXT
    enc = tok.encode(SAMPLE_TEXT, add_special_tokens=False)
    ids = enc.ids
    assert tok.decode(ids) == SAMPLE_TEXT
    digit_pieces = [t for t in enc.tokens if any(c.isdigit() for c in t)]
    assert all(len(t) == 1 for t in digit_pieces), digit_pieces  # digits are split individually
    ref["text_ids"] = torch.tensor(ids, dtype=torch.int64)
    write_reference(out, ref, m2, {"text": SAMPLE_TEXT})
    (out / "reference.json").write_text(
        json.dumps({"text": SAMPLE_TEXT, "ids": ids, "tokens": enc.tokens}, indent=1, ensure_ascii=False) + "\n"
    )
    log(f"    text_ids ({len(ids)}): {ids}")

    write_llama_gguf(out / "tiny-llama.gguf", tok, cfg, gguf_tensors)
    check_llama_gguf(out / "tiny-llama.gguf", m2, tok, n_head, n_kv)
    crosscheck_transformers_gguf(out, m2, ref, tok)


def tokenizer_gguf_vocab(tok):
    tj = json.loads(tok.to_str())
    vocab = tj["model"]["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    added = {a["id"]: a for a in tj["added_tokens"]}
    for i, a in added.items():
        tokens[i] = a["content"]
    assert all(t is not None for t in tokens)
    # llama.cpp token types: 1 NORMAL, 3 CONTROL (special added tokens), 4 USER_DEFINED
    types = [3 if (i in added and added[i]["special"]) else (4 if i in added else 1) for i in range(len(tokens))]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    return tokens, types, merges


def write_llama_gguf(path: Path, tok, cfg: LlamaConfig, tensors):
    tokens, types, merges = tokenizer_gguf_vocab(tok)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_type("model")
    w.add_name("tiny-llama")
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_pad_token_id(2)
    w.add_add_bos_token(False)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for gname, stored, qt in tensors:
        if qt in (QT.F32, QT.F16):
            w.add_tensor(gname, stored)
        else:
            w.add_tensor(gname, stored, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    log(f"    wrote {path.name} ({path.stat().st_size} bytes)")


def check_llama_gguf(path: Path, model, tok, n_head: int, n_kv: int):
    r = gguf.GGUFReader(str(path))
    f = {k: v.contents() for k, v in r.fields.items() if not k.startswith("GGUF.")}
    cfg = model.config
    assert f["general.architecture"] == "llama"
    assert f["llama.block_count"] == cfg.num_hidden_layers
    assert f["llama.embedding_length"] == cfg.hidden_size
    assert f["llama.attention.head_count_kv"] == n_kv
    assert f["tokenizer.ggml.pre"] == "smollm"
    tokens, types, merges = tokenizer_gguf_vocab(tok)
    assert f["tokenizer.ggml.tokens"] == tokens and f["tokenizer.ggml.merges"] == merges
    assert list(f["tokenizer.ggml.token_type"]) == types
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    seen = set()
    for t in r.tensors:
        hf = next(k for k in sd if k != "lm_head.weight" and llama_gguf_name(k)[0] == t.name)
        expect_type = llama_gguf_name(hf)[1]
        assert t.tensor_type == expect_type, (t.name, t.tensor_type, expect_type)
        deq = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        deq = deq.reshape(tuple(int(x) for x in reversed(t.shape)))
        if hf.endswith("q_proj.weight"):
            deq = gguf_to_hf_unpermute(deq, n_head)
        elif hf.endswith("k_proj.weight"):
            deq = gguf_to_hf_unpermute(deq, n_kv)
        assert deq.shape == sd[hf].shape, (t.name, deq.shape, sd[hf].shape)
        assert np.array_equal(deq.view(np.uint32), sd[hf].view(np.uint32)), f"{t.name} differs"
        seen.add(hf)
    assert seen == set(sd) - {"lm_head.weight"}, set(sd) ^ seen
    assert not any(t.name == "output.weight" for t in r.tensors)
    log(f"    GGUFReader check OK: {len(r.tensors)} tensors bit-exact after dequantise+unpermute; "
        f"types {sorted({t.tensor_type.name for t in r.tensors})}")


def crosscheck_transformers_gguf(out: Path, model, ref, tok):
    """Independent check of the GGUF layout: transformers' own GGUF loader must rebuild the
    same model (it un-permutes Q/K itself). Also compares its GGUF tokenizer with tokenizer.json."""
    from transformers import AutoTokenizer

    m = AutoModelForCausalLM.from_pretrained(out, gguf_file="tiny-llama.gguf", dtype=torch.float32,
                                             attn_implementation="eager")
    m.eval()
    sd1, sd2 = model.state_dict(), m.state_dict()
    for k in sd1:
        assert torch.equal(sd1[k], sd2[k]), f"transformers GGUF loader: {k} differs"
    with torch.no_grad():
        lg = m(input_ids=ref["input_ids"]).logits
    diff = (lg - ref["logits_ids"]).abs().max().item()
    log(f"    transformers-from-GGUF logits max abs diff {diff:.3e}")
    assert diff < 1e-5
    t2 = AutoTokenizer.from_pretrained(out, gguf_file="tiny-llama.gguf")
    ids_hf = t2.encode(SAMPLE_TEXT, add_special_tokens=False)
    ids_tj = tok.encode(SAMPLE_TEXT, add_special_tokens=False).ids
    same = ids_hf == ids_tj
    log(f"    transformers GGUF tokenizer == tokenizer.json on SAMPLE_TEXT: {same}")
    if not same:
        log(f"      tokenizer.json : {tok.encode(SAMPLE_TEXT).tokens}")
        log(f"      transformers   : {t2.convert_ids_to_tokens(ids_hf)}")
    digits_hf = t2.convert_ids_to_tokens(t2.encode("In 1865 there were 42 cats.", add_special_tokens=False))
    log(f"      transformers GGUF tokenizer on digits: {digits_hf}")


# ----------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------
# opt: pre-LN without projection, post-LN with project_in / project_out (as opt-350m)
# ----------------------------------------------------------------------------------------

def opt_case(name: str, seed: int, **kw):
    cfg = OPTConfig(
        vocab_size=384,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        ffn_dim=64,
        max_position_embeddings=64,
        activation_function="relu",
        dropout=0.0,
        attention_dropout=0.0,
        enable_bias=True,
        tie_word_embeddings=True,
        pad_token_id=1,
        bos_token_id=2,
        eos_token_id=2,
        **kw,
    )
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = OPTForCausalLM(cfg).float()
    reinit_(model, seed)
    m2, _ = build_case(name, model, seed, tied=True, head_name="lm_head.weight")
    shutil.copy(FIXTURES / "llama_gguf" / "tokenizer.json", FIXTURES / name / "tokenizer.json")
    return m2


def opt_cases():
    m = opt_case("opt", 25)
    dec = m.model.decoder
    assert dec.project_in is None and dec.final_layer_norm is not None and dec.embed_positions.weight.shape == (66, 32)
    m = opt_case("opt_350m_style", 26, do_layer_norm_before=False, word_embed_proj_dim=16)
    dec = m.model.decoder
    assert dec.project_in.weight.shape == (32, 16) and dec.project_out.weight.shape == (16, 32) and dec.final_layer_norm is None
    assert m.model.decoder.embed_tokens.weight.shape == (384, 16)


# ----------------------------------------------------------------------------------------
# gemma3_text: scaled embeddings, (1 + w) norms, sliding window shorter than T, two RoPE bases
# ----------------------------------------------------------------------------------------

def gemma3_cases():
    cfg = Gemma3TextConfig(
        vocab_size=384,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,  # not hidden / heads
        hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
        query_pre_attn_scalar=24,  # not head_dim
        sliding_window=4,  # shorter than T = 10: the local layers see 4 positions
        sliding_window_pattern=3,  # layers 0, 1 local, layer 2 global
        rope_theta=1000000.0,
        rope_local_base_freq=10000.0,
        rope_scaling={"rope_type": "linear", "factor": 2.0},
        attention_bias=False,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=1,
        attention_dropout=0.0,
    )
    cfg._attn_implementation = "eager"
    assert cfg.layer_types == ["sliding_attention", "sliding_attention", "full_attention"], cfg.layer_types
    torch.manual_seed(27)
    model = Gemma3ForCausalLM(cfg).float()
    reinit_(model, 27)
    m2, _ = build_case("gemma3", model, 27, tied=True, head_name="lm_head.weight")
    shutil.copy(FIXTURES / "llama_gguf" / "tokenizer.json", FIXTURES / "gemma3" / "tokenizer.json")
    conf = json.loads((FIXTURES / "gemma3" / "config.json").read_text())
    assert conf["rope_local_base_freq"] == 10000.0 and conf["rope_scaling"]["factor"] == 2.0, conf
    # the window matters: the same model without it gives other logits
    ref = safetensors.torch.load_file(FIXTURES / "gemma3" / "reference.safetensors")
    m3 = AutoModelForCausalLM.from_pretrained(FIXTURES / "gemma3", attn_implementation="eager", dtype=torch.float32,
                                              sliding_window=1000)
    with torch.no_grad():
        wide = m3(input_ids=ref["input_ids"]).logits
    d = (wide - ref["logits_ids"]).abs().max().item()
    log(f"    without the window the logits move by {d:.3f}")
    assert d > 1e-2, d


def main():
    # every group of cases, in the order they are made (attentions reads the cases before it)
    groups = {
        "random": random_cases,
        "llama_gguf": llama_gguf_case,
        "gpt_neox_gguf": gpt_neox_gguf_case,
        "qwen": qwen_cases,
        "olmo": olmo_cases,
        "opt": opt_cases,
        "gemma3": gemma3_cases,
        "mamba": mamba_case,
        "pythia_tokenizer": pythia_tokenizer_case,
        "attentions": attentions_cases,
    }
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", choices=list(groups), help="a subset of the groups (default: all)")
    args = ap.parse_args()
    only = set(args.only or groups)
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, numpy {np.__version__}")
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, make in groups.items():
        if name in only:
            make()


# ----------------------------------------------------------------------------------------
# gpt_neox_gguf: the gpt_neox model (f16-rounded matrices) as a GGUF of arch "gptneox"
# ----------------------------------------------------------------------------------------

NEOX_GGUF = {
    # hf suffix -> gguf name (1-D tensors are stored F32, matrices F16, as convert_hf_to_gguf --outtype f16)
    "embed_in.weight": "token_embd.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "input_layernorm.bias": "attn_norm.bias",
    "attention.query_key_value.weight": "attn_qkv.weight",
    "attention.query_key_value.bias": "attn_qkv.bias",
    "attention.dense.weight": "attn_output.weight",
    "attention.dense.bias": "attn_output.bias",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "post_attention_layernorm.bias": "ffn_norm.bias",
    "mlp.dense_h_to_4h.weight": "ffn_up.weight",
    "mlp.dense_h_to_4h.bias": "ffn_up.bias",
    "mlp.dense_4h_to_h.weight": "ffn_down.weight",
    "mlp.dense_4h_to_h.bias": "ffn_down.bias",
    "final_layer_norm.weight": "output_norm.weight",
    "final_layer_norm.bias": "output_norm.bias",
}


def neox_gguf_name(hf: str) -> str:
    # transformers 5 names the head lm_head in memory and embed_out on disk
    if hf in ("embed_out.weight", "lm_head.weight"):
        return "output.weight"
    parts = hf.split(".")
    assert parts[0] == "gpt_neox", hf
    if parts[1] == "layers":
        return f"blk.{parts[2]}.{NEOX_GGUF['.'.join(parts[3:])]}"
    return NEOX_GGUF[".".join(parts[1:])]


def neox_qkv_to_gguf(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py GPTNeoXModel.modify_tensors: HF rows are [n_head, 3, head_dim]
    (per head: q, k, v); llama.cpp wants [3, n_head, head_dim] (all q rows, all k, all v)."""
    rest = w.shape[1:]
    return w.reshape(n_head, 3, -1, *rest).swapaxes(0, 1).reshape(w.shape)


def neox_qkv_from_gguf(w: np.ndarray, n_head: int) -> np.ndarray:
    rest = w.shape[1:]
    return w.reshape(3, n_head, -1, *rest).swapaxes(0, 1).reshape(w.shape)


def gpt_neox_gguf_case():
    name = "gpt_neox_gguf"
    out = FIXTURES / name
    model = make_neox(True, 17)
    cfg = model.config
    n_head = cfg.num_attention_heads
    tensors = []
    with torch.no_grad():
        for hf, p in model.named_parameters():
            w = p.detach().numpy().astype(np.float32)
            if "query_key_value" in hf:
                w = neox_qkv_to_gguf(w, n_head)
            if w.ndim == 2:
                stored = w.astype(np.float16)
                exact = stored.astype(np.float32)
            else:
                stored = w.copy()
                exact = w.copy()
            if "query_key_value" in hf:
                exact = neox_qkv_from_gguf(exact, n_head)
            p.copy_(torch.from_numpy(np.ascontiguousarray(exact)))
            tensors.append((neox_gguf_name(hf), stored))
    m2, ref = build_case(name, model, 17, tied=False, head_name="embed_out.weight")

    path = out / "tiny-gptneox.gguf"
    w = gguf.GGUFWriter(str(path), "gptneox")
    w.add_type("model")
    w.add_name("tiny-gptneox")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    head_dim = cfg.hidden_size // n_head
    w.add_rope_dimension_count(int(cfg.rope_parameters["partial_rotary_factor"] * head_dim))
    w.add_head_count(n_head)
    w.add_parallel_residual(bool(cfg.use_parallel_residual))
    w.add_layer_norm_eps(cfg.layer_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    for gname, stored in tensors:
        w.add_tensor(gname, stored)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    log(f"    wrote {path.name} ({path.stat().st_size} bytes)")

    # check: every tensor decodes (and un-reorders) bit-exactly to the HF weights
    r = gguf.GGUFReader(str(path))
    f = {k: v.contents() for k, v in r.fields.items() if not k.startswith("GGUF.")}
    assert f["general.architecture"] == "gptneox"
    assert f["gptneox.rope.dimension_count"] == 4 and f["gptneox.use_parallel_residual"] is True
    sd = {k: v.numpy() for k, v in m2.state_dict().items()}
    by_gguf = {neox_gguf_name(k): k for k in sd}
    assert len(r.tensors) == len(sd)
    for t in r.tensors:
        hf = by_gguf[t.name]
        assert t.tensor_type == (QT.F16 if sd[hf].ndim == 2 else QT.F32), (t.name, t.tensor_type)
        deq = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        deq = deq.reshape(tuple(int(x) for x in reversed(t.shape)))
        if "query_key_value" in hf:
            deq = neox_qkv_from_gguf(deq, n_head)
        assert np.array_equal(deq.view(np.uint32), sd[hf].view(np.uint32)), t.name
    log(f"    GGUFReader check OK: {len(r.tensors)} tensors bit-exact; types {sorted({t.tensor_type.name for t in r.tensors})}")



# ----------------------------------------------------------------------------------------
# qwen2, qwen3, olmo, olmo2: families with Llama's checkpoint names, with f16-rounded matrices and a
# GGUF twin each
# ----------------------------------------------------------------------------------------

GGUF_ARCHS = {"qwen2": gguf.MODEL_ARCH.QWEN2, "qwen3": gguf.MODEL_ARCH.QWEN3,
              "olmo": gguf.MODEL_ARCH.OLMO, "olmo2": gguf.MODEL_ARCH.OLMO2}


def gguf_tensor_name(arch: str, n_layers: int, hf: str) -> str:
    """The GGUF name convert_hf_to_gguf.py gives `hf`: gguf-py's tensor map for the arch."""
    name = gguf.get_tensor_name_map(GGUF_ARCHS[arch], n_layers).get_name(hf, try_suffixes=(".weight", ".bias"))
    assert name is not None, (arch, hf)
    return name


# Qwen2's pre-tokenizer (its tokenizer.json; llama.cpp's `qwen2` pre-type): Llama-3's split, but digits one by one
QWEN2_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
# prose, code, digits, non-Latin scripts
MIXED_TEXT = SAMPLE_TEXT + "\nfn main() { let x = vec![1, 22, 333]; println!(\"{x:?}\"); }\n\u65e5\u672c\u8a9e\u306e\u6587\u3002 \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac 2025-01-31!"


def qwen_tokenizer():
    """The llama_gguf vocabulary and merges behind Qwen2's pre-tokenizer (split regex, then byte-level
    without a regex), as Qwen2/Qwen3 tokenizer.json files have it."""
    from tokenizers import Regex, Tokenizer, pre_tokenizers

    tok = Tokenizer.from_file(str(FIXTURES / "llama_gguf" / "tokenizer.json"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    return tok


def add_bpe_tokenizer(w, tok, pre: str) -> None:
    """The byte-level BPE tokenizer `tok` as GGUF metadata, with llama.cpp's pre-tokenizer name `pre`."""
    tokens, types, merges = tokenizer_gguf_vocab(tok)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)


def write_gguf_tensors(w, tensors) -> None:
    """Adds `(name, array)` tensors, writes the file and closes it."""
    for gname, stored in tensors:
        w.add_tensor(gname, stored)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_like_case(name: str, arch: str, cfg, model_cls, seed: int, permute_qk: bool = False):
    """A tiny random model of a family with Llama's tensor names, with matrices rounded to f16 (so
    that the GGUF twin, F16 matrices and F32 vectors as convert_hf_to_gguf --outtype f16 writes them,
    holds exactly the same model), the llama_gguf tokenizer (vocab 384), and tiny-<arch>.gguf. With
    `permute_qk` (arch olmo), Q and K rows are stored permuted as llama.cpp's converter does."""
    out = FIXTURES / name
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = model_cls(cfg).float()
    reinit_(model, seed)
    n_head = cfg.num_attention_heads
    n_kv = cfg.num_key_value_heads or n_head
    tensors = []
    with torch.no_grad():
        for hf, p in model.named_parameters():
            w = p.detach().numpy().astype(np.float32)
            stored = w.astype(np.float16) if w.ndim == 2 else w.copy()
            p.copy_(torch.from_numpy(np.ascontiguousarray(stored.astype(np.float32))))
            if permute_qk and hf.endswith("q_proj.weight"):
                stored = hf_to_gguf_permute(stored, n_head)
            elif permute_qk and hf.endswith("k_proj.weight"):
                stored = hf_to_gguf_permute(stored, n_kv)
            tensors.append((gguf_tensor_name(arch, cfg.num_hidden_layers, hf), stored))
    tied = bool(cfg.tie_word_embeddings)
    m2, _ = build_case(name, model, seed, tied=tied, head_name="lm_head.weight")
    tok = qwen_tokenizer() if arch.startswith("qwen") else None
    if tok is None:
        shutil.copy(FIXTURES / "llama_gguf" / "tokenizer.json", out / "tokenizer.json")
    else:
        # the tokenizer in both forms, and its ids of a mixed text
        tok.save(str(out / "tokenizer.json"))
        enc = tok.encode(MIXED_TEXT, add_special_tokens=False)
        assert tok.decode(enc.ids) == MIXED_TEXT
        assert all(len(t) == 1 for t in enc.tokens if any(c.isdigit() for c in t)), enc.tokens  # digits one by one
        (out / "reference.json").write_text(
            json.dumps({"text": MIXED_TEXT, "ids": enc.ids, "tokens": enc.tokens}, indent=1, ensure_ascii=False) + "\n"
        )

    path = out / f"tiny-{arch}.gguf"
    c = m2.config
    w = gguf.GGUFWriter(str(path), arch)
    w.add_type("model")
    w.add_name(f"tiny-{arch}")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    if head_dim != c.hidden_size // c.num_attention_heads:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_rope_freq_base(c.rope_parameters["rope_theta"])
    if arch == "olmo":
        w.add_layer_norm_eps(1e-5)
        if c.clip_qkv is not None:
            w.add_clamp_kqv(c.clip_qkv)
    else:
        w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_vocab_size(c.vocab_size)
    if tok is not None:
        add_bpe_tokenizer(w, tok, "qwen2")
        w.add_eos_token_id(0)
        w.add_add_bos_token(False)
    write_gguf_tensors(w, tensors)
    log(f"    wrote {path.name} ({path.stat().st_size} bytes)")

    # check: every tensor decodes (and un-permutes) bit-exactly to the HF weights; a tied model has no output.weight
    r = gguf.GGUFReader(str(path))
    sd = {gguf_tensor_name(arch, c.num_hidden_layers, k): (k, v.numpy()) for k, v in m2.state_dict().items()
          if not (tied and k == "lm_head.weight")}
    assert len(r.tensors) == len(sd), (len(r.tensors), sorted(sd))
    for t in r.tensors:
        hf, want = sd[t.name]
        deq = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        deq = deq.reshape(tuple(int(x) for x in reversed(t.shape)))
        if permute_qk and hf.endswith("q_proj.weight"):
            deq = gguf_to_hf_unpermute(deq, n_head)
        elif permute_qk and hf.endswith("k_proj.weight"):
            deq = gguf_to_hf_unpermute(deq, n_kv)
        assert np.array_equal(deq.view(np.uint32), want.view(np.uint32)), t.name
    log(f"    GGUFReader check OK: {len(r.tensors)} tensors bit-exact")
    return m2


LLAMA_LIKE = dict(
    vocab_size=384,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=64,
    hidden_act="silu",
    max_position_embeddings=256,
    bos_token_id=0,
    eos_token_id=0,
    attention_dropout=0.0,
)


def qwen_cases():
    common = dict(LLAMA_LIKE, rms_norm_eps=1e-6)
    # Qwen2: q/k/v biases, tied head (as Qwen2.5-0.5B)
    llama_like_case("qwen2", "qwen2", Qwen2Config(**common, rope_theta=1000000.0, tie_word_embeddings=True), Qwen2ForCausalLM, 21)
    # Qwen3: per-head q/k RMSNorm, head_dim 16 with 4 heads on a width of 32, tied head (as Qwen3-0.6B..4B)
    llama_like_case("qwen3", "qwen3", Qwen3Config(**common, head_dim=16, rope_theta=1000000.0, tie_word_embeddings=True), Qwen3ForCausalLM, 22)
    m = AutoModelForCausalLM.from_pretrained(FIXTURES / "qwen3", attn_implementation="eager", dtype=torch.float32)
    attn = m.model.layers[0].self_attn
    assert attn.q_proj.weight.shape == (64, 32) and attn.q_norm.weight.shape == (16,), attn
    assert attn.q_proj.bias is None
    m = AutoModelForCausalLM.from_pretrained(FIXTURES / "qwen2", attn_implementation="eager", dtype=torch.float32)
    assert m.model.layers[0].self_attn.q_proj.bias is not None and m.model.layers[0].self_attn.o_proj.bias is None


def olmo_cases():
    # OLMo: non-parametric LayerNorms, clip_qkv small enough to clamp about half of q, k, v (checked
    # below), tied head (as OLMo-1B-0724); its GGUF stores Q and K permuted
    m = llama_like_case("olmo", "olmo", OlmoConfig(**LLAMA_LIKE, clip_qkv=1.0, rope_theta=10000.0, tie_word_embeddings=True),
                        OlmoForCausalLM, 23, permute_qk=True)
    assert not any("norm" in n for n, _ in m.named_parameters()), "OLMo's norms have no parameters"
    clamped = []
    attn = m.model.layers[0].self_attn
    hook = attn.q_proj.register_forward_hook(lambda mod, i, o: clamped.append((o.abs() > 1.0).float().mean().item()))
    with torch.no_grad():
        m(input_ids=torch.arange(10).reshape(1, 10))
    hook.remove()
    log(f"    share of q values beyond clip_qkv in layer 0: {clamped[0]:.2f}")
    assert 0.1 < clamped[0] < 0.9, clamped
    # OLMo-2: RMSNorms after attention and MLP, q/k norm over the whole projection, untied head
    m = llama_like_case("olmo2", "olmo2", Olmo2Config(**LLAMA_LIKE, rms_norm_eps=1e-6, rope_theta=500000.0, tie_word_embeddings=False),
                        Olmo2ForCausalLM, 24)
    attn = m.model.layers[0].self_attn
    assert attn.q_norm.weight.shape == (32,) and attn.k_norm.weight.shape == (16,), attn


# ----------------------------------------------------------------------------------------
# attentions: every layer's attention probabilities of some cases (the page's "how the model reads
# the vector")
# ----------------------------------------------------------------------------------------

ATTENTION_CASES = ["llama_gqa_tied", "gpt_neox", "opt", "gemma3"]


def attentions_cases():
    """For each case of ATTENTION_CASES, attentions.safetensors: `attentions` [layers, heads, T, T],
    transformers' eager attention probabilities (`output_attentions=True`) for the case's stored
    `inputs_embeds` (reference.safetensors), in f32."""
    for name in ATTENTION_CASES:
        out = FIXTURES / name
        ref = safetensors.torch.load_file(out / "reference.safetensors")
        m = AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager", dtype=torch.float32)
        m.eval()
        with torch.no_grad():
            att = m(inputs_embeds=ref["inputs_embeds"], output_attentions=True).attentions
        stacked = torch.stack([a[0] for a in att]).float().contiguous()  # [layers, heads, T, T]
        assert torch.allclose(stacked.sum(-1), torch.ones_like(stacked.sum(-1)), atol=1e-5)
        safetensors.torch.save_file({"attentions": stacked}, out / "attentions.safetensors")
        log(f"[{name}] attentions {tuple(stacked.shape)}")


# ----------------------------------------------------------------------------------------
# pythia_tokenizer: a tiny GPT-NeoX with Pythia's own tokenizer (the browser's Pythia test)
# ----------------------------------------------------------------------------------------

PYTHIA_TOKENIZER = Path(os.environ.get("CRAM_PYTHIA_TOKENIZER",
                                       REPO.parent / "shared" / "tokenizers" / "pythia-gpt-neox-20b-tokenizer.json"))


def pythia_tokenizer_case():
    """A tiny random GPT-NeoX of Pythia's vocabulary (50304, as Pythia's configs) with the real Pythia
    tokenizer.json (EleutherAI's gpt-neox-20b tokenizer, Apache-2.0), width 32 (at 16 some tokens of
    the text could not be made the argmax), weights stored in f16 to keep the folder small; and reference.json: the ids
    transformers' tokenizer gives a mixed text. No logits reference: the architecture is checked by
    the gpt_neox cases."""
    from transformers import PreTrainedTokenizerFast

    name = "pythia_tokenizer"
    out = FIXTURES / name
    log(f"[{name}]")
    cfg = neox_config(True)
    cfg.vocab_size, cfg.hidden_size, cfg.intermediate_size = 50304, 32, 64
    cfg._attn_implementation = "eager"
    torch.manual_seed(29)
    model = GPTNeoXForCausalLM(cfg).float()
    reinit_(model, 29)
    save_model_folder(model.half(), out)
    shutil.copy(PYTHIA_TOKENIZER, out / "tokenizer.json")
    tok = PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"))
    ids = tok(MIXED_TEXT, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == MIXED_TEXT
    (out / "reference.json").write_text(json.dumps({"text": MIXED_TEXT, "ids": ids}, indent=1, ensure_ascii=False) + "\n")
    m2 = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    assert m2.gpt_neox.embed_in.weight.shape == (50304, 32)
    log(f"    {len(ids)} ids of the mixed text, model.safetensors {(out / 'model.safetensors').stat().st_size} bytes")


# ----------------------------------------------------------------------------------------
# mamba: the selective state-space model (no attention), with its GGUF twin
# ----------------------------------------------------------------------------------------

LONG_T = 40  # the long reference: several scan chunks and many conv windows


def mamba_case():
    """A tiny random Mamba (transformers' MambaForCausalLM, whose pure-PyTorch path runs the scan
    one position at a time in eval mode), with decay rates spread as in trained models (A_log =
    log(1..N) + noise, so exp(dt A) ranges from mild to strong), a reference at T = 10 as every
    case, a longer one at T = 40 (logits only), greedy decoding with the recurrent cache, and
    tiny-mamba.gguf written as convert_hf_to_gguf.py's MambaModel does (A stored as -exp(A_log),
    the conv weight squeezed to [inner, kernel], the tied head left out, every tensor F32)."""
    name = "mamba"
    cfg = MambaConfig(
        vocab_size=384,
        hidden_size=32,
        state_size=8,
        num_hidden_layers=2,
        expand=2,  # intermediate_size 64
        conv_kernel=4,
        time_step_rank=4,
        use_bias=False,
        use_conv_bias=True,
        residual_in_fp32=True,
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=0,
        eos_token_id=0,
        use_mambapy=False,
    )
    torch.manual_seed(28)
    model = MambaForCausalLM(cfg).float()
    reinit_(model, 28)
    g = torch.Generator().manual_seed(280)
    with torch.no_grad():
        for layer in model.backbone.layers:
            n = cfg.state_size
            base = torch.log(torch.arange(1, n + 1, dtype=torch.float32)).expand(cfg.intermediate_size, n)
            layer.mixer.A_log.copy_(base + 0.1 * torch.randn(base.shape, generator=g))
            # dt = softplus(dt_proj(...) + bias) around 0.1 .. 1
            layer.mixer.dt_proj.bias.copy_(-1.0 + 0.5 * torch.randn(layer.mixer.dt_proj.bias.shape, generator=g))
            # the mixers louder than the residual embedding: with the tied head a quiet mixer makes the
            # model predict its input token again, and greedy decoding would repeat one token
            layer.mixer.out_proj.weight.mul_(8.0)
    m2, ref = build_case(name, model, 28, tied=True, head_name="lm_head.weight")
    out = FIXTURES / name
    shutil.copy(FIXTURES / "llama_gguf" / "tokenizer.json", out / "tokenizer.json")
    mixer = m2.backbone.layers[0].mixer
    assert mixer.conv1d.weight.shape == (64, 1, 4) and mixer.x_proj.weight.shape == (4 + 2 * 8, 64), mixer
    assert not m2.training

    # the long reference, and greedy decoding with the cache against decoding without it
    g = torch.Generator().manual_seed(281)
    long_ids = torch.randint(0, cfg.vocab_size, (1, LONG_T), generator=g, dtype=torch.int64)
    with torch.no_grad():
        long_logits = m2(input_ids=long_ids).logits.float()
        prompt = long_ids[:, :5]
        greedy = m2.generate(prompt, max_new_tokens=12, min_new_tokens=12, do_sample=False, use_cache=True,
                             pad_token_id=0, eos_token_id=None)
        ids = prompt
        for _ in range(12):  # without the cache: the whole sequence each time
            ids = torch.cat([ids, m2(input_ids=ids).logits[:, -1:].argmax(-1)], dim=1)
    assert torch.equal(greedy, ids), (greedy, ids)
    assert len(set(greedy[0, 5:].tolist())) >= 3, greedy  # decoding that goes somewhere
    ref = dict(ref, long_input_ids=long_ids, long_logits=long_logits.contiguous(), greedy_ids=greedy.contiguous())
    write_reference(out, ref, m2, {"greedy": "prompt long_input_ids[:, :5], 12 new tokens, generate(do_sample=False)",
                                   "long": f"logits of long_input_ids, T = {LONG_T}"})
    dt = F.softplus(m2.backbone.layers[0].mixer.dt_proj.bias)
    log(f"    greedy {greedy[0, 5:].tolist()}, dt bias softplus {dt.min():.3f}..{dt.max():.3f}, "
        f"-A {(-torch.exp(mixer.A_log)).abs().min():.2f}..{(-torch.exp(mixer.A_log)).abs().max():.2f}")

    # the GGUF twin, through gguf-py's tensor map for MAMBA (the converter's names)
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.MAMBA, cfg.num_hidden_layers)
    tensors = []
    for hf, p in m2.state_dict().items():
        if hf == "lm_head.weight":
            continue  # equal to the embedding: the converter omits it
        gname = tmap.get_name(hf, try_suffixes=(".weight", ".bias"))
        assert gname is not None, hf
        w = p.detach().float()
        if hf.endswith(".A_log"):
            w = -torch.exp(w)
        if hf.endswith("conv1d.weight"):
            w = w.squeeze()
        tensors.append((gname, w.numpy().astype(np.float32)))
    path = out / "tiny-mamba.gguf"
    tok = __import__("tokenizers").Tokenizer.from_file(str(out / "tokenizer.json"))
    w = gguf.GGUFWriter(str(path), "mamba")
    w.add_type("model")
    w.add_name("tiny-mamba")
    w.add_context_length(2**20)  # as the converter: Mamba has no context limit
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(0)
    w.add_head_count(0)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_ssm_conv_kernel(cfg.conv_kernel)
    w.add_ssm_inner_size(cfg.intermediate_size)
    w.add_ssm_state_size(cfg.state_size)
    w.add_ssm_time_step_rank(cfg.time_step_rank)
    w.add_layer_norm_rms_eps(cfg.layer_norm_epsilon)
    w.add_ssm_dt_b_c_rms(False)
    w.add_vocab_size(cfg.vocab_size)
    add_bpe_tokenizer(w, tok, "smollm")
    w.add_bos_token_id(0)
    w.add_eos_token_id(0)
    w.add_add_bos_token(False)
    write_gguf_tensors(w, tensors)
    r = gguf.GGUFReader(str(path))
    names = {t.name: tuple(int(x) for x in reversed(t.shape)) for t in r.tensors}
    assert names["blk.0.ssm_conv1d.weight"] == (64, 4) and names["blk.0.ssm_a"] == (64, 8), names
    assert "output.weight" not in names and len(names) == len(tensors)
    log(f"    wrote {path.name} ({path.stat().st_size} bytes, {len(names)} tensors)")


if __name__ == "__main__":
    main()
