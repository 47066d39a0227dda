//! OLMo (the first generation: OLMo-1B, OLMo-7B, their -0424 and -0724 releases).
//!
//! Groeneveld et al., "OLMo: Accelerating the Science of Language Models" (2024). Follows
//! transformers' `models/olmo/modeling_olmo.py`: Llama's decoder (pre-norm layers, grouped-query
//! attention with rotary positions, SwiGLU), but every norm is a LayerNorm without weight or bias
//! (epsilon 1e-5, computed in f32), and with `clip_qkv` the query, key and value projections are
//! clamped to `[-clip_qkv, clip_qkv]`.

use burn::tensor::{FloatDType, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::TokenIds;
use super::family::{CausalLm, Family, FamilyConfig, f32_round};
use super::kv_cache::{KvCache, LayerKv};
use super::layers::{DecoderLayer, Embedding, Linear, decoder_stack};
use super::llama::{LlamaAttention, LlamaMlp, LlamaShape, QkNorm, check_sizes, embed_tokens_and_head, unpermute_llama_qk};
use super::lora::{LoraSet, LoraSite, LoraTarget};
use super::rope::{Rope, RopeScaling};
use crate::weights::{HostTensor, Weights};
use crate::weights::gguf_view::GgufView;
use crate::{Error, Result};

/// `config.json` of an OLMo checkpoint (`-hf`, transformers' format), key for key (`OlmoConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OlmoConfig {
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
    /// RoPE base.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// RoPE scaling (`linear`, `llama3`; others are refused).
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    /// Biases on q, k, v and o.
    #[serde(default)]
    pub attention_bias: bool,
    /// Clamp of the q, k and v projections' outputs, if any.
    #[serde(default)]
    pub clip_qkv: Option<f64>,
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
fn default_rope_theta() -> f64 {
    10000.0
}

impl OlmoConfig {
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
            rms_norm_eps: OLMO_LAYER_NORM_EPS,
            rope_theta: self.rope_theta,
            rope_scaling: self.rope_scaling.clone(),
            tie_word_embeddings: self.tie_word_embeddings,
            qkv_bias: self.attention_bias,
            o_bias: self.attention_bias,
            mlp_bias: false,
            qk_norm: QkNorm::None,
            clip_qkv: self.clip_qkv,
            norm_weight_in_f32: false,
        }
    }
}

/// The epsilon of OLMo's LayerNorms, fixed in its code.
const OLMO_LAYER_NORM_EPS: f64 = 1e-5;

/// LayerNorm without weight or bias, in f32.
#[derive(Debug, Clone, Copy)]
pub struct OlmoLayerNorm;

impl OlmoLayerNorm {
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let dtype = x.dtype();
        let x = x.cast(FloatDType::F32);
        let centered = x.clone() - x.mean_dim(2);
        let variance = centered.clone().square().mean_dim(2);
        (centered * variance.add_scalar(OLMO_LAYER_NORM_EPS).sqrt().recip()).cast(dtype)
    }
}

/// One pre-norm OLMo layer: `x + attn(norm(x))`, then `h + mlp(norm(h))`.
#[derive(Debug, Clone)]
pub struct OlmoDecoderLayer {
    input_layernorm: OlmoLayerNorm,
    self_attn: LlamaAttention,
    post_attention_layernorm: OlmoLayerNorm,
    mlp: LlamaMlp,
}

impl OlmoDecoderLayer {
    fn load(w: &Weights, cfg: &LlamaShape) -> Result<Self> {
        Ok(Self {
            input_layernorm: OlmoLayerNorm,
            self_attn: LlamaAttention::load(&w.pp("self_attn"), cfg)?,
            post_attention_layernorm: OlmoLayerNorm,
            mlp: LlamaMlp::load(&w.pp("mlp"), cfg)?,
        })
    }
}

impl DecoderLayer for OlmoDecoderLayer {
    fn forward(&self, x: Tensor<3>, rope: &Rope, cos: &Tensor<4>, sin: &Tensor<4>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let h = x.clone() + self.self_attn.forward(self.input_layernorm.forward(x), rope, cos, sin, cache);
        h.clone() + self.mlp.forward(self.post_attention_layernorm.forward(h))
    }
}

/// The OLMo stack with its LM head.
#[derive(Debug, Clone)]
pub struct OlmoForCausalLM {
    /// The config it was built from.
    pub config: OlmoConfig,
    embed_tokens: Embedding,
    layers: Vec<OlmoDecoderLayer>,
    norm: OlmoLayerNorm,
    lm_head: Linear,
    rope: Rope,
}

