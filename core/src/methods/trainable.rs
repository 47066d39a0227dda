//! The trainable tensors of each [`Method`] and how they reach the frozen model.
//!
//! One text's parameters are one flat `f32` vector (its AdamW state has the same layout), cut into
//! named pieces of shape `[rows, cols]`. For a batch, each piece becomes a `[batch, rows, cols]` leaf
//! tensor that takes gradients; [`Trainable::inputs`] turns the leaves into what the model consumes:
//! memory vectors `[batch, K, d]` and/or LoRA adapters.

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

use super::Method;
use crate::memory::{LoraWeights, Memory};
use crate::models::ModelConfig;
use crate::models::lora::{Lora, LoraSet, LoraSite};
use crate::{Error, Result};

/// How a piece starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Init {
    /// N(0, std²).
    Normal(f32),
    /// U(-bound, bound): PyTorch's default for `nn.Linear` weights and biases, bound 1/sqrt(fan_in).
    Uniform(f32),
    /// All zeros (LoRA's B, so training starts from the frozen model).
    Zeros,
    /// Every value the same (a norm's scale, a log-variance's start).
    Constant(f32),
}

/// One named trainable tensor of a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// `mem`, `dense.weight`, `lora.3.q_proj.a`, ...
    pub name: String,
    /// `[rows, cols]`.
    pub shape: [usize; 2],
    init: Init,
}

impl Piece {
    pub(crate) fn new(name: impl Into<String>, shape: [usize; 2], init: Init) -> Self {
        Self { name: name.into(), shape, init }
    }

    pub(crate) fn len(&self) -> usize {
        self.shape[0] * self.shape[1]
    }
}

/// Each piece with where its values lie in the flat vector of `pieces`, one after the other.
pub(crate) fn spans(pieces: &[Piece]) -> impl Iterator<Item = (&Piece, std::ops::Range<usize>)> {
    pieces.iter().scan(0, |offset, p| {
        let span = *offset..*offset + p.len();
        *offset = span.end;
        Some((p, span))
    })
}

/// Fresh values of `pieces`, one after the other.
pub(crate) fn init_values(pieces: &[Piece], rng: &mut impl Rng) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(pieces.iter().map(Piece::len).sum());
    for p in pieces {
        match p.init {
            Init::Normal(std) => {
                let normal = Normal::new(0.0f32, std).map_err(|e| Error::Input(e.to_string()))?;
                out.extend((0..p.len()).map(|_| normal.sample(rng)));
            }
            Init::Uniform(bound) => {
                let uniform = Uniform::new_inclusive(-bound, bound).map_err(|e| Error::Input(e.to_string()))?;
                out.extend((0..p.len()).map(|_| uniform.sample(rng)));
            }
            Init::Zeros => out.extend(std::iter::repeat_n(0.0, p.len())),
            Init::Constant(c) => out.extend(std::iter::repeat_n(c, p.len())),
        }
    }
    Ok(out)
}

/// The trainable pieces of a method for one model.
#[derive(Debug, Clone)]
pub struct Trainable {
    method: Method,
    k: usize,
    d: usize,
    pieces: Vec<Piece>,
    sites: Vec<LoraSite>,
}

impl Trainable {
    /// The pieces of `method` with `k` vectors on a model of `config`; `std` is the scale of the
    /// memory vectors at initialisation (the embedding matrix's, as in the paper).
    pub fn new(method: &Method, k: usize, config: &ModelConfig, std: f32) -> Result<Self> {
        let d = config.hidden_size();
        let linear = |fan_in: usize| Init::Uniform(1.0 / (fan_in as f32).sqrt());
        let mut sites = Vec::new();
        let pieces = match method {
            Method::Memory | Method::Progressive { .. } => vec![Piece::new("mem", [k, d], Init::Normal(std))],
            Method::Dense => {
                vec![Piece::new("mem", [k, d], Init::Normal(std)), Piece::new("dense.weight", [d, d], linear(d)), Piece::new("dense.bias", [1, d], linear(d))]
            }
            Method::Lowdim { rank } => vec![
                // p = z A + c starts with the spread of the embeddings: z ~ N(0, 1), A ~ N(0, std²/r).
                Piece::new("code", [k, *rank], Init::Normal(1.0)),
                Piece::new("lowdim.weight", [*rank, d], Init::Normal(std / (*rank as f32).sqrt())),
                Piece::new("lowdim.bias", [1, d], Init::Zeros),
            ],
            Method::Lora { rank, targets, .. } => {
                sites = config.lora_sites(targets);
                sites
                    .iter()
                    .flat_map(|s| {
                        [
                            Piece::new(format!("{}.a", s.name()), [s.fan_in, *rank], linear(s.fan_in)),
                            Piece::new(format!("{}.b", s.name()), [*rank, s.fan_out], Init::Zeros),
                        ]
                    })
                    .collect()
            }
        };
        Ok(Self { method: method.clone(), k, d, pieces, sites })
    }

