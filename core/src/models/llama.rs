//! The Llama family: Llama-2/3/3.1/3.2, SmolLM/SmolLM2, TinyLlama, Sheared-LLaMA.
//!
//! Touvron et al., "LLaMA: Open and Efficient Foundation Language Models" (2023), and the Llama-3
//! report (2024). Follows transformers' `models/llama/modeling_llama.py`: pre-norm decoder layers with
//! RMSNorm, grouped-query attention with rotary embeddings (`rotate_half` layout), a SwiGLU MLP, an
//! optional tied LM head. Field names are the checkpoint's (`embed_tokens`, `self_attn`, `q_proj`, ...).

use burn::tensor::activation::silu;
use burn::tensor::{FloatDType, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::TokenIds;
use super::family::{CausalLm, Family, FamilyConfig, f32_round};
use super::kv_cache::{KvCache, LayerKv};
use super::layers::{DecoderLayer, Embedding, Linear, causal_attention, decoder_stack};
use super::lora::{self, LoraSet, LoraSite, LoraTarget};
use super::rope::{Rope, RopeScaling};
use crate::weights::{HostTensor, Weights};
use crate::weights::gguf_view::GgufView;
use crate::weights::names::unpermute_qk;
use crate::{Error, Result};

/// `config.json` of a Llama-family checkpoint, key for key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// Vocabulary size (rows of `embed_tokens`).
    pub vocab_size: usize,
    /// Model width d.
    pub hidden_size: usize,
    /// Width of the SwiGLU MLP.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention); defaults to `num_attention_heads`.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Per-head width; defaults to `hidden_size / num_attention_heads`.
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// RMSNorm epsilon.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// RoPE scaling (Llama-3.1 `llama3`, or `linear`).
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    /// Longest context the model was trained for.
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Whether the LM head is `embed_tokens` (SmolLM2, Llama-3.2-1B).
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Biases on q/k/v/o.
    #[serde(default)]
    pub attention_bias: bool,
    /// Biases in the MLP.
    #[serde(default)]
    pub mlp_bias: bool,
    /// Activation of the MLP; only `silu` is a Llama.
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    /// Beginning-of-sequence token id.
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub bos_token_id: Option<super::TokenIds>,
    /// End-of-sequence token id(s).
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub eos_token_id: Option<super::TokenIds>,
}

fn default_rms_norm_eps() -> f64 {
    1e-6
}
fn default_rope_theta() -> f64 {
    10000.0
}
fn default_max_position_embeddings() -> usize {
    2048
}
fn default_hidden_act() -> String {
    "silu".into()
}

impl LlamaConfig {
    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.head_dim.unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    /// Key/value heads.
    pub fn num_kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// The decoder this config describes.
    pub(crate) fn shape(&self) -> LlamaShape {
        LlamaShape {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            num_kv_heads: self.num_kv_heads(),
            head_dim: self.head_dim(),
            rms_norm_eps: self.rms_norm_eps,
            rope_theta: self.rope_theta,
            rope_scaling: self.rope_scaling.clone(),
            tie_word_embeddings: self.tie_word_embeddings,
            qkv_bias: self.attention_bias,
            o_bias: self.attention_bias,
            mlp_bias: self.mlp_bias,
            qk_norm: QkNorm::None,
            clip_qkv: None,
            norm_weight_in_f32: false,
        }
    }

    /// The projections that LoRA `targets` adapt, layer by layer.
    pub fn lora_sites(&self, targets: &[LoraTarget]) -> Vec<LoraSite> {
        self.shape().lora_sites(targets)
    }

    /// Number of weights (the head counted once when tied).
    pub fn parameters(&self) -> usize {
        self.shape().parameters()
    }

    /// The largest weight matrix: its name and number of values (what must fit in one GPU buffer).
    pub fn largest_weight(&self) -> (&'static str, usize) {
        self.shape().largest_weight()
    }

    /// Checks the config; every message names the field and its value.
    pub fn validate(&self) -> Result<()> {
        if self.hidden_act != "silu" {
            return Err(Error::Config(format!("hidden_act = {:?}, a Llama uses \"silu\"", self.hidden_act)));
        }
        check_sizes(self.hidden_size, self.vocab_size, self.num_hidden_layers, self.num_attention_heads, self.num_key_value_heads, self.head_dim)
    }
}

