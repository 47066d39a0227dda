//! Gemma 3 (the text decoder, `Gemma3ForCausalLM`).
//!
//! Gemma Team, "Gemma 3 Technical Report" (2025). Follows transformers'
//! `models/gemma3/modeling_gemma3.py`:
//! - the embedding module scales by `sqrt(hidden_size)` (rounded to the weights' dtype), so
//!   `inputs_embeds`, and the memory vectors with them, live in the scaled space;
//! - RMSNorms multiply by `1 + weight`, in f32; four per layer: before and after attention, before
//!   and after the MLP (`x + post(attn(pre(x)))`);
//! - grouped-query attention with a per-head RMSNorm of q and k before the rotation, scores scaled by
//!   `query_pre_attn_scalar^-1/2`;
//! - sliding-window layers (`layer_types`, or every layer but each `sliding_window_pattern`-th) see
//!   only the last `sliding_window` positions and rotate with their own base `rope_local_base_freq`;
//!   the global layers use `rope_theta` and `rope_scaling`;
//! - a GELU (tanh approximation) gated MLP, and a head tied to the embeddings.

use burn::tensor::{FloatDType, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::TokenIds;
use super::family::{CausalLm, Family, FamilyConfig, f32_round};
use super::kv_cache::{KvCache, LayerKv};
use super::layers::{Embedding, Linear, windowed_attention};
use super::llama::repeat_kv;
use super::lora::{self, LoraSet, LoraSite, LoraTarget};
use super::rope::{Rope, RopeScaling};
use crate::weights::Weights;
use crate::{Error, Result};

/// `config.json` of a Gemma 3 text checkpoint (`model_type: gemma3_text`), key for key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gemma3TextConfig {
    /// Vocabulary size.
    #[serde(default = "default_vocab_size")]
    pub vocab_size: usize,
    /// Model width d.
    #[serde(default = "default_hidden_size")]
    pub hidden_size: usize,
    /// Width of the gated MLP.
    #[serde(default = "default_intermediate_size")]
    pub intermediate_size: usize,
    /// Decoder layers.
    #[serde(default = "default_num_hidden_layers")]
    pub num_hidden_layers: usize,
    /// Query heads.
    #[serde(default = "default_num_attention_heads")]
    pub num_attention_heads: usize,
    /// Key/value heads.
    #[serde(default = "default_num_key_value_heads")]
    pub num_key_value_heads: usize,
    /// Per-head width.
    #[serde(default = "default_head_dim")]
    pub head_dim: usize,
    /// Activation of the MLP; `gelu_pytorch_tanh`.
    #[serde(default = "default_hidden_activation")]
    pub hidden_activation: String,
    /// Longest context.
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// RMSNorm epsilon.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base of the global (full-attention) layers.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// RoPE base of the sliding-window layers.
    #[serde(default = "default_rope_local_base_freq")]
    pub rope_local_base_freq: f64,
    /// RoPE scaling of the global layers (Gemma-3-4B and larger: `linear`, factor 8).
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    /// Biases on q, k, v and o.
    #[serde(default)]
    pub attention_bias: bool,
    /// The scores are scaled by `query_pre_attn_scalar^-1/2`.
    #[serde(default = "default_query_pre_attn_scalar")]
    pub query_pre_attn_scalar: f64,
    /// Positions a sliding-window layer sees.
    #[serde(default = "default_sliding_window")]
    pub sliding_window: usize,
    /// Every `sliding_window_pattern`-th layer is global, when `layer_types` is absent.
    #[serde(default = "default_sliding_window_pattern")]
    pub sliding_window_pattern: usize,
    /// `sliding_attention` or `full_attention`, per layer.
    #[serde(default)]
    pub layer_types: Option<Vec<String>>,
    /// Bidirectional attention (EmbeddingGemma); cram refuses `true`.
    #[serde(default)]
    pub use_bidirectional_attention: Option<bool>,
    /// Whether the LM head is `embed_tokens`.
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence token id.
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub bos_token_id: Option<TokenIds>,
    /// End-of-sequence token id(s).
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub eos_token_id: Option<TokenIds>,
}

