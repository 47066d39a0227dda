//! The Llama family: Llama-2/3/3.1/3.2, SmolLM/SmolLM2, TinyLlama, Sheared-LLaMA.
//!
//! Touvron et al., "LLaMA: Open and Efficient Foundation Language Models" (2023), and the Llama-3
//! report (2024). Follows transformers' `models/llama/modeling_llama.py`: pre-norm decoder layers with
//! RMSNorm, grouped-query attention with rotary embeddings (`rotate_half` layout), a SwiGLU MLP, an
//! optional tied LM head. Field names are the checkpoint's (`embed_tokens`, `self_attn`, `q_proj`, ...).

use burn::tensor::activation::silu;
use burn::tensor::{FloatDType, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::kv_cache::{KvCache, LayerKv};
use super::layers::{DecoderLayer, Embedding, Linear, causal_attention, decoder_stack};
use super::lora::{self, LoraSet, LoraSite, LoraTarget};
use super::rope::{Rope, RopeScaling};
use crate::weights::Weights;
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

    /// The projections that LoRA `targets` adapt, layer by layer.
    pub fn lora_sites(&self, targets: &[LoraTarget]) -> Vec<LoraSite> {
        let (d, i) = (self.hidden_size, self.intermediate_size);
        let (q, kv) = (self.num_attention_heads * self.head_dim(), self.num_kv_heads() * self.head_dim());
        lora::sites(self.num_hidden_layers, targets, |target| match target {
            LoraTarget::Q => vec![("q_proj", d, q)],
            LoraTarget::K => vec![("k_proj", d, kv)],
            LoraTarget::V => vec![("v_proj", d, kv)],
            LoraTarget::O => vec![("o_proj", q, d)],
            LoraTarget::Mlp => vec![("gate_proj", d, i), ("up_proj", d, i), ("down_proj", i, d)],
        })
    }

    /// Number of weights (the head counted once when tied).
    pub fn parameters(&self) -> usize {
        let (d, hd, kv) = (self.hidden_size, self.head_dim(), self.num_kv_heads());
        let attn = d * self.num_attention_heads * hd * 2 + d * kv * hd * 2;
        let mlp = 3 * d * self.intermediate_size;
        let layer = attn + mlp + 2 * d;
        let head = if self.tie_word_embeddings { 0 } else { self.vocab_size * d };
        self.vocab_size * d + self.num_hidden_layers * layer + d + head
    }

    /// The largest weight matrix: its name and number of values (what must fit in one GPU buffer).
    pub fn largest_weight(&self) -> (&'static str, usize) {
        let (d, v) = (self.hidden_size, self.vocab_size);
        let candidates =
            [("embedding", v * d), ("MLP projection", d * self.intermediate_size), ("query projection", d * self.num_attention_heads * self.head_dim())];
        candidates.into_iter().max_by_key(|&(_, n)| n).expect("three candidates")
    }

    /// Checks the config; every message names the field and its value.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.hidden_act != "silu" {
            return bad(format!("hidden_act = {:?}, a Llama uses \"silu\"", self.hidden_act));
        }
        if self.num_attention_heads == 0 || self.hidden_size == 0 || self.vocab_size == 0 || self.num_hidden_layers == 0 {
            return bad("hidden_size, vocab_size, num_hidden_layers and num_attention_heads must be positive".into());
        }
        if self.head_dim.is_none() && !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(format!("hidden_size {} is not a multiple of num_attention_heads {}", self.hidden_size, self.num_attention_heads));
        }
        if self.num_kv_heads() == 0 || !self.num_attention_heads.is_multiple_of(self.num_kv_heads()) {
            return bad(format!("num_attention_heads {} is not a multiple of num_key_value_heads {}", self.num_attention_heads, self.num_kv_heads()));
        }
        // heads x head_dim is a projection's width: a damaged config claims sizes past usize
        if self.head_dim() == 0 || self.num_attention_heads.checked_mul(self.head_dim()).is_none_or(|w| w > 1 << 24) {
            return bad(format!("num_attention_heads {} x head_dim {} is not a projection width", self.num_attention_heads, self.head_dim()));
        }
        Ok(())
    }
}

