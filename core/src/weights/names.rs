//! Between GGUF tensor names (llama.cpp's `convert_hf_to_gguf.py`) and Hugging Face state-dict names:
//! the lookup in a family's table (`Family::GGUF_NAMES`, in its file under `models/`; `{i}` stands
//! for the layer index), and the row orders llama.cpp changes.

/// The GGUF name of Hugging Face tensor `hf` in `table` (a family's `Family::GGUF_NAMES`), if it
/// names it.
pub fn gguf_name_in(table: &[(&str, &str)], hf: &str) -> Option<String> {
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
