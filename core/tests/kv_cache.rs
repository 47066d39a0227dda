//! Decoding with a KV cache computes what the whole sequence at once computes: a prefix, then one
//! position at a time, gives the same hidden states (every family, GQA, partial rotary, llama3 rope
//! scaling, LoRA adapters in place).

use crate::common;

use burn::tensor::{Tensor, TensorData};
use common::*;

fn cached_equals_full(case: &str) {
    let device = cpu();
    let model = load_network(case, None, &device);
    let d = model.config().hidden_size();
    let seq = 7;
    let values: Vec<f32> = (0..seq * d).map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.2).collect();
    let x = Tensor::<3>::from_data(TensorData::new(values, [1, seq, d]), &device);
    let full = model.hidden_states(x.clone()).into_data().try_to_vec::<f32>().unwrap();
    let mut cache = model.new_cache();
    let mut parts = vec![model.hidden_states_cached(x.clone().narrow(1, 0, 3), &mut cache)];
    for i in 3..seq {
        parts.push(model.hidden_states_cached(x.clone().narrow(1, i, 1), &mut cache));
    }
    assert_eq!(cache.len(), seq);
    let cached: Vec<f64> = Tensor::cat(parts, 1).into_data().try_to_vec::<f32>().unwrap().into_iter().map(f64::from).collect();
    let diff = max_abs_diff(&full, &cached);
    assert!(diff < 1e-4, "{case}: cached and full hidden states differ by {diff}");
}

#[test]
fn kv_cache_gpt_neox() {
    cached_equals_full("gpt_neox");
}

#[test]
fn kv_cache_llama_gqa() {
    cached_equals_full("llama_gqa_tied");
}

#[test]
fn kv_cache_llama3_rope_scaling() {
    cached_equals_full("llama3_scaled");
}

/// Every family added with the registry: Qwen2's biases, Qwen3's per-head q/k norms, OLMo's clamp,
/// OLMo-2's post-norms, OPT's learned positions (offset from the cache's length) with its
/// projections, and Gemma 3's window of 4 over 7 positions with two RoPE bases.
#[test]
fn kv_cache_every_new_family() {
    for case in ["qwen2", "qwen3", "olmo", "olmo2", "opt", "opt_350m_style", "gemma3"] {
        cached_equals_full(case);
    }
}

/// Mamba keeps a recurrent state instead of keys and values: the conv window (3 positions, so the
/// split after 3 and the single steps cross it) and h.
#[test]
fn recurrent_state_mamba() {
    cached_equals_full("mamba");
}
