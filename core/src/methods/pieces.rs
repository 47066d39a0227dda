//! The trainable pieces of one text and the trait each method implements.
//!
//! One text's parameters are one flat `f32` vector (its AdamW state has the same layout), cut into
//! named pieces of shape `[rows, cols]`. A method ([`MethodImpl`], one file each beside this one)
//! says which pieces it trains and how they reach the frozen model: memory vectors `[batch, K, d]`
//! and/or LoRA adapters. Encoders train pieces too.

use burn::tensor::Tensor;
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

use crate::memory::LoraWeights;
use crate::models::lora::LoraSet;
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

/// What one batch of leaves feeds the frozen model.
#[derive(Debug)]
pub struct Inputs {
    /// Memory vectors `[batch, K, d]`, put after the prefix tokens (`crate::memory::prefix_then_vectors`).
    pub vectors: Option<Tensor<3>>,
    /// Adapters added to the model's projections.
    pub lora: Option<LoraSet>,
}

/// One method on one model: the pieces it trains for each text, what they feed the model, what a
/// `.cram` file keeps of them and how they start from given vectors. Each method is one file of
/// [`crate::methods`] implementing this; `methods::registry` picks the implementation of a
/// [`crate::methods::Method`].
pub trait MethodImpl: std::fmt::Debug + Send + Sync {
    /// The trainable pieces of one text, in the order of its flat vector.
    fn pieces(&self) -> &[Piece];

    /// What the leaves (one `[batch, rows, cols]` tensor per piece, in the order of
    /// [`MethodImpl::pieces`]) feed the model. The same function gives the vectors a `.cram` file
    /// stores (`Trainable::memory` runs it on the CPU), so they are computed in one place.
    fn inputs(&self, leaves: &[Tensor<3>]) -> Inputs;

    /// Whether [`MethodImpl::inputs`] gives memory vectors (all but LoRA).
    fn trains_vectors(&self) -> bool {
        true
    }

    /// Whether the vectors are one-pass's e and m ([`crate::methods::one_pass`]): spread over the
    /// text as the whole input, and decoded in one forward pass.
    fn one_pass(&self) -> bool {
        false
    }

    /// The values of the flat vector (in the order of [`MethodImpl::pieces`]) that the loop never
    /// changes: they keep the values the text starts from (one-pass's shared m, taken from a learned
    /// start). Empty for every method but that one.
    fn frozen(&self) -> std::ops::Range<usize> {
        0..0
    }

    /// The adapters a `.cram` file stores, from one text's pieces (LoRA only).
    fn host_adapters(&self, _pieces: &[&[f32]]) -> Option<LoraWeights> {
        None
    }

    /// Starts one text's parameters (`pieces`, in the order of [`MethodImpl::pieces`]) from given
    /// memory vectors (`[K, d]` row-major, an encoder's output) so that the model sees them as
    /// given; `false` when the method cannot (it trains no vectors directly).
    fn start_from(&self, _pieces: &mut [&mut [f32]], _vectors: &[f32]) -> bool {
        false
    }
}

/// The name of the piece that holds the K memory vectors `[K, d]` (memory, dense, progressive).
pub(crate) const MEMORY_PIECE: &str = "mem";
