//! OLMo 2.
//!
//! Team OLMo, "2 OLMo 2 Furious" (2024). Follows transformers' `models/olmo2/modeling_olmo2.py`:
//! Llama's attention and SwiGLU MLP, but the RMSNorms come after the sublayers, not before
//! (`x + norm(attn(x))`, then `h + norm(mlp(h))`), q and k are RMS-normalised over the whole
//! projection (`heads * head_dim` wide) before they are split into heads and rotated, and every
//! RMSNorm multiplies by its weight in f32 before casting back.

use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use super::TokenIds;
use super::family::{CausalLm, Family, FamilyConfig, f32_round};
use super::kv_cache::{KvCache, LayerKv};
use super::layers::{DecoderLayer, Embedding, Linear, decoder_stack};
use super::llama::{LlamaAttention, LlamaMlp, LlamaRmsNorm, LlamaShape, QkNorm, check_sizes, embed_tokens_and_head};
use super::lora::{LoraSet, LoraSite, LoraTarget};
use super::rope::{Rope, RopeScaling};
use crate::weights::Weights;
use crate::weights::gguf_view::GgufView;
use crate::{Error, Result};

/// `config.json` of an OLMo-2 checkpoint, key for key (transformers' `Olmo2Config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Olmo2Config {
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
    /// Key/value heads; defaults to `num_attention_heads`.
    #[serde(default)]
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
    /// Biases on q, k, v and o.
    #[serde(default)]
    pub attention_bias: bool,
    /// Whether the LM head is `embed_tokens`.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence token id.
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub bos_token_id: Option<TokenIds>,
    /// End-of-sequence token id(s).
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub eos_token_id: Option<TokenIds>,
}

fn default_hidden_act() -> String {
    "silu".into()
}
fn default_max_position_embeddings() -> usize {
    2048
}
fn default_rms_norm_eps() -> f64 {
    1e-5
}
fn default_rope_theta() -> f64 {
    10000.0
}

impl Olmo2Config {
    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.head_dim.unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// The sizes of the decoder, in the terms of Llama's pieces.
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
            qkv_bias: self.attention_bias,
            o_bias: self.attention_bias,
            mlp_bias: false,
            qk_norm: QkNorm::Whole,
            clip_qkv: None,
            norm_weight_in_f32: true,
        }
    }
}

/// One OLMo-2 layer: the norms after the sublayers, `h = x + norm(attn(x))`, then `h + norm(mlp(h))`.
#[derive(Debug, Clone)]
pub struct Olmo2DecoderLayer {
    self_attn: LlamaAttention,
    post_attention_layernorm: LlamaRmsNorm,
    mlp: LlamaMlp,
    post_feedforward_layernorm: LlamaRmsNorm,
}

impl Olmo2DecoderLayer {
    fn load(w: &Weights, cfg: &LlamaShape) -> Result<Self> {
        Ok(Self {
            self_attn: LlamaAttention::load(&w.pp("self_attn"), cfg)?,
            post_attention_layernorm: LlamaRmsNorm::load(&w.pp("post_attention_layernorm"), cfg.hidden_size, cfg)?,
            mlp: LlamaMlp::load(&w.pp("mlp"), cfg)?,
            post_feedforward_layernorm: LlamaRmsNorm::load(&w.pp("post_feedforward_layernorm"), cfg.hidden_size, cfg)?,
        })
    }
}

impl DecoderLayer for Olmo2DecoderLayer {
    fn forward(&self, x: Tensor<3>, rope: &Rope, cos: &Tensor<4>, sin: &Tensor<4>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let h = x.clone() + self.post_attention_layernorm.forward(self.self_attn.forward(x, rope, cos, sin, cache));
        h.clone() + self.post_feedforward_layernorm.forward(self.mlp.forward(h))
    }
}

/// The OLMo-2 stack with its LM head.
#[derive(Debug, Clone)]
pub struct Olmo2ForCausalLM {
    /// The config it was built from.
    pub config: Olmo2Config,
    embed_tokens: Embedding,
    layers: Vec<Olmo2DecoderLayer>,
    norm: LlamaRmsNorm,
    lm_head: Linear,
    rope: Rope,
}

impl CausalLm for Olmo2ForCausalLM {
    fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embed_tokens.forward(ids)
    }

    fn embedding_matrix(&self) -> &Tensor<2> {
        self.embed_tokens.weight()
    }

    fn hidden_states(&self, inputs_embeds: Tensor<3>, cache: Option<&mut KvCache>) -> Tensor<3> {
        self.norm.forward(decoder_stack(&self.layers, &self.rope, inputs_embeds, cache))
    }

    fn decoder_layer(&self, index: usize, x: Tensor<3>) -> Tensor<3> {
        decoder_stack(&self.layers[index..=index], &self.rope, x, None)
    }

    fn final_norm(&self, x: Tensor<3>) -> Tensor<3> {
        self.norm.forward(x)
    }

    fn lm_head(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.lm_head.forward(hidden)
    }
}

impl FamilyConfig for Olmo2Config {
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
            return Err(Error::Config(format!("hidden_act = {:?}, an OLMo-2 uses \"silu\"", self.hidden_act)));
        }
        check_sizes(self.hidden_size, self.vocab_size, self.num_hidden_layers, self.num_attention_heads, self.num_key_value_heads, self.head_dim)?;
        Rope::new(self.head_dim(), self.rope_theta, self.rope_scaling.as_ref()).map(|_| ())
    }
}

