//! What a model family is to cram: the traits one family file implements. A family is its config
//! (`config.json`, Hugging Face field names), its network, and its GGUF mapping; the registry in
//! `models/mod.rs` (one line per family) maps `model_type` and GGUF's `general.architecture` to it.
//!
//! - [`FamilyConfig`]: what the rest of cram asks of a config (sizes, LoRA sites, parameter count,
//!   largest weight, activation count for `cram plan`, special tokens, validation);
//! - [`CausalLm`]: the network: embedding, forward from input embeddings (with the KV cache, and
//!   layer by layer for activation checkpointing), final norm, LM head;
//! - [`Family`]: ties the two together, with the name, the loader, LoRA, the canonical config and
//!   the GGUF side (tensor names, metadata to config, per-tensor fixes of llama.cpp's layouts).

use burn::tensor::{Int, Tensor};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::TokenIds;
use super::kv_cache::KvCache;
use super::lora::{LoraSet, LoraSite, LoraTarget};
use crate::weights::gguf_view::GgufView;
use crate::weights::{HostTensor, Weights};
use crate::{Error, Result};

/// The questions the rest of cram asks of a family's config.
pub trait FamilyConfig: std::fmt::Debug {
    /// The width of `inputs_embeds`: the width of the memory vectors.
    fn hidden_size(&self) -> usize;
    /// Vocabulary size V.
    fn vocab_size(&self) -> usize;
    /// Decoder layers.
    fn num_layers(&self) -> usize;
    /// Attention (query) heads.
    fn num_attention_heads(&self) -> usize;
    /// Longest context.
    fn max_position_embeddings(&self) -> usize;
    /// Whether the LM head is the input embedding (cram then holds it a second time, transposed).
    fn tie_word_embeddings(&self) -> bool;
    /// `bos_token_id` as the config writes it.
    fn bos_token_id(&self) -> Option<&TokenIds>;
    /// `eos_token_id` as the config writes it.
    fn eos_token_id(&self) -> Option<&TokenIds>;
    /// The projections that LoRA `targets` adapt, layer by layer.
    fn lora_sites(&self, targets: &[LoraTarget]) -> Vec<LoraSite>;
    /// Number of weights (the head counted once when tied).
    fn parameters(&self) -> usize;
    /// The largest weight matrix: its name and number of values (what must fit in one GPU buffer).
    fn largest_weight(&self) -> (&'static str, usize);
    /// Values one decoder layer keeps per position for the backward pass, in the model's dtype,
    /// besides the attention scores and probabilities (`cram plan`; see `plan.rs`).
    fn activation_values_per_position(&self) -> u64;
    /// Checks the config; an unsupported feature is one error naming the field.
    fn validate(&self) -> Result<()>;
}

/// A family's network, as [`crate::Model`] runs it. Tensors cross in the model's dtype.
pub trait CausalLm: std::fmt::Debug {
    /// Token embeddings (in the space `inputs_embeds` live in).
    ///
    /// # Shapes
    /// `[batch, seq]` → `[batch, seq, d]`
    fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3>;

    /// The input-embedding matrix `[vocab, d]`.
    fn embedding_matrix(&self) -> &Tensor<2>;

    /// Final hidden states (after the final norm) for input embeddings at positions `0..seq`, or,
    /// with a cache, at the positions after those it holds (the cache takes in the new keys and values).
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    fn hidden_states(&self, inputs_embeds: Tensor<3>, cache: Option<&mut KvCache>) -> Tensor<3>;

    /// Decoder layer `index` alone, at positions `0..seq` and without a cache: the unit that
    /// activation checkpointing recomputes. Layer 0 takes `inputs_embeds`.
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    fn decoder_layer(&self, index: usize, x: Tensor<3>) -> Tensor<3>;

    /// What follows the last layer (the final norm); with the layers in turn it makes
    /// [`CausalLm::hidden_states`].
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    fn final_norm(&self, x: Tensor<3>) -> Tensor<3>;

    /// Logits for final hidden states.
    ///
    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, vocab]`
    fn lm_head(&self, hidden: Tensor<3>) -> Tensor<3>;
}

/// One model family: its config type (this trait's implementor) and its network.
pub trait Family: FamilyConfig + Clone + PartialEq + Serialize + DeserializeOwned {
    /// The network.
    type Model: CausalLm + Clone;

    /// `model_type` in `config.json`.
    const MODEL_TYPE: &'static str;

    /// The settings of [`super::FOREIGN_SETTINGS`] (`clip_qkv`, soft-capping) this family implements;
    /// a config that sets any other of them is refused.
    const IMPLEMENTS: &'static [&'static str] = &[];

    /// `general.architecture` of its GGUF files, where llama.cpp has the architecture.
    const GGUF_ARCH: Option<&'static str> = None;

    /// `(hugging face, gguf)` tensor names; `{i}` stands for the layer index.
    const GGUF_NAMES: &'static [(&'static str, &'static str)] = &[];

    /// Builds the network from weights under the checkpoint's names.
    fn load(&self, weights: &Weights) -> Result<Self::Model>;

    /// The config a network was built from.
    fn config_of(model: &Self::Model) -> &Self;

    /// The same frozen network with the adapters of `set` on their projections (the LoRA method).
    fn with_lora(model: &Self::Model, set: &LoraSet) -> Self::Model;

    /// The config with derived sizes filled in, epsilons and bases at f32 precision and the token
    /// ids left out: what `.cram` files hash, so a Hugging Face folder and a GGUF of the same model
    /// hash alike.
    fn canonical(&self) -> Self;

    /// The config a GGUF file of [`Family::GGUF_ARCH`] describes.
    fn from_gguf(gguf: &GgufView) -> Result<Self> {
        Err(Error::UnsupportedArch(format!("{} (in GGUF {})", gguf.arch(), gguf.path())))
    }

    /// Whether the family has attention layers (and so GGUF head counts, a KV cache, attention
    /// scores in `cram plan`); Mamba has none.
    const ATTENTION: bool = true;

    /// A tensor read from a GGUF file (`gguf_name`, with its shape as GGUF writes it), put back into
    /// the Hugging Face layout and shape (llama.cpp permutes or reorders some rows, squeezes or
    /// transforms some tensors); `heads` are the query and key/value heads the file declares.
    fn gguf_tensor(gguf_name: &str, tensor: HostTensor, heads: (usize, usize)) -> Result<HostTensor> {
        let _ = (gguf_name, heads);
        Ok(tensor)
    }
}

/// `x` at f32 precision, as the configs that GGUF metadata (f32) gives back.
pub(crate) fn f32_round(x: f64) -> f64 {
    x as f32 as f64
}