/// The size checks every Llama-like config makes; every message names the field and its value.
pub(crate) fn check_sizes(hidden: usize, vocab: usize, layers: usize, heads: usize, kv_heads: Option<usize>, head_dim: Option<usize>) -> Result<()> {
    let bad = |m: String| Err(Error::Config(m));
    if heads == 0 || hidden == 0 || vocab == 0 || layers == 0 {
        return bad("hidden_size, vocab_size, num_hidden_layers and num_attention_heads must be positive".into());
    }
    if head_dim.is_none() && !hidden.is_multiple_of(heads) {
        return bad(format!("hidden_size {hidden} is not a multiple of num_attention_heads {heads}"));
    }
    let kv = kv_heads.unwrap_or(heads);
    if kv == 0 || !heads.is_multiple_of(kv) {
        return bad(format!("num_attention_heads {heads} is not a multiple of num_key_value_heads {kv}"));
    }
    let hd = head_dim.unwrap_or(hidden / heads);
    // heads x head_dim is a projection's width: a damaged config claims sizes past usize
    if hd == 0 || heads.checked_mul(hd).is_none_or(|w| w > 1 << 24) {
        return bad(format!("num_attention_heads {heads} x head_dim {hd} is not a projection width"));
    }
    Ok(())
}

/// The decoder of the Llama family and of the families transformers derives from it (Qwen2 adds q/k/v
/// biases, Qwen3 a per-head RMSNorm of q and k): sizes and which optional parts it has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LlamaShape {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub rope_scaling: Option<RopeScaling>,
    pub tie_word_embeddings: bool,
    /// Biases on q_proj, k_proj, v_proj.
    pub qkv_bias: bool,
    /// A bias on o_proj.
    pub o_bias: bool,
    /// Biases in the MLP.
    pub mlp_bias: bool,
    /// `q_norm` and `k_norm`, RMSNorms of the queries and keys before RoPE.
    pub qk_norm: QkNorm,
    /// Queries, keys and values clamped to `[-clip_qkv, clip_qkv]` after their projections (OLMo).
    pub clip_qkv: Option<f64>,
    /// RMSNorms multiply by their weight in f32 and then cast (OLMo-2's `weight * x`), rather than
    /// cast and then multiply (Llama's `weight * x.to(dtype)`): the same in f32.
    pub norm_weight_in_f32: bool,
}

/// Where `q_norm` and `k_norm` normalise the queries and keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QkNorm {
    /// No q/k norm (Llama, Qwen2, OLMo).
    None,
    /// Over each head, `head_dim` wide (Qwen3).
    PerHead,
    /// Over the whole projection, `heads * head_dim` wide, before the split into heads (OLMo-2).
    Whole,
}

impl LlamaShape {
    /// Query and key/value projection widths.
    fn widths(&self) -> (usize, usize) {
        (self.num_attention_heads * self.head_dim, self.num_kv_heads * self.head_dim)
    }

    /// The projections that LoRA `targets` adapt, layer by layer.
    pub fn lora_sites(&self, targets: &[LoraTarget]) -> Vec<LoraSite> {
        let (d, i) = (self.hidden_size, self.intermediate_size);
        let (q, kv) = self.widths();
        lora::sites(self.num_hidden_layers, targets, |target| match target {
            LoraTarget::Q => vec![("q_proj", d, q)],
            LoraTarget::K => vec![("k_proj", d, kv)],
            LoraTarget::V => vec![("v_proj", d, kv)],
            LoraTarget::O => vec![("o_proj", q, d)],
            LoraTarget::Mlp => vec![("gate_proj", d, i), ("up_proj", d, i), ("down_proj", i, d)],
            // a state-space model\'s projections
            LoraTarget::InProj | LoraTarget::XProj | LoraTarget::DtProj | LoraTarget::OutProj => vec![],
        })
    }

    /// Number of weights (the head counted once when tied).
    pub fn parameters(&self) -> usize {
        let (d, i) = (self.hidden_size, self.intermediate_size);
        let (q, kv) = self.widths();
        let attn = d * q * 2 + d * kv * 2;
        let attn_bias = usize::from(self.qkv_bias) * (q + 2 * kv) + usize::from(self.o_bias) * d;
        let qk_norm = match self.qk_norm {
            QkNorm::None => 0,
            QkNorm::PerHead => 2 * self.head_dim,
            QkNorm::Whole => q + kv,
        };
        let mlp = 3 * d * i + usize::from(self.mlp_bias) * (2 * i + d);
        let layer = attn + attn_bias + qk_norm + mlp + 2 * d;
        let head = if self.tie_word_embeddings { 0 } else { self.vocab_size * d };
        self.vocab_size * d + self.num_hidden_layers * layer + d + head
    }

