//! GPT-NeoX and Pythia.
//!
//! Black et al., "GPT-NeoX-20B" (2022); Biderman et al., "Pythia" (2023). Follows transformers'
//! `models/gpt_neox/modeling_gpt_neox.py`: LayerNorm, a fused `query_key_value` projection laid out
//! per head (`[n_head, 3, head_dim]`), partial rotary embeddings (`rotary_pct` of each head, NeoX
//! `rotate_half` style), exact GELU, an optional parallel residual, an untied `embed_out` head.

use burn::tensor::{FloatDType, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::TokenIds;
use super::family::{CausalLm, Family, FamilyConfig, f32_round};
use super::kv_cache::{KvCache, LayerKv};
use super::layers::{DecoderLayer, Embedding, Linear, causal_attention, decoder_stack};
use super::lora::{self, Lora, LoraSet, LoraSite, LoraTarget};
use super::rope::{Rope, RopeScaling};
use crate::weights::{HostTensor, Weights};
use crate::weights::gguf_view::GgufView;
use crate::weights::names::neox_qkv_per_head;
use crate::{Error, Result};

/// `config.json` of a GPT-NeoX checkpoint, key for key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GptNeoxConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width d.
    pub hidden_size: usize,
    /// Layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Share of each head that is rotated.
    #[serde(default = "default_rotary_pct")]
    pub rotary_pct: f64,
    /// RoPE base.
    #[serde(default = "default_rotary_emb_base")]
    pub rotary_emb_base: f64,
    /// RoPE scaling, rarely used by NeoX checkpoints.
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    /// LayerNorm epsilon.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// `x + attn(ln1(x)) + mlp(ln2(x))` instead of the sequential residual.
    #[serde(default = "yes")]
    pub use_parallel_residual: bool,
    /// Activation; Pythia uses exact `gelu`.
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    /// Biases on the attention projections.
    #[serde(default = "yes")]
    pub attention_bias: bool,
    /// Whether `embed_out` is `embed_in` (never for Pythia).
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Longest context.
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Beginning-of-sequence token id.
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub bos_token_id: Option<super::TokenIds>,
    /// End-of-sequence token id.
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub eos_token_id: Option<super::TokenIds>,
}

fn default_rotary_pct() -> f64 {
    0.25
}
fn default_rotary_emb_base() -> f64 {
    10000.0
}
fn default_layer_norm_eps() -> f64 {
    1e-5
}
fn default_hidden_act() -> String {
    "gelu".into()
}
fn default_max_position_embeddings() -> usize {
    2048
}
fn yes() -> bool {
    true
}

impl GptNeoxConfig {
    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Rotated features per head.
    pub fn rotary_ndims(&self) -> usize {
        (self.head_dim() as f64 * self.rotary_pct) as usize
    }

    /// The projections that LoRA `targets` adapt, layer by layer; q, k and v are the three parts of the
    /// fused `query_key_value`, each adapted on its own.
    pub fn lora_sites(&self, targets: &[LoraTarget]) -> Vec<LoraSite> {
        let (d, i) = (self.hidden_size, self.intermediate_size);
        lora::sites(self.num_hidden_layers, targets, |target| match target {
            LoraTarget::Q => vec![("query", d, d)],
            LoraTarget::K => vec![("key", d, d)],
            LoraTarget::V => vec![("value", d, d)],
            LoraTarget::O => vec![("dense", d, d)],
            LoraTarget::Mlp => vec![("dense_h_to_4h", d, i), ("dense_4h_to_h", i, d)],
            // a state-space model\'s projections
            LoraTarget::InProj | LoraTarget::XProj | LoraTarget::DtProj | LoraTarget::OutProj => vec![],
        })
    }

    /// Number of weights (the head counted once when tied).
    pub fn parameters(&self) -> usize {
        let (d, i) = (self.hidden_size, self.intermediate_size);
        let b = usize::from(self.attention_bias);
        let layer = 3 * d * d + 3 * d * b + d * d + d * b + 2 * d * i + i + d + 4 * d;
        let head = if self.tie_word_embeddings { 0 } else { self.vocab_size * d };
        self.vocab_size * d + self.num_hidden_layers * layer + 2 * d + head
    }

