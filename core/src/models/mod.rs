//! Model families. Each family lives in one file with its config (Hugging Face field names) and a
//! forward pass that reads top to bottom like transformers' modeling file. [`Model`] is the one type
//! the rest of cram uses: it embeds ids, runs input embeddings to hidden states, and maps hidden states
//! to logits. Weights are frozen: they live on a device without autodiff, so only the inputs (the
//! memory vectors) can take gradients.
//!
//! A family is one file, `models/<family>.rs`, implementing the traits of [`family`] (config,
//! network, GGUF mapping), and one line in the registry below (`families!`), which declares the
//! module and maps its `model_type` and GGUF architecture to it.

pub mod family;
pub mod kv_cache;
pub mod layers;
pub mod lora;
pub mod rope;

use burn::tensor::{FloatDType, Int, Tensor};
use serde::{Deserialize, Serialize};

use self::family::{CausalLm, Family, FamilyConfig};
pub use gpt_neox::GptNeoxForCausalLM;
pub use llama::LlamaForCausalLM;

use crate::weights::Weights;
use crate::weights::gguf_view::GgufView;
use crate::{Error, Result};

/// The registry: one line per family, `Variant(module::Config)`, the config implementing [`Family`]
/// (its `model_type`, network, GGUF architecture and names). It declares the module, re-exports the
/// config, and makes [`ModelConfig`] and [`Model`] (an enum each, one variant per family) and the
/// lookups by `model_type` and GGUF architecture; everything else dispatches through
/// [`FamilyConfig`] and [`CausalLm`].
macro_rules! families {
    ($($(#[$doc:meta])* $variant:ident($module:ident :: $config:ident),)*) => {
        $(pub mod $module;)*
        $(pub use $module::$config;)*

        /// A config of any supported family, told apart by `model_type` as in `config.json`.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ModelConfig {
            $($(#[$doc])* $variant($config),)*
        }

        /// A loaded model of any family. (The variants differ in size, but a process holds one or
        /// two models, so boxing them would buy nothing.)
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone)]
        pub enum Model {
            $($(#[$doc])* $variant(<$config as Family>::Model),)*
        }

        /// Every `model_type` cram loads.
        pub const MODEL_TYPES: &[&str] = &[$(<$config as Family>::MODEL_TYPE,)*];

        impl ModelConfig {
            /// The config of `model_type` from a `config.json` value; `None` for an unknown type.
            fn of_model_type(model_type: &str, value: serde_json::Value) -> Option<Result<Self>> {
                $(if model_type == <$config as Family>::MODEL_TYPE {
                    if let Err(e) = check_foreign_settings(&value, model_type, <$config as Family>::IMPLEMENTS) {
                        return Some(Err(e));
                    }
                    return Some(serde_json::from_value::<$config>(value).map(ModelConfig::$variant).map_err(|e| Error::Config(format!("config.json ({model_type}): {e}"))));
                })*
                None
            }

            /// The config a GGUF file describes, by its `general.architecture`.
            pub fn from_gguf(gguf: &GgufView) -> Result<Self> {
                $(if <$config as Family>::GGUF_ARCH == Some(gguf.arch()) {
                    return <$config as Family>::from_gguf(gguf).map(ModelConfig::$variant);
                })*
                Err(Error::UnsupportedArch(format!("{} (in GGUF {})", gguf.arch(), gguf.path())))
            }

            /// The family name used in summaries and `.cram` files (its `model_type`).
            pub fn family(&self) -> &'static str {
                match self {
                    $(ModelConfig::$variant(_) => <$config as Family>::MODEL_TYPE,)*
                }
            }

            fn as_dyn(&self) -> &dyn FamilyConfig {
                match self {
                    $(ModelConfig::$variant(c) => c,)*
                }
            }

            fn canonical(&self) -> Self {
                match self {
                    $(ModelConfig::$variant(c) => ModelConfig::$variant(c.canonical()),)*
                }
            }

            fn fields(&self) -> serde_json::Value {
                match self {
                    $(ModelConfig::$variant(c) => serde_json::to_value(c),)*
                }
                .expect("configs always serialise")
            }
        }

        /// The `(hugging face, gguf)` tensor names of a GGUF architecture, if cram knows it.
        pub fn gguf_names(arch: &str) -> Option<&'static [(&'static str, &'static str)]> {
            $(if <$config as Family>::GGUF_ARCH == Some(arch) {
                return Some(<$config as Family>::GGUF_NAMES);
            })*
            None
        }

        /// A tensor of a GGUF file of `arch` put back into the Hugging Face layout ([`Family::gguf_tensor`]).
        pub(crate) fn gguf_tensor(arch: &str, gguf_name: &str, tensor: crate::weights::HostTensor, heads: (usize, usize)) -> Result<crate::weights::HostTensor> {
            $(if <$config as Family>::GGUF_ARCH == Some(arch) {
                return <$config as Family>::gguf_tensor(gguf_name, tensor, heads);
            })*
            Ok(tensor)
        }

        /// Whether the family of GGUF architecture `arch` has attention ([`Family::ATTENTION`]).
        pub(crate) fn gguf_attention(arch: &str) -> bool {
            $(if <$config as Family>::GGUF_ARCH == Some(arch) {
                return <$config as Family>::ATTENTION;
            })*
            true
        }

        impl Model {
            /// Builds the model of `config` from `weights`.
            pub fn load(config: &ModelConfig, weights: &Weights) -> Result<Self> {
                Ok(match config {
                    $(ModelConfig::$variant(c) => Model::$variant(c.load(weights)?),)*
                })
            }

            /// The same frozen model with LoRA adapters on the projections `set` names.
            pub fn with_lora(&self, set: &lora::LoraSet) -> Self {
                match self {
                    $(Model::$variant(m) => Model::$variant(<$config as Family>::with_lora(m, set)),)*
                }
            }

            /// The config the model was built from.
            pub fn config(&self) -> ModelConfig {
                match self {
                    $(Model::$variant(m) => ModelConfig::$variant(<$config as Family>::config_of(m).clone()),)*
                }
            }

            fn net(&self) -> &dyn CausalLm {
                match self {
                    $(Model::$variant(m) => m,)*
                }
            }
        }
    };
}

families! {
    /// `model_type: "llama"` (also SmolLM2, TinyLlama, Llama-3, Sheared-LLaMA, Mistral-style configs).
    Llama(llama::LlamaConfig),
    /// `model_type: "gpt_neox"` (Pythia).
    GptNeox(gpt_neox::GptNeoxConfig),
    /// `model_type: "qwen2"` (Qwen2, Qwen2.5).
    Qwen2(qwen2::Qwen2Config),
    /// `model_type: "qwen3"` (Qwen3 dense models).
    Qwen3(qwen3::Qwen3Config),
    /// `model_type: "olmo"` (OLMo-1B/7B and their -0424, -0724 releases).
    Olmo(olmo::OlmoConfig),
    /// `model_type: "olmo2"` (OLMo 2).
    Olmo2(olmo2::Olmo2Config),
    /// `model_type: "opt"` (OPT-125M .. 66B).
    Opt(opt::OptConfig),
    /// `model_type: "gemma3_text"` (Gemma 3 1B, and the language model of the larger `gemma3`).
    Gemma3(gemma3::Gemma3TextConfig),
    /// `model_type: "mamba"` (Mamba-130M .. 2.8B, `state-spaces/mamba-*-hf`): no attention.
    Mamba(mamba::MambaConfig),
}

impl ModelConfig {
    /// Parses a Hugging Face `config.json`; an unknown `model_type` is a clear error.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Config(format!("config.json is not JSON: {e}")))?;
        let model_type = value.get("model_type").and_then(|v| v.as_str()).unwrap_or("").to_string();
        if model_type.is_empty() {
            return Err(Error::Config("config.json has no `model_type`".into()));
        }
        let value = normalise_rope_parameters(value);
        if let Some(config) = Self::of_model_type(&model_type, value.clone()) {
            return config;
        }
        // a multimodal checkpoint (Gemma 3 4B and larger: `gemma3`) whose language model cram knows
        if let Some(text) = value.get("text_config").filter(|t| t.is_object()) {
            let text_type = text.get("model_type").and_then(|v| v.as_str()).unwrap_or("");
            if let Some(config) = Self::of_model_type(text_type, normalise_rope_parameters(text.clone())) {
                return config.map_err(|e| Error::Config(format!("text_config of `{model_type}`: {e}")));
            }
        }
        Err(Error::UnsupportedArch(model_type))
    }

    /// The width of `inputs_embeds`: the width of the memory vectors (the model width d so far).
    pub fn hidden_size(&self) -> usize {
        self.as_dyn().hidden_size()
    }

    /// Vocabulary size V.
    pub fn vocab_size(&self) -> usize {
        self.as_dyn().vocab_size()
    }

    /// Layers.
    pub fn num_layers(&self) -> usize {
        self.as_dyn().num_layers()
    }

    /// Attention (query) heads.
    pub fn num_attention_heads(&self) -> usize {
        self.as_dyn().num_attention_heads()
    }

    /// Longest context.
    pub fn max_position_embeddings(&self) -> usize {
        self.as_dyn().max_position_embeddings()
    }

    /// Whether the LM head is the input embedding.
    pub fn tie_word_embeddings(&self) -> bool {
        self.as_dyn().tie_word_embeddings()
    }

    /// The projections that LoRA `targets` adapt, layer by layer.
    pub fn lora_sites(&self, targets: &[lora::LoraTarget]) -> Vec<lora::LoraSite> {
        self.as_dyn().lora_sites(targets)
    }

    /// Number of weights (the head counted once when tied).
    pub fn parameters(&self) -> usize {
        self.as_dyn().parameters()
    }

    /// The largest weight matrix: its name and number of values (what must fit in one GPU buffer).
    pub fn largest_weight(&self) -> (&'static str, usize) {
        self.as_dyn().largest_weight()
    }

    /// Values one decoder layer keeps per position for the backward pass, besides the attention
    /// scores and probabilities (`cram plan`).
    pub fn activation_values_per_position(&self) -> u64 {
        self.as_dyn().activation_values_per_position()
    }

    /// Checks the config; an unsupported feature is one error naming the field.
    pub fn validate(&self) -> Result<()> {
        self.as_dyn().validate()
    }

    /// The beginning-of-sequence token id (the first, where the config lists several).
    pub fn bos_token_id(&self) -> Option<u32> {
        self.as_dyn().bos_token_id().and_then(TokenIds::first)
    }

    /// The end-of-sequence token id (the first, where the config lists several).
    pub fn eos_token_id(&self) -> Option<u32> {
        self.as_dyn().eos_token_id().and_then(TokenIds::first)
    }

    /// The canonical JSON of the architecture (sorted keys, derived sizes filled in, epsilons at f32
    /// precision, token ids left out), hashed into `.cram` files: a Hugging Face folder and a GGUF of the
    /// same model hash alike.
    pub fn canonical_json(&self) -> String {
        // serde_json's Map is a BTreeMap here (no preserve_order), so keys come out sorted.
        serde_json::to_value(self.canonical()).expect("configs always serialise").to_string()
    }
}

