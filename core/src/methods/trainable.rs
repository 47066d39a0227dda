//! The trainable tensors of a [`Method`] for one model, and how they reach the frozen model.
//!
//! One text's parameters are one flat `f32` vector (its AdamW state has the same layout), cut into
//! the method's named pieces ([`crate::methods::pieces`]). For a batch, each piece becomes a
//! `[batch, rows, cols]` leaf tensor that takes gradients; [`Trainable::inputs`] turns the leaves into
//! what the model consumes. What each method trains is its own file behind [`MethodImpl`];
//! [`Trainable`] is the flat vector and its tensors, the same for all.

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;

use crate::memory::Memory;
use crate::methods::Method;
pub use crate::methods::pieces::{Inputs, MethodImpl, Piece};
use crate::methods::pieces::{MEMORY_PIECE, init_values, spans};
use crate::models::ModelConfig;
use crate::readback::{self, sync};
use crate::{Error, Result};

/// The trainable pieces of a method for one model, and the flat per-text vector they live in.
#[derive(Debug)]
pub struct Trainable {
    k: usize,
    d: usize,
    method: Box<dyn MethodImpl>,
}

impl Trainable {
    /// The pieces of `method` with `k` vectors on a model of `config`; `std` is the scale of the
    /// memory vectors at initialisation (the embedding matrix's, as in the paper).
    pub fn new(method: &Method, k: usize, config: &ModelConfig, std: f32) -> Result<Self> {
        Ok(Self { k, d: config.hidden_size(), method: crate::methods::registry::implementation(method, k, config, std) })
    }

    /// Values per text: the length of its flat vector (the frozen ones included).
    pub fn len(&self) -> usize {
        self.pieces().iter().map(Piece::len).sum()
    }

    /// The values of the flat vector that the loop keeps as they start ([`MethodImpl::frozen`]:
    /// one-pass's shared m); empty for every other method.
    pub fn frozen(&self) -> std::ops::Range<usize> {
        self.method.frozen()
    }

    /// Values trained per text: the `trainable_parameters` of results ([`Trainable::len`] less the
    /// frozen ones).
    pub fn trained_len(&self) -> usize {
        self.len() - self.frozen().len()
    }

    /// Whether nothing is trained (never true for a valid config).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pieces, in the order of the flat vector.
    pub fn pieces(&self) -> &[Piece] {
        self.method.pieces()
    }

    /// Fresh parameters of one text.
    pub fn init(&self, rng: &mut impl Rng) -> Result<Vec<f32>> {
        init_values(self.pieces(), rng)
    }

    /// Sets every memory vector (the piece `mem`) of `params` to `vector` (`[d]`); `false` when the
    /// method has no such piece (lowdim, LoRA).
    pub fn set_vectors(&self, params: &mut [f32], vector: &[f32]) -> bool {
        let Some((_, span)) = spans(self.pieces()).find(|(p, _)| p.name == MEMORY_PIECE && p.shape[1] == vector.len()) else { return false };
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
        let mut pieces = Vec::with_capacity(self.pieces().len());
        let mut rest = params;
        for p in self.pieces() {
            let (piece, tail) = std::mem::take(&mut rest).split_at_mut(p.len());
            pieces.push(piece);
            rest = tail;
        }
        self.method.start_from(&mut pieces, vectors)
    }

    /// One `[batch, rows, cols]` leaf per piece from the parameters of each text of a batch, on the
    /// autodiff device, taking gradients.
    pub fn leaves(&self, params: &[&[f32]], device: &Device) -> Vec<Tensor<3>> {
        self.tensors(params, device).into_iter().map(|t| t.require_grad()).collect()
    }

    /// One `[batch, rows, cols]` tensor per piece on `device`.
    fn tensors(&self, params: &[&[f32]], device: &Device) -> Vec<Tensor<3>> {
        spans(self.pieces())
            .map(|(p, span)| {
                let data: Vec<f32> = params.iter().flat_map(|row| row[span.clone()].iter().copied()).collect();
                Tensor::<3>::from_data(TensorData::new(data, [params.len(), p.shape[0], p.shape[1]]), device)
            })
            .collect()
    }

    /// What the leaves feed the model: memory vectors `[batch, K, d]` (none for LoRA) and adapters
    /// (LoRA only).
    pub fn inputs(&self, leaves: &[Tensor<3>]) -> Inputs {
        self.method.inputs(leaves)
    }

