//! The one table between GGUF tensor names (llama.cpp's `convert_hf_to_gguf.py`) and Hugging Face
//! state-dict names, per architecture. `{i}` stands for the layer index.

/// `(hugging face, gguf)` for arch `llama`.
const LLAMA: &[(&str, &str)] = &[
    ("model.embed_tokens.weight", "token_embd.weight"),
    ("model.norm.weight", "output_norm.weight"),
    ("lm_head.weight", "output.weight"),
    ("model.layers.{i}.input_layernorm.weight", "blk.{i}.attn_norm.weight"),
    ("model.layers.{i}.self_attn.q_proj.weight", "blk.{i}.attn_q.weight"),
    ("model.layers.{i}.self_attn.k_proj.weight", "blk.{i}.attn_k.weight"),
    ("model.layers.{i}.self_attn.v_proj.weight", "blk.{i}.attn_v.weight"),
    ("model.layers.{i}.self_attn.o_proj.weight", "blk.{i}.attn_output.weight"),
    ("model.layers.{i}.self_attn.q_proj.bias", "blk.{i}.attn_q.bias"),
    ("model.layers.{i}.self_attn.k_proj.bias", "blk.{i}.attn_k.bias"),
    ("model.layers.{i}.self_attn.v_proj.bias", "blk.{i}.attn_v.bias"),
    ("model.layers.{i}.post_attention_layernorm.weight", "blk.{i}.ffn_norm.weight"),
    ("model.layers.{i}.mlp.gate_proj.weight", "blk.{i}.ffn_gate.weight"),
    ("model.layers.{i}.mlp.up_proj.weight", "blk.{i}.ffn_up.weight"),
    ("model.layers.{i}.mlp.down_proj.weight", "blk.{i}.ffn_down.weight"),
];

/// `(hugging face, gguf)` for arch `gptneox`.
const GPT_NEOX: &[(&str, &str)] = &[
    ("gpt_neox.embed_in.weight", "token_embd.weight"),
    ("gpt_neox.final_layer_norm.weight", "output_norm.weight"),
    ("gpt_neox.final_layer_norm.bias", "output_norm.bias"),
    ("embed_out.weight", "output.weight"),
    ("gpt_neox.layers.{i}.input_layernorm.weight", "blk.{i}.attn_norm.weight"),
    ("gpt_neox.layers.{i}.input_layernorm.bias", "blk.{i}.attn_norm.bias"),
    ("gpt_neox.layers.{i}.post_attention_layernorm.weight", "blk.{i}.ffn_norm.weight"),
    ("gpt_neox.layers.{i}.post_attention_layernorm.bias", "blk.{i}.ffn_norm.bias"),
    ("gpt_neox.layers.{i}.attention.query_key_value.weight", "blk.{i}.attn_qkv.weight"),
    ("gpt_neox.layers.{i}.attention.query_key_value.bias", "blk.{i}.attn_qkv.bias"),
    ("gpt_neox.layers.{i}.attention.dense.weight", "blk.{i}.attn_output.weight"),
    ("gpt_neox.layers.{i}.attention.dense.bias", "blk.{i}.attn_output.bias"),
    ("gpt_neox.layers.{i}.mlp.dense_h_to_4h.weight", "blk.{i}.ffn_up.weight"),
    ("gpt_neox.layers.{i}.mlp.dense_h_to_4h.bias", "blk.{i}.ffn_up.bias"),
    ("gpt_neox.layers.{i}.mlp.dense_4h_to_h.weight", "blk.{i}.ffn_down.weight"),
    ("gpt_neox.layers.{i}.mlp.dense_4h_to_h.bias", "blk.{i}.ffn_down.bias"),
];

