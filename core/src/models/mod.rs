//! Model families. Each family lives in one file with its config (Hugging Face field names) and a
//! forward pass that reads top to bottom like transformers' modeling file. [`Model`] is the one type
//! the rest of cram uses: it embeds ids, runs input embeddings to hidden states, and maps hidden states
//! to logits. Weights are frozen: they live on a device without autodiff, so only the inputs (the
//! memory vectors) can take gradients.

pub mod gpt_neox;
pub mod kv_cache;
pub mod layers;
pub mod llama;
pub mod lora;
pub mod rope;

use burn::tensor::{FloatDType, Int, Tensor};
use serde::{Deserialize, Serialize};

pub use gpt_neox::{GptNeoxConfig, GptNeoxForCausalLM};
pub use llama::{LlamaConfig, LlamaForCausalLM};

use crate::weights::Weights;
use crate::{Error, Result};

/// A config of any supported family, told apart by `model_type` as in `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model_type")]
pub enum ModelConfig {
    /// `model_type: "llama"` (also SmolLM2, TinyLlama, Llama-3).
    #[serde(rename = "llama")]
    Llama(LlamaConfig),
    /// `model_type: "gpt_neox"` (Pythia).
    #[serde(rename = "gpt_neox")]
    GptNeox(GptNeoxConfig),
}

impl ModelConfig {
    /// Parses a Hugging Face `config.json`; an unknown `model_type` is a clear error.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Config(format!("config.json is not JSON: {e}")))?;
        let model_type = value.get("model_type").and_then(|v| v.as_str()).unwrap_or("").to_string();
        match model_type.as_str() {
            "llama" | "gpt_neox" => {}

            "" => return Err(Error::Config("config.json has no `model_type`".into())),
            other => return Err(Error::UnsupportedArch(other.into())),
        }
        let value = normalise_rope_parameters(value);
        serde_json::from_value(value).map_err(|e| Error::Config(format!("config.json ({model_type}): {e}")))
    }

    /// The family name used in summaries and `.cram` files.
    pub fn family(&self) -> &'static str {
        match self {
            ModelConfig::Llama(_) => "llama",
            ModelConfig::GptNeox(_) => "gpt_neox",
        }
    }

    /// Model width d.
    pub fn hidden_size(&self) -> usize {
        match self {
            ModelConfig::Llama(c) => c.hidden_size,
            ModelConfig::GptNeox(c) => c.hidden_size,
        }
    }

    /// Vocabulary size V.
    pub fn vocab_size(&self) -> usize {
        match self {
            ModelConfig::Llama(c) => c.vocab_size,
            ModelConfig::GptNeox(c) => c.vocab_size,
        }
    }

    /// Layers.
    pub fn num_layers(&self) -> usize {
        match self {
            ModelConfig::Llama(c) => c.num_hidden_layers,
            ModelConfig::GptNeox(c) => c.num_hidden_layers,
        }
    }

    /// Attention (query) heads.
    pub fn num_attention_heads(&self) -> usize {
        match self {
            ModelConfig::Llama(c) => c.num_attention_heads,
            ModelConfig::GptNeox(c) => c.num_attention_heads,
        }
    }

    /// Longest context.
    pub fn max_position_embeddings(&self) -> usize {
        match self {
            ModelConfig::Llama(c) => c.max_position_embeddings,
            ModelConfig::GptNeox(c) => c.max_position_embeddings,
        }
    }

    /// The projections that LoRA `targets` adapt, layer by layer.
    pub fn lora_sites(&self, targets: &[lora::LoraTarget]) -> Vec<lora::LoraSite> {
        match self {
            ModelConfig::Llama(c) => c.lora_sites(targets),
            ModelConfig::GptNeox(c) => c.lora_sites(targets),
        }
    }

    /// Number of weights (the head counted once when tied).
    pub fn parameters(&self) -> usize {
        match self {
            ModelConfig::Llama(c) => c.parameters(),
            ModelConfig::GptNeox(c) => c.parameters(),
        }
    }

    /// The largest weight matrix: its name and number of values (what must fit in one GPU buffer).
    pub fn largest_weight(&self) -> (&'static str, usize) {
        match self {
            ModelConfig::Llama(c) => c.largest_weight(),
            ModelConfig::GptNeox(c) => c.largest_weight(),
        }
    }

    /// The beginning-of-sequence token id (the first, where the config lists several).
    pub fn bos_token_id(&self) -> Option<u32> {
        match self {
            ModelConfig::Llama(c) => c.bos_token_id.as_ref(),
            ModelConfig::GptNeox(c) => c.bos_token_id.as_ref(),
        }
        .and_then(TokenIds::first)
    }

    /// The end-of-sequence token id (the first, where the config lists several).
    pub fn eos_token_id(&self) -> Option<u32> {
        match self {
            ModelConfig::Llama(c) => c.eos_token_id.as_ref(),
            ModelConfig::GptNeox(c) => c.eos_token_id.as_ref(),
        }
        .and_then(TokenIds::first)
    }

    /// The canonical JSON of the architecture (sorted keys, derived sizes filled in, epsilons at f32
    /// precision, token ids left out), hashed into `.cram` files: a Hugging Face folder and a GGUF of the
    /// same model hash alike.
    pub fn canonical_json(&self) -> String {
        let f32_round = |x: f64| x as f32 as f64;
        let resolved = match self.clone() {
            ModelConfig::Llama(mut c) => {
                c.head_dim = Some(c.head_dim());
                c.num_key_value_heads = Some(c.num_kv_heads());
                c.rms_norm_eps = f32_round(c.rms_norm_eps);
                c.rope_theta = f32_round(c.rope_theta);
                (c.bos_token_id, c.eos_token_id) = (None, None);
                ModelConfig::Llama(c)
            }
            ModelConfig::GptNeox(mut c) => {
                c.rotary_pct = c.rotary_ndims() as f64 / c.head_dim() as f64;
                c.layer_norm_eps = f32_round(c.layer_norm_eps);
                c.rotary_emb_base = f32_round(c.rotary_emb_base);
                (c.bos_token_id, c.eos_token_id) = (None, None);
                ModelConfig::GptNeox(c)
            }
        };
        // serde_json's Map is a BTreeMap here (no preserve_order), so keys come out sorted.
        serde_json::to_value(resolved).expect("configs always serialise").to_string()
    }
}

