//! The pieces both families are built from, as candle keeps them in `with_tracing.rs`: the frozen
//! [`Linear`] map with its per-text LoRA adapter, the token [`Embedding`], causal attention (whose
//! probabilities [`recording_attention`] can keep, for the page's view of how the model reads the
//! vectors), and the decoder stack that runs a family's layers in turn ([`decoder_stack`]).

use std::cell::RefCell;
use std::sync::Arc;

use burn::tensor::activation::softmax;
use burn::tensor::{FloatDType, Int, Tensor};

use super::kv_cache::{KvCache, LayerKv};
use super::lora::Lora;
use super::rope::Rope;
use crate::Result;
use crate::kernels::{FrozenLinear, kernel_for};
use crate::weights::{Weights, transpose};

/// A frozen affine map `y = x W + b`, `W` stored `[in, out]`, with an optional trainable low-rank
/// adapter (the LoRA method): `y = x W + b + scale · x A B`. On the CPU (f32, or bf16 with AVX-512
/// BF16) the weight is packed once for cram's own kernels ([`FrozenLinear`]); elsewhere it is a
/// device tensor.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: LinearWeight,
    /// A per-text adapter, when the LoRA method trains this projection.
    pub lora: Option<Lora>,
}

/// Where a [`Linear`]'s weight (and bias) lives.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a few hundred per model, each read by every forward pass
enum LinearWeight {
    /// `[in, out]` and `[out]` on the device, multiplied by burn.
    Tensor { weight: Tensor<2>, bias: Option<Tensor<1>> },
    /// Packed on the host for the CPU kernels, bias included.
    Packed(Arc<FrozenLinear>),
}

impl Linear {
    /// A frozen map without adapter, from device tensors (`weight` `[in, out]`).
    pub fn new(weight: Tensor<2>, bias: Option<Tensor<1>>) -> Self {
        Self { weight: LinearWeight::Tensor { weight, bias }, lora: None }
    }

    /// A frozen map from host values (`weight` `[in, out]` row-major): packed for the CPU kernels
    /// where `w`'s device and dtype have them, else uploaded.
    fn from_host(w: &Weights, weight: Vec<f32>, in_features: usize, out_features: usize, bias: Option<Vec<f32>>) -> Self {
        let weight = match kernel_for(w.device(), w.linear_dtype()) {
            Some(isa) => LinearWeight::Packed(Arc::new(FrozenLinear::new(isa, &weight, in_features, out_features, bias))),
            None => LinearWeight::Tensor { weight: w.upload(weight, [in_features, out_features]), bias: bias.map(|b| w.upload(b, [out_features])) },
        };
        Self { weight, lora: None }
    }

    /// A PyTorch `nn.Linear` at `w` (`weight` stored `[out, in]`, `bias`), as burn's `[in, out]`.
    pub fn load(w: &Weights, in_features: usize, out_features: usize, bias: bool) -> Result<Self> {
        let weight = w.host("weight", &[out_features, in_features])?;
        let weight = transpose(&weight.data, out_features, in_features);
        let bias = if bias { Some(w.host("bias", &[out_features])?.data) } else { None };
        Ok(Self::from_host(w, weight, in_features, out_features, bias))
    }

    /// An LM head tied to the input embeddings (`embedding`, `[vocab, d]` on the host): their
    /// transpose `[d, vocab]`, without bias.
    pub fn tied(w: &Weights, embedding: &[f32], vocab: usize, d: usize) -> Self {
        Self::from_host(w, transpose(embedding, vocab, d), d, vocab, None)
    }

    /// # Shapes
    /// `[batch, seq, in]` → `[batch, seq, out]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let y = match &self.weight {
            LinearWeight::Tensor { weight, bias } => burn::tensor::module::linear(x.clone(), weight.clone(), bias.clone()),
            LinearWeight::Packed(frozen) => frozen.forward(x.clone()),
        };
        match &self.lora {
            Some(lora) => y + lora.delta(x),
            None => y,
        }
    }
}

/// Token embeddings: row `id` of the `[vocab, d]` input-embedding matrix.
#[derive(Debug, Clone)]
pub struct Embedding {
    weight: Tensor<2>,
}

impl Embedding {
    /// The embedding of the matrix `weight` (`[vocab, d]`).
    pub fn new(weight: Tensor<2>) -> Self {
        Self { weight }
    }

    /// # Shapes
    /// `[batch, seq]` → `[batch, seq, d]`
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        burn::tensor::module::embedding(self.weight.clone(), ids)
    }

    /// The matrix `[vocab, d]`.
    pub fn weight(&self) -> &Tensor<2> {
        &self.weight
    }
}

thread_local! {
    /// While [`recording_attention`] runs: every attention layer's probabilities, in the order the
    /// layers ran.
    static RECORDED: RefCell<Option<Vec<Tensor<4>>>> = const { RefCell::new(None) };
}