impl CausalLm for OlmoForCausalLM {
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

impl FamilyConfig for OlmoConfig {
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
    /// Llama's count without the norms' weights (two per layer and the final one).
    fn parameters(&self) -> usize {
        self.shape().parameters() - (2 * self.num_hidden_layers + 1) * self.hidden_size
    }
    fn largest_weight(&self) -> (&'static str, usize) {
        self.shape().largest_weight()
    }
    fn activation_values_per_position(&self) -> u64 {
        self.shape().activation_values_per_position()
    }
    fn validate(&self) -> Result<()> {
        if self.hidden_act != "silu" {
            return Err(Error::Config(format!("hidden_act = {:?}, an OLMo uses \"silu\"", self.hidden_act)));
        }
        check_sizes(self.hidden_size, self.vocab_size, self.num_hidden_layers, self.num_attention_heads, self.num_key_value_heads, self.head_dim)?;
        if let Some(c) = self.clip_qkv.filter(|c| !(c.is_finite() && *c > 0.0)) {
            return Err(Error::Config(format!("clip_qkv = {c} is not a positive number")));
        }
        Rope::new(self.head_dim(), self.rope_theta, self.rope_scaling.as_ref()).map(|_| ())
    }
}

impl Family for OlmoConfig {
    type Model = OlmoForCausalLM;
    const MODEL_TYPE: &'static str = "olmo";
    const IMPLEMENTS: &'static [&'static str] = &["clip_qkv"];
    const GGUF_ARCH: Option<&'static str> = Some("olmo");
    // as gguf-py's tensor map names them for OLMO (no norm weights); Q and K rows are permuted as Llama's
    const GGUF_NAMES: &'static [(&'static str, &'static str)] = &[
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("lm_head.weight", "output.weight"),
        ("model.layers.{i}.self_attn.q_proj.weight", "blk.{i}.attn_q.weight"),
        ("model.layers.{i}.self_attn.k_proj.weight", "blk.{i}.attn_k.weight"),
        ("model.layers.{i}.self_attn.v_proj.weight", "blk.{i}.attn_v.weight"),
        ("model.layers.{i}.self_attn.o_proj.weight", "blk.{i}.attn_output.weight"),
        ("model.layers.{i}.self_attn.q_proj.bias", "blk.{i}.attn_q.bias"),
        ("model.layers.{i}.self_attn.k_proj.bias", "blk.{i}.attn_k.bias"),
        ("model.layers.{i}.self_attn.v_proj.bias", "blk.{i}.attn_v.bias"),
        ("model.layers.{i}.self_attn.o_proj.bias", "blk.{i}.attn_output.bias"),
        ("model.layers.{i}.mlp.gate_proj.weight", "blk.{i}.ffn_gate.weight"),
        ("model.layers.{i}.mlp.up_proj.weight", "blk.{i}.ffn_up.weight"),
        ("model.layers.{i}.mlp.down_proj.weight", "blk.{i}.ffn_down.weight"),
    ];

    fn load(&self, w: &Weights) -> Result<Self::Model> {
        self.validate()?;
        let cfg = self.shape();
        let m = w.pp("model");
        let (embed_tokens, lm_head) = embed_tokens_and_head(w, &cfg)?;
        let layers = (0..cfg.num_hidden_layers).map(|i| OlmoDecoderLayer::load(&m.pp(format!("layers.{i}")), &cfg)).collect::<Result<Vec<_>>>()?;
        Ok(OlmoForCausalLM {
            config: self.clone(),
            embed_tokens,
            layers,
            norm: OlmoLayerNorm,
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
        c.clip_qkv = c.clip_qkv.map(f32_round);
        c.rope_theta = f32_round(c.rope_theta);
        (c.bos_token_id, c.eos_token_id) = (None, None);
        c
    }

    fn from_gguf(g: &GgufView) -> Result<Self> {
        let m = g.common()?;
        let head_dim = g.opt_u64(&g.key("attention.key_length"))?.map(|v| v as usize);
        Ok(OlmoConfig {
            vocab_size: m.vocab,
            hidden_size: m.hidden,
            intermediate_size: m.ffn,
            num_hidden_layers: m.layers,
            num_attention_heads: m.heads,
            num_key_value_heads: Some(m.kv_heads),
            head_dim: head_dim.filter(|&h| h != m.hidden / m.heads.max(1)),
            hidden_act: "silu".into(),
            max_position_embeddings: m.context,
            rope_theta: g.opt_f64(&g.key("rope.freq_base"))?.unwrap_or(10000.0),
            rope_scaling: None,
            attention_bias: g.has_tensor("blk.0.attn_q.bias"),
            clip_qkv: g.opt_f64(&g.key("attention.clamp_kqv"))?,
            tie_word_embeddings: !g.has_tensor("output.weight"),
            bos_token_id: m.bos.map(TokenIds::One),
            eos_token_id: m.eos.map(TokenIds::One),
        })
    }

    /// llama.cpp stores OLMo's Q and K rows permuted as Llama's; undo it.
    fn gguf_tensor(gguf_name: &str, tensor: HostTensor, heads: (usize, usize)) -> Result<HostTensor> {
        let data = unpermute_llama_qk(gguf_name, &tensor.shape, tensor.data, heads)?;
        Ok(HostTensor { data, shape: tensor.shape })
    }
}

#[cfg(test)]
mod tests {
    const OLMO: &str = r#"{"model_type": "olmo", "vocab_size": 384, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4"#;

    fn error_of(extra: &str) -> Option<String> {
        crate::models::config_tests::error_of(OLMO, extra)
    }

    /// OLMo implements `clip_qkv`; soft-capping, other RoPE types and a bad clip are one error naming the field.
    #[test]
    fn clip_qkv_is_implemented_and_the_rest_refused_by_name() {
        assert_eq!(error_of(r#", "clip_qkv": 8.0"#), None);
        assert_eq!(error_of(r#", "clip_qkv": null"#), None);
        crate::models::config_tests::assert_refused_by_name(
            OLMO,
            &[
                (r#", "clip_qkv": -1.0"#, "clip_qkv"),
                (r#", "attn_logit_softcapping": 50.0"#, "attn_logit_softcapping"),
                (r#", "rope_scaling": {"rope_type": "yarn", "factor": 4.0}"#, "rope_scaling"),
            ],
        );
    }
}
