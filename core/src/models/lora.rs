//! LoRA (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", 2021) as a cramming method:
//! per text, low-rank adapters `ΔW = A B` on chosen projections of the frozen model take the place of the
//! memory vectors. Every text of a batch has its own adapters, so `A` is `[batch, in, r]` and `B` is
//! `[batch, r, out]`; the frozen weight stays shared.
//!
//! Which projections a target names, per family:
//! - Llama and the families with its projections (Qwen2, Qwen3, OLMo, OLMo-2): `q` q_proj, `k` k_proj,
//!   `v` v_proj, `o` o_proj, `mlp` gate_proj + up_proj + down_proj;
//! - OPT: `q` q_proj, `k` k_proj, `v` v_proj, `o` out_proj, `mlp` fc1 + fc2;
//! - GPT-NeoX: `q`, `k`, `v` the three parts of the fused `query_key_value` (adapted separately, so the
//!   parameter count is honest), `o` dense, `mlp` dense_h_to_4h + dense_4h_to_h;
//! - Mamba (no attention, no MLP): `in_proj`, `x_proj`, `dt_proj`, `out_proj`, each its projection.
//!
//! A target a family does not have adapts nothing there; a list that adapts nothing at all is refused
//! (naming the family's targets) when the method is checked against the model.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A group of projections LoRA can adapt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoraTarget {
    /// The query projection.
    Q,
    /// The key projection.
    K,
    /// The value projection.
    V,
    /// The attention output projection.
    O,
    /// Every projection of the MLP.
    Mlp,
    /// Mamba's input projection (to x and the gate z).
    #[serde(rename = "in_proj")]
    InProj,
    /// Mamba's selection projection (to dt, B and C).
    #[serde(rename = "x_proj")]
    XProj,
    /// Mamba's time-step projection.
    #[serde(rename = "dt_proj")]
    DtProj,
    /// Mamba's output projection.
    #[serde(rename = "out_proj")]
    OutProj,
}

impl LoraTarget {
    /// Every target, attention families' first.
    pub const ALL: [LoraTarget; 9] = [Self::Q, Self::K, Self::V, Self::O, Self::Mlp, Self::InProj, Self::XProj, Self::DtProj, Self::OutProj];

    /// The name `--targets` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Q => "q",
            Self::K => "k",
            Self::V => "v",
            Self::O => "o",
            Self::Mlp => "mlp",
            Self::InProj => "in_proj",
            Self::XProj => "x_proj",
            Self::DtProj => "dt_proj",
            Self::OutProj => "out_proj",
        }
    }
}

impl std::str::FromStr for LoraTarget {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| {
            let names = Self::ALL.map(Self::as_str).join(", ");
            Error::Input(format!("unknown LoRA target `{s}`; choose from {names} (the last four are Mamba's)"))
        })
    }
}

/// Parses `q,k,v,o,mlp`.
pub fn parse_targets(list: &str) -> Result<Vec<LoraTarget>> {
    let mut targets = list.split(',').filter(|s| !s.trim().is_empty()).map(str::parse).collect::<Result<Vec<LoraTarget>>>()?;
    targets.sort();
    targets.dedup();
    if targets.is_empty() {
        return Err(Error::Setting(crate::error::ConfigError::NoTargets));
    }
    Ok(targets)
}

/// One adapted projection: layer, the projection's checkpoint name and its sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoraSite {
    /// Decoder layer.
    pub layer: usize,
    /// The projection (`q_proj`, `dense_h_to_4h`, `query` for NeoX's fused q part, ...).
    pub module: &'static str,
    /// Input width.
    pub fan_in: usize,
    /// Output width.
    pub fan_out: usize,
}

impl LoraSite {
    /// Name prefix of its tensors in a `.cram` file: `lora.{layer}.{module}`.
    pub fn name(&self) -> String {
        format!("lora.{}.{}", self.layer, self.module)
    }
}

/// The sites of `targets` in every one of `layers` layers; `modules` names the projections a target
/// adapts in a family, as `(module, fan_in, fan_out)`.
pub fn sites(layers: usize, targets: &[LoraTarget], modules: impl Fn(LoraTarget) -> Vec<(&'static str, usize, usize)>) -> Vec<LoraSite> {
    (0..layers)
        .flat_map(|layer| {
            targets.iter().flat_map(|&t| modules(t)).map(move |(module, fan_in, fan_out)| LoraSite { layer, module, fan_in, fan_out }).collect::<Vec<_>>()
        })
        .collect()
}

/// The adapter of one projection: `x ↦ scale · (x A) B`; without `B`, a full-rank update
/// `x ↦ scale · x A` (an encoder fine-tuning every projection). A batch of 1 is shared by every text
/// of a batch (an encoder's adapters).
#[derive(Debug, Clone)]
pub struct Lora {
    /// `[batch, in, r]`, or `[batch, in, out]` without `b`.
    pub a: Tensor<3>,
    /// `[batch, r, out]`.
    pub b: Option<Tensor<3>>,
    /// `alpha / r`.
    pub scale: f64,
}

impl Lora {
    /// The adapter's contribution to the projection's output.
    ///
    /// # Shapes
    /// `[batch, seq, in]` → `[batch, seq, out]`
    pub fn delta(&self, x: Tensor<3>) -> Tensor<3> {
        // the adapter is trained in f32; the frozen model may compute in bf16/f16
        let dtype = x.dtype();
        let xa = x.cast(burn::tensor::FloatDType::F32).matmul(self.a.clone());
        let delta = match &self.b {
            Some(b) => xa.matmul(b.clone()),
            None => xa,
        };
        delta.mul_scalar(self.scale).cast(dtype)
    }
}

/// Adapters for a set of sites, in the order of the sites.
#[derive(Debug, Clone, Default)]
pub struct LoraSet {
    /// `(site, adapter)` pairs.
    pub adapters: Vec<(LoraSite, Lora)>,
}

impl LoraSet {
    /// The adapter of `module` in `layer`, if any.
    pub fn get(&self, layer: usize, module: &str) -> Option<Lora> {
        self.adapters.iter().find(|(s, _)| s.layer == layer && s.module == module).map(|(_, l)| l.clone())
    }
}
