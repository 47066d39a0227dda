//! A crammed text as decoding sees it: the tokens in front of the memory, the memory vectors and,
//! for the LoRA method, the adapters. Whatever the method trained, this is what a `.cram` file
//! stores and what greedy decoding starts from.

use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::decode::{embed_ids, greedy_decode_async};
use crate::load::LoadedModel;
use crate::models::Model;
use crate::models::lora::{Lora, LoraSet, LoraTarget};
use crate::readback::sync;
use crate::{Error, Result};

/// LoRA adapters of one text, on the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraWeights {
    /// r.
    pub rank: usize,
    /// The adapted projections.
    pub targets: Vec<LoraTarget>,
    /// The update is `alpha / r · x A B`.
    pub alpha: f64,
    /// `(name, [rows, cols], values)`: `lora.{layer}.{module}.a` `[in, r]` and `.b` `[r, out]`.
    #[serde(skip)]
    pub tensors: Vec<(String, [usize; 2], Vec<f32>)>,
}

impl LoraWeights {
    /// The adapters as a [`LoraSet`] of batch 1 on `lm`'s device.
    pub fn to_set(&self, lm: &LoadedModel) -> Result<LoraSet> {
        let sites = lm.config.lora_sites(&self.targets);
        let device = lm.device.clone().without_autodiff();
        let find = |name: String, shape: [usize; 2]| -> Result<Tensor<3>> {
            let (_, got, data) =
                self.tensors.iter().find(|(n, _, _)| *n == name).ok_or_else(|| Error::Input(format!("the LoRA adapters have no tensor `{name}`")))?;
            if *got != shape {
                return Err(Error::ShapeMismatch { name, expected: shape.to_vec(), got: got.to_vec() });
            }
            Ok(Tensor::from_data(TensorData::new(data.clone(), [1, shape[0], shape[1]]), &device))
        };
        let scale = self.alpha / self.rank as f64;
        let mut set = LoraSet::default();
        for site in sites {
            let a = find(format!("{}.a", site.name()), [site.fan_in, self.rank])?;
            let b = find(format!("{}.b", site.name()), [self.rank, site.fan_out])?;
            set.adapters.push((site, Lora { a, b: Some(b), scale }));
        }
        Ok(set)
    }
}

/// `[batch, P + K, d]`: the prefix tokens (the same for every row), embedded, followed by the memory
/// vectors `[batch, K, d]` if there are any: the start of the model's input, for cramming and
/// decoding alike. With `autodiff`, the embedded tokens join the autodiff graph of the vectors (or
/// of a LoRA-adapted model, when there are none).
pub fn prefix_then_vectors(model: &Model, prefix_ids: &[u32], batch: usize, vectors: Option<Tensor<3>>, autodiff: bool) -> Result<Tensor<3>> {
    let mut parts = Vec::new();
    if !prefix_ids.is_empty() {
        let ids: Vec<i32> = (0..batch).flat_map(|_| prefix_ids.iter().map(|&i| i as i32)).collect();
        let device = model.embedding_matrix().device();
        let embedded = model.embed(Tensor::<2, Int>::from_data(TensorData::new(ids, [batch, prefix_ids.len()]), &device));
        parts.push(if autodiff { embedded.autodiff() } else { embedded });
    }
    parts.extend(vectors);
    if parts.is_empty() {
        return Err(Error::Input("nothing to decode from: no prefix token and no vector".into()));
    }
    Ok(Tensor::cat(parts, 1))
}

/// Everything greedy decoding needs to give a text back.
#[derive(Debug, Clone, PartialEq)]
pub struct Memory {
    /// Token ids embedded in front of the vectors (the sink).
    pub prefix_ids: Vec<u32>,
    /// K.
    pub k: usize,
    /// The vectors, `[k, d]` row-major.
    pub vectors: Vec<f32>,
    /// The adapters of the LoRA method.
    pub lora: Option<LoraWeights>,
}

impl Memory {
    /// The model decoding runs: `lm`'s, with the adapters when there are some.
    pub fn model(&self, lm: &LoadedModel) -> Result<Model> {
        Ok(match &self.lora {
            Some(lora) => lm.model.with_lora(&lora.to_set(lm)?),
            None => lm.model.clone(),
        })
    }

    /// `[1, P + k, d]`: the embedded prefix tokens followed by the vectors.
    pub fn input(&self, lm: &LoadedModel) -> Result<Tensor<3>> {
        let d = lm.config.hidden_size();
        if self.vectors.len() != self.k * d {
            return Err(Error::Input(format!("{} values do not make {} vector(s) of width {d}", self.vectors.len(), self.k)));
        }
        let vectors =
            (self.k > 0).then(|| Tensor::<3>::from_data(TensorData::new(self.vectors.clone(), [1, self.k, d]), &lm.device.clone().without_autodiff()));
        prefix_then_vectors(&lm.model, &self.prefix_ids, 1, vectors, false)
    }

    /// The `n` text tokens this memory decodes to with `lm`: the `given` tokens (t_1 under the
    /// paper's protocol, none under the greedy one) followed by greedy decoding. With `expected`,
    /// decoding stops at the first token that differs from it.
    pub fn decode(&self, lm: &LoadedModel, given: &[u32], n: usize, expected: Option<&[u32]>) -> Result<Vec<u32>> {
        sync(self.decode_async(lm, given, n, expected))
    }

    /// [`Memory::decode`], reading back asynchronously (WebGPU).
    pub async fn decode_async(&self, lm: &LoadedModel, given: &[u32], n: usize, expected: Option<&[u32]>) -> Result<Vec<u32>> {
        let model = self.model(lm)?;
        let mut start = self.input(lm)?;
        if !given.is_empty() {
            start = Tensor::cat(vec![start, embed_ids(&lm.model, given)], 1);
        }
        let rest = greedy_decode_async(&model, start, n.saturating_sub(given.len()), expected.map(|e| e.get(given.len()..).unwrap_or(&[])), |_, _| {}).await?;
        Ok(given.iter().copied().chain(rest).collect())
    }

    /// Whether greedy decoding from this memory, with the first `given` tokens of `ids` given,
    /// reproduces `ids` exactly.
    pub fn verify_greedy(&self, lm: &LoadedModel, ids: &[u32], given: usize) -> Result<bool> {
        sync(self.verify_greedy_async(lm, ids, given))
    }

    /// [`Memory::verify_greedy`], reading back asynchronously.
    pub async fn verify_greedy_async(&self, lm: &LoadedModel, ids: &[u32], given: usize) -> Result<bool> {
        Ok(self.decode_async(lm, &ids[..given], ids.len(), Some(ids)).await? == ids)
    }
}
