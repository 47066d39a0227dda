//! OPT.
//!
//! Zhang et al., "OPT: Open Pre-trained Transformer Language Models" (2022). Follows transformers'
//! `models/opt/modeling_opt.py`: learned positional embeddings looked up at position + 2 (the
//! offset OPT keeps from fairseq), LayerNorms with weight and bias, before the sublayers
//! (`do_layer_norm_before`, every OPT but 350M) or after them (350M), multi-head attention and a
//! ReLU MLP (`fc1`, `fc2`) with biases, and a head tied to the input embeddings. Where
//! `word_embed_proj_dim` differs from `hidden_size` (350M: 512 and 1024), `project_in` maps the
//! input embeddings up to the model width and `project_out` maps the last hidden states back down:
//! `inputs_embeds`, and so the memory vectors, are `word_embed_proj_dim` wide, as in Kuratov et al.'s
//! code (`memory_dim = word_embed_proj_dim`).

use burn::tensor::activation::relu;
use burn::tensor::{FloatDType, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::TokenIds;
use super::family::{CausalLm, Family, FamilyConfig};
use super::kv_cache::{KvCache, LayerKv};
use super::layers::{Embedding, Linear, windowed_attention};
use super::lora::{self, LoraSet, LoraSite, LoraTarget};
use crate::weights::Weights;
use crate::{Error, Result};

/// `config.json` of an OPT checkpoint, key for key (transformers' `OPTConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width inside the decoder.
    pub hidden_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Width of the ReLU MLP.
    pub ffn_dim: usize,
    /// Longest context (the positional table has 2 rows more).
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// LayerNorm before each sublayer (pre-LN) or after it (post-LN, OPT-350M).
    #[serde(default = "yes")]
    pub do_layer_norm_before: bool,
    /// Drops the final LayerNorm of a pre-LN model (an old checkpoint format).
    #[serde(default, rename = "_remove_final_layer_norm")]
    pub remove_final_layer_norm: bool,
    /// Width of the word embeddings (and of `inputs_embeds`); defaults to `hidden_size`.
    #[serde(default)]
    pub word_embed_proj_dim: Option<usize>,
    /// Activation of the MLP; `relu`.
    #[serde(default = "default_activation_function")]
    pub activation_function: String,
    /// Biases on every projection.
    #[serde(default = "yes")]
    pub enable_bias: bool,
    /// LayerNorms with weight and bias; cram implements `true`.
    #[serde(default = "yes")]
    pub layer_norm_elementwise_affine: bool,
    /// Whether the LM head is `embed_tokens` (always, for OPT).
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence token id.
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub bos_token_id: Option<TokenIds>,
    /// End-of-sequence token id.
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub eos_token_id: Option<TokenIds>,
}

fn default_max_position_embeddings() -> usize {
    2048
}
fn default_activation_function() -> String {
    "relu".into()
}
fn yes() -> bool {
    true
}

/// The positions' rows start at 2 in `embed_positions` (fairseq's padding offset).
const POSITION_OFFSET: usize = 2;

/// LayerNorm's epsilon in OPT (PyTorch's default).
const LAYER_NORM_EPS: f64 = 1e-5;

impl OptConfig {
    /// Width of the word embeddings, of `inputs_embeds` and of the LM head's input.
    pub fn word_embed_proj_dim(&self) -> usize {
        self.word_embed_proj_dim.unwrap_or(self.hidden_size)
    }

    /// Whether `project_in` and `project_out` exist.
    fn projects(&self) -> bool {
        self.word_embed_proj_dim() != self.hidden_size
    }

    /// Whether the decoder ends with `final_layer_norm`.
    fn has_final_layer_norm(&self) -> bool {
        self.do_layer_norm_before && !self.remove_final_layer_norm
    }

    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads.max(1)
    }
}

/// LayerNorm with weight and bias, in f32 and rounded once (PyTorch's `layer_norm` kernel).
#[derive(Debug, Clone)]
pub struct OptLayerNorm {
    weight: Tensor<1>,
    bias: Tensor<1>,
}

impl OptLayerNorm {
    fn load(w: &Weights, size: usize) -> Result<Self> {
        Ok(Self { weight: w.get("weight", [size])?, bias: w.get("bias", [size])? })
    }

    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let dtype = x.dtype();
        let x = x.cast(FloatDType::F32);
        let centered = x.clone() - x.mean_dim(2);
        let variance = centered.clone().square().mean_dim(2);
        let normed = centered * variance.add_scalar(LAYER_NORM_EPS).sqrt().recip();
        let (weight, bias) = (self.weight.clone().cast(FloatDType::F32), self.bias.clone().cast(FloatDType::F32));
        (normed * weight.unsqueeze::<3>() + bias.unsqueeze::<3>()).cast(dtype)
    }
}