    /// The largest weight matrix: its name and number of values (what must fit in one GPU buffer).
    pub fn largest_weight(&self) -> (&'static str, usize) {
        let (d, v) = (self.hidden_size, self.vocab_size);
        let candidates = [("embedding", v * d), ("MLP projection", d * self.intermediate_size), ("query projection", d * self.widths().0)];
        candidates.into_iter().max_by_key(|&(_, n)| n).expect("three candidates")
    }

    /// Values a layer keeps per position for the backward pass, besides the attention scores and
    /// probabilities: norm in/out (2d), q k v (q + 2kv), rotated q k (q + kv), attention output before
    /// and after the head merge (2q), o_proj out and the residual (2d), second norm in/out (2d), gate,
    /// up, silu, product (4i), down out (d); grouped-query attention repeats the keys and values up to
    /// the query heads (2q); q/k norms keep their outputs (q + kv).
    pub fn activation_values_per_position(&self) -> u64 {
        let (d, i) = (self.hidden_size as u64, self.intermediate_size as u64);
        let (q, kv) = self.widths();
        let (q, kv) = (q as u64, kv as u64);
        let repeated = if self.num_kv_heads < self.num_attention_heads { 2 * q } else { 0 };
        let qk_norm = if self.qk_norm == QkNorm::None { 0 } else { q + kv };
        7 * d + 4 * i + 3 * q + 3 * kv + 2 * q + repeated + qk_norm
    }
}

/// Root-mean-square layer norm (Zhang & Sennrich 2019), in f32, over the last dimension.
#[derive(Debug, Clone)]
pub struct LlamaRmsNorm {
    weight: Tensor<1>,
    eps: f64,
    /// Multiply by the weight in f32, then cast (OLMo-2); else cast, then multiply (Llama).
    weight_in_f32: bool,
}

impl LlamaRmsNorm {
    pub(crate) fn load(w: &Weights, size: usize, cfg: &LlamaShape) -> Result<Self> {
        Ok(Self { weight: w.get("weight", [size])?, eps: cfg.rms_norm_eps, weight_in_f32: cfg.norm_weight_in_f32 })
    }

    /// # Shapes
    /// `[..., d]` → `[..., d]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        // in f32 whatever the weights' dtype (as transformers does)
        let dtype = x.dtype();
        let x = x.cast(FloatDType::F32);
        let variance = x.clone().square().mean_dim(D - 1);
        let normed = x * (variance.add_scalar(self.eps)).sqrt().recip();
        let weight = self.weight.clone().unsqueeze::<D>();
        if self.weight_in_f32 { (normed * weight.cast(FloatDType::F32)).cast(dtype) } else { normed.cast(dtype) * weight }
    }
}

/// SwiGLU: `down(silu(gate(x)) * up(x))`.
#[derive(Debug, Clone)]
pub struct LlamaMlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl LlamaMlp {
    pub(crate) fn load(w: &Weights, cfg: &LlamaShape) -> Result<Self> {
        let (d, i, b) = (cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias);
        Ok(Self {
            gate_proj: Linear::load(&w.pp("gate_proj"), d, i, b)?,
            up_proj: Linear::load(&w.pp("up_proj"), d, i, b)?,
            down_proj: Linear::load(&w.pp("down_proj"), i, d, b)?,
        })
    }

    pub(crate) fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.down_proj.forward(silu(self.gate_proj.forward(x.clone())) * self.up_proj.forward(x))
    }

    /// Puts the adapters of layer `i` in `set` on the projections (the LoRA method).
    pub(crate) fn set_lora(&mut self, set: &LoraSet, i: usize) {
        self.gate_proj.lora = set.get(i, "gate_proj");
        self.up_proj.lora = set.get(i, "up_proj");
        self.down_proj.lora = set.get(i, "down_proj");
    }
}

/// Causal self-attention with grouped-query heads and rotary positions; with `q_norm` and `k_norm`
/// (Qwen3 per head, OLMo-2 over the whole projection), q and k are RMS-normalised before the
/// rotation; with `clip_qkv` (OLMo), q, k and v are clamped after their projections.
#[derive(Debug, Clone)]
pub struct LlamaAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: Option<LlamaRmsNorm>,
    k_norm: Option<LlamaRmsNorm>,
    qk_norm: QkNorm,
    clip_qkv: Option<f64>,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
}