// transformers' defaults (Gemma-3-1B's sizes): the text_config of the multimodal checkpoints lists
// only what differs from them
fn default_vocab_size() -> usize {
    262_208
}
fn default_hidden_size() -> usize {
    2304
}
fn default_intermediate_size() -> usize {
    9216
}
fn default_num_hidden_layers() -> usize {
    26
}
fn default_num_attention_heads() -> usize {
    8
}
fn default_num_key_value_heads() -> usize {
    4
}
fn default_head_dim() -> usize {
    256
}
fn default_hidden_activation() -> String {
    "gelu_pytorch_tanh".into()
}
fn default_max_position_embeddings() -> usize {
    131_072
}
fn default_rms_norm_eps() -> f64 {
    1e-6
}
fn default_rope_theta() -> f64 {
    1_000_000.0
}
fn default_rope_local_base_freq() -> f64 {
    10_000.0
}
fn default_query_pre_attn_scalar() -> f64 {
    256.0
}
fn default_sliding_window() -> usize {
    4096
}
fn default_sliding_window_pattern() -> usize {
    6
}
fn yes() -> bool {
    true
}

impl Gemma3TextConfig {
    /// Whether layer `i` is a sliding-window layer.
    pub fn is_sliding(&self, i: usize) -> bool {
        match &self.layer_types {
            Some(types) => types.get(i).is_some_and(|t| t == "sliding_attention"),
            None => !(i + 1).is_multiple_of(self.sliding_window_pattern.max(1)),
        }
    }

    /// Query and key/value projection widths.
    fn widths(&self) -> (usize, usize) {
        (self.num_attention_heads * self.head_dim, self.num_key_value_heads * self.head_dim)
    }
}

/// RMSNorm with `1 + weight`, in f32.
#[derive(Debug, Clone)]
pub struct Gemma3RmsNorm {
    weight: Tensor<1>,
    eps: f64,
}

impl Gemma3RmsNorm {
    fn load(w: &Weights, size: usize, eps: f64) -> Result<Self> {
        Ok(Self { weight: w.get("weight", [size])?, eps })
    }

    /// # Shapes
    /// `[..., d]` → `[..., d]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let dtype = x.dtype();
        let x = x.cast(FloatDType::F32);
        let variance = x.clone().square().mean_dim(D - 1);
        let normed = x * variance.add_scalar(self.eps).sqrt().recip();
        (normed * self.weight.clone().cast(FloatDType::F32).add_scalar(1.0).unsqueeze::<D>()).cast(dtype)
    }
}

/// `down(gelu_tanh(gate(x)) * up(x))`.
#[derive(Debug, Clone)]
pub struct Gemma3Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Gemma3Mlp {
    fn load(w: &Weights, cfg: &Gemma3TextConfig) -> Result<Self> {
        let (d, i) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            gate_proj: Linear::load(&w.pp("gate_proj"), d, i, false)?,
            up_proj: Linear::load(&w.pp("up_proj"), d, i, false)?,
            down_proj: Linear::load(&w.pp("down_proj"), i, d, false)?,
        })
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.down_proj.forward(gelu_tanh(self.gate_proj.forward(x.clone())) * self.up_proj.forward(x))
    }
}

/// GELU, tanh approximation (`gelu_pytorch_tanh`): `0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`.
fn gelu_tanh(x: Tensor<3>) -> Tensor<3> {
    let inner = (x.clone() + (x.clone() * x.clone() * x.clone()).mul_scalar(0.044715)).mul_scalar((2.0 / std::f64::consts::PI).sqrt());
    x * inner.tanh().add_scalar(1.0).mul_scalar(0.5)
}

/// Grouped-query attention with per-head q/k norms, rotary positions and an optional window.
#[derive(Debug, Clone)]
pub struct Gemma3Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: Gemma3RmsNorm,
    k_norm: Gemma3RmsNorm,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
    scaling: f64,
    sliding_window: Option<usize>,
}