/// Causal multi-head self-attention, without positions of its own.
#[derive(Debug, Clone)]
pub struct OptAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    num_heads: usize,
    head_dim: usize,
}

impl OptAttention {
    fn load(w: &Weights, cfg: &OptConfig) -> Result<Self> {
        let (d, b) = (cfg.hidden_size, cfg.enable_bias);
        Ok(Self {
            q_proj: Linear::load(&w.pp("q_proj"), d, d, b)?,
            k_proj: Linear::load(&w.pp("k_proj"), d, d, b)?,
            v_proj: Linear::load(&w.pp("v_proj"), d, d, b)?,
            out_proj: Linear::load(&w.pp("out_proj"), d, d, b)?,
            num_heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
        })
    }

    fn forward(&self, x: Tensor<3>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let [batch, seq, _] = x.dims();
        // [batch, seq, d] -> [batch, heads, seq, head_dim]
        let heads = |t: Tensor<3>| t.reshape([batch, seq, self.num_heads, self.head_dim]).swap_dims(1, 2);
        // OPT scales the queries before the product (in the model's dtype), not the scores
        let q = heads(self.q_proj.forward(x.clone()).mul_scalar((self.head_dim as f64).powf(-0.5)));
        let k = heads(self.k_proj.forward(x.clone()));
        let v = heads(self.v_proj.forward(x));
        let (k, v) = match cache {
            Some(cache) => cache.append(k, v),
            None => (k, v),
        };
        let out = windowed_attention(q, k, v, 1.0, None);
        self.out_proj.forward(out.swap_dims(1, 2).reshape([batch, seq, self.num_heads * self.head_dim]))
    }
}

/// One OPT layer, pre-LN (`x + attn(ln(x))`, then `h + fc2(relu(fc1(ln(h))))`) or post-LN
/// (`ln(x + attn(x))`, then `ln(h + fc2(relu(fc1(h))))`).
#[derive(Debug, Clone)]
pub struct OptDecoderLayer {
    self_attn: OptAttention,
    self_attn_layer_norm: OptLayerNorm,
    fc1: Linear,
    fc2: Linear,
    final_layer_norm: OptLayerNorm,
    do_layer_norm_before: bool,
}

impl OptDecoderLayer {
    fn load(w: &Weights, cfg: &OptConfig) -> Result<Self> {
        let (d, f, b) = (cfg.hidden_size, cfg.ffn_dim, cfg.enable_bias);
        Ok(Self {
            self_attn: OptAttention::load(&w.pp("self_attn"), cfg)?,
            self_attn_layer_norm: OptLayerNorm::load(&w.pp("self_attn_layer_norm"), d)?,
            fc1: Linear::load(&w.pp("fc1"), d, f, b)?,
            fc2: Linear::load(&w.pp("fc2"), f, d, b)?,
            final_layer_norm: OptLayerNorm::load(&w.pp("final_layer_norm"), d)?,
            do_layer_norm_before: cfg.do_layer_norm_before,
        })
    }

    fn forward(&self, x: Tensor<3>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let pre = self.do_layer_norm_before;
        let residual = x.clone();
        let h = if pre { self.self_attn_layer_norm.forward(x) } else { x };
        let h = residual + self.self_attn.forward(h, cache);
        let h = if pre { h } else { self.self_attn_layer_norm.forward(h) };
        let residual = h.clone();
        let f = if pre { self.final_layer_norm.forward(h) } else { h };
        let h = residual + self.fc2.forward(relu(self.fc1.forward(f)));
        if pre { h } else { self.final_layer_norm.forward(h) }
    }
}

/// The OPT decoder with its tied head.
#[derive(Debug, Clone)]
pub struct OptForCausalLM {
    /// The config it was built from.
    pub config: OptConfig,
    embed_tokens: Embedding,
    /// `[max_position_embeddings + 2, hidden_size]`.
    embed_positions: Tensor<2>,
    project_in: Option<Linear>,
    layers: Vec<OptDecoderLayer>,
    final_layer_norm: Option<OptLayerNorm>,
    project_out: Option<Linear>,
    /// `[word_embed_proj_dim, vocab]`: `embed_tokens` transposed.
    lm_head: Linear,
}