impl LlamaAttention {
    pub(crate) fn load(w: &Weights, cfg: &LlamaShape) -> Result<Self> {
        let (d, hd) = (cfg.hidden_size, cfg.head_dim);
        let (q, kv) = cfg.widths();
        let norm = |name: &str, whole: usize| match cfg.qk_norm {
            QkNorm::None => Ok(None),
            QkNorm::PerHead => LlamaRmsNorm::load(&w.pp(name), hd, cfg).map(Some),
            QkNorm::Whole => LlamaRmsNorm::load(&w.pp(name), whole, cfg).map(Some),
        };
        Ok(Self {
            q_proj: Linear::load(&w.pp("q_proj"), d, q, cfg.qkv_bias)?,
            k_proj: Linear::load(&w.pp("k_proj"), d, kv, cfg.qkv_bias)?,
            v_proj: Linear::load(&w.pp("v_proj"), d, kv, cfg.qkv_bias)?,
            o_proj: Linear::load(&w.pp("o_proj"), q, d, cfg.o_bias)?,
            q_norm: norm("q_norm", q)?,
            k_norm: norm("k_norm", kv)?,
            qk_norm: cfg.qk_norm,
            clip_qkv: cfg.clip_qkv,
            num_heads: cfg.num_attention_heads,
            num_kv_heads: cfg.num_kv_heads,
            head_dim: hd,
        })
    }

    pub(crate) fn forward(&self, x: Tensor<3>, rope: &Rope, cos: &Tensor<4>, sin: &Tensor<4>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let [batch, seq, _] = x.dims();
        let heads = |t: Tensor<3>, n: usize, norm: &Option<LlamaRmsNorm>| {
            let t = match self.clip_qkv {
                Some(c) => t.clamp(-c, c),
                None => t,
            };
            let t = match (norm, self.qk_norm) {
                (Some(norm), QkNorm::Whole) => norm.forward(t),
                _ => t,
            };
            // [batch, seq, n * head_dim] -> [batch, seq, n, head_dim] (-> per-head norm) -> [batch, n, seq, head_dim]
            let t = t.reshape([batch, seq, n, self.head_dim]);
            let t = match (norm, self.qk_norm) {
                (Some(norm), QkNorm::PerHead) => norm.forward(t),
                _ => t,
            };
            t.swap_dims(1, 2)
        };
        let q = rope.apply(heads(self.q_proj.forward(x.clone()), self.num_heads, &self.q_norm), cos, sin);
        let k = rope.apply(heads(self.k_proj.forward(x.clone()), self.num_kv_heads, &self.k_norm), cos, sin);
        let v = heads(self.v_proj.forward(x), self.num_kv_heads, &None);
        // with a cache: the keys and values of earlier positions come first
        let (k, v) = match cache {
            Some(cache) => cache.append(k, v),
            None => (k, v),
        };
        let k = repeat_kv(k, self.num_heads / self.num_kv_heads);
        let v = repeat_kv(v, self.num_heads / self.num_kv_heads);
        let out = causal_attention(q, k, v);
        // [batch, heads, seq, head_dim] -> [batch, seq, heads * head_dim]
        let out = out.swap_dims(1, 2).reshape([batch, seq, self.num_heads * self.head_dim]);
        self.o_proj.forward(out)
    }

    /// Puts the adapters of layer `i` in `set` on the projections (the LoRA method).
    pub(crate) fn set_lora(&mut self, set: &LoraSet, i: usize) {
        self.q_proj.lora = set.get(i, "q_proj");
        self.k_proj.lora = set.get(i, "k_proj");
        self.v_proj.lora = set.get(i, "v_proj");
        self.o_proj.lora = set.get(i, "o_proj");
    }
}

/// Each key/value head serves `n_rep` query heads.
///
/// # Shapes
/// `[batch, kv_heads, seq, head_dim]` → `[batch, kv_heads * n_rep, seq, head_dim]`
pub(crate) fn repeat_kv(x: Tensor<4>, n_rep: usize) -> Tensor<4> {
    if n_rep == 1 {
        return x;
    }
    let [b, h, s, d] = x.dims();
    x.unsqueeze_dim::<5>(2).expand([b, h, n_rep, s, d]).reshape([b, h * n_rep, s, d])
}

/// One pre-norm decoder layer: `x + attn(norm(x))`, then `h + mlp(norm(h))`.
#[derive(Debug, Clone)]
pub struct LlamaDecoderLayer {
    input_layernorm: LlamaRmsNorm,
    self_attn: LlamaAttention,
    post_attention_layernorm: LlamaRmsNorm,
    mlp: LlamaMlp,
}

