#!/usr/bin/env python3
"""Seed files for scripts/fuzz.sh made from the test fixtures (standard library only).

  seeds.py tokenizer SRC.gguf DIR             metadata-only GGUF files, one per tokenizer variant
  seeds.py small-models VOCAB DIR             safetensors_model inputs: Llama and GPT-NeoX models of
                                              width 8, one layer, VOCAB tokens (the target's tokenizer)
  seeds.py encoder-f16 SRC DST [--no-optimiser]
                                              an encoder file with its F32 tensors stored as F16, without
                                              the optimiser state if asked (a third of the bytes)

Why: libFuzzer spends its time in proportion to the input's size, and mutates bytes uniformly. A
tokenizer seed that carries 75 KB of tensor data nobody reads makes each execution slower and most
mutations useless, so the gguf_tokenizer seeds are the fixture's metadata alone (no tensors), in the
variants the builder branches on (pre-tokenizer, token types, merges, BOS/EOS flags). Likewise the
whole-model seeds of safetensors_model are models of width 8 (a few KB) rather than the fixtures,
and the encoder_file seeds are stored in F16.
"""

import json
import struct
import sys

# GGUF value types (gguf.h): fixed-size scalars by struct format, then string (8) and array (9).
SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
STRING, ARRAY = 8, 9


def read_gguf_metadata(data):
    """(version, [(key, type, value)]) of a GGUF file; array values are (item_type, [items])."""
    magic, version, _n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    if magic != b"GGUF":
        raise SystemExit("not a GGUF file")
    offset = 24

    def string(at):
        (n,) = struct.unpack_from("<Q", data, at)
        return data[at + 8 : at + 8 + n].decode("utf-8"), at + 8 + n

    def value(kind, at):
        if kind in SCALARS:
            fmt = "<" + SCALARS[kind]
            return struct.unpack_from(fmt, data, at)[0], at + struct.calcsize(fmt)
        if kind == STRING:
            return string(at)
        if kind == ARRAY:
            item_kind, n = struct.unpack_from("<IQ", data, at)
            at += 12
            items = []
            for _ in range(n):
                item, at = value(item_kind, at)
                items.append(item)
            return (item_kind, items), at
        raise SystemExit(f"unknown GGUF value type {kind}")

    entries = []
    for _ in range(n_kv):
        key, offset = string(offset)
        (kind,) = struct.unpack_from("<I", data, offset)
        val, offset = value(kind, offset + 4)
        entries.append((key, kind, val))
    return version, entries


def write_gguf_metadata(version, entries):
    """A GGUF file with these metadata entries and no tensors."""

    def string(s):
        raw = s.encode("utf-8")
        return struct.pack("<Q", len(raw)) + raw

    def value(kind, val):
        if kind in SCALARS:
            return struct.pack("<" + SCALARS[kind], val)
        if kind == STRING:
            return string(val)
        item_kind, items = val
        return struct.pack("<IQ", item_kind, len(items)) + b"".join(value(item_kind, v) for v in items)

    out = struct.pack("<4sIQQ", b"GGUF", version, 0, len(entries))
    for key, kind, val in entries:
        out += string(key) + struct.pack("<I", kind) + value(kind, val)
    return out


def tokenizer_seeds(src, out_dir):
    version, entries = read_gguf_metadata(open(src, "rb").read())
    entries = [e for e in entries if e[0].startswith("tokenizer.")]
    keys = {e[0] for e in entries}
    if "tokenizer.ggml.tokens" not in keys:
        raise SystemExit(f"{src} has no tokenizer metadata")

    def edit(drop=(), set_=()):
        changed = {k: (kind, v) for k, kind, v in set_}
        kept = [(k, *changed.pop(k, (kind, v))) for k, kind, v in entries if k not in drop]
        return kept + [(k, kind, v) for k, (kind, v) in changed.items()]

    variants = {
        "as-is": edit(),
        "pre-llama3": edit(set_=[("tokenizer.ggml.pre", STRING, "llama-bpe")]),
        "pre-default": edit(drop=["tokenizer.ggml.pre"]),
        "no-token-types": edit(drop=["tokenizer.ggml.token_type"]),
        "no-merges": edit(drop=["tokenizer.ggml.merges"]),
        "bos-eos": edit(set_=[("tokenizer.ggml.add_bos_token", 7, True), ("tokenizer.ggml.add_eos_token", 7, True)]),
    }
    for name, kept in variants.items():
        with open(f"{out_dir}/seed-tokenizer-{name}.gguf", "wb") as f:
            f.write(write_gguf_metadata(version, kept))


def safetensors_bytes(tensors, dtype, metadata=None):
    """A safetensors file of {name: (shape, [float])}, stored as dtype F32, F16 or BF16."""

    def pack(values):
        if dtype == "F32":
            return struct.pack(f"<{len(values)}f", *values)
        if dtype == "F16":
            return struct.pack(f"<{len(values)}e", *values)
        # BF16: the high half of each f32.
        return b"".join(struct.pack("<f", v)[2:] for v in values)

    header, body = {"__metadata__": metadata or {"format": "pt"}}, b""
    for name, (shape, values) in sorted(tensors.items()):
        raw = pack(values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(body), len(body) + len(raw)]}
        body += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