impl OptForCausalLM {
    /// `project_in` and the positional embeddings of positions `start..start + seq`: the input of
    /// layer 0.
    ///
    /// # Shapes
    /// `[batch, seq, word_embed_proj_dim]` → `[batch, seq, hidden_size]`
    fn decoder_input(&self, inputs_embeds: Tensor<3>, start: usize) -> Tensor<3> {
        let seq = inputs_embeds.dims()[1];
        let x = match &self.project_in {
            Some(p) => p.forward(inputs_embeds),
            None => inputs_embeds,
        };
        let positions = self.embed_positions.clone().narrow(0, start + POSITION_OFFSET, seq);
        x + positions.unsqueeze::<3>()
    }

    /// `layers` (the model's from `first` on) in turn, with the cache's layers where given.
    fn run_layers(&self, mut x: Tensor<3>, first: usize, count: usize, mut cache: Option<&mut KvCache>) -> Tensor<3> {
        for i in first..first + count {
            x = self.layers[i].forward(x, cache.as_deref_mut().map(|c| c.layer(i)));
        }
        x
    }
}

impl CausalLm for OptForCausalLM {
    fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embed_tokens.forward(ids)
    }

    fn embedding_matrix(&self) -> &Tensor<2> {
        self.embed_tokens.weight()
    }

    fn hidden_states(&self, inputs_embeds: Tensor<3>, mut cache: Option<&mut KvCache>) -> Tensor<3> {
        let (start, seq) = (cache.as_ref().map_or(0, |c| c.len()), inputs_embeds.dims()[1]);
        let x = self.decoder_input(inputs_embeds, start);
        let x = self.run_layers(x, 0, self.layers.len(), cache.as_deref_mut());
        if let Some(cache) = cache {
            cache.advance(seq);
        }
        self.final_norm(x)
    }

    /// Layer 0 takes `inputs_embeds` and starts with `project_in` and the positions.
    fn decoder_layer(&self, index: usize, x: Tensor<3>) -> Tensor<3> {
        let x = if index == 0 { self.decoder_input(x, 0) } else { x };
        self.run_layers(x, index, 1, None)
    }

    /// `final_layer_norm` (pre-LN models) and `project_out`.
    fn final_norm(&self, x: Tensor<3>) -> Tensor<3> {
        let x = match &self.final_layer_norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        match &self.project_out {
            Some(p) => p.forward(x),
            None => x,
        }
    }

    fn lm_head(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.lm_head.forward(hidden)
    }
}

impl FamilyConfig for OptConfig {
    /// `word_embed_proj_dim`: the width `inputs_embeds` enter with.
    fn hidden_size(&self) -> usize {
        self.word_embed_proj_dim()
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
        true
    }
    fn bos_token_id(&self) -> Option<&TokenIds> {
        self.bos_token_id.as_ref()
    }
    fn eos_token_id(&self) -> Option<&TokenIds> {
        self.eos_token_id.as_ref()
    }
    fn lora_sites(&self, targets: &[LoraTarget]) -> Vec<LoraSite> {
        let (d, f) = (self.hidden_size, self.ffn_dim);
        lora::sites(self.num_hidden_layers, targets, |target| match target {
            LoraTarget::Q => vec![("q_proj", d, d)],
            LoraTarget::K => vec![("k_proj", d, d)],
            LoraTarget::V => vec![("v_proj", d, d)],
            LoraTarget::O => vec![("out_proj", d, d)],
            LoraTarget::Mlp => vec![("fc1", d, f), ("fc2", f, d)],
            // a state-space model\'s projections
            LoraTarget::InProj | LoraTarget::XProj | LoraTarget::DtProj | LoraTarget::OutProj => vec![],
        })
    }
    /// The head is tied, so counted once.
    fn parameters(&self) -> usize {
        let (d, f, e) = (self.hidden_size, self.ffn_dim, self.word_embed_proj_dim());
        let b = usize::from(self.enable_bias);
        let layer = 4 * (d * d + d * b) + 2 * 2 * d + d * f + f * b + f * d + d * b;
        let projections = if self.projects() { 2 * e * d } else { 0 };
        let final_norm = if self.has_final_layer_norm() { 2 * d } else { 0 };
        self.vocab_size * e + (self.max_position_embeddings + POSITION_OFFSET) * d + projections + self.num_hidden_layers * layer + final_norm
    }
    fn largest_weight(&self) -> (&'static str, usize) {
        let (d, v) = (self.hidden_size, self.vocab_size);
        let candidates = [
            ("embedding", v * self.word_embed_proj_dim()),
            ("MLP projection", d * self.ffn_dim),
            ("positional embedding", (self.max_position_embeddings + 2) * d),
        ];
        candidates.into_iter().max_by_key(|&(_, n)| n).expect("three candidates")
    }
    /// LayerNorms in/out (4d), q k v (3d), attention output before and after the head merge (2d),
    /// out_proj out and the residual (2d), fc1 out and the ReLU (2f), fc2 out and the residual (2d).
    fn activation_values_per_position(&self) -> u64 {
        let (d, f) = (self.hidden_size as u64, self.ffn_dim as u64);
        13 * d + 2 * f
    }
    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.activation_function != "relu" {
            return bad(format!("activation_function = {:?}; cram's OPT implements \"relu\"", self.activation_function));
        }
        if !self.layer_norm_elementwise_affine {
            return bad("layer_norm_elementwise_affine = false; cram's OPT implements LayerNorms with weight and bias".into());
        }
        if !self.tie_word_embeddings {
            return bad("tie_word_embeddings = false; every OPT ties its head to embed_tokens, and cram implements that".into());
        }
        if self.num_attention_heads == 0 || self.vocab_size == 0 || self.num_hidden_layers == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(format!("hidden_size {} is not a positive multiple of num_attention_heads {}", self.hidden_size, self.num_attention_heads));
        }
        if self.word_embed_proj_dim() == 0 || (self.hidden_size as u64).checked_mul((self.max_position_embeddings as u64).saturating_add(POSITION_OFFSET as u64)).is_none_or(|n| n > 1u64 << 34) {
            return bad(format!(
                "word_embed_proj_dim {} or max_position_embeddings {} is out of range",
                self.word_embed_proj_dim(),
                self.max_position_embeddings
            ));
        }
        Ok(())
    }
}