impl Gemma3Attention {
    fn load(w: &Weights, cfg: &Gemma3TextConfig, sliding: bool) -> Result<Self> {
        let (d, hd, b) = (cfg.hidden_size, cfg.head_dim, cfg.attention_bias);
        let (q, kv) = cfg.widths();
        Ok(Self {
            q_proj: Linear::load(&w.pp("q_proj"), d, q, b)?,
            k_proj: Linear::load(&w.pp("k_proj"), d, kv, b)?,
            v_proj: Linear::load(&w.pp("v_proj"), d, kv, b)?,
            o_proj: Linear::load(&w.pp("o_proj"), q, d, b)?,
            q_norm: Gemma3RmsNorm::load(&w.pp("q_norm"), hd, cfg.rms_norm_eps)?,
            k_norm: Gemma3RmsNorm::load(&w.pp("k_norm"), hd, cfg.rms_norm_eps)?,
            num_heads: cfg.num_attention_heads,
            num_kv_heads: cfg.num_key_value_heads,
            head_dim: hd,
            scaling: cfg.query_pre_attn_scalar.powf(-0.5),
            sliding_window: sliding.then_some(cfg.sliding_window),
        })
    }

    fn forward(&self, x: Tensor<3>, rope: &Rope, cos: &Tensor<4>, sin: &Tensor<4>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let [batch, seq, _] = x.dims();
        // [batch, seq, n * head_dim] -> [batch, n, seq, head_dim]
        let heads = |t: Tensor<3>, n: usize| t.reshape([batch, seq, n, self.head_dim]).swap_dims(1, 2);
        let q = rope.apply(self.q_norm.forward(heads(self.q_proj.forward(x.clone()), self.num_heads)), cos, sin);
        let k = rope.apply(self.k_norm.forward(heads(self.k_proj.forward(x.clone()), self.num_kv_heads)), cos, sin);
        let v = heads(self.v_proj.forward(x), self.num_kv_heads);
        let (k, v) = match cache {
            Some(cache) => cache.append(k, v),
            None => (k, v),
        };
        let k = repeat_kv(k, self.num_heads / self.num_kv_heads);
        let v = repeat_kv(v, self.num_heads / self.num_kv_heads);
        let out = windowed_attention(q, k, v, self.scaling, self.sliding_window);
        self.o_proj.forward(out.swap_dims(1, 2).reshape([batch, seq, self.num_heads * self.head_dim]))
    }
}

/// One Gemma 3 layer: `h = x + post_attention_layernorm(attn(input_layernorm(x)))`, then
/// `h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)))`.
#[derive(Debug, Clone)]
pub struct Gemma3DecoderLayer {
    input_layernorm: Gemma3RmsNorm,
    self_attn: Gemma3Attention,
    post_attention_layernorm: Gemma3RmsNorm,
    pre_feedforward_layernorm: Gemma3RmsNorm,
    mlp: Gemma3Mlp,
    post_feedforward_layernorm: Gemma3RmsNorm,
    is_sliding: bool,
}

impl Gemma3DecoderLayer {
    fn load(w: &Weights, cfg: &Gemma3TextConfig, i: usize) -> Result<Self> {
        let (d, eps) = (cfg.hidden_size, cfg.rms_norm_eps);
        let norm = |name: &str| Gemma3RmsNorm::load(&w.pp(name), d, eps);
        Ok(Self {
            input_layernorm: norm("input_layernorm")?,
            self_attn: Gemma3Attention::load(&w.pp("self_attn"), cfg, cfg.is_sliding(i))?,
            post_attention_layernorm: norm("post_attention_layernorm")?,
            pre_feedforward_layernorm: norm("pre_feedforward_layernorm")?,
            mlp: Gemma3Mlp::load(&w.pp("mlp"), cfg)?,
            post_feedforward_layernorm: norm("post_feedforward_layernorm")?,
            is_sliding: cfg.is_sliding(i),
        })
    }

