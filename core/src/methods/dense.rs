//! `dense`: the K vectors pass through a trainable `Linear(d, d)` with bias, `p = m W + b`, trained
//! jointly with them (the AIRI 2025 follow-up). Files store `p`. `W` starts as PyTorch's
//! `nn.Linear`, U(-1/sqrt(d), 1/sqrt(d)), or at the identity when the vectors are given.

use burn::tensor::Tensor;

use crate::methods::pieces::{Init, Inputs, MethodImpl, Piece};
use crate::models::ModelConfig;

/// `x W + b` per text (`W` stored `[in, out]`), `b` broadcast over the rows: the map of dense and
/// lowdim, for training and for the vectors files store alike.
///
/// # Shapes
/// `x` `[batch, rows, in]`, `w` `[batch, in, out]`, `b` `[batch, 1, out]` → `[batch, rows, out]`
pub(crate) fn affine(x: Tensor<3>, w: Tensor<3>, b: Tensor<3>) -> Tensor<3> {
    x.matmul(w) + b
}

/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for `nn.Linear` weights and biases.
pub(crate) fn linear(fan_in: usize) -> Init {
    Init::Uniform(1.0 / (fan_in as f32).sqrt())
}

/// [`crate::methods::Method::Dense`] on one model.
#[derive(Debug)]
pub struct Dense {
    d: usize,
    pieces: Vec<Piece>,
}

impl Dense {
    /// K vectors of the model's width and the `[d, d]` layer with its bias.
    pub fn new(k: usize, config: &ModelConfig, std: f32) -> Self {
        let d = config.hidden_size();
        Self {
            d,
            pieces: vec![
                crate::methods::memory::vectors(k, d, std),
                Piece::new("dense.weight", [d, d], linear(d)),
                Piece::new("dense.bias", [1, d], linear(d)),
            ],
        }
    }
}

impl MethodImpl for Dense {
    fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    fn inputs(&self, leaves: &[Tensor<3>]) -> Inputs {
        Inputs { vectors: Some(affine(leaves[0].clone(), leaves[1].clone(), leaves[2].clone())), lora: None }
    }

    /// The vectors themselves with the layer at the identity (W = I, b = 0).
    fn start_from(&self, pieces: &mut [&mut [f32]], vectors: &[f32]) -> bool {
        let d = self.d;
        pieces[0].copy_from_slice(vectors);
        pieces[1].fill(0.0);
        for i in 0..d {
            pieces[1][i * d + i] = 1.0;
        }
        pieces[2].fill(0.0);
        true
    }
}