/// A special token id of a config (`bos_token_id`, `eos_token_id`): Hugging Face configs write one
/// id or a list of them (Llama-3's several end tokens). Read with [`lenient_token_ids`], so that a
/// config whose ids are something else (a string, a negative number) still loads, without them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    /// One id.
    One(u32),
    /// Several ids, the first the main one.
    Many(Vec<u32>),
}

impl TokenIds {
    /// The id, or the first of several.
    pub fn first(&self) -> Option<u32> {
        match self {
            TokenIds::One(id) => Some(*id),
            TokenIds::Many(ids) => ids.first().copied(),
        }
    }
}

/// Reads an optional [`TokenIds`]; a value that is neither an id nor a list of ids counts as absent
/// (they are only used to pick a sink token, and are not part of the architecture).
pub(crate) fn lenient_token_ids<'de, D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Option<TokenIds>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

/// transformers 5 writes `rope_parameters: {rope_type, rope_theta, ...}` where 4.x wrote
/// `rope_theta` / `rope_scaling` / `rotary_emb_base`; map the new form onto the old keys.
fn normalise_rope_parameters(mut value: serde_json::Value) -> serde_json::Value {
    let Some(obj) = value.as_object_mut() else { return value };
    let Some(params) = obj.remove("rope_parameters") else { return value };
    if let Some(theta) = params.get("rope_theta").cloned() {
        obj.entry("rope_theta").or_insert(theta.clone());
        obj.entry("rotary_emb_base").or_insert(theta);
    }
    if let Some(pct) = params.get("partial_rotary_factor").cloned() {
        obj.entry("rotary_pct").or_insert(pct);
    }
    let kind = params.get("rope_type").and_then(|t| t.as_str()).unwrap_or("default");
    if kind != "default" {
        obj.entry("rope_scaling").or_insert(params);
    }
    value
}

/// A loaded model of any family. (The variants differ in size, but a process holds one or two
/// models, so boxing them would buy nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Model {
    /// A Llama-family model.
    Llama(LlamaForCausalLM),
    /// A GPT-NeoX model.
    GptNeox(GptNeoxForCausalLM),
}

impl Model {
    /// Builds the model of `config` from `weights`.
    pub fn load(config: &ModelConfig, weights: &Weights) -> Result<Self> {
        Ok(match config {
            ModelConfig::Llama(c) => Model::Llama(LlamaForCausalLM::load(c, weights)?),
            ModelConfig::GptNeox(c) => Model::GptNeox(GptNeoxForCausalLM::load(c, weights)?),
        })
    }

    /// The same frozen model with LoRA adapters on the projections `set` names.
    pub fn with_lora(&self, set: &lora::LoraSet) -> Self {
        match self {
            Model::Llama(m) => Model::Llama(m.with_lora(set)),
            Model::GptNeox(m) => Model::GptNeox(m.with_lora(set)),
        }
    }

    /// The dtype the weights are stored and computed in (f32, or bf16/f16 on a GPU). Embeddings and
    /// logits cross the model's boundary in f32 whatever it is, so the trainable vectors, their
    /// gradients and the optimiser stay in f32 (the paper's mixed precision).
    pub fn dtype(&self) -> FloatDType {
        self.embedding_matrix().dtype().into()
    }