impl LlamaDecoderLayer {
    fn load(w: &Weights, cfg: &LlamaShape) -> Result<Self> {
        Ok(Self {
            input_layernorm: LlamaRmsNorm::load(&w.pp("input_layernorm"), cfg.hidden_size, cfg)?,
            self_attn: LlamaAttention::load(&w.pp("self_attn"), cfg)?,
            post_attention_layernorm: LlamaRmsNorm::load(&w.pp("post_attention_layernorm"), cfg.hidden_size, cfg)?,
            mlp: LlamaMlp::load(&w.pp("mlp"), cfg)?,
        })
    }
}

impl DecoderLayer for LlamaDecoderLayer {
    fn forward(&self, x: Tensor<3>, rope: &Rope, cos: &Tensor<4>, sin: &Tensor<4>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let h = x.clone() + self.self_attn.forward(self.input_layernorm.forward(x), rope, cos, sin, cache);
        h.clone() + self.mlp.forward(self.post_attention_layernorm.forward(h))
    }
}

/// The decoder stack with its LM head, built from a config `C` of the Llama family or of a family
/// derived from it (Qwen2, Qwen3).
#[derive(Debug, Clone)]
pub struct LlamaForCausalLM<C = LlamaConfig> {
    /// The config it was built from.
    pub config: C,
    embed_tokens: Embedding,
    layers: Vec<LlamaDecoderLayer>,
    norm: LlamaRmsNorm,
    /// `[d, vocab]`: `lm_head` or, when tied, `embed_tokens` transposed.
    lm_head: Linear,
    rope: Rope,
}

/// `model.embed_tokens` and the LM head (`lm_head`, or `embed_tokens` transposed when tied), as every
/// family with Llama's checkpoint names stores them.
pub(crate) fn embed_tokens_and_head(w: &Weights, cfg: &LlamaShape) -> Result<(Embedding, Linear)> {
    let (v, d) = (cfg.vocab_size, cfg.hidden_size);
    let embed = w.pp("model").pp("embed_tokens").host("weight", &[v, d])?;
    let lm_head = if cfg.tie_word_embeddings || !w.contains("lm_head.weight")? {
        if !cfg.tie_word_embeddings {
            return Err(Error::MissingTensor { name: "lm_head.weight".into() });
        }
        Linear::tied(w, &embed.data, v, d)
    } else {
        Linear::load(&w.pp("lm_head"), d, v, false)?
    };
    Ok((Embedding::new(w.upload(embed.data, [v, d])), lm_head))
}

impl<C> LlamaForCausalLM<C> {
    /// Builds the decoder `cfg` describes from weights under the checkpoint's names
    /// (`model.layers.0.self_attn.q_proj.weight`, ...); `config` is kept as the model's.
    pub(crate) fn build(config: C, cfg: &LlamaShape, w: &Weights) -> Result<Self> {
        let m = w.pp("model");
        let d = cfg.hidden_size;
        let (embed_tokens, lm_head) = embed_tokens_and_head(w, cfg)?;
        let layers = (0..cfg.num_hidden_layers).map(|i| LlamaDecoderLayer::load(&m.pp(format!("layers.{i}")), cfg)).collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config,
            embed_tokens,
            layers,
            norm: LlamaRmsNorm::load(&m.pp("norm"), d, cfg)?,
            lm_head,
            rope: Rope::new(cfg.head_dim, cfg.rope_theta, cfg.rope_scaling.as_ref())?,
        })
    }
}

impl<C: Clone> LlamaForCausalLM<C> {
    /// The same frozen model with the adapters of `set` on their projections (the LoRA method).
    pub fn with_lora(&self, set: &LoraSet) -> Self {
        let mut model = self.clone();
        for (i, layer) in model.layers.iter_mut().enumerate() {
            layer.self_attn.set_lora(set, i);
            layer.mlp.set_lora(set, i);
        }
        model
    }
}

impl LlamaForCausalLM {
    /// Builds the model from weights under the checkpoint's names (`model.layers.0.self_attn.q_proj.weight`, ...).
    pub fn load(cfg: &LlamaConfig, w: &Weights) -> Result<Self> {
        cfg.validate()?;
        Self::build(cfg.clone(), &cfg.shape(), w)
    }
}

impl<C: std::fmt::Debug> CausalLm for LlamaForCausalLM<C> {
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

impl FamilyConfig for LlamaConfig {
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
        LlamaConfig::validate(self)
    }
}