    /// The largest weight matrix: its name and number of values (what must fit in one GPU buffer).
    pub fn largest_weight(&self) -> (&'static str, usize) {
        let (d, v) = (self.hidden_size, self.vocab_size);
        let candidates = [("embedding", v * d), ("MLP projection", d * self.intermediate_size), ("fused query_key_value", 3 * d * d)];
        candidates.into_iter().max_by_key(|&(_, n)| n).expect("three candidates")
    }

    /// Checks the config; every message names the field and its value.
    pub fn validate(&self) -> Result<()> {
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(Error::Config(format!("hidden_size {} is not a multiple of num_attention_heads {}", self.hidden_size, self.num_attention_heads)));
        }
        if self.hidden_act != "gelu" {
            return Err(Error::Config(format!("hidden_act = {:?}; cram's GPT-NeoX implements \"gelu\"", self.hidden_act)));
        }
        if !(0.0..=1.0).contains(&self.rotary_pct) {
            return Err(Error::Config(format!("rotary_pct = {} is outside [0, 1]", self.rotary_pct)));
        }
        Ok(())
    }
}

/// LayerNorm with weight and bias.
#[derive(Debug, Clone)]
pub struct GptNeoxLayerNorm {
    weight: Tensor<1>,
    bias: Tensor<1>,
    eps: f64,
}

impl GptNeoxLayerNorm {
    fn load(w: &Weights, size: usize, eps: f64) -> Result<Self> {
        Ok(Self { weight: w.get("weight", [size])?, bias: w.get("bias", [size])?, eps })
    }

    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        // normalised in f32 whatever the weights' dtype (autocast runs layer_norm in f32)
        let dtype = x.dtype();
        let x = x.cast(FloatDType::F32);
        let mean = x.clone().mean_dim(2);
        let centered = x - mean;
        let variance = centered.clone().square().mean_dim(2);
        (centered * variance.add_scalar(self.eps).sqrt().recip()).cast(dtype) * self.weight.clone().unsqueeze::<3>() + self.bias.clone().unsqueeze::<3>()
    }
}

/// `dense_4h_to_h(gelu(dense_h_to_4h(x)))`.
#[derive(Debug, Clone)]
pub struct GptNeoxMlp {
    dense_h_to_4h: Linear,
    dense_4h_to_h: Linear,
}

impl GptNeoxMlp {
    fn load(w: &Weights, cfg: &GptNeoxConfig) -> Result<Self> {
        Ok(Self {
            dense_h_to_4h: Linear::load(&w.pp("dense_h_to_4h"), cfg.hidden_size, cfg.intermediate_size, true)?,
            dense_4h_to_h: Linear::load(&w.pp("dense_4h_to_h"), cfg.intermediate_size, cfg.hidden_size, true)?,
        })
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.dense_4h_to_h.forward(gelu_exact(self.dense_h_to_4h.forward(x)))
    }
}

/// The exact GELU, `x * 0.5 * (1 + erf(x / sqrt 2))`, written out so that autodiff differentiates
/// `erf`: burn's fused `gelu` backward on the CubeCL backends (wgpu, cuda) is the derivative of the
/// tanh approximation, up to 8.7e-4 off the exact one.
fn gelu_exact(x: Tensor<3>) -> Tensor<3> {
    x.clone() * x.div_scalar(std::f64::consts::SQRT_2).erf().add_scalar(1.0).mul_scalar(0.5)
}

/// Causal self-attention with the fused, per-head `query_key_value` projection.
#[derive(Debug, Clone)]
pub struct GptNeoxAttention {
    query_key_value: Linear,
    dense: Linear,
    num_heads: usize,
    head_dim: usize,
    /// LoRA adapters of the query, key and value parts of `query_key_value` (the LoRA method).
    qkv_lora: [Option<Lora>; 3],
}

impl GptNeoxAttention {
    fn load(w: &Weights, cfg: &GptNeoxConfig) -> Result<Self> {
        let d = cfg.hidden_size;
        Ok(Self {
            query_key_value: Linear::load(&w.pp("query_key_value"), d, 3 * d, cfg.attention_bias)?,
            dense: Linear::load(&w.pp("dense"), d, d, cfg.attention_bias)?,
            num_heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
            qkv_lora: [None, None, None],
        })
    }