    /// Trainable values per text: the `trainable_parameters` of results.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(Piece::len).sum()
    }

    /// Whether nothing is trained (never true for a valid config).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pieces, in the order of the flat vector.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Fresh parameters of one text.
    pub fn init(&self, rng: &mut impl Rng) -> Result<Vec<f32>> {
        init_values(&self.pieces, rng)
    }

    /// Sets every memory vector (the piece `mem`) of `params` to `vector` (`[d]`); `false` when the
    /// method has no such piece (lowdim, LoRA).
    pub fn set_vectors(&self, params: &mut [f32], vector: &[f32]) -> bool {
        let Some((_, span)) = spans(&self.pieces).find(|(p, _)| p.name == "mem" && p.shape[1] == vector.len()) else { return false };
        for row in params[span].chunks_exact_mut(vector.len()) {
            row.copy_from_slice(vector);
        }
        true
    }

    /// Starts `params` from given memory vectors (`[K, d]`, an encoder's output): the vectors
    /// themselves for memory and progressive cramming; for dense, the vectors with the layer at the
    /// identity (W = I, b = 0), so that the model sees them as given. `false` for lowdim and LoRA.
    pub fn start_from(&self, params: &mut [f32], vectors: &[f32]) -> bool {
        if vectors.len() != self.k * self.d {
            return false;
        }
        let d = self.d;
        for (p, (_, span)) in spans(&self.pieces).enumerate() {
            let values = &mut params[span];
            match (&self.method, p) {
                (Method::Memory | Method::Progressive { .. } | Method::Dense, 0) => values.copy_from_slice(vectors),
                (Method::Dense, 1) => {
                    values.fill(0.0);
                    for i in 0..d {
                        values[i * d + i] = 1.0;
                    }
                }
                (Method::Dense, 2) => values.fill(0.0),
                _ => return false,
            }
        }
        true
    }

    /// One `[batch, rows, cols]` leaf per piece from the parameters of each text of a batch, on the
    /// autodiff device, taking gradients.
    pub fn leaves(&self, params: &[&[f32]], device: &Device) -> Vec<Tensor<3>> {
        spans(&self.pieces)
            .map(|(p, span)| {
                let data: Vec<f32> = params.iter().flat_map(|row| row[span.clone()].iter().copied()).collect();
                Tensor::<3>::from_data(TensorData::new(data, [params.len(), p.shape[0], p.shape[1]]), device).require_grad()
            })
            .collect()
    }

    /// What the leaves feed the model: memory vectors `[batch, K, d]` (none for LoRA) and adapters
    /// (LoRA only).
    pub fn inputs(&self, leaves: &[Tensor<3>]) -> (Option<Tensor<3>>, Option<LoraSet>) {
        match &self.method {
            Method::Memory | Method::Progressive { .. } => (Some(leaves[0].clone()), None),
            // p = m W + b (W stored [in, out]), b broadcast over the K vectors
            Method::Dense | Method::Lowdim { .. } => (Some(leaves[0].clone().matmul(leaves[1].clone()) + leaves[2].clone()), None),
            Method::Lora { rank, alpha, .. } => {
                let scale = alpha / *rank as f64;
                let adapters = self
                    .sites
                    .iter()
                    .zip(leaves.chunks_exact(2))
                    .map(|(s, ab)| (s.clone(), Lora { a: ab[0].clone(), b: Some(ab[1].clone()), scale }))
                    .collect();
                (None, Some(LoraSet { adapters }))
            }
        }
    }

    /// What decoding needs from one text's parameters: the vectors the model sees (for dense and
    /// lowdim, the product computed here), or the adapters.
    pub fn memory(&self, params: &[f32], prefix_ids: &[u32]) -> Memory {
        let slices = self.split(params);
        let (k, d) = (self.k, self.d);
        let affine = |x: &[f32], rows: usize, inner: usize, w: &[f32], b: &[f32]| -> Vec<f32> {
            let mut out = Vec::with_capacity(rows * d);
            for r in 0..rows {
                let x = &x[r * inner..(r + 1) * inner];
                out.extend((0..d).map(|c| b[c] + x.iter().enumerate().map(|(i, xi)| xi * w[i * d + c]).sum::<f32>()));
            }
            out
        };
        let (vectors, lora) = match &self.method {
            Method::Memory | Method::Progressive { .. } => (slices[0].to_vec(), None),
            Method::Dense => (affine(slices[0], k, d, slices[1], slices[2]), None),
            Method::Lowdim { rank } => (affine(slices[0], k, *rank, slices[1], slices[2]), None),
            Method::Lora { rank, targets, alpha } => {
                let tensors = self.pieces.iter().zip(&slices).map(|(p, s)| (p.name.clone(), p.shape, s.to_vec())).collect();
                (vec![], Some(LoraWeights { rank: *rank, targets: targets.clone(), alpha: *alpha, tensors }))
            }
        };
        Memory { prefix_ids: prefix_ids.to_vec(), k: if self.method.uses_vectors() { k } else { 0 }, vectors, lora }
    }

    /// The flat parameters cut into pieces.
    pub fn split<'a>(&self, params: &'a [f32]) -> Vec<&'a [f32]> {
        spans(&self.pieces).map(|(_, span)| &params[span]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::lora::LoraTarget;

    fn tiny() -> ModelConfig {
        ModelConfig::from_json(r#"{"model_type":"llama","vocab_size":32,"hidden_size":8,"intermediate_size":12,"num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":1}"#).unwrap()
    }

    #[test]
    fn parameter_counts() {
        let c = tiny();
        let n = |m: Method, k| Trainable::new(&m, k, &c, 0.02).unwrap().len();
        assert_eq!(n(Method::Memory, 2), 16);
        assert_eq!(n(Method::Dense, 1), 8 + 64 + 8);
        assert_eq!(n(Method::Lowdim { rank: 3 }, 2), 6 + 24 + 8);
        // q: 8 -> 8, k: 8 -> 4 (one kv head of width 4), mlp: 8 -> 12 twice and 12 -> 8; rank 2, 2 layers
        let lora = Method::Lora { rank: 2, targets: vec![LoraTarget::Q, LoraTarget::K, LoraTarget::Mlp], alpha: 2.0 };
        assert_eq!(n(lora, 0), 2 * 2 * ((8 + 8) + (8 + 4) + (8 + 12) * 2 + (12 + 8)));
    }

    #[test]
    fn set_vectors_fills_every_memory_vector_and_nothing_else() {
        let c = tiny();
        let t = Trainable::new(&Method::Dense, 2, &c, 0.02).unwrap();
        let mut params = vec![0.5f32; t.len()];
        let mean: Vec<f32> = (0..8).map(|i| i as f32).collect();
        assert!(t.set_vectors(&mut params, &mean));
        assert_eq!(&params[..8], &mean[..]);
        assert_eq!(&params[8..16], &mean[..]);
        assert!(params[16..].iter().all(|&p| p == 0.5), "the dense layer is untouched");
        let lowdim = Trainable::new(&Method::Lowdim { rank: 3 }, 1, &c, 0.02).unwrap();
        assert!(!lowdim.set_vectors(&mut vec![0.0; lowdim.len()], &mean), "lowdim has no vectors to set");
    }

    #[test]
    fn dense_vectors_are_w_m_plus_b() {
        let c = tiny();
        let t = Trainable::new(&Method::Dense, 1, &c, 0.02).unwrap();
        let mut params = vec![0.0f32; t.len()];
        params[..8].copy_from_slice(&[1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        // W[0][c] = c, W[1][c] = 10, bias = 0.5
        for c in 0..8 {
            params[8 + c] = c as f32;
            params[8 + 8 + c] = 10.0;
            params[8 + 64 + c] = 0.5;
        }
        let m = t.memory(&params, &[]);
        let expect: Vec<f32> = (0..8).map(|c| c as f32 + 20.0 + 0.5).collect();
        assert_eq!(m.vectors, expect);
        assert_eq!(m.k, 1);
    }
}
