#!/usr/bin/env bash
# How much host memory loading a sharded checkpoint takes: writes a Llama-3.2-1B-shaped checkpoint
# (data/configs/llama-3.2-1b.json, 1.24 B weights, bf16, 4 shards + model.safetensors.index.json,
# 2.5 GB; the values are a constant pattern, which is all loading needs) into target/sharded-1b/,
# then loads it with `cram info` in bf16 and in f32 and prints the load time and the peak resident
# memory the kernel counted (VmHWM). On the CPU the device's memory is host memory, so the weights'
# own size is part of the peak; the question is what loading adds on top.
# Usage: bash scripts/sharded-memory.sh [path/to/cram]   (default target/release/cram)
set -euo pipefail
cd "$(dirname "$0")/.."
cram="${1:-target/release/cram}"
dir=target/sharded-1b
if [ ! -s "$dir/model-00004-of-00004.safetensors" ]; then
  mkdir -p "$dir"
  cp data/configs/llama-3.2-1b.json "$dir/config.json"
  cp core/tests/fixtures/llama_gguf/tokenizer.json "$dir/tokenizer.json"
  python3 - "$dir" <<'PY'
import json, os, struct, sys
d = sys.argv[1]
c = json.load(open(f"{d}/config.json"))
h, i, layers, v = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
q, kv = c["num_attention_heads"] * c["head_dim"], c["num_key_value_heads"] * c["head_dim"]
tensors = [("model.embed_tokens.weight", [v, h])]
for l in range(layers):
    p = f"model.layers.{l}"
    tensors += [(f"{p}.input_layernorm.weight", [h]), (f"{p}.post_attention_layernorm.weight", [h]),
                (f"{p}.self_attn.q_proj.weight", [q, h]), (f"{p}.self_attn.k_proj.weight", [kv, h]),
                (f"{p}.self_attn.v_proj.weight", [kv, h]), (f"{p}.self_attn.o_proj.weight", [h, q]),
                (f"{p}.mlp.gate_proj.weight", [i, h]), (f"{p}.mlp.up_proj.weight", [i, h]),
                (f"{p}.mlp.down_proj.weight", [h, i])]
tensors.append(("model.norm.weight", [h]))
shards, per = 4, -(-len(tensors) // 4)
block = struct.pack("<H", 0x3C00) * (1 << 20)  # bf16 0.0078125, 2 MiB at a time
weight_map = {}
for s in range(shards):
    part = tensors[s * per:(s + 1) * per]
    name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
    header, offset = {}, 0
    for n, shape in part:
        size = 2
        for x in shape:
            size *= x
        header[n] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
        weight_map[n] = name
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(f"{d}/{name}", "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        left = offset
        while left:
            f.write(block[:min(left, len(block))])
            left -= min(left, len(block))
json.dump({"metadata": {}, "weight_map": weight_map}, open(f"{d}/model.safetensors.index.json", "w"))
PY
fi
echo "checkpoint: $(du -sb "$dir" | cut -f1 | awk '{printf "%.2f GB", $1 / 1e9}') in $(ls "$dir"/*.safetensors | wc -l) shards"
for dtype in bf16 f32; do
  "$cram" info --model "$dir" --dtype "$dtype" --json | python3 -c "
import json, sys
m = json.load(sys.stdin)
print(f\"--dtype $dtype: loaded in {m['load_seconds']:.1f} s, peak host memory {m['peak_host_memory_bytes'] / 1e9:.2f} GB ({m['parameters'] / 1e9:.2f} B weights)\")"
done
