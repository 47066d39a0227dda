//! A GGUF file as a Hugging Face checkpoint on arbitrary bytes: the architecture, the config rebuilt
//! from the metadata, and the first layers' tensors under their Hugging Face names (dequantised,
//! llama.cpp's Q/K permutation undone, GPT-NeoX's fused QKV reordered).
#![no_main]

use cram_core::load::gguf_checkpoint::GgufCheckpoint;
use cram_core::weights::{Bytes, TensorSource};
use libfuzzer_sys::fuzz_target;

/// Hugging Face names of both families, `{i}` for the layer (0 and 1 are tried).
const NAMES: &[&str] = &[
    "model.embed_tokens.weight",
    "model.norm.weight",
    "lm_head.weight",
    "model.layers.{i}.input_layernorm.weight",
    "model.layers.{i}.self_attn.q_proj.weight",
    "model.layers.{i}.self_attn.k_proj.weight",
    "model.layers.{i}.self_attn.v_proj.weight",
    "model.layers.{i}.self_attn.o_proj.weight",
    "model.layers.{i}.self_attn.q_proj.bias",
    "model.layers.{i}.post_attention_layernorm.weight",
    "model.layers.{i}.mlp.gate_proj.weight",
    "model.layers.{i}.mlp.up_proj.weight",
    "model.layers.{i}.mlp.down_proj.weight",
    "gpt_neox.embed_in.weight",
    "gpt_neox.final_layer_norm.weight",
    "embed_out.weight",
    "gpt_neox.layers.{i}.input_layernorm.weight",
    "gpt_neox.layers.{i}.attention.query_key_value.weight",
    "gpt_neox.layers.{i}.attention.query_key_value.bias",
    "gpt_neox.layers.{i}.attention.dense.weight",
    "gpt_neox.layers.{i}.mlp.dense_h_to_4h.weight",
    "gpt_neox.layers.{i}.mlp.dense_4h_to_h.weight",
];

fuzz_target!(|data: &[u8]| {
    let Ok(ckpt) = GgufCheckpoint::from_bytes("fuzz.gguf", Bytes::Owned(data.to_vec())) else { return };
    let _ = ckpt.arch();
    if let Ok(config) = ckpt.config() {
        let _ = (config.family(), config.hidden_size(), config.vocab_size(), config.num_layers());
    }
    for name in NAMES {
        for layer in ["0", "1"] {
            if let Ok(Some(t)) = ckpt.tensor(&name.replace("{i}", layer)) {
                assert_eq!(t.data.len(), t.shape.iter().product::<usize>(), "{name}: {:?}", t.shape);
            }
        }
    }
});