    /// Token embeddings, in f32.
    ///
    /// # Shapes
    /// `[batch, seq]` → `[batch, seq, d]`
    pub fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let e = match self {
            Model::Llama(m) => m.embed(ids),
            Model::GptNeox(m) => m.embed(ids),
        };
        e.cast(FloatDType::F32)
    }

    /// Final hidden states for input embeddings, in the model's dtype.
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn hidden_states(&self, inputs_embeds: Tensor<3>) -> Tensor<3> {
        let x = inputs_embeds.cast(self.dtype());
        match self {
            Model::Llama(m) => m.hidden_states(x, None),
            Model::GptNeox(m) => m.hidden_states(x, None),
        }
    }

    /// Decoder layer `index` alone (positions from 0, no cache), for activation checkpointing; `x`
    /// is in the model's dtype.
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn decoder_layer(&self, index: usize, x: Tensor<3>) -> Tensor<3> {
        match self {
            Model::Llama(m) => m.decoder_layer(index, x),
            Model::GptNeox(m) => m.decoder_layer(index, x),
        }
    }

    /// The norm after the last layer; with the layers in turn it makes [`Model::hidden_states`].
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn final_norm(&self, x: Tensor<3>) -> Tensor<3> {
        match self {
            Model::Llama(m) => m.final_norm(x),
            Model::GptNeox(m) => m.final_norm(x),
        }
    }

    /// Final hidden states for input embeddings that follow the positions `cache` holds; the cache
    /// takes in their keys and values (greedy decoding, one token per step).
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn hidden_states_cached(&self, inputs_embeds: Tensor<3>, cache: &mut kv_cache::KvCache) -> Tensor<3> {
        let inputs_embeds = inputs_embeds.cast(self.dtype());
        match self {
            Model::Llama(m) => m.hidden_states(inputs_embeds, Some(cache)),
            Model::GptNeox(m) => m.hidden_states(inputs_embeds, Some(cache)),
        }
    }

    /// An empty KV cache for this model.
    pub fn new_cache(&self) -> kv_cache::KvCache {
        kv_cache::KvCache::new(self.config().num_layers())
    }

    /// Logits for final hidden states, in f32 (as transformers upcasts them for the loss).
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, vocab]`
    pub fn lm_head(&self, hidden: Tensor<3>) -> Tensor<3> {
        let logits = match self {
            Model::Llama(m) => m.lm_head(hidden),
            Model::GptNeox(m) => m.lm_head(hidden),
        };
        logits.cast(FloatDType::F32)
    }

    /// Logits for input embeddings: the path cramming uses.
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, vocab]`
    pub fn forward_embeds(&self, inputs_embeds: Tensor<3>) -> Tensor<3> {
        self.lm_head(self.hidden_states(inputs_embeds))
    }

    /// Logits for token ids.
    ///
    /// # Shapes
    /// `[batch, seq]` → `[batch, seq, vocab]`
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.forward_embeds(self.embed(ids))
    }

    /// The input-embedding matrix `[vocab, d]`.
    pub fn embedding_matrix(&self) -> &Tensor<2> {
        match self {
            Model::Llama(m) => m.embedding_matrix(),
            Model::GptNeox(m) => m.embedding_matrix(),
        }
    }

    /// The config the model was built from.
    pub fn config(&self) -> ModelConfig {
        match self {
            Model::Llama(m) => ModelConfig::Llama(m.config.clone()),
            Model::GptNeox(m) => ModelConfig::GptNeox(m.config.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LLAMA: &str = r#"{"model_type": "llama", "vocab_size": 384, "hidden_size": 64, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4"#;

    fn with_ids(ids: &str) -> ModelConfig {
        ModelConfig::from_json(&format!("{LLAMA}{ids}}}")).unwrap()
    }

    /// One id or a list of them (the first counts); null, absent or something else is none.
    #[test]
    fn special_token_ids_are_one_or_many() {
        let c = with_ids(r#", "bos_token_id": 1, "eos_token_id": [128001, 128008]"#);
        assert_eq!((c.bos_token_id(), c.eos_token_id()), (Some(1), Some(128001)));
        let c = with_ids(r#", "bos_token_id": null, "eos_token_id": []"#);
        assert_eq!((c.bos_token_id(), c.eos_token_id()), (None, None));
        let c = with_ids("");
        assert_eq!((c.bos_token_id(), c.eos_token_id()), (None, None));
        let c = with_ids(r#", "bos_token_id": "<s>", "eos_token_id": -1"#);
        assert_eq!((c.bos_token_id(), c.eos_token_id()), (None, None));
    }

    /// The ids are not part of the architecture: the canonical JSON writes them as null, so configs
    /// that differ only in them hash alike.
    #[test]
    fn canonical_json_leaves_the_token_ids_out() {
        let (a, b) = (with_ids(r#", "bos_token_id": 1, "eos_token_id": [2, 3]"#), with_ids(""));
        assert_eq!(a.canonical_json(), b.canonical_json());
        assert!(a.canonical_json().contains(r#""bos_token_id":null,"#), "{}", a.canonical_json());
        assert!(a.canonical_json().contains(r#""eos_token_id":null,"#), "{}", a.canonical_json());
    }
}
