//! `memory`: K trainable vectors `[K, d]` that the model reads as they are, after the prefix tokens
//! (Kuratov et al. 2025). They start from N(0, std²) with the spread of the embedding matrix.

use burn::tensor::Tensor;

use crate::methods::pieces::{Init, Inputs, MEMORY_PIECE, MethodImpl, Piece};
use crate::models::ModelConfig;

/// The piece of the K memory vectors `[K, d]`, from N(0, std²).
pub(crate) fn vectors(k: usize, d: usize, std: f32) -> Piece {
    Piece::new(MEMORY_PIECE, [k, d], Init::Normal(std))
}

/// [`crate::methods::Method::Memory`] on one model.
#[derive(Debug)]
pub struct MemoryVectors {
    pieces: Vec<Piece>,
}

impl MemoryVectors {
    /// K vectors of the model's width.
    pub fn new(k: usize, config: &ModelConfig, std: f32) -> Self {
        Self { pieces: vec![vectors(k, config.hidden_size(), std)] }
    }
}

impl MethodImpl for MemoryVectors {
    fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    fn inputs(&self, leaves: &[Tensor<3>]) -> Inputs {
        Inputs { vectors: Some(leaves[0].clone()), lora: None }
    }

    fn start_from(&self, pieces: &mut [&mut [f32]], vectors: &[f32]) -> bool {
        pieces[0].copy_from_slice(vectors);
        true
    }
}