/// Root-mean-square layer norm (Zhang & Sennrich 2019), in f32.
#[derive(Debug, Clone)]
pub struct LlamaRmsNorm {
    weight: Tensor<1>,
    eps: f64,
}

impl LlamaRmsNorm {
    fn load(w: &Weights, size: usize, eps: f64) -> Result<Self> {
        Ok(Self { weight: w.get("weight", [size])?, eps })
    }

    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        // in f32 whatever the weights' dtype, cast back before the weight (as transformers does)
        let dtype = x.dtype();
        let x = x.cast(FloatDType::F32);
        let variance = x.clone().square().mean_dim(2);
        (x * (variance.add_scalar(self.eps)).sqrt().recip()).cast(dtype) * self.weight.clone().unsqueeze::<3>()
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
    fn load(w: &Weights, cfg: &LlamaConfig) -> Result<Self> {
        let (d, i, b) = (cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias);
        Ok(Self {
            gate_proj: Linear::load(&w.pp("gate_proj"), d, i, b)?,
            up_proj: Linear::load(&w.pp("up_proj"), d, i, b)?,
            down_proj: Linear::load(&w.pp("down_proj"), i, d, b)?,
        })
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.down_proj.forward(silu(self.gate_proj.forward(x.clone())) * self.up_proj.forward(x))
    }
}

/// Causal self-attention with grouped-query heads and rotary positions.
#[derive(Debug, Clone)]
pub struct LlamaAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
}

impl LlamaAttention {
    fn load(w: &Weights, cfg: &LlamaConfig) -> Result<Self> {
        let (d, hd, b) = (cfg.hidden_size, cfg.head_dim(), cfg.attention_bias);
        Ok(Self {
            q_proj: Linear::load(&w.pp("q_proj"), d, cfg.num_attention_heads * hd, b)?,
            k_proj: Linear::load(&w.pp("k_proj"), d, cfg.num_kv_heads() * hd, b)?,
            v_proj: Linear::load(&w.pp("v_proj"), d, cfg.num_kv_heads() * hd, b)?,
            o_proj: Linear::load(&w.pp("o_proj"), cfg.num_attention_heads * hd, d, b)?,
            num_heads: cfg.num_attention_heads,
            num_kv_heads: cfg.num_kv_heads(),
            head_dim: hd,
        })
    }