    fn forward(&self, x: Tensor<3>, rope: &Rope, cos: &Tensor<4>, sin: &Tensor<4>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let h = x.clone() + self.post_attention_layernorm.forward(self.self_attn.forward(self.input_layernorm.forward(x), rope, cos, sin, cache));
        h.clone() + self.post_feedforward_layernorm.forward(self.mlp.forward(self.pre_feedforward_layernorm.forward(h)))
    }
}

/// The Gemma 3 text decoder with its LM head.
#[derive(Debug, Clone)]
pub struct Gemma3ForCausalLM {
    /// The config it was built from.
    pub config: Gemma3TextConfig,
    embed_tokens: Embedding,
    layers: Vec<Gemma3DecoderLayer>,
    norm: Gemma3RmsNorm,
    lm_head: Linear,
    /// The global layers' rotation.
    rotary_emb: Rope,
    /// The sliding-window layers' rotation.
    rotary_emb_local: Rope,
}

impl Gemma3ForCausalLM {
    /// Layers `first..first + count` at the positions after those `cache` holds.
    fn run_layers(&self, mut x: Tensor<3>, first: usize, count: usize, mut cache: Option<&mut KvCache>) -> Tensor<3> {
        let (start, seq) = (cache.as_ref().map_or(0, |c| c.len()), x.dims()[1]);
        let global = self.rotary_emb.cos_sin_like(start, seq, &x);
        let local = self.rotary_emb_local.cos_sin_like(start, seq, &x);
        for i in first..first + count {
            let layer = &self.layers[i];
            let (rope, (cos, sin)) = if layer.is_sliding { (&self.rotary_emb_local, &local) } else { (&self.rotary_emb, &global) };
            x = layer.forward(x, rope, cos, sin, cache.as_deref_mut().map(|c| c.layer(i)));
        }
        if let Some(cache) = cache {
            cache.advance(seq);
        }
        x
    }
}

impl CausalLm for Gemma3ForCausalLM {
    /// `embed_tokens(ids) * sqrt(hidden_size)` (the matrix is kept scaled).
    fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embed_tokens.forward(ids)
    }

    /// `embed_tokens` times `sqrt(hidden_size)`: the space `inputs_embeds` live in, so the memory
    /// vectors' initial spread is that of the scaled embeddings.
    fn embedding_matrix(&self) -> &Tensor<2> {
        self.embed_tokens.weight()
    }

    fn hidden_states(&self, inputs_embeds: Tensor<3>, cache: Option<&mut KvCache>) -> Tensor<3> {
        self.norm.forward(self.run_layers(inputs_embeds, 0, self.layers.len(), cache))
    }

    fn decoder_layer(&self, index: usize, x: Tensor<3>) -> Tensor<3> {
        self.run_layers(x, index, 1, None)
    }

    fn final_norm(&self, x: Tensor<3>) -> Tensor<3> {
        self.norm.forward(x)
    }

    fn lm_head(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.lm_head.forward(hidden)
    }
}