    fn forward(&self, x: Tensor<3>, rope: &Rope, cos: &Tensor<4>, sin: &Tensor<4>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let [batch, seq, _] = x.dims();
        let (h, hd) = (self.num_heads, self.head_dim);
        // [batch, seq, 3d] -> [batch, seq, heads, 3 * head_dim] -> [batch, heads, seq, 3 * head_dim]
        let qkv = self.query_key_value.forward(x.clone()).reshape([batch, seq, h, 3 * hd]).swap_dims(1, 2);
        // part i of each head: query, key, value; plus its LoRA adapter when one is trained
        let part = |i: usize| {
            let p = qkv.clone().narrow(3, i * hd, hd);
            match &self.qkv_lora[i] {
                // [batch, seq, d] -> [batch, heads, seq, head_dim]
                Some(lora) => p + lora.delta(x.clone()).reshape([batch, seq, h, hd]).swap_dims(1, 2),
                None => p,
            }
        };
        let q = rope.apply(part(0), cos, sin);
        let k = rope.apply(part(1), cos, sin);
        let v = part(2);
        // with a cache: the keys and values of earlier positions come first
        let (k, v) = match cache {
            Some(cache) => cache.append(k, v),
            None => (k, v),
        };
        let out = causal_attention(q, k, v);
        // [batch, heads, seq, head_dim] -> [batch, seq, d]
        self.dense.forward(out.swap_dims(1, 2).reshape([batch, seq, h * hd]))
    }
}

/// One GPT-NeoX layer.
#[derive(Debug, Clone)]
pub struct GptNeoxLayer {
    input_layernorm: GptNeoxLayerNorm,
    post_attention_layernorm: GptNeoxLayerNorm,
    attention: GptNeoxAttention,
    mlp: GptNeoxMlp,
    use_parallel_residual: bool,
}

impl GptNeoxLayer {
    fn load(w: &Weights, cfg: &GptNeoxConfig) -> Result<Self> {
        Ok(Self {
            input_layernorm: GptNeoxLayerNorm::load(&w.pp("input_layernorm"), cfg.hidden_size, cfg.layer_norm_eps)?,
            post_attention_layernorm: GptNeoxLayerNorm::load(&w.pp("post_attention_layernorm"), cfg.hidden_size, cfg.layer_norm_eps)?,
            attention: GptNeoxAttention::load(&w.pp("attention"), cfg)?,
            mlp: GptNeoxMlp::load(&w.pp("mlp"), cfg)?,
            use_parallel_residual: cfg.use_parallel_residual,
        })
    }
}

impl DecoderLayer for GptNeoxLayer {
    fn forward(&self, x: Tensor<3>, rope: &Rope, cos: &Tensor<4>, sin: &Tensor<4>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let attn = self.attention.forward(self.input_layernorm.forward(x.clone()), rope, cos, sin, cache);
        if self.use_parallel_residual {
            // x = x + attn(ln1(x)) + mlp(ln2(x))
            let mlp = self.mlp.forward(self.post_attention_layernorm.forward(x.clone()));
            x + attn + mlp
        } else {
            // h = x + attn(ln1(x)); x = h + mlp(ln2(h))
            let h = x + attn;
            h.clone() + self.mlp.forward(self.post_attention_layernorm.forward(h))
        }
    }
}

/// The GPT-NeoX stack with its `embed_out` head.
#[derive(Debug, Clone)]
pub struct GptNeoxForCausalLM {
    /// The config it was built from.
    pub config: GptNeoxConfig,
    embed_in: Embedding,
    layers: Vec<GptNeoxLayer>,
    final_layer_norm: GptNeoxLayerNorm,
    embed_out: Linear,
    rope: Rope,
}

