//! Qwen3 (dense models).
//!
//! Qwen Team, "Qwen3 Technical Report" (2025). transformers' `models/qwen3/modular_qwen3.py` derives
//! it from Qwen2 and Llama, and so does this file: the Llama decoder ([`LlamaForCausalLM`]: RMSNorm,
//! grouped-query attention with rotary positions, SwiGLU) without the q/k/v biases of Qwen2
//! (`attention_bias`, false in every release, puts them on q, k, v and o), with `q_norm` and `k_norm`:
//! an RMSNorm over each head of the queries and keys, before the rotation. `head_dim` is its own
//! setting (128 in every release), not `hidden_size / num_attention_heads`. Sliding-window attention
//! (`use_sliding_window`, off in every released checkpoint) is not implemented and is refused.

use serde::{Deserialize, Serialize};

use super::TokenIds;
use super::family::{Family, FamilyConfig, f32_round};
use super::llama::{LlamaForCausalLM, LlamaShape, QkNorm, check_sizes};
use super::lora::{LoraSet, LoraSite, LoraTarget};
use super::qwen2::check_full_attention;
use super::rope::RopeScaling;
use crate::weights::Weights;
use crate::weights::gguf_view::GgufView;
use crate::{Error, Result};

/// `config.json` of a Qwen3 checkpoint, key for key (transformers' `Qwen3Config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qwen3Config {
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
    /// Per-head width, independent of `hidden_size / num_attention_heads` (transformers' default 128).
    #[serde(default = "default_head_dim")]
    pub head_dim: usize,
    /// Biases on q_proj, k_proj, v_proj and o_proj.
    #[serde(default)]
    pub attention_bias: bool,
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
    /// Whether the LM head is `embed_tokens` (Qwen3-0.6B .. 4B).
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

fn default_head_dim() -> usize {
    128
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

impl Qwen3Config {
    /// The decoder this config describes: Llama's with per-head q/k norms.
    pub(crate) fn shape(&self) -> LlamaShape {
        LlamaShape {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            num_kv_heads: self.num_key_value_heads.unwrap_or(self.num_attention_heads),
            head_dim: self.head_dim,
            rms_norm_eps: self.rms_norm_eps,
            rope_theta: self.rope_theta,
            rope_scaling: self.rope_scaling.clone(),
            tie_word_embeddings: self.tie_word_embeddings,
            qkv_bias: self.attention_bias,
            o_bias: self.attention_bias,
            mlp_bias: false,
            qk_norm: QkNorm::PerHead,
            clip_qkv: None,
            norm_weight_in_f32: false,
        }
    }
}

impl FamilyConfig for Qwen3Config {
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
            return Err(Error::Config(format!("hidden_act = {:?}, a Qwen3 uses \"silu\"", self.hidden_act)));
        }
        check_sizes(self.hidden_size, self.vocab_size, self.num_hidden_layers, self.num_attention_heads, self.num_key_value_heads, Some(self.head_dim))?;
        check_full_attention(self.use_sliding_window, self.layer_types.as_deref(), &self.shape())
    }
}

/// The Qwen3 network: Llama's decoder with per-head q/k norms.
pub type Qwen3ForCausalLM = LlamaForCausalLM<Qwen3Config>;

impl Family for Qwen3Config {
    type Model = Qwen3ForCausalLM;
    const MODEL_TYPE: &'static str = "qwen3";
    const GGUF_ARCH: Option<&'static str> = Some("qwen3");
    // llama.cpp's names are Llama's plus the q/k norms; its rotation is the Hugging Face one (no permutation)
    const GGUF_NAMES: &'static [(&'static str, &'static str)] = &[
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
        ("model.layers.{i}.input_layernorm.weight", "blk.{i}.attn_norm.weight"),
        ("model.layers.{i}.self_attn.q_proj.weight", "blk.{i}.attn_q.weight"),
        ("model.layers.{i}.self_attn.k_proj.weight", "blk.{i}.attn_k.weight"),
        ("model.layers.{i}.self_attn.v_proj.weight", "blk.{i}.attn_v.weight"),
        ("model.layers.{i}.self_attn.o_proj.weight", "blk.{i}.attn_output.weight"),
        ("model.layers.{i}.self_attn.q_proj.bias", "blk.{i}.attn_q.bias"),
        ("model.layers.{i}.self_attn.k_proj.bias", "blk.{i}.attn_k.bias"),
        ("model.layers.{i}.self_attn.v_proj.bias", "blk.{i}.attn_v.bias"),
        ("model.layers.{i}.self_attn.o_proj.bias", "blk.{i}.attn_output.bias"),
        ("model.layers.{i}.self_attn.q_norm.weight", "blk.{i}.attn_q_norm.weight"),
        ("model.layers.{i}.self_attn.k_norm.weight", "blk.{i}.attn_k_norm.weight"),
        ("model.layers.{i}.post_attention_layernorm.weight", "blk.{i}.ffn_norm.weight"),
        ("model.layers.{i}.mlp.gate_proj.weight", "blk.{i}.ffn_gate.weight"),
        ("model.layers.{i}.mlp.up_proj.weight", "blk.{i}.ffn_up.weight"),
        ("model.layers.{i}.mlp.down_proj.weight", "blk.{i}.ffn_down.weight"),
    ];

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
        let head_dim = g.opt_u64(&g.key("attention.key_length"))?.map_or(m.hidden / m.heads.max(1), |v| v as usize);
        Ok(Qwen3Config {
            vocab_size: m.vocab,
            hidden_size: m.hidden,
            intermediate_size: m.ffn,
            num_hidden_layers: m.layers,
            num_attention_heads: m.heads,
            num_key_value_heads: Some(m.kv_heads),
            head_dim,
            attention_bias: g.has_tensor("blk.0.attn_q.bias"),
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

    const QWEN3: &str = r#"{"model_type": "qwen3", "vocab_size": 384, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16"#;

    fn error_of(extra: &str) -> Option<String> {
        crate::models::config_tests::error_of(QWEN3, extra)
    }

    /// Each feature cram does not implement is one error naming its field.
    #[test]
    fn unimplemented_features_are_refused_by_name() {
        assert_eq!(error_of(""), None);
        crate::models::config_tests::assert_refused_by_name(
            QWEN3,
            &[
                (r#", "use_sliding_window": true"#, "use_sliding_window"),
                (r#", "layer_types": ["sliding_attention", "full_attention"]"#, "layer_types"),
                (r#", "rope_scaling": {"rope_type": "dynamic", "factor": 2.0}"#, "rope_scaling"),
                (r#", "clip_qkv": 8.0"#, "clip_qkv"),
                (r#", "final_logit_softcapping": 30.0"#, "final_logit_softcapping"),
            ],
        );
    }

    /// `head_dim` is its own setting: 4 heads of 16 on a width of 32 make 64-wide q projections.
    #[test]
    fn head_dim_is_independent_of_the_width() {
        let c = ModelConfig::from_json(&format!("{QWEN3}}}")).unwrap();
        let sites = c.lora_sites(&[crate::models::lora::LoraTarget::Q, crate::models::lora::LoraTarget::K]);
        assert_eq!((sites[0].fan_in, sites[0].fan_out), (32, 64));
        assert_eq!((sites[1].fan_in, sites[1].fan_out), (32, 32));
        // without head_dim, transformers' default of 128
        let c = ModelConfig::from_json(&QWEN3.replace(r#", "head_dim": 16"#, "}")).unwrap();
        assert_eq!(c.lora_sites(&[crate::models::lora::LoraTarget::Q])[0].fan_out, 4 * 128);
    }
}
