//! Random weights of any architecture, made from a config alone: `cram bench --model CONFIG.json`
//! measures speed and memory at a real model's shapes (Mamba-130M, Llama-3.1-8B) with nothing
//! downloaded. The values are deterministic and of a trained model's scale where it matters for
//! the arithmetic (norm weights near 1, everything else small), not a model that predicts anything.

use std::cell::Cell;

use super::{HostTensor, TensorSource};
use crate::Result;

/// Makes every tensor the model asks for, of the shape it asks for.
#[derive(Debug, Default)]
pub struct RandomWeights {
    /// A counter mixed into each tensor's values, so that tensors differ.
    drawn: Cell<u64>,
}

impl RandomWeights {
    /// A fresh source.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TensorSource for RandomWeights {
    /// Only tensors of a known shape are made ([`TensorSource::tensor_of_shape`]).
    fn tensor(&self, _name: &str) -> Result<Option<HostTensor>> {
        Ok(None)
    }

    fn tensor_of_shape(&self, name: &str, shape: &[usize]) -> Result<Option<HostTensor>> {
        let n: usize = shape.iter().product();
        let seed = self.drawn.get().wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.drawn.set(self.drawn.get() + 1);
        // norm weights (`*norm.weight`, `*layernorm.weight`, Mamba's `norm_f.weight`) near 1
        let base = if name.ends_with("norm.weight") || name.ends_with("norm_f.weight") { 1.0 } else { 0.0 };
        // a splitmix-style hash of (seed, i), centred, at scale 0.02
        let data = (0..n as u64)
            .map(|i| {
                let mut z = seed ^ i.wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 31)).wrapping_mul(0x94D0_49BB_1331_11EB);
                base + ((z >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.04
            })
            .collect();
        Ok(Some(HostTensor { shape: shape.to_vec(), data }))
    }
}