impl Family for Olmo2Config {
    type Model = Olmo2ForCausalLM;
    const MODEL_TYPE: &'static str = "olmo2";
    const GGUF_ARCH: Option<&'static str> = Some("olmo2");
    // as gguf-py's tensor map names them for OLMO2; the rotation is the Hugging Face one (no permutation)
    const GGUF_NAMES: &'static [(&'static str, &'static str)] = &[
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
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
        ("model.layers.{i}.post_attention_layernorm.weight", "blk.{i}.post_attention_norm.weight"),
        ("model.layers.{i}.post_feedforward_layernorm.weight", "blk.{i}.post_ffw_norm.weight"),
        ("model.layers.{i}.mlp.gate_proj.weight", "blk.{i}.ffn_gate.weight"),
        ("model.layers.{i}.mlp.up_proj.weight", "blk.{i}.ffn_up.weight"),
        ("model.layers.{i}.mlp.down_proj.weight", "blk.{i}.ffn_down.weight"),
    ];

    fn load(&self, w: &Weights) -> Result<Self::Model> {
        self.validate()?;
        let cfg = self.shape();
        let m = w.pp("model");
        let (embed_tokens, lm_head) = embed_tokens_and_head(w, &cfg)?;
        let layers = (0..cfg.num_hidden_layers).map(|i| Olmo2DecoderLayer::load(&m.pp(format!("layers.{i}")), &cfg)).collect::<Result<Vec<_>>>()?;
        Ok(Olmo2ForCausalLM {
            config: self.clone(),
            embed_tokens,
            layers,
            norm: LlamaRmsNorm::load(&m.pp("norm"), cfg.hidden_size, &cfg)?,
            lm_head,
            rope: Rope::new(cfg.head_dim, cfg.rope_theta, cfg.rope_scaling.as_ref())?,
        })
    }

    fn config_of(model: &Self::Model) -> &Self {
        &model.config
    }

    fn with_lora(model: &Self::Model, set: &LoraSet) -> Self::Model {
        let mut model = model.clone();
        for (i, layer) in model.layers.iter_mut().enumerate() {
            layer.self_attn.set_lora(set, i);
            layer.mlp.set_lora(set, i);
        }
        model
    }

    fn canonical(&self) -> Self {
        let mut c = self.clone();
        c.head_dim = Some(c.head_dim());
        c.num_key_value_heads = Some(c.shape().num_kv_heads);
        c.rms_norm_eps = f32_round(c.rms_norm_eps);
        c.rope_theta = f32_round(c.rope_theta);
        (c.bos_token_id, c.eos_token_id) = (None, None);
        c
    }

    fn from_gguf(g: &GgufView) -> Result<Self> {
        let m = g.common()?;
        let head_dim = g.opt_u64(&g.key("attention.key_length"))?.map(|v| v as usize);
        Ok(Olmo2Config {
            vocab_size: m.vocab,
            hidden_size: m.hidden,
            intermediate_size: m.ffn,
            num_hidden_layers: m.layers,
            num_attention_heads: m.heads,
            num_key_value_heads: Some(m.kv_heads),
            head_dim: head_dim.filter(|&h| h != m.hidden / m.heads.max(1)),
            hidden_act: "silu".into(),
            max_position_embeddings: m.context,
            rms_norm_eps: g.opt_f64(&g.key("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-5),
            rope_theta: g.opt_f64(&g.key("rope.freq_base"))?.unwrap_or(10000.0),
            rope_scaling: None,
            attention_bias: g.has_tensor("blk.0.attn_q.bias"),
            tie_word_embeddings: !g.has_tensor("output.weight"),
            bos_token_id: m.bos.map(TokenIds::One),
            eos_token_id: m.eos.map(TokenIds::One),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::ModelConfig;

    const OLMO2: &str = r#"{"model_type": "olmo2", "vocab_size": 384, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2"#;

    fn error_of(extra: &str) -> Option<String> {
        crate::models::config_tests::error_of(OLMO2, extra)
    }

    /// `clip_qkv` (OLMo's, not OLMo-2's), soft-capping and unknown RoPE types are one error naming the field.
    #[test]
    fn unimplemented_features_are_refused_by_name() {
        assert_eq!(error_of(""), None);
        crate::models::config_tests::assert_refused_by_name(
            OLMO2,
            &[
                (r#", "clip_qkv": 8.0"#, "clip_qkv"),
                (r#", "final_logit_softcapping": 30.0"#, "final_logit_softcapping"),
                (r#", "rope_scaling": {"rope_type": "yarn", "factor": 4.0}"#, "rope_scaling"),
            ],
        );
    }

    /// q_norm and k_norm span the whole projections: 4 x 8 and 2 x 8 values, counted with the weights.
    #[test]
    fn qk_norms_are_as_wide_as_the_projections() {
        let c = ModelConfig::from_json(&format!("{OLMO2}}}")).unwrap();
        let (d, v, i, layers) = (32, 384, 64, 2);
        let layer = 32 * 32 * 2 + 32 * 16 * 2 + (32 + 16) + 3 * d * i + 2 * d;
        assert_eq!(c.parameters(), 2 * v * d + layers * layer + d);
    }
}
