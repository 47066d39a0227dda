//! Rotary position embeddings (Su et al., RoFormer), in the Hugging Face `rotate_half` layout used by
//! both `modeling_llama.py` and `modeling_gpt_neox.py`, with partial rotary (GPT-NeoX `rotary_pct`) and
//! Llama-3 frequency scaling (`rope_type: llama3`). GGUF checkpoints store Q/K rows permuted for
//! llama.cpp's interleaved rotation; `weights::names` undoes that, so one layout serves every source.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// `rope_scaling` of a Hugging Face config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeScaling {
    /// `llama3`, `linear` or `default`; older configs call it `type`.
    #[serde(alias = "type")]
    pub rope_type: String,
    /// How much longer the new context is.
    #[serde(default = "one")]
    pub factor: f64,
    /// Llama-3: wavelengths above `original_max_position_embeddings / low_freq_factor` are scaled.
    #[serde(default)]
    pub low_freq_factor: Option<f64>,
    /// Llama-3: wavelengths below `original_max_position_embeddings / high_freq_factor` are kept.
    #[serde(default)]
    pub high_freq_factor: Option<f64>,
    /// Llama-3: the context length the model was pre-trained with.
    #[serde(default)]
    pub original_max_position_embeddings: Option<usize>,
}

fn one() -> f64 {
    1.0
}

/// The inverse frequencies of one rotary layer and the code that applies them.
#[derive(Debug, Clone)]
pub struct Rope {
    /// `[rotary_dim / 2]`, after scaling.
    inv_freq: Vec<f32>,
    rotary_dim: usize,
}

impl Rope {
    /// Frequencies `base^(-2i/rotary_dim)`, then `scaling` if any.
    pub fn new(rotary_dim: usize, base: f64, scaling: Option<&RopeScaling>) -> Result<Self> {
        if rotary_dim == 0 || !rotary_dim.is_multiple_of(2) {
            return Err(Error::Config(format!("rotary dimension must be even and positive, got {rotary_dim}")));
        }
        // As transformers: float32 arithmetic for the frequencies.
        let mut inv_freq: Vec<f32> = (0..rotary_dim / 2).map(|i| 1.0 / (base as f32).powf((2 * i) as f32 / rotary_dim as f32)).collect();
        match scaling.map(|s| s.rope_type.as_str()) {
            None | Some("default") => {}
            Some("linear") => {
                let factor = scaling.map_or(1.0, |s| s.factor) as f32;
                inv_freq.iter_mut().for_each(|f| *f /= factor);
            }
            Some("llama3") => llama3_scale(&mut inv_freq, scaling.expect("checked"))?,
            Some(other) => return Err(Error::Config(format!("rope_scaling type `{other}` is not supported (cram knows default, linear, llama3)"))),
        }
        Ok(Self { inv_freq, rotary_dim })
    }

    /// The scaled inverse frequencies.
    pub fn inv_freq(&self) -> &[f32] {
        &self.inv_freq
    }

    /// `cos` and `sin` of positions `0..seq_len`.
    ///
    /// # Shapes
    /// both `[1, 1, seq_len, rotary_dim]` (the half-table repeated twice, as `rotate_half` expects)
    pub fn cos_sin(&self, seq_len: usize, device: &Device) -> (Tensor<4>, Tensor<4>) {
        self.cos_sin_from(0, seq_len, device)
    }

    /// [`Rope::cos_sin`] for the positions `start..start + seq_len` (decoding with a KV cache).
    pub fn cos_sin_from(&self, start: usize, seq_len: usize, device: &Device) -> (Tensor<4>, Tensor<4>) {
        let mut cos = Vec::with_capacity(seq_len * self.rotary_dim);
        let mut sin = Vec::with_capacity(seq_len * self.rotary_dim);
        for pos in start..start + seq_len {
            for _ in 0..2 {
                for &f in &self.inv_freq {
                    let angle = f * pos as f32;
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                }
            }
        }
        let shape = [1, 1, seq_len, self.rotary_dim];
        (Tensor::from_data(TensorData::new(cos, shape), device), Tensor::from_data(TensorData::new(sin, shape), device))
    }