impl Family for OptConfig {
    type Model = OptForCausalLM;
    const MODEL_TYPE: &'static str = "opt";

    /// The weights under `model.decoder.*`, or `decoder.*` as the facebook/opt-* checkpoints store them.
    fn load(&self, w: &Weights) -> Result<Self::Model> {
        self.validate()?;
        let m = if w.contains("decoder.embed_tokens.weight")? { w.pp("decoder") } else { w.pp("model").pp("decoder") };
        let (v, e, d) = (self.vocab_size, self.word_embed_proj_dim(), self.hidden_size);
        let embed = m.pp("embed_tokens").host("weight", &[v, e])?;
        let lm_head = Linear::tied(w, &embed.data, v, e);
        let layers = (0..self.num_hidden_layers).map(|i| OptDecoderLayer::load(&m.pp(format!("layers.{i}")), self)).collect::<Result<Vec<_>>>()?;
        let projection = |name: &str, i: usize, o: usize| if self.projects() { Linear::load(&m.pp(name), i, o, false).map(Some) } else { Ok(None) };
        Ok(OptForCausalLM {
            config: self.clone(),
            embed_tokens: Embedding::new(w.upload(embed.data, [v, e])),
            embed_positions: m.pp("embed_positions").get("weight", [self.max_position_embeddings + POSITION_OFFSET, d])?,
            project_in: projection("project_in", e, d)?,
            layers,
            final_layer_norm: if self.has_final_layer_norm() { Some(OptLayerNorm::load(&m.pp("final_layer_norm"), d)?) } else { None },
            project_out: projection("project_out", d, e)?,
            lm_head,
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
            attn.out_proj.lora = set.get(i, "out_proj");
            layer.fc1.lora = set.get(i, "fc1");
            layer.fc2.lora = set.get(i, "fc2");
        }
        model
    }

    fn canonical(&self) -> Self {
        let mut c = self.clone();
        c.word_embed_proj_dim = Some(c.word_embed_proj_dim());
        // a post-LN model has no final LayerNorm whatever the flag says
        c.remove_final_layer_norm = !c.has_final_layer_norm();
        (c.bos_token_id, c.eos_token_id) = (None, None);
        c
    }
}

#[cfg(test)]
mod tests {
    const OPT: &str = r#"{"model_type": "opt", "vocab_size": 384, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "ffn_dim": 64"#;

    fn error_of(extra: &str) -> Option<String> {
        crate::models::config_tests::error_of(OPT, extra)
    }

    /// Each feature cram does not implement is one error naming its field.
    #[test]
    fn unimplemented_features_are_refused_by_name() {
        assert_eq!(error_of(""), None);
        assert_eq!(error_of(r#", "do_layer_norm_before": false, "word_embed_proj_dim": 16"#), None);
        crate::models::config_tests::assert_refused_by_name(
            OPT,
            &[
                (r#", "activation_function": "gelu""#, "activation_function"),
                (r#", "layer_norm_elementwise_affine": false"#, "layer_norm_elementwise_affine"),
                (r#", "tie_word_embeddings": false"#, "tie_word_embeddings"),
                (r#", "clip_qkv": 8.0"#, "clip_qkv"),
            ],
        );
    }
}