    /// Whether the method is one-pass: e and m spread over the text ([`crate::methods::one_pass`]).
    pub fn one_pass(&self) -> bool {
        self.method.one_pass()
    }

    /// What decoding needs from one text's parameters: the vectors the model sees (for dense and
    /// lowdim, [`MethodImpl::inputs`] run on the CPU), or the adapters.
    pub fn memory(&self, params: &[f32], prefix_ids: &[u32]) -> Result<Memory> {
        let (k, vectors) = if self.method.trains_vectors() {
            let inputs = self.method.inputs(&self.tensors(&[params], &Device::flex()));
            let vectors = inputs.vectors.ok_or_else(|| Error::Device("the method gave no memory vectors".into()))?;
            let vectors = sync(readback::floats(vectors))?;
            (vectors.len() / self.d, vectors)
        } else {
            (0, vec![])
        };
        Ok(Memory { prefix_ids: prefix_ids.to_vec(), k, vectors, lora: self.method.host_adapters(&self.split(params)), one_pass: self.one_pass() })
    }

    /// The flat parameters cut into pieces.
    pub fn split<'a>(&self, params: &'a [f32]) -> Vec<&'a [f32]> {
        spans(self.pieces()).map(|(_, span)| &params[span]).collect()
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
        let m = t.memory(&params, &[]).unwrap();
        let expect: Vec<f32> = (0..8).map(|c| c as f32 + 20.0 + 0.5).collect();
        assert_eq!(m.vectors, expect);
        assert_eq!(m.k, 1);
    }

    /// Started from given vectors, memory, progressive and dense (at the identity) decode from
    /// exactly those vectors; lowdim and LoRA train none directly and refuse.
    #[test]
    fn start_from_gives_the_vectors_back() {
        let c = tiny();
        let given: Vec<f32> = (0..16).map(|i| i as f32 * 0.25 - 1.0).collect();
        for m in [Method::Memory, Method::Progressive { steps_per_token: 1 }, Method::Dense] {
            let t = Trainable::new(&m, 2, &c, 0.02).unwrap();
            let mut params = t.init(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1)).unwrap();
            assert!(!t.start_from(&mut params, &given[..8]), "{m:?}: 8 values are not 2 vectors of width 8");
            assert!(t.start_from(&mut params, &given), "{m:?}");
            let memory = t.memory(&params, &[7]).unwrap();
            assert_eq!((memory.k, &memory.vectors), (2, &given), "{m:?}");
            assert_eq!(memory.prefix_ids, [7]);
            assert!(memory.lora.is_none());
        }
        let lora = Method::Lora { rank: 1, targets: vec![LoraTarget::Q], alpha: 1.0 };
        for m in [Method::Lowdim { rank: 3 }, lora] {
            let k = if m.uses_vectors() { 2 } else { 0 };
            let t = Trainable::new(&m, k, &c, 0.02).unwrap();
            assert!(!t.start_from(&mut vec![0.0; t.len()], &given[..k * 8]), "{m:?}");
        }
    }

    /// LoRA gives adapters and no vector; lowdim's vectors are z A + c.
    #[test]
    fn lora_keeps_adapters_and_lowdim_maps_its_code() {
        let c = tiny();
        let lora = Trainable::new(&Method::Lora { rank: 1, targets: vec![LoraTarget::Q], alpha: 2.0 }, 0, &c, 0.02).unwrap();
        let params: Vec<f32> = (0..lora.len()).map(|i| i as f32).collect();
        let m = lora.memory(&params, &[0]).unwrap();
        let adapters = m.lora.expect("adapters");
        assert_eq!((m.k, m.vectors.len(), adapters.rank, adapters.alpha), (0, 0, 1, 2.0));
        assert_eq!(adapters.tensors.iter().map(|(_, _, v)| v.len()).sum::<usize>(), lora.len());
        let lowdim = Trainable::new(&Method::Lowdim { rank: 1 }, 2, &c, 0.02).unwrap();
        // z = [1, 2], A[0][c] = c, c = 1
        let mut params = vec![1.0, 2.0];
        params.extend((0..8).map(|c| c as f32));
        params.extend([1.0; 8]);
        let m = lowdim.memory(&params, &[]).unwrap();
        let expect: Vec<f32> = (0..8).map(|c| c as f32 + 1.0).chain((0..8).map(|c| 2.0 * c as f32 + 1.0)).collect();
        assert_eq!(m.vectors, expect);
    }
}