def read_safetensors(data):
    """(metadata, {name: (dtype, shape, raw bytes)}) of a safetensors file."""
    (n,) = struct.unpack("<Q", data[:8])
    header, body = json.loads(data[8 : 8 + n]), data[8 + n :]
    metadata = header.pop("__metadata__", {})
    return metadata, {k: (v["dtype"], v["shape"], body[v["data_offsets"][0] : v["data_offsets"][1]]) for k, v in header.items()}


def encoder_f16(src, dst, no_optimiser):
    metadata, tensors = read_safetensors(open(src, "rb").read())
    if no_optimiser:
        metadata.pop("optimiser_step", None)
        tensors = {k: v for k, v in tensors.items() if not k.startswith("optimiser.")}
    values = {}
    for name, (dtype, shape, raw) in tensors.items():
        if dtype != "F32":
            raise SystemExit(f"{src}: {name} is {dtype}, expected F32")
        values[name] = (shape, list(struct.unpack(f"<{len(raw) // 4}f", raw)))
    with open(dst, "wb") as f:
        f.write(safetensors_bytes(values, "F16", metadata))


def model_seed(config, tensors, dtype):
    """The safetensors_model input: u16 LE length of config.json, config.json, model.safetensors."""
    text = json.dumps(config, separators=(",", ":")).encode()
    return struct.pack("<H", len(text)) + text + safetensors_bytes(tensors, dtype)


def small_models(vocab, out_dir):
    counter = [0]

    def weights(*shape):
        n = 1
        for d in shape:
            n *= d
        counter[0] += 1
        return list(shape), [((i * 7919 + counter[0] * 104729) % 2001 - 1000) / 20000 for i in range(n)]

    def ones(d):
        return [d], [1.0] * d

    h, ff = 8, 16
    llama = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": h, "intermediate_size": ff,
        "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 4, "num_hidden_layers": 1,
        "vocab_size": vocab, "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "hidden_act": "silu", "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2,
    }
    layer = "model.layers.0."
    llama_tensors = {
        "model.embed_tokens.weight": weights(vocab, h),
        "model.norm.weight": ones(h),
        layer + "input_layernorm.weight": ones(h),
        layer + "post_attention_layernorm.weight": ones(h),
        layer + "self_attn.q_proj.weight": weights(8, h),
        layer + "self_attn.k_proj.weight": weights(4, h),
        layer + "self_attn.v_proj.weight": weights(4, h),
        layer + "self_attn.o_proj.weight": weights(h, 8),
        layer + "mlp.gate_proj.weight": weights(ff, h),
        layer + "mlp.up_proj.weight": weights(ff, h),
        layer + "mlp.down_proj.weight": weights(h, ff),
    }
    neox = {
        "architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_size": h, "intermediate_size": ff,
        "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": vocab, "max_position_embeddings": 64,
        "layer_norm_eps": 1e-5, "rotary_emb_base": 10000, "rotary_pct": 0.5, "hidden_act": "gelu",
        "use_parallel_residual": True, "tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 0,
    }
    layer = "gpt_neox.layers.0."
    neox_tensors = {
        "gpt_neox.embed_in.weight": weights(vocab, h),
        "embed_out.weight": weights(vocab, h),
        "gpt_neox.final_layer_norm.weight": ones(h),
        "gpt_neox.final_layer_norm.bias": weights(h),
        layer + "input_layernorm.weight": ones(h),
        layer + "input_layernorm.bias": weights(h),
        layer + "post_attention_layernorm.weight": ones(h),
        layer + "post_attention_layernorm.bias": weights(h),
        layer + "attention.query_key_value.weight": weights(3 * h, h),
        layer + "attention.query_key_value.bias": weights(3 * h),
        layer + "attention.dense.weight": weights(h, h),
        layer + "attention.dense.bias": weights(h),
        layer + "mlp.dense_h_to_4h.weight": weights(ff, h),
        layer + "mlp.dense_h_to_4h.bias": weights(ff),
        layer + "mlp.dense_4h_to_h.weight": weights(h, ff),
        layer + "mlp.dense_4h_to_h.bias": weights(h),
    }
    # The variants the loader branches on: tied or not, Llama-3 RoPE scaling, parallel or sequential
    # residual, each dtype.
    llama_untied = dict(llama, tie_word_embeddings=False)
    untied_tensors = dict(llama_tensors, **{"lm_head.weight": weights(vocab, h)})
    neox_sequential = dict(neox, use_parallel_residual=False)
    llama3_scaled = dict(llama, rope_theta=500000.0, rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 32,
    })
    seeds = {
        "llama-tied-f16": model_seed(llama, llama_tensors, "F16"),
        "llama3-scaled-f16": model_seed(llama3_scaled, llama_tensors, "F16"),
        "llama-untied-f32": model_seed(llama_untied, untied_tensors, "F32"),
        "gptneox-parallel-bf16": model_seed(neox, neox_tensors, "BF16"),
        "gptneox-sequential-f16": model_seed(neox_sequential, neox_tensors, "F16"),
    }
    for name, data in seeds.items():
        with open(f"{out_dir}/seed-small-{name}", "wb") as f:
            f.write(data)


if __name__ == "__main__":
    if len(sys.argv) in (4, 5) and sys.argv[1] == "encoder-f16":
        encoder_f16(sys.argv[2], sys.argv[3], sys.argv[4:] == ["--no-optimiser"])
    elif len(sys.argv) == 4 and sys.argv[1] == "small-models":
        small_models(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "tokenizer":
        tokenizer_seeds(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