impl GptNeoxForCausalLM {
    /// Builds the model from weights under the checkpoint's names (`gpt_neox.layers.0.attention.query_key_value.weight`, ...).
    pub fn load(cfg: &GptNeoxConfig, w: &Weights) -> Result<Self> {
        cfg.validate()?;
        let m = w.pp("gpt_neox");
        let (v, d) = (cfg.vocab_size, cfg.hidden_size);
        let layers = (0..cfg.num_hidden_layers).map(|i| GptNeoxLayer::load(&m.pp(format!("layers.{i}")), cfg)).collect::<Result<Vec<_>>>()?;
        let embed_out = if cfg.tie_word_embeddings {
            let e = m.pp("embed_in").host("weight", &[v, d])?;
            Linear::tied(w, &e.data, v, d)
        } else {
            Linear::load(&w.pp("embed_out"), d, v, false)?
        };
        Ok(Self {
            config: cfg.clone(),
            embed_in: Embedding::new(m.pp("embed_in").get("weight", [v, d])?),
            layers,
            final_layer_norm: GptNeoxLayerNorm::load(&m.pp("final_layer_norm"), d, cfg.layer_norm_eps)?,
            embed_out,
            rope: Rope::new(cfg.rotary_ndims(), cfg.rotary_emb_base, cfg.rope_scaling.as_ref())?,
        })
    }

    /// The same frozen model with the adapters of `set` on their projections (the LoRA method).
    pub fn with_lora(&self, set: &LoraSet) -> Self {
        let mut model = self.clone();
        for (i, layer) in model.layers.iter_mut().enumerate() {
            let attn = &mut layer.attention;
            attn.qkv_lora = ["query", "key", "value"].map(|part| set.get(i, part));
            attn.dense.lora = set.get(i, "dense");
            layer.mlp.dense_h_to_4h.lora = set.get(i, "dense_h_to_4h");
            layer.mlp.dense_4h_to_h.lora = set.get(i, "dense_4h_to_h");
        }
        model
    }
}

impl CausalLm for GptNeoxForCausalLM {
    fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embed_in.forward(ids)
    }

    fn embedding_matrix(&self) -> &Tensor<2> {
        self.embed_in.weight()
    }

    fn hidden_states(&self, inputs_embeds: Tensor<3>, cache: Option<&mut KvCache>) -> Tensor<3> {
        self.final_layer_norm.forward(decoder_stack(&self.layers, &self.rope, inputs_embeds, cache))
    }

    fn decoder_layer(&self, index: usize, x: Tensor<3>) -> Tensor<3> {
        decoder_stack(&self.layers[index..=index], &self.rope, x, None)
    }

    /// `final_layer_norm`.
    fn final_norm(&self, x: Tensor<3>) -> Tensor<3> {
        self.final_layer_norm.forward(x)
    }

    /// `embed_out`.
    fn lm_head(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.embed_out.forward(hidden)
    }
}

impl FamilyConfig for GptNeoxConfig {
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
        GptNeoxConfig::lora_sites(self, targets)
    }
    fn parameters(&self) -> usize {
        GptNeoxConfig::parameters(self)
    }
    fn largest_weight(&self) -> (&'static str, usize) {
        GptNeoxConfig::largest_weight(self)
    }
    /// Norms in/out (4d), fused qkv (3d), rotated q k (2d), attention output before and after the
    /// merge (2d), dense out (d), residuals (2d), dense_h_to_4h out and the exact GELU's erf terms
    /// (3i), dense_4h_to_h in and out (i + d).
    fn activation_values_per_position(&self) -> u64 {
        let (d, i) = (self.hidden_size as u64, self.intermediate_size as u64);
        14 * d + 4 * i
    }
    fn validate(&self) -> Result<()> {
        GptNeoxConfig::validate(self)
    }
}

