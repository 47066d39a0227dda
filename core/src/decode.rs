//! Greedy decoding from memory vectors alone: what `cram decompress` does, and the check that a text
//! is greedy-exact. The prefix (sink, memory, given tokens) runs once; then each step feeds the one
//! new token against a KV cache. One-pass memories ([`crate::methods::one_pass`]) decode instead in
//! one forward pass ([`one_pass_decode`]). [`forward_passes`] counts the passes decoding runs.

use burn::tensor::{Int, Tensor, TensorData};

use crate::Result;
use crate::models::Model;

std::thread_local! {
    static FORWARD_PASSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Forward passes decoding has run on this thread so far (one per greedy token, one per one-pass
/// text): what tests read to tell one-pass decoding from token-by-token decoding.
pub fn forward_passes() -> usize {
    FORWARD_PASSES.with(std::cell::Cell::get)
}

fn count_forward_pass() {
    FORWARD_PASSES.with(|c| c.set(c.get() + 1));
}

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
        count_forward_pass();
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

/// The `n` tokens of a one-pass memory, from one forward pass: `start` (`[1, P + 2, d]`: `p` prefix
/// tokens, then e and m) becomes `[prefix, e, m × (n - 1)]`, and token i is the argmax at the
/// position of the i-th vector.
pub fn one_pass_decode(model: &Model, start: Tensor<3>, p: usize, n: usize) -> Result<Vec<u32>> {
    crate::readback::sync(one_pass_decode_async(model, start, p, n))
}

/// [`one_pass_decode`], reading back asynchronously (WebGPU).
pub async fn one_pass_decode_async(model: &Model, start: Tensor<3>, p: usize, n: usize) -> Result<Vec<u32>> {
    if n == 0 {
        return Ok(vec![]);
    }
    let [_, len, _] = start.dims();
    if len != p + 2 {
        return Err(crate::Error::Input(format!("a one-pass memory holds two vectors (e, m), not {}", len.saturating_sub(p))));
    }
    let vectors = one_pass_inputs(start.clone().narrow(1, p, 2), n);
    let mut parts = vec![vectors];
    if p > 0 {
        parts.insert(0, start.narrow(1, 0, p));
    }
    count_forward_pass();
    let hidden = model.hidden_states(Tensor::cat(parts, 1)).narrow(1, p, n);
    let ids = crate::readback::ints(model.lm_head(hidden).argmax(2)).await?;
    Ok(ids.into_iter().map(|i| i as u32).collect())
}

/// The input of an `n`-token text under one-pass ([`crate::methods::one_pass`]): e once, then m
/// repeated n - 1 times; the loop trains on it and [`one_pass_decode`] reads from it.
///
/// # Shapes
/// e_m `[B, 2, d]` (e, m) → `[B, n, d]`
pub fn one_pass_inputs(e_m: Tensor<3>, n: usize) -> Tensor<3> {
    let e = e_m.clone().narrow(1, 0, 1);
    if n <= 1 {
        return e;
    }
    let m = e_m.narrow(1, 1, 1).repeat_dim(1, n - 1);
    Tensor::cat(vec![e, m], 1)
}
