//! Greedy decoding from memory vectors alone: what `cram decompress` does, and the check that a text
//! is greedy-exact. The prefix (sink, memory, given tokens) runs once; then each step feeds the one
//! new token against a KV cache.

use burn::tensor::{Int, Tensor, TensorData};

use crate::Result;
use crate::models::Model;

/// Embeds `ids` as a `[1, n, d]` tensor on the model's device.
pub fn embed_ids(model: &Model, ids: &[u32]) -> Tensor<3> {
    let device = model.embedding_matrix().device();
    let ids: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
    let n = ids.len();
    model.embed(Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), &device))
}

/// Greedily decodes up to `n` tokens after `prefix` (`[1, P, d]`: sink, memory). When `expected` is
/// given, stops at the first token that differs from it. Returns the tokens produced.
pub fn greedy_decode(model: &Model, prefix: Tensor<3>, n: usize, expected: Option<&[u32]>, on_token: impl FnMut(usize, u32)) -> Result<Vec<u32>> {
    crate::readback::sync(greedy_decode_async(model, prefix, n, expected, on_token))
}

/// [`greedy_decode`], reading back asynchronously (WebGPU).
pub async fn greedy_decode_async(
    model: &Model,
    prefix: Tensor<3>,
    n: usize,
    expected: Option<&[u32]>,
    mut on_token: impl FnMut(usize, u32),
) -> Result<Vec<u32>> {
    let mut out: Vec<u32> = Vec::with_capacity(n);
    let mut cache = model.new_cache();
    for i in 0..n {
        // the prefix first, then one new token per step
        let x = match out.last() {
            None => prefix.clone(),
            Some(&last) => embed_ids(model, &[last]),
        };
        let len = x.dims()[1];
        let last = model.hidden_states_cached(x, &mut cache).narrow(1, len - 1, 1);
        let next = crate::readback::ints(model.lm_head(last).argmax(2)).await?;
        let id = next.first().copied().unwrap_or(0) as u32;
        out.push(id);
        on_token(i, id);
        if expected.is_some_and(|e| e.get(i) != Some(&id)) {
            break;
        }
    }
    Ok(out)
}