impl FamilyConfig for Gemma3TextConfig {
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
    fn parameters(&self) -> usize {
        let (d, i) = (self.hidden_size, self.intermediate_size);
        let (q, kv) = self.widths();
        let bias = usize::from(self.attention_bias) * (q + 2 * kv + d);
        let layer = 2 * d * q + 2 * d * kv + bias + 2 * self.head_dim + 3 * d * i + 4 * d;
        let head = if self.tie_word_embeddings { 0 } else { self.vocab_size * d };
        self.vocab_size * d + self.num_hidden_layers * layer + d + head
    }
    fn largest_weight(&self) -> (&'static str, usize) {
        let (d, v) = (self.hidden_size, self.vocab_size);
        let candidates = [("embedding", v * d), ("MLP projection", d * self.intermediate_size), ("query projection", d * self.widths().0)];
        candidates.into_iter().max_by_key(|&(_, n)| n).expect("three candidates")
    }
    /// Four norms in/out (8d), q k v (q + 2kv), normed and rotated q k (2q + 2kv), GQA repetition
    /// (2q), attention output before and after the merge (2q), o_proj out and the residual (2d),
    /// gate, up, GELU's tanh terms and product (5i), down out and the residual (2d).
    fn activation_values_per_position(&self) -> u64 {
        let (d, i) = (self.hidden_size as u64, self.intermediate_size as u64);
        let (q, kv) = self.widths();
        let (q, kv) = (q as u64, kv as u64);
        let repeated = if self.num_key_value_heads < self.num_attention_heads { 2 * q } else { 0 };
        12 * d + 5 * i + 5 * q + 4 * kv + repeated
    }
    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.hidden_activation != "gelu_pytorch_tanh" {
            return bad(format!("hidden_activation = {:?}; cram's Gemma 3 implements \"gelu_pytorch_tanh\"", self.hidden_activation));
        }
        if self.use_bidirectional_attention == Some(true) {
            return bad("use_bidirectional_attention = true: cram implements causal attention only".into());
        }
        if let Some(other) = self.layer_types.iter().flatten().find(|t| *t != "full_attention" && *t != "sliding_attention") {
            return bad(format!("layer_types has {other:?}: cram knows \"full_attention\" and \"sliding_attention\""));
        }
        if self.layer_types.as_ref().is_some_and(|t| t.len() != self.num_hidden_layers) {
            return bad(format!(
                "layer_types lists {} layers, the model has num_hidden_layers = {}",
                self.layer_types.as_ref().map_or(0, Vec::len),
                self.num_hidden_layers
            ));
        }
        if self.sliding_window == 0 || self.sliding_window_pattern == 0 {
            return bad("sliding_window and sliding_window_pattern must be positive".into());
        }
        super::llama::check_sizes(
            self.hidden_size,
            self.vocab_size,
            self.num_hidden_layers,
            self.num_attention_heads,
            Some(self.num_key_value_heads),
            Some(self.head_dim),
        )?;
        if self.query_pre_attn_scalar.is_nan() || self.query_pre_attn_scalar <= 0.0 {
            return bad(format!("query_pre_attn_scalar = {} is not positive", self.query_pre_attn_scalar));
        }
        Rope::new(self.head_dim, self.rope_theta, self.rope_scaling.as_ref())?;
        Rope::new(self.head_dim, self.rope_local_base_freq, None).map(|_| ())
    }
}

impl Family for Gemma3TextConfig {
    type Model = Gemma3ForCausalLM;
    const MODEL_TYPE: &'static str = "gemma3_text";

    /// The weights under `model.*` (Gemma3ForCausalLM), or the language model's of a multimodal
    /// checkpoint (`language_model.model.*`, or `model.language_model.*` as transformers 5 saves it).
    fn load(&self, w: &Weights) -> Result<Self::Model> {
        self.validate()?;
        let (m, head) = if w.contains("language_model.model.embed_tokens.weight")? {
            (w.pp("language_model").pp("model"), w.pp("language_model").pp("lm_head"))
        } else if w.contains("model.language_model.embed_tokens.weight")? {
            (w.pp("model").pp("language_model"), w.pp("lm_head"))
        } else {
            (w.pp("model"), w.pp("lm_head"))
        };
        let (v, d) = (self.vocab_size, self.hidden_size);
        let embed = m.pp("embed_tokens").host("weight", &[v, d])?;
        let lm_head = if self.tie_word_embeddings { Linear::tied(w, &embed.data, v, d) } else { Linear::load(&head, d, v, false)? };
        // Gemma3TextScaledWordEmbedding: the lookup times sqrt(hidden_size), kept as one scaled matrix
        // (in f32 the same products; in bf16/f16 one rounding instead of two)
        let scale = (d as f64).sqrt() as f32;
        let scaled: Vec<f32> = embed.data.iter().map(|x| x * scale).collect();
        let layers = (0..self.num_hidden_layers).map(|i| Gemma3DecoderLayer::load(&m.pp(format!("layers.{i}")), self, i)).collect::<Result<Vec<_>>>()?;
        Ok(Gemma3ForCausalLM {
            config: self.clone(),
            embed_tokens: Embedding::new(w.upload(scaled, [v, d])),
            layers,
            norm: Gemma3RmsNorm::load(&m.pp("norm"), d, self.rms_norm_eps)?,
            lm_head,
            rotary_emb: Rope::new(self.head_dim, self.rope_theta, self.rope_scaling.as_ref())?,
            rotary_emb_local: Rope::new(self.head_dim, self.rope_local_base_freq, None)?,
        })
    }