/// The GGUF name of Hugging Face tensor `hf` for GGUF architecture `arch`, if the table has one.
pub fn gguf_name(arch: &str, hf: &str) -> Option<String> {
    let table = match arch {
        "llama" => LLAMA,
        "gptneox" => GPT_NEOX,
        _ => return None,
    };
    let (layer, pattern) = split_layer(hf);
    table.iter().find(|(h, _)| *h == pattern).map(|(_, g)| match layer {
        Some(i) => g.replace("{i}", i),
        None => g.to_string(),
    })
}

/// `model.layers.7.mlp.up_proj.weight` → (`Some("7")`, `model.layers.{i}.mlp.up_proj.weight`).
fn split_layer(name: &str) -> (Option<&str>, String) {
    let mut parts = name.split('.');
    let mut out = Vec::new();
    let mut layer = None;
    let mut prev = "";
    for p in parts.by_ref() {
        if prev == "layers" && layer.is_none() && p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() {
            layer = Some(p);
            out.push("{i}");
        } else {
            out.push(p);
        }
        prev = p;
    }
    (layer, out.join("."))
}

/// llama.cpp stores Q and K rows permuted for interleaved RoPE:
/// `w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2)`. This is the inverse, back to the
/// `rotate_half` layout of Hugging Face.
pub fn unpermute_qk(data: &[f32], rows: usize, cols: usize, n_head: usize) -> Vec<f32> {
    let half = rows / n_head / 2;
    let mut out = vec![0.0; data.len()];
    for h in 0..n_head {
        for j in 0..half {
            for pair in 0..2 {
                // gguf row (h, j, pair) holds hf row (h, pair, j)
                let src = (h * half * 2 + j * 2 + pair) * cols;
                let dst = (h * 2 * half + pair * half + j) * cols;
                out[dst..dst + cols].copy_from_slice(&data[src..src + cols]);
            }
        }
    }
    out
}

/// llama.cpp's converter reorders GPT-NeoX's fused `query_key_value` rows (and bias) from Hugging
/// Face's per-head `[n_head, 3, head_dim]` to `[3, n_head, head_dim]`; this puts them back.
/// `cols` is 1 for the bias.
pub fn neox_qkv_per_head(data: &[f32], rows: usize, cols: usize, n_head: usize) -> Vec<f32> {
    let head_dim = rows / 3 / n_head;
    let mut out = vec![0.0; data.len()];
    for part in 0..3 {
        for h in 0..n_head {
            for j in 0..head_dim {
                let src = ((part * n_head + h) * head_dim + j) * cols;
                let dst = ((h * 3 + part) * head_dim + j) * cols;
                out[dst..dst + cols].copy_from_slice(&data[src..src + cols]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_with_layer_index() {
        assert_eq!(gguf_name("llama", "model.layers.12.self_attn.q_proj.weight").as_deref(), Some("blk.12.attn_q.weight"));
        assert_eq!(gguf_name("llama", "model.embed_tokens.weight").as_deref(), Some("token_embd.weight"));
        assert_eq!(gguf_name("gptneox", "gpt_neox.layers.0.attention.query_key_value.bias").as_deref(), Some("blk.0.attn_qkv.bias"));
        assert_eq!(gguf_name("llama", "model.layers.1.unknown.weight"), None);
        assert_eq!(gguf_name("bert", "model.embed_tokens.weight"), None);
    }

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        // rows = n_head * 2 * half; permute as convert_hf_to_gguf.py does, then undo.
        let (n_head, half, cols) = (2, 3, 2);
        let rows = n_head * 2 * half;
        let hf: Vec<f32> = (0..rows * cols).map(|x| x as f32).collect();
        let mut gguf = vec![0.0; hf.len()];
        for h in 0..n_head {
            for pair in 0..2 {
                for j in 0..half {
                    let src = (h * 2 * half + pair * half + j) * cols;
                    let dst = (h * half * 2 + j * 2 + pair) * cols;
                    gguf[dst..dst + cols].copy_from_slice(&hf[src..src + cols]);
                }
            }
        }
        assert_eq!(unpermute_qk(&gguf, rows, cols, n_head), hf);
    }
}
