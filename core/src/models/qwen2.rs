//! Qwen2 and Qwen2.5.
//!
//! Qwen Team, "Qwen2 Technical Report" (2024) and "Qwen2.5 Technical Report" (2024). transformers'
//! `models/qwen2/modular_qwen2.py` derives it from Llama, and so does this file: the Llama decoder
//! ([`LlamaForCausalLM`]: RMSNorm, grouped-query attention with rotary positions, SwiGLU) with
//! biases on q_proj, k_proj and v_proj (none on o_proj or the MLP). Sliding-window attention
//! (`use_sliding_window`, off in every released checkpoint) is not implemented and is refused.

use serde::{Deserialize, Serialize};

use super::TokenIds;
use super::family::{Family, FamilyConfig, f32_round};
use super::llama::{LLAMA_GGUF_NAMES, LlamaForCausalLM, LlamaShape, QkNorm, check_sizes};
use super::lora::{LoraSet, LoraSite, LoraTarget};
use super::rope::{Rope, RopeScaling};
use crate::weights::Weights;
use crate::weights::gguf_view::GgufView;
use crate::{Error, Result};

/// `config.json` of a Qwen2 / Qwen2.5 checkpoint, key for key (transformers' `Qwen2Config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qwen2Config {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width d.
    pub hidden_size: usize,
    /// Width of the SwiGLU MLP.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads: 32 when absent (transformers' default), `num_attention_heads` when null.
    #[serde(default = "default_num_key_value_heads")]
    pub num_key_value_heads: Option<usize>,
    /// Per-head width; defaults to `hidden_size / num_attention_heads`.
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// Activation of the MLP; `silu`.
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    /// Longest context.
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// RMSNorm epsilon.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// RoPE scaling (`linear`, `llama3`; others are refused).
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    /// Whether the LM head is `embed_tokens` (Qwen2.5-0.5B .. 3B).
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Sliding-window attention on the layers from `max_window_layers` on; cram refuses `true`.
    #[serde(default)]
    pub use_sliding_window: bool,
    /// The window, used only with `use_sliding_window`.
    #[serde(default)]
    pub sliding_window: Option<usize>,
    /// The first layer with a sliding window, used only with `use_sliding_window`.
    #[serde(default)]
    pub max_window_layers: Option<usize>,
    /// Attention type of each layer; cram implements `full_attention`.
    #[serde(default)]
    pub layer_types: Option<Vec<String>>,
    /// Beginning-of-sequence token id.
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub bos_token_id: Option<TokenIds>,
    /// End-of-sequence token id(s).
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub eos_token_id: Option<TokenIds>,
}

fn default_num_key_value_heads() -> Option<usize> {
    Some(32)
}
fn default_hidden_act() -> String {
    "silu".into()
}
fn default_max_position_embeddings() -> usize {
    32768
}
fn default_rms_norm_eps() -> f64 {
    1e-6
}
fn default_rope_theta() -> f64 {
    10000.0
}

impl Qwen2Config {
    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.head_dim.unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// The decoder this config describes: Llama's with q/k/v biases.
    pub(crate) fn shape(&self) -> LlamaShape {
        LlamaShape {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            num_kv_heads: self.num_key_value_heads.unwrap_or(self.num_attention_heads),
            head_dim: self.head_dim(),
            rms_norm_eps: self.rms_norm_eps,
            rope_theta: self.rope_theta,
            rope_scaling: self.rope_scaling.clone(),
            tie_word_embeddings: self.tie_word_embeddings,
            qkv_bias: true,
            o_bias: false,
            mlp_bias: false,
            qk_norm: QkNorm::None,
            clip_qkv: None,
            norm_weight_in_f32: false,
        }
    }
}

/// The checks of the attention variants Qwen2 and Qwen3 share: full attention only, a known RoPE.
pub(crate) fn check_full_attention(use_sliding_window: bool, layer_types: Option<&[String]>, shape: &LlamaShape) -> Result<()> {
    if use_sliding_window {
        return Err(Error::Config("use_sliding_window = true: cram implements full attention only for this family".into()));
    }
    if let Some(other) = layer_types.into_iter().flatten().find(|t| *t != "full_attention") {
        return Err(Error::Config(format!("layer_types has {other:?}: cram implements \"full_attention\" only for this family")));
    }
    Rope::new(shape.head_dim, shape.rope_theta, shape.rope_scaling.as_ref()).map(|_| ())
}

impl FamilyConfig for Qwen2Config {
    fn hidden_size(&self) -> usize {
        self.hidden_size
    }
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }
    fn num_layers(&self) -> usize {
        self.num_hidden_layers
    }
    fn num_attention_heads(&self) -> usize {
        self.num_attention_heads
    }
    fn max_position_embeddings(&self) -> usize {
        self.max_position_embeddings
    }
    fn tie_word_embeddings(&self) -> bool {
        self.tie_word_embeddings
    }
    fn bos_token_id(&self) -> Option<&TokenIds> {
        self.bos_token_id.as_ref()
    }
    fn eos_token_id(&self) -> Option<&TokenIds> {
        self.eos_token_id.as_ref()
    }
    fn lora_sites(&self, targets: &[LoraTarget]) -> Vec<LoraSite> {
        self.shape().lora_sites(targets)
    }
    fn parameters(&self) -> usize {
        self.shape().parameters()
    }
    fn largest_weight(&self) -> (&'static str, usize) {
        self.shape().largest_weight()
    }
    fn activation_values_per_position(&self) -> u64 {
        self.shape().activation_values_per_position()
    }
    fn validate(&self) -> Result<()> {
        if self.hidden_act != "silu" {
            return Err(Error::Config(format!("hidden_act = {:?}, a Qwen2 uses \"silu\"", self.hidden_act)));
        }
        check_sizes(self.hidden_size, self.vocab_size, self.num_hidden_layers, self.num_attention_heads, self.num_key_value_heads, self.head_dim)?;
        check_full_attention(self.use_sliding_window, self.layer_types.as_deref(), &self.shape())
    }
}