impl Family for GptNeoxConfig {
    type Model = GptNeoxForCausalLM;
    const MODEL_TYPE: &'static str = "gpt_neox";
    const GGUF_ARCH: Option<&'static str> = Some("gptneox");
    const GGUF_NAMES: &'static [(&'static str, &'static str)] = &[
        ("gpt_neox.embed_in.weight", "token_embd.weight"),
        ("gpt_neox.final_layer_norm.weight", "output_norm.weight"),
        ("gpt_neox.final_layer_norm.bias", "output_norm.bias"),
        ("embed_out.weight", "output.weight"),
        ("gpt_neox.layers.{i}.input_layernorm.weight", "blk.{i}.attn_norm.weight"),
        ("gpt_neox.layers.{i}.input_layernorm.bias", "blk.{i}.attn_norm.bias"),
        ("gpt_neox.layers.{i}.post_attention_layernorm.weight", "blk.{i}.ffn_norm.weight"),
        ("gpt_neox.layers.{i}.post_attention_layernorm.bias", "blk.{i}.ffn_norm.bias"),
        ("gpt_neox.layers.{i}.attention.query_key_value.weight", "blk.{i}.attn_qkv.weight"),
        ("gpt_neox.layers.{i}.attention.query_key_value.bias", "blk.{i}.attn_qkv.bias"),
        ("gpt_neox.layers.{i}.attention.dense.weight", "blk.{i}.attn_output.weight"),
        ("gpt_neox.layers.{i}.attention.dense.bias", "blk.{i}.attn_output.bias"),
        ("gpt_neox.layers.{i}.mlp.dense_h_to_4h.weight", "blk.{i}.ffn_up.weight"),
        ("gpt_neox.layers.{i}.mlp.dense_h_to_4h.bias", "blk.{i}.ffn_up.bias"),
        ("gpt_neox.layers.{i}.mlp.dense_4h_to_h.weight", "blk.{i}.ffn_down.weight"),
        ("gpt_neox.layers.{i}.mlp.dense_4h_to_h.bias", "blk.{i}.ffn_down.bias"),
    ];

    fn load(&self, weights: &Weights) -> Result<Self::Model> {
        GptNeoxForCausalLM::load(self, weights)
    }

    fn config_of(model: &Self::Model) -> &Self {
        &model.config
    }

    fn with_lora(model: &Self::Model, set: &LoraSet) -> Self::Model {
        model.with_lora(set)
    }

    fn canonical(&self) -> Self {
        let mut c = self.clone();
        c.rotary_pct = c.rotary_ndims() as f64 / c.head_dim() as f64;
        c.layer_norm_eps = f32_round(c.layer_norm_eps);
        c.rotary_emb_base = f32_round(c.rotary_emb_base);
        (c.bos_token_id, c.eos_token_id) = (None, None);
        c
    }

    fn from_gguf(g: &GgufView) -> Result<Self> {
        let m = g.common()?;
        let rot = g.opt_u64(&g.key("rope.dimension_count"))?.map_or(0.25, |r| r as f64 / (m.hidden / m.heads) as f64);
        Ok(GptNeoxConfig {
            vocab_size: m.vocab,
            hidden_size: m.hidden,
            num_hidden_layers: m.layers,
            num_attention_heads: m.heads,
            intermediate_size: m.ffn,
            rotary_pct: rot,
            rotary_emb_base: g.opt_f64(&g.key("rope.freq_base"))?.unwrap_or(10000.0),
            rope_scaling: None,
            layer_norm_eps: g.opt_f64(&g.key("attention.layer_norm_epsilon"))?.unwrap_or(1e-5),
            use_parallel_residual: g.file().get(&g.key("use_parallel_residual")).and_then(|v| v.as_bool()).unwrap_or(true),
            hidden_act: "gelu".into(),
            attention_bias: g.has_tensor("blk.0.attn_qkv.bias"),
            tie_word_embeddings: !g.has_tensor("output.weight"),
            max_position_embeddings: m.context,
            bos_token_id: m.bos.map(TokenIds::One),
            eos_token_id: m.eos.map(TokenIds::One),
        })
    }

    /// llama.cpp's converter reorders the fused `query_key_value` rows (and bias) from per head
    /// `[n_head, 3, head_dim]` to `[3, n_head, head_dim]`; put them back.
    fn gguf_tensor(gguf_name: &str, tensor: HostTensor, heads: (usize, usize)) -> Result<HostTensor> {
        let HostTensor { shape, data } = tensor;
        if !gguf_name.contains("attn_qkv") {
            return Ok(HostTensor { shape, data });
        }
        let (rows, cols) = match shape[..] {
            [r, c] => (r, c),
            [r] => (r, 1),
            _ => return Err(Error::ShapeMismatch { name: gguf_name.into(), expected: vec![3 * heads.0, 0], got: shape }),
        };
        if rows % (3 * heads.0) != 0 {
            return Err(Error::ShapeMismatch { name: gguf_name.into(), expected: vec![3 * heads.0, cols], got: shape });
        }
        Ok(HostTensor { data: neox_qkv_per_head(&data, rows, cols, heads.0), shape })
    }
}