    fn config_of(model: &Self::Model) -> &Self {
        &model.config
    }

    fn with_lora(model: &Self::Model, set: &LoraSet) -> Self::Model {
        let mut model = model.clone();
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

    fn canonical(&self) -> Self {
        let mut c = self.clone();
        c.layer_types = Some((0..c.num_hidden_layers).map(|i| if c.is_sliding(i) { "sliding_attention" } else { "full_attention" }.to_string()).collect());
        c.use_bidirectional_attention = None;
        c.rms_norm_eps = f32_round(c.rms_norm_eps);
        c.rope_theta = f32_round(c.rope_theta);
        c.rope_local_base_freq = f32_round(c.rope_local_base_freq);
        (c.bos_token_id, c.eos_token_id) = (None, None);
        c
    }
}

#[cfg(test)]
mod tests {
    use crate::ModelConfig;

    const GEMMA: &str = r#"{"model_type": "gemma3_text", "vocab_size": 384, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "sliding_window_pattern": 3"#;

    fn error_of(extra: &str) -> Option<String> {
        crate::models::config_tests::error_of(GEMMA, extra)
    }

    /// Gemma-2's soft-capping, an unknown layer type, bidirectional attention and unknown RoPE types
    /// are one error naming the field.
    #[test]
    fn unimplemented_features_are_refused_by_name() {
        assert_eq!(error_of(""), None);
        assert_eq!(error_of(r#", "attn_logit_softcapping": null, "final_logit_softcapping": null"#), None);
        crate::models::config_tests::assert_refused_by_name(
            GEMMA,
            &[
                (r#", "attn_logit_softcapping": 50.0"#, "attn_logit_softcapping"),
                (r#", "final_logit_softcapping": 30.0"#, "final_logit_softcapping"),
                (r#", "layer_types": ["sliding_attention", "chunked_attention", "full_attention"]"#, "layer_types"),
                (r#", "layer_types": ["full_attention"]"#, "layer_types"),
                (r#", "use_bidirectional_attention": true"#, "use_bidirectional_attention"),
                (r#", "rope_scaling": {"rope_type": "yarn", "factor": 8.0}"#, "rope_scaling"),
                (r#", "hidden_activation": "gelu""#, "hidden_activation"),
            ],
        );
    }

    /// Without `layer_types`, every `sliding_window_pattern`-th layer is global; the transformers 5
    /// form of the RoPE settings (one set per layer type) reads as the old keys.
    #[test]
    fn layer_types_and_rope_parameters() {
        let ModelConfig::Gemma3(c) = ModelConfig::from_json(&format!("{GEMMA}}}")).unwrap() else { panic!() };
        assert_eq!((0..3).map(|i| c.is_sliding(i)).collect::<Vec<_>>(), [true, true, false]);
        let v5 = r#", "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}"#;
        let ModelConfig::Gemma3(c) = ModelConfig::from_json(&format!("{GEMMA}{v5}}}")).unwrap() else { panic!() };
        assert_eq!((c.rope_theta, c.rope_local_base_freq), (1_000_000.0, 10_000.0));
        assert_eq!(c.rope_scaling.map(|s| (s.rope_type, s.factor)), Some(("linear".to_string(), 8.0)));
    }
}
