//! `lowdim`: the K vectors are an affine map of an r-dimensional code, `p = z A + c` with `z`
//! `[K, r]`, `A` `[r, d]` and `c` `[d]` trained jointly (the low-dimensional reparameterisation of
//! progressive cramming). Files store `p`. It trains no vector directly, so it cannot start from
//! given vectors.

use burn::tensor::Tensor;

use crate::methods::dense::affine;
use crate::methods::pieces::{Init, Inputs, MethodImpl, Piece};
use crate::models::ModelConfig;

/// [`crate::methods::Method::Lowdim`] on one model.
#[derive(Debug)]
pub struct Lowdim {
    pieces: Vec<Piece>,
}

impl Lowdim {
    /// The code of rank `rank` for K vectors and its map to the model's width.
    pub fn new(rank: usize, k: usize, config: &ModelConfig, std: f32) -> Self {
        let d = config.hidden_size();
        Self {
            pieces: vec![
                // p = z A + c starts with the spread of the embeddings: z ~ N(0, 1), A ~ N(0, std²/r).
                Piece::new("code", [k, rank], Init::Normal(1.0)),
                Piece::new("lowdim.weight", [rank, d], Init::Normal(std / (rank as f32).sqrt())),
                Piece::new("lowdim.bias", [1, d], Init::Zeros),
            ],
        }
    }
}

impl MethodImpl for Lowdim {
    fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    fn inputs(&self, leaves: &[Tensor<3>]) -> Inputs {
        Inputs { vectors: Some(affine(leaves[0].clone(), leaves[1].clone(), leaves[2].clone())), lora: None }
    }
}