    fn forward(&self, x: Tensor<3>, rope: &Rope, cos: &Tensor<4>, sin: &Tensor<4>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let [batch, seq, _] = x.dims();
        let heads = |t: Tensor<3>, n: usize| {
            // [batch, seq, n * head_dim] -> [batch, n, seq, head_dim]
            t.reshape([batch, seq, n, self.head_dim]).swap_dims(1, 2)
        };
        let q = rope.apply(heads(self.q_proj.forward(x.clone()), self.num_heads), cos, sin);
        let k = rope.apply(heads(self.k_proj.forward(x.clone()), self.num_kv_heads), cos, sin);
        let v = heads(self.v_proj.forward(x), self.num_kv_heads);
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
    fn load(w: &Weights, cfg: &LlamaConfig) -> Result<Self> {
        Ok(Self {
            input_layernorm: LlamaRmsNorm::load(&w.pp("input_layernorm"), cfg.hidden_size, cfg.rms_norm_eps)?,
            self_attn: LlamaAttention::load(&w.pp("self_attn"), cfg)?,
            post_attention_layernorm: LlamaRmsNorm::load(&w.pp("post_attention_layernorm"), cfg.hidden_size, cfg.rms_norm_eps)?,
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

/// The decoder stack with its LM head.
#[derive(Debug, Clone)]
pub struct LlamaForCausalLM {
    /// The config it was built from.
    pub config: LlamaConfig,
    embed_tokens: Embedding,
    layers: Vec<LlamaDecoderLayer>,
    norm: LlamaRmsNorm,
    /// `[d, vocab]`: `lm_head` or, when tied, `embed_tokens` transposed.
    lm_head: Linear,
    rope: Rope,
}

impl LlamaForCausalLM {
    /// Builds the model from weights under the checkpoint's names (`model.layers.0.self_attn.q_proj.weight`, ...).
    pub fn load(cfg: &LlamaConfig, w: &Weights) -> Result<Self> {
        cfg.validate()?;
        let m = w.pp("model");
        let (v, d) = (cfg.vocab_size, cfg.hidden_size);
        let embed = m.pp("embed_tokens").host("weight", &[v, d])?;
        let lm_head = if cfg.tie_word_embeddings || !w.contains("lm_head.weight")? {
            if !cfg.tie_word_embeddings {
                return Err(Error::MissingTensor { name: "lm_head.weight".into() });
            }
            Linear::tied(w, &embed.data, v, d)
        } else {
            Linear::load(&w.pp("lm_head"), d, v, false)?
        };
        let layers = (0..cfg.num_hidden_layers).map(|i| LlamaDecoderLayer::load(&m.pp(format!("layers.{i}")), cfg)).collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config: cfg.clone(),
            embed_tokens: Embedding::new(w.upload(embed.data, [v, d])),
            layers,
            norm: LlamaRmsNorm::load(&m.pp("norm"), d, cfg.rms_norm_eps)?,
            lm_head,
            rope: Rope::new(cfg.head_dim(), cfg.rope_theta, cfg.rope_scaling.as_ref())?,
        })
    }

    /// The same frozen model with the adapters of `set` on their projections (the LoRA method).
    pub fn with_lora(&self, set: &LoraSet) -> Self {
        let mut model = self.clone();
        for (i, layer) in model.layers.iter_mut().enumerate() {
            let attn = &mut layer.self_attn;
            attn.q_proj.lora = set.get(i, "q_proj");
            attn.k_proj.lora = set.get(i, "k_proj");
            attn.v_proj.lora = set.get(i, "v_proj");
            attn.o_proj.lora = set.get(i, "o_proj");
            let mlp = &mut layer.mlp;
            mlp.gate_proj.lora = set.get(i, "gate_proj");
            mlp.up_proj.lora = set.get(i, "up_proj");
            mlp.down_proj.lora = set.get(i, "down_proj");
        }
        model
    }

    /// Token embeddings.
    ///
    /// # Shapes
    /// `[batch, seq]` → `[batch, seq, d]`
    pub fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embed_tokens.forward(ids)
    }

    /// The input-embedding matrix `[vocab, d]`.
    pub fn embedding_matrix(&self) -> &Tensor<2> {
        self.embed_tokens.weight()
    }

    /// Final hidden states (after the last norm) for input embeddings at positions `0..seq`, or, with
    /// a cache, at the positions after those it holds (the cache takes in the new keys and values).
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn hidden_states(&self, inputs_embeds: Tensor<3>, cache: Option<&mut KvCache>) -> Tensor<3> {
        self.norm.forward(decoder_stack(&self.layers, &self.rope, inputs_embeds, cache))
    }

    /// Decoder layer `index` alone, at positions `0..seq` and without a cache: the unit that
    /// activation checkpointing recomputes.
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn decoder_layer(&self, index: usize, x: Tensor<3>) -> Tensor<3> {
        decoder_stack(&self.layers[index..=index], &self.rope, x, None)
    }

    /// The norm after the last layer.
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn final_norm(&self, x: Tensor<3>) -> Tensor<3> {
        self.norm.forward(x)
    }

    /// Logits for hidden states.
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, vocab]`
    pub fn lm_head(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.lm_head.forward(hidden)
    }
}
