//! `one-pass`: a whole text from one forward pass (Mezentsev & Oseledets, EMNLP 2025, arXiv
//! 2505.21189). Two trainable vectors, `e` and `m`, are laid out `[e, m, m, ..., m]` (e once, then m
//! repeated N - 1 times, N the text's length) after the prefix tokens, with no text token in the
//! input: the output at position i predicts text token i, so the whole text is the argmax at every
//! position of one forward pass ([`crate::decode::one_pass_decode`]; the layout is
//! [`crate::decode::one_pass_inputs`], which the loop and decoding share), nothing fed back. The loss is
//! the mean cross-entropy over every position (t_1 included: the greedy protocol only).
//!
//! Both vectors are one piece `mem` `[2, d]` (row 0 is e, row 1 is m), so a `.cram` file stores them
//! as two memory vectors and records the method, and `--init text-mean` starts both at the text's
//! mean embedding. They start from N(0, 1), the paper's initialisation, unless `init_std` says
//! otherwise (`crate::cramming`).
//!
//! With a shared m (`Method::OnePass { shared_m: true }`) one m serves every text and each text
//! trains e alone (d values): the paper's split, "e_t trained for each text separately, while m
//! could be shared across texts" — one universal proto-token and one text-specific. (Not a shared e:
//! the output at e's position predicts t_1 and sees only the prefix and e, so a shared e would give
//! every text the same first token.) The texts start from a learned one-pass start ([`crate::start`],
//! meta-trained with both vectors per text) and m stays the start's ([`MethodImpl::frozen`]); the
//! `.cram` file still holds m beside e (it decodes alone) and records the start's fingerprint.

use burn::tensor::Tensor;

use crate::methods::pieces::{Inputs, MethodImpl, Piece};
use crate::models::ModelConfig;

/// The vectors one-pass trains per text: e and m.
pub const VECTORS: usize = 2;

/// [`crate::methods::Method::OnePass`] on one model.
#[derive(Debug)]
pub struct OnePass {
    pieces: Vec<Piece>,
    /// m is shared: the loop keeps it as the text starts.
    shared_m: bool,
}

impl OnePass {
    /// e and m of the model's width, from N(0, std²); m frozen when `shared_m`.
    pub fn new(config: &ModelConfig, std: f32, shared_m: bool) -> Self {
        Self { pieces: vec![crate::methods::memory::vectors(VECTORS, config.hidden_size(), std)], shared_m }
    }
}

impl MethodImpl for OnePass {
    fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// e and m as they are, `[batch, 2, d]`: the loop and decoding spread them over the text with
    /// [`crate::decode::one_pass_inputs`].
    fn inputs(&self, leaves: &[Tensor<3>]) -> Inputs {
        Inputs { vectors: Some(leaves[0].clone()), lora: None }
    }

    fn one_pass(&self) -> bool {
        true
    }

    /// m (row 1 of `mem`) when it is shared.
    fn frozen(&self) -> std::ops::Range<usize> {
        let d = self.pieces[0].shape[1];
        if self.shared_m { d..2 * d } else { 0..0 }
    }

    /// e starts at the given vector (an encoder's, one vector), m keeps its random start.
    fn start_from(&self, pieces: &mut [&mut [f32]], vectors: &[f32]) -> bool {
        let d = pieces[0].len() / VECTORS;
        if vectors.len() != d {
            return false;
        }
        pieces[0][..d].copy_from_slice(vectors);
        true
    }
}
