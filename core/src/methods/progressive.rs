//! `progressive`: memory vectors trained on a target that grows one token at a time (progressive
//! cramming, 2026). What is trained is [`super::memory`]'s; the growing target is a schedule of the
//! loop ([`crate::cramming`]'s `progressive`), chosen by [`crate::methods::Method::Progressive`].

use burn::tensor::Tensor;

use crate::methods::memory::MemoryVectors;
use crate::methods::pieces::{Inputs, MethodImpl, Piece};
use crate::models::ModelConfig;

/// [`crate::methods::Method::Progressive`] on one model: the memory method's pieces.
#[derive(Debug)]
pub struct Progressive(MemoryVectors);

impl Progressive {
    /// K vectors of the model's width.
    pub fn new(k: usize, config: &ModelConfig, std: f32) -> Self {
        Self(MemoryVectors::new(k, config, std))
    }
}

impl MethodImpl for Progressive {
    fn pieces(&self) -> &[Piece] {
        self.0.pieces()
    }

    fn inputs(&self, leaves: &[Tensor<3>]) -> Inputs {
        self.0.inputs(leaves)
    }

    fn start_from(&self, pieces: &mut [&mut [f32]], vectors: &[f32]) -> bool {
        self.0.start_from(pieces, vectors)
    }
}