impl Family for LlamaConfig {
    type Model = LlamaForCausalLM;
    const MODEL_TYPE: &'static str = "llama";
    const GGUF_ARCH: Option<&'static str> = Some("llama");
    const GGUF_NAMES: &'static [(&'static str, &'static str)] = LLAMA_GGUF_NAMES;

    fn load(&self, weights: &Weights) -> Result<Self::Model> {
        LlamaForCausalLM::load(self, weights)
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
        c.num_key_value_heads = Some(c.num_kv_heads());
        c.rms_norm_eps = f32_round(c.rms_norm_eps);
        c.rope_theta = f32_round(c.rope_theta);
        (c.bos_token_id, c.eos_token_id) = (None, None);
        c
    }

    fn from_gguf(g: &GgufView) -> Result<Self> {
        let m = g.common()?;
        let head_dim = g.opt_u64(&g.key("attention.key_length"))?.map(|v| v as usize);
        let rope_scaling = match g.file().get(&g.key("rope.scaling.type")).and_then(|v| v.as_str()) {
            Some("linear") => Some(RopeScaling {
                rope_type: "linear".into(),
                factor: g.opt_f64(&g.key("rope.scaling.factor"))?.unwrap_or(1.0),
                low_freq_factor: None,
                high_freq_factor: None,
                original_max_position_embeddings: None,
            }),
            _ => None,
        };
        if g.has_tensor("rope_freqs.weight") {
            // Llama-3.1 GGUFs carry the llama3 scaling as precomputed `rope_freqs` factors.
            return Err(Error::Config(format!(
                "{}: this GGUF stores Llama-3.1 rope scaling as `rope_freqs`, which cram does not read yet; load the Hugging Face folder instead",
                g.path()
            )));
        }
        Ok(LlamaConfig {
            vocab_size: m.vocab,
            hidden_size: m.hidden,
            intermediate_size: m.ffn,
            num_hidden_layers: m.layers,
            num_attention_heads: m.heads,
            num_key_value_heads: Some(m.kv_heads),
            head_dim: head_dim.filter(|&h| h != m.hidden / m.heads),
            rms_norm_eps: g.opt_f64(&g.key("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-5),
            rope_theta: g.opt_f64(&g.key("rope.freq_base"))?.unwrap_or(10000.0),
            rope_scaling,
            max_position_embeddings: m.context,
            tie_word_embeddings: !g.has_tensor("output.weight"),
            attention_bias: g.has_tensor("blk.0.attn_q.bias"),
            mlp_bias: false,
            hidden_act: "silu".into(),
            bos_token_id: m.bos.map(TokenIds::One),
            eos_token_id: m.eos.map(TokenIds::One),
        })
    }

    fn gguf_tensor(gguf_name: &str, tensor: HostTensor, heads: (usize, usize)) -> Result<HostTensor> {
        let data = unpermute_llama_qk(gguf_name, &tensor.shape, tensor.data, heads)?;
        Ok(HostTensor { data, shape: tensor.shape })
    }
}

/// llama.cpp stores Q and K rows permuted for its interleaved rotation (archs `llama`, `olmo`); this
/// undoes it for the tensor `gguf_name` (other tensors pass unchanged).
pub(crate) fn unpermute_llama_qk(gguf_name: &str, shape: &[usize], data: Vec<f32>, heads: (usize, usize)) -> Result<Vec<f32>> {
    let n_head = if gguf_name.ends_with("attn_q.weight") {
        heads.0
    } else if gguf_name.ends_with("attn_k.weight") {
        heads.1
    } else {
        return Ok(data);
    };
    let [rows, cols] = shape else { return Ok(data) };
    if n_head == 0 || rows % (2 * n_head) != 0 {
        return Err(Error::ShapeMismatch { name: gguf_name.into(), expected: vec![2 * n_head, *cols], got: shape.to_vec() });
    }
    Ok(unpermute_qk(&data, *rows, *cols, n_head))
}

/// `(hugging face, gguf)` for arch `llama` (llama.cpp's `convert_hf_to_gguf.py`); `{i}` is the layer.
pub(crate) const LLAMA_GGUF_NAMES: &[(&str, &str)] = &[
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
    ("model.layers.{i}.post_attention_layernorm.weight", "blk.{i}.ffn_norm.weight"),
    ("model.layers.{i}.mlp.gate_proj.weight", "blk.{i}.ffn_gate.weight"),
    ("model.layers.{i}.mlp.up_proj.weight", "blk.{i}.ffn_up.weight"),
    ("model.layers.{i}.mlp.down_proj.weight", "blk.{i}.ffn_down.weight"),
];