    /// [`Rope::cos_sin_from`] on the device of `x` (without autodiff), in its dtype: the tables are
    /// computed in f32 and cast, as transformers does.
    pub fn cos_sin_like(&self, start: usize, seq_len: usize, x: &Tensor<3>) -> (Tensor<4>, Tensor<4>) {
        let (cos, sin) = self.cos_sin_from(start, seq_len, &x.device().without_autodiff());
        (cos.cast(x.dtype()), sin.cast(x.dtype()))
    }

    /// Rotates the first `rotary_dim` features of each head; the rest pass through (GPT-NeoX partial rotary).
    ///
    /// # Shapes
    /// x `[batch, heads, seq, head_dim]`, cos/sin `[1, 1, seq, rotary_dim]` → `[batch, heads, seq, head_dim]`
    pub fn apply(&self, x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>) -> Tensor<4> {
        let head_dim = x.dims()[3];
        let (rot, pass) = if self.rotary_dim == head_dim {
            (x, None)
        } else {
            (x.clone().narrow(3, 0, self.rotary_dim), Some(x.narrow(3, self.rotary_dim, head_dim - self.rotary_dim)))
        };
        let rotated = rot.clone() * cos.clone() + rotate_half(rot) * sin.clone();
        match pass {
            None => rotated,
            Some(pass) => Tensor::cat(vec![rotated, pass], 3),
        }
    }
}

/// `[x1, x2] → [-x2, x1]` over the last dimension.
fn rotate_half(x: Tensor<4>) -> Tensor<4> {
    let half = x.dims()[3] / 2;
    let x1 = x.clone().narrow(3, 0, half);
    let x2 = x.narrow(3, half, half);
    Tensor::cat(vec![x2.neg(), x1], 3)
}

/// Llama-3.1's frequency scaling: long wavelengths slowed by `factor`, short ones kept, a smooth blend
/// between (transformers `_compute_llama3_parameters`).
fn llama3_scale(inv_freq: &mut [f32], s: &RopeScaling) -> Result<()> {
    let missing = |k: &str| Error::Config(format!("rope_scaling llama3 needs `{k}`"));
    let low = s.low_freq_factor.ok_or_else(|| missing("low_freq_factor"))? as f32;
    let high = s.high_freq_factor.ok_or_else(|| missing("high_freq_factor"))? as f32;
    let old_len = s.original_max_position_embeddings.ok_or_else(|| missing("original_max_position_embeddings"))? as f32;
    let factor = s.factor as f32;
    if high <= low {
        return Err(Error::Config(format!("rope_scaling: high_freq_factor {high} must exceed low_freq_factor {low}")));
    }
    let low_freq_wavelen = old_len / low;
    let high_freq_wavelen = old_len / high;
    for f in inv_freq.iter_mut() {
        let wavelen = 2.0 * std::f32::consts::PI / *f;
        *f = if wavelen < high_freq_wavelen {
            *f
        } else if wavelen > low_freq_wavelen {
            *f / factor
        } else {
            let smooth = (old_len / wavelen - low) / (high - low);
            (1.0 - smooth) * *f / factor + smooth * *f
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_scaling_has_three_regimes() {
        let s = RopeScaling {
            rope_type: "llama3".into(),
            factor: 8.0,
            low_freq_factor: 1.0.into(),
            high_freq_factor: 4.0.into(),
            original_max_position_embeddings: Some(32),
        };
        let plain = Rope::new(32, 500000.0, None).unwrap();
        let scaled = Rope::new(32, 500000.0, Some(&s)).unwrap();
        let ratios: Vec<f32> = plain.inv_freq().iter().zip(scaled.inv_freq()).map(|(a, b)| b / a).collect();
        assert_eq!(ratios[0], 1.0, "short wavelengths are kept");
        assert!((ratios[15] - 0.125).abs() < 1e-6, "long wavelengths are divided by the factor");
        assert!(ratios.iter().any(|r| *r > 0.126 && *r < 0.999), "a blend in between: {ratios:?}");
    }

    #[test]
    fn odd_rotary_dim_is_an_error() {
        assert!(Rope::new(7, 10000.0, None).is_err());
    }
}