/// The Qwen2 network: Llama's decoder with q/k/v biases.
pub type Qwen2ForCausalLM = LlamaForCausalLM<Qwen2Config>;

impl Family for Qwen2Config {
    type Model = Qwen2ForCausalLM;
    const MODEL_TYPE: &'static str = "qwen2";
    const GGUF_ARCH: Option<&'static str> = Some("qwen2");
    // llama.cpp's names are Llama's, biases included, and its rotation is the Hugging Face one (no permutation)
    const GGUF_NAMES: &'static [(&'static str, &'static str)] = LLAMA_GGUF_NAMES;

    fn load(&self, weights: &Weights) -> Result<Self::Model> {
        self.validate()?;
        LlamaForCausalLM::build(self.clone(), &self.shape(), weights)
    }

    fn config_of(model: &Self::Model) -> &Self {
        &model.config
    }

    fn with_lora(model: &Self::Model, set: &LoraSet) -> Self::Model {
        model.with_lora(set)
    }

    fn canonical(&self) -> Self {
        let mut c = self.clone();
        c.head_dim = Some(c.head_dim());
        c.num_key_value_heads = Some(c.shape().num_kv_heads);
        c.rms_norm_eps = f32_round(c.rms_norm_eps);
        c.rope_theta = f32_round(c.rope_theta);
        // full attention everywhere (validated): the window settings change nothing
        (c.sliding_window, c.max_window_layers, c.layer_types) = (None, None, None);
        (c.bos_token_id, c.eos_token_id) = (None, None);
        c
    }

    fn from_gguf(g: &GgufView) -> Result<Self> {
        let m = g.common()?;
        let head_dim = g.opt_u64(&g.key("attention.key_length"))?.map(|v| v as usize);
        Ok(Qwen2Config {
            vocab_size: m.vocab,
            hidden_size: m.hidden,
            intermediate_size: m.ffn,
            num_hidden_layers: m.layers,
            num_attention_heads: m.heads,
            num_key_value_heads: Some(m.kv_heads),
            head_dim: head_dim.filter(|&h| h != m.hidden / m.heads.max(1)),
            hidden_act: "silu".into(),
            max_position_embeddings: m.context,
            rms_norm_eps: g.opt_f64(&g.key("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-6),
            rope_theta: g.opt_f64(&g.key("rope.freq_base"))?.unwrap_or(10000.0),
            rope_scaling: None,
            tie_word_embeddings: !g.has_tensor("output.weight"),
            use_sliding_window: false,
            sliding_window: None,
            max_window_layers: None,
            layer_types: None,
            bos_token_id: m.bos.map(TokenIds::One),
            eos_token_id: m.eos.map(TokenIds::One),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::ModelConfig;

    const QWEN2: &str = r#"{"model_type": "qwen2", "vocab_size": 384, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2"#;

    /// The config with `extra` fields, parsed and validated: the error, if any.
    fn error_of(extra: &str) -> Option<String> {
        crate::models::config_tests::error_of(QWEN2, extra)
    }

    #[test]
    fn a_plain_config_is_valid_and_full_attention_settings_are_fine() {
        assert_eq!(error_of(""), None);
        assert_eq!(error_of(r#", "use_sliding_window": false, "sliding_window": 4096, "max_window_layers": 28"#), None);
        assert_eq!(error_of(r#", "layer_types": ["full_attention", "full_attention"], "clip_qkv": null"#), None);
    }

    /// Each feature cram does not implement is one error naming its field.
    #[test]
    fn unimplemented_features_are_refused_by_name() {
        crate::models::config_tests::assert_refused_by_name(
            QWEN2,
            &[
                (r#", "use_sliding_window": true, "sliding_window": 4"#, "use_sliding_window"),
                (r#", "layer_types": ["full_attention", "sliding_attention"]"#, "layer_types"),
                (r#", "rope_scaling": {"rope_type": "yarn", "factor": 4.0}"#, "rope_scaling"),
                (r#", "clip_qkv": 8.0"#, "clip_qkv"),
                (r#", "attn_logit_softcapping": 50.0"#, "attn_logit_softcapping"),
                (r#", "hidden_act": "gelu""#, "hidden_act"),
            ],
        );
    }

    /// As transformers: no `num_key_value_heads` is 32 of them, null is one per query head.
    #[test]
    fn key_value_heads_default_as_transformers() {
        let c = r#"{"model_type": "qwen2", "vocab_size": 8, "hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 32"#;
        let kv = |extra: &str| match ModelConfig::from_json(&format!("{c}{extra}}}")).unwrap() {
            ModelConfig::Qwen2(c) => c.shape().num_kv_heads,
            other => panic!("{other:?}"),
        };
        assert_eq!(kv(""), 32);
        assert_eq!(kv(r#", "num_key_value_heads": null"#), 32);
        assert_eq!(kv(r#", "num_key_value_heads": 4"#), 4);
    }
}