/// `config.json` again: the family's fields and its `model_type`.
impl Serialize for ModelConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut value = self.fields();
        if let Some(obj) = value.as_object_mut() {
            obj.insert("model_type".into(), self.family().into());
        }
        value.serialize(serializer)
    }
}

/// As [`ModelConfig::from_json`].
impl<'de> Deserialize<'de> for ModelConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        ModelConfig::from_json(&value.to_string()).map_err(serde::de::Error::custom)
    }
}

/// Settings some families have that change what the network computes. A config that sets one
/// (not null) is refused, naming it, unless its family implements it ([`Family::IMPLEMENTS`]):
/// cram never silently loads a different model.
pub const FOREIGN_SETTINGS: &[&str] = &["clip_qkv", "attn_logit_softcapping", "final_logit_softcapping"];

fn check_foreign_settings(value: &serde_json::Value, model_type: &str, implemented: &[&str]) -> Result<()> {
    for key in FOREIGN_SETTINGS {
        match value.get(*key) {
            None | Some(serde_json::Value::Null) => {}
            Some(_) if implemented.contains(key) => {}
            Some(v) => return Err(Error::Config(format!("config.json ({model_type}): `{key}` = {v} is not implemented by cram's {model_type}"))),
        }
    }
    Ok(())
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
    // Gemma 3: one set per attention type, the sliding layers' base in the old `rope_local_base_freq`
    if let (Some(full), Some(sliding)) = (params.get("full_attention").cloned(), params.get("sliding_attention").cloned()) {
        if let Some(theta) = sliding.get("rope_theta").cloned() {
            obj.entry("rope_local_base_freq").or_insert(theta);
        }
        if let Some(theta) = full.get("rope_theta").cloned() {
            obj.entry("rope_theta").or_insert(theta);
        }
        if full.get("rope_type").and_then(|t| t.as_str()).unwrap_or("default") != "default" {
            obj.entry("rope_scaling").or_insert(full);
        }
        return value;
    }
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

impl Model {
    /// The same model with a Mamba's selective scan computed in `form`; `None` for a family without
    /// a scan (every transformer).
    pub fn with_scan(&self, form: mamba::ScanForm) -> Option<Self> {
        match self {
            Model::Mamba(m) => Some(Model::Mamba(m.clone().with_scan(form))),
            _ => None,
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
        self.net().embed(ids).cast(FloatDType::F32)
    }

    /// Final hidden states for input embeddings, in the model's dtype.
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn hidden_states(&self, inputs_embeds: Tensor<3>) -> Tensor<3> {
        self.net().hidden_states(inputs_embeds.cast(self.dtype()), None)
    }

    /// Decoder layer `index` alone (positions from 0, no cache), for activation checkpointing; `x`
    /// is in the model's dtype.
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn decoder_layer(&self, index: usize, x: Tensor<3>) -> Tensor<3> {
        self.net().decoder_layer(index, x)
    }

    /// The norm after the last layer; with the layers in turn it makes [`Model::hidden_states`].
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn final_norm(&self, x: Tensor<3>) -> Tensor<3> {
        self.net().final_norm(x)
    }

    /// Final hidden states for input embeddings that follow the positions `cache` holds; the cache
    /// takes in their keys and values (greedy decoding, one token per step).
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    pub fn hidden_states_cached(&self, inputs_embeds: Tensor<3>, cache: &mut kv_cache::KvCache) -> Tensor<3> {
        self.net().hidden_states(inputs_embeds.cast(self.dtype()), Some(cache))
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
        self.net().lm_head(hidden).cast(FloatDType::F32)
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
        self.net().embedding_matrix()
    }
}

/// What every family's config tests ask: the error of a config with some fields added, and that
/// each unimplemented feature is refused by one error naming its field.
#[cfg(test)]
pub(crate) mod config_tests {
    use super::ModelConfig;

    /// The error, if any, of the config `base` (a JSON object without its closing brace) with the
    /// fields `extra`, parsed and validated.
    pub fn error_of(base: &str, extra: &str) -> Option<String> {
        ModelConfig::from_json(&format!("{base}{extra}}}")).and_then(|c| c.validate()).err().map(|e| e.to_string())
    }

    /// Each `(extra, field)`: `base` with `extra` is refused, by an error naming `field`.
    pub fn assert_refused_by_name(base: &str, cases: &[(&str, &str)]) {
        for (extra, field) in cases {
            let err = error_of(base, extra).unwrap_or_else(|| panic!("{extra} was accepted"));
            assert!(err.contains(field), "{extra}: {err}");
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
