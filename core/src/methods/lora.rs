//! `lora`: per-text LoRA adapters of rank r on the chosen projections of every layer instead of
//! memory vectors. `A` starts as PyTorch's `nn.Linear`, `B` at zero, so training starts from the
//! frozen model; files store the adapters.

use burn::tensor::Tensor;

use crate::memory::LoraWeights;
use crate::methods::dense::linear;
use crate::methods::pieces::{Init, Inputs, MethodImpl, Piece};
use crate::models::ModelConfig;
use crate::models::lora::{Lora, LoraSet, LoraSite, LoraTarget};

/// [`crate::methods::Method::Lora`] on one model.
#[derive(Debug)]
pub struct Adapters {
    rank: usize,
    targets: Vec<LoraTarget>,
    alpha: f64,
    sites: Vec<LoraSite>,
    pieces: Vec<Piece>,
}

impl Adapters {
    /// `A` `[in, r]` and `B` `[r, out]` for each of the model's projections named by `targets`.
    pub fn new(rank: usize, targets: &[LoraTarget], alpha: f64, config: &ModelConfig) -> Self {
        let sites = config.lora_sites(targets);
        let pieces = sites
            .iter()
            .flat_map(|s| {
                [
                    Piece::new(format!("{}.a", s.name()), [s.fan_in, rank], linear(s.fan_in)),
                    Piece::new(format!("{}.b", s.name()), [rank, s.fan_out], Init::Zeros),
                ]
            })
            .collect();
        Self { rank, targets: targets.to_vec(), alpha, sites, pieces }
    }
}

impl MethodImpl for Adapters {
    fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    fn inputs(&self, leaves: &[Tensor<3>]) -> Inputs {
        let scale = self.alpha / self.rank as f64;
        let adapters =
            self.sites.iter().zip(leaves.chunks_exact(2)).map(|(s, ab)| (s.clone(), Lora { a: ab[0].clone(), b: Some(ab[1].clone()), scale })).collect();
        Inputs { vectors: None, lora: Some(LoraSet { adapters }) }
    }

    fn trains_vectors(&self) -> bool {
        false
    }

    fn host_adapters(&self, pieces: &[&[f32]]) -> Option<LoraWeights> {
        let tensors = self.pieces.iter().zip(pieces).map(|(p, s)| (p.name.clone(), p.shape, s.to_vec())).collect();
        Some(LoraWeights { rank: self.rank, targets: self.targets.clone(), alpha: self.alpha, tensors })
    }
}
