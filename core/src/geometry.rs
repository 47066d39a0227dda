//! What a crammed vector is, geometrically: its norm beside the norms of the model's token
//! embeddings, and the tokens nearest to it by cosine similarity. Kuratov et al. observe that the
//! vectors lie far from every token embedding (no token is near, and their norms differ); the
//! browser's teaching view shows these numbers for the vectors a person just crammed.
//!
//! Computed on the model's device: one product of the embedding matrix `[V, d]` with the vectors
//! `[K, d]` and the row norms of the matrix; only `V × (K + 1)` numbers come back to the host, so
//! it stays cheap in the browser too.
//!
//! And how the model reads the vectors ([`attention_to_vectors`]): in each layer, the share of its
//! attention that each position of the text gives to the vectors, averaged over the heads, from the
//! attention probabilities every layer computes ([`attention_probabilities`]).

use burn::tensor::{FloatDType, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::LoadedModel;
use crate::memory::Memory;
use crate::models::Model;
use crate::models::layers::recording_attention;
use crate::readback::{self, sync};
use crate::{Error, Result};

/// A summary of the token embeddings' norms over the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NormSummary {
    /// The smallest.
    pub min: f32,
    /// The median.
    pub median: f32,
    /// The mean.
    pub mean: f32,
    /// The largest.
    pub max: f32,
}

/// A token near a vector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    /// Its id.
    pub id: u32,
    /// The cosine similarity of its embedding with the vector.
    pub cosine: f32,
}

/// The geometry of K vectors against a model's token embeddings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorGeometry {
    /// Each vector's Euclidean norm.
    pub norms: Vec<f32>,
    /// The token embeddings' norms.
    pub embedding_norms: NormSummary,
    /// Per vector, the `top` tokens whose embeddings have the highest cosine with it, most similar
    /// first.
    pub nearest: Vec<Vec<Neighbour>>,
}

/// [`vector_geometry_async`], blocking.
pub fn vector_geometry(model: &Model, vectors: &[f32], top: usize) -> Result<VectorGeometry> {
    sync(vector_geometry_async(model, vectors, top))
}

/// The geometry of `vectors` (`[K, d]` row-major, K ≥ 1) against `model`'s input embeddings, with
/// the `top` nearest tokens of each.
pub async fn vector_geometry_async(model: &Model, vectors: &[f32], top: usize) -> Result<VectorGeometry> {
    let embeddings = model.embedding_matrix().clone().cast(FloatDType::F32);
    let [vocab, d] = embeddings.dims();
    if vectors.is_empty() || !vectors.len().is_multiple_of(d) {
        return Err(Error::Input(format!("{} values are not whole vectors of width {d}", vectors.len())));
    }
    let k = vectors.len() / d;
    let device = embeddings.device();
    let m = Tensor::<2>::from_data(TensorData::new(vectors.to_vec(), [k, d]), &device);
    let dots = readback::floats(embeddings.clone().matmul(m.transpose())).await?; // [V, K]
    let mut token_norms = readback::floats((embeddings.clone() * embeddings).sum_dim(1).sqrt()).await?; // [V]
    let norms: Vec<f32> = vectors.chunks(d).map(|v| v.iter().map(|x| x * x).sum::<f32>().sqrt()).collect();
    let nearest = (0..k)
        .map(|j| {
            let mut all: Vec<Neighbour> =
                (0..vocab).map(|v| Neighbour { id: v as u32, cosine: dots[v * k + j] / (token_norms[v] * norms[j]).max(f32::MIN_POSITIVE) }).collect();
            let top = top.min(vocab);
            if top > 0 {
                all.select_nth_unstable_by(top - 1, |a, b| b.cosine.total_cmp(&a.cosine));
            }
            all.truncate(top);
            all.sort_by(|a, b| b.cosine.total_cmp(&a.cosine));
            all
        })
        .collect();
    let mean = token_norms.iter().map(|&x| x as f64).sum::<f64>() / vocab.max(1) as f64;
    token_norms.sort_by(f32::total_cmp);
    let embedding_norms = NormSummary {
        min: token_norms.first().copied().unwrap_or(0.0),
        median: token_norms.get(vocab / 2).copied().unwrap_or(0.0),
        mean: mean as f32,
        max: token_norms.last().copied().unwrap_or(0.0),
    };
    Ok(VectorGeometry { norms, embedding_norms, nearest })
}

/// Every attention layer's probabilities for one forward pass over `inputs_embeds` (`[1, T, d]`),
/// `[1, heads, T, T]` each (f32; a sliding-window layer's rows are zero outside its window), in the
/// order of the layers; empty for a model without attention (Mamba).
pub fn attention_probabilities(model: &Model, inputs_embeds: Tensor<3>) -> Vec<Tensor<4>> {
    recording_attention(|| model.hidden_states(inputs_embeds)).1
}

/// How the model reads crammed vectors: per layer, per text token, the share of attention (mean over
/// heads) that the position predicting that token gives to the vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorAttention {
    /// `[layer][i]`: at the position that predicts text token i (the last vector for the first
    /// token, then the tokens before it), the attention probability on all the vectors together,
    /// averaged over the layer's heads; in `[0, 1]`.
    pub layers: Vec<Vec<f32>>,
}

/// [`attention_to_vectors_async`], blocking.
pub fn attention_to_vectors(lm: &LoadedModel, memory: &Memory, ids: &[u32]) -> Result<Option<VectorAttention>> {
    sync(attention_to_vectors_async(lm, memory, ids))
}

/// The attention the text `ids` pays to `memory`'s vectors when the model reads them teacher-forced
/// (`[prefix, vectors, t_1 .. t_{n-1}]`, one forward pass); `None` when there is nothing to measure:
/// no vectors (LoRA), the one-pass layout, no text, or a model without attention (Mamba).
pub async fn attention_to_vectors_async(lm: &LoadedModel, memory: &Memory, ids: &[u32]) -> Result<Option<VectorAttention>> {
    if memory.k == 0 || memory.one_pass || ids.is_empty() {
        return Ok(None);
    }
    let model = memory.model(lm)?;
    let mut inputs = vec![memory.input(lm)?];
    if ids.len() > 1 {
        inputs.push(crate::decode::embed_ids(&model, &ids[..ids.len() - 1]));
    }
    let layers = attention_probabilities(&model, Tensor::cat(inputs, 1));
    if layers.is_empty() {
        return Ok(None);
    }
    let (p, k, n) = (memory.prefix_ids.len(), memory.k, ids.len());
    // rows: the positions predicting t_1 .. t_n; columns: the vectors
    let shares: Vec<Tensor<1>> = layers.into_iter().map(|probs| probs.narrow(2, p + k - 1, n).narrow(3, p, k).sum_dim(3).mean_dim(1).reshape([n])).collect();
    let values = readback::floats(Tensor::cat(shares, 0)).await?;
    Ok(Some(VectorAttention { layers: values.chunks(n).map(<[f32]>::to_vec).collect() }))
}