/// Runs `f` (a forward pass) keeping every attention layer's probabilities `[batch, heads, seq,
/// total]` (f32), in the order the layers ran: layer by layer for one forward pass. A family without
/// attention (Mamba) records none. Every family's attention goes through [`causal_attention`] or
/// [`windowed_attention`], which do the recording.
pub fn recording_attention<T>(f: impl FnOnce() -> T) -> (T, Vec<Tensor<4>>) {
    let previous = RECORDED.with(|r| r.borrow_mut().replace(Vec::new()));
    let out = f();
    let recorded = RECORDED.with(|r| std::mem::replace(&mut *r.borrow_mut(), previous)).unwrap_or_default();
    (out, recorded)
}

/// The softmax of the scores, kept when [`recording_attention`] asks.
fn probabilities(scores: Tensor<4>) -> Tensor<4> {
    let p = softmax(scores, 3);
    RECORDED.with(|r| {
        if let Some(kept) = r.borrow_mut().as_mut() {
            kept.push(p.clone());
        }
    });
    p
}

/// `softmax(q kᵀ / sqrt(head_dim) + causal mask) v`, written out so that it differentiates on every
/// backend (the fused kernel's backward is not implemented everywhere). The queries are the last
/// `seq` of the `total` positions (all of them, unless earlier keys come from a KV cache).
///
/// # Shapes
/// q `[batch, heads, seq, head_dim]`, k, v `[batch, heads, total, head_dim]` → `[batch, heads, seq, head_dim]`
pub(crate) fn causal_attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>) -> Tensor<4> {
    let [_, _, seq, head_dim] = q.dims();
    let total = k.dims()[2];
    let dtype = q.dtype();
    // the softmax in f32 whatever the weights' dtype (transformers' eager attention does the same)
    let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((head_dim as f64).sqrt()).cast(FloatDType::F32);
    // query i sits at position total - seq + i and sees the keys up to it
    let mask = Tensor::<2, burn::tensor::Bool>::tril_mask([seq, total], (total - seq) as i64, &scores.device()).unsqueeze::<4>();
    let scores = scores.mask_fill(mask, f32::NEG_INFINITY);
    probabilities(scores).cast(dtype).matmul(v)
}

/// [`causal_attention`] with the scores scaled by `scale` (not `1 / sqrt(head_dim)`) and, with a
/// `window`, each query seeing only the keys less than `window` positions back (sliding-window
/// attention: transformers' `q_idx - kv_idx < sliding_window`).
///
/// # Shapes
/// q `[batch, heads, seq, head_dim]`, k, v `[batch, heads, total, head_dim]` → `[batch, heads, seq, head_dim]`
pub(crate) fn windowed_attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, scale: f64, window: Option<usize>) -> Tensor<4> {
    let seq = q.dims()[2];
    let total = k.dims()[2];
    let dtype = q.dtype();
    let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale).cast(FloatDType::F32);
    // query i sits at position p = total - seq + i; key j is hidden when j > p or p - j >= window
    let hidden: Vec<bool> = (0..seq)
        .flat_map(|i| {
            let p = total - seq + i;
            (0..total).map(move |j| j > p || window.is_some_and(|w| p - j >= w))
        })
        .collect();
    let mask = Tensor::<2, burn::tensor::Bool>::from_data(burn::tensor::TensorData::new(hidden, [seq, total]), &scores.device()).unsqueeze::<4>();
    let scores = scores.mask_fill(mask, f32::NEG_INFINITY);
    probabilities(scores).cast(dtype).matmul(v)
}

/// A family's decoder layer, as the shared stack runs it.
pub(crate) trait DecoderLayer {
    /// The layer at the positions `cos` and `sin` describe; with `cache`, the keys and values of the
    /// earlier positions come first and the cache takes in the new ones.
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    fn forward(&self, x: Tensor<3>, rope: &Rope, cos: &Tensor<4>, sin: &Tensor<4>, cache: Option<&mut LayerKv>) -> Tensor<3>;
}

/// `layers` in turn over input embeddings at positions `0..seq`, or, with a cache, at the positions
/// after those it holds (the cache takes in the new keys and values); before the final norm.
///
/// # Shapes
/// `[batch, seq, d]` → `[batch, seq, d]`
pub(crate) fn decoder_stack<L: DecoderLayer>(layers: &[L], rope: &Rope, inputs_embeds: Tensor<3>, mut cache: Option<&mut KvCache>) -> Tensor<3> {
    let (start, seq) = (cache.as_ref().map_or(0, |c| c.len()), inputs_embeds.dims()[1]);
    let (cos, sin) = rope.cos_sin_like(start, seq, &inputs_embeds);
    let mut x = inputs_embeds;
    for (i, layer) in layers.iter().enumerate() {
        x = layer.forward(x, rope, &cos, &sin, cache.as_deref_mut().map(|c| c.layer(i)));
    }
    if let Some(cache) = cache {
        cache.advance(seq);
    }
    x
}
