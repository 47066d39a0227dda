//! How much memory a cramming run needs, from the architecture alone (`config.json`), so a run can be
//! planned before anything is downloaded: the weights, the activations autodiff keeps for the
//! backward pass (all of them, or with per-layer checkpointing only each layer's input plus one
//! layer's worth), the logits and cross-entropy over the vocabulary, and the optimiser state.
//!
//! The activation counts follow cram's own forward passes (each family's
//! `FamilyConfig::activation_values_per_position`, in its file under `models/`): per layer and
//! position, every tensor the backward pass reads. They are estimates of the allocator's peak
//! (temporaries freed during the forward pass are not counted), checked against measured peaks in
//! docs/gpu.md.

use serde::Serialize;

use crate::device::Precision;
use crate::methods::Method;
use crate::methods::trainable::Trainable;
use crate::models::ModelConfig;
use crate::{Error, Result};

/// What is planned: one optimiser step over `batch` texts of `tokens` tokens each.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRequest {
    /// Text tokens per text.
    pub tokens: usize,
    /// Memory vectors per text.
    pub mem: usize,
    /// Tokens in front of the memory (1 for the sink layout, 0 for the paper's).
    pub prefix: usize,
    /// Texts optimised at once.
    pub batch: usize,
    /// Format of the weights and activations (the logits and the optimiser are f32 always).
    pub dtype: Precision,
    /// What is trained.
    pub method: Method,
}

/// The memory of one step, in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryPlan {
    /// Positions the model runs over per text: prefix + memory + tokens - 1.
    pub positions: usize,
    /// The frozen weights as cram holds them (a tied head is kept a second time, transposed).
    pub weights_bytes: u64,
    /// Activations kept for the backward pass, without checkpointing.
    pub activations_bytes: u64,
    /// The same with per-layer checkpointing: each layer's input, plus one layer recomputed.
    pub activations_checkpointed_bytes: u64,
    /// Logits, log-probabilities and their gradient over the vocabulary (f32).
    pub logits_bytes: u64,
    /// Trainable values, their gradients and AdamW's two moments (f32, on the host).
    pub optimizer_bytes: u64,
    /// Everything, without checkpointing.
    pub total_bytes: u64,
    /// Everything, with checkpointing.
    pub total_checkpointed_bytes: u64,
}

/// Bytes one decoder layer keeps per position for the backward pass, with `ctx` positions of context
/// (the attention scores and probabilities of a query cover every key) and the weights in
/// `precision`. In bf16/f16 the norms and the softmax compute in f32 (as transformers does), so
/// those tensors are counted at 4 bytes, plus the probabilities cast back for the product with v.
pub fn layer_activation_bytes_per_position(config: &ModelConfig, ctx: usize, precision: Precision) -> u64 {
    let ctx = ctx as u64;
    let (d, h) = (config.hidden_size() as u64, config.num_attention_heads() as u64);
    // values in the model's dtype, besides the scores and probabilities (each family counts its own)
    let values = config.activation_values_per_position();
    // scores and probabilities (2 h ctx), in f32 whatever the weights' dtype
    let attention = 2 * h * ctx * 4;
    match precision {
        Precision::F32 => values * 4 + attention,
        // + the two norms' f32 inputs (2d) and the probabilities cast back (h ctx)
        reduced => values * reduced.bytes() as u64 + 2 * d * 4 + attention + h * ctx * reduced.bytes() as u64,
    }
}

/// The memory plan of `request` on a model of `config`.
pub fn plan(config: &ModelConfig, request: &PlanRequest) -> Result<MemoryPlan> {
    if request.tokens < 1 || request.batch < 1 {
        return Err(Error::Setting(crate::error::ConfigError::BothAtLeastOne(crate::error::Setting::Tokens, crate::error::Setting::Batch)));
    }
    let (d, v, layers) = (config.hidden_size() as u64, config.vocab_size() as u64, config.num_layers() as u64);
    let positions = request.prefix + request.mem + request.tokens - 1;
    let (b, t, bytes) = (request.batch as u64, positions as u64, request.dtype.bytes() as u64);
    let tied = config.tie_word_embeddings();
    let weights = (config.parameters() as u64 + if tied { v * d } else { 0 }) * bytes;
    let per_layer = layer_activation_bytes_per_position(config, positions, request.dtype);
    // the inputs, the final norm's input and output
    let outside = 3 * d * bytes;
    let activations = b * t * (layers * per_layer + outside);
    // with checkpointing: each layer's input, and one layer recomputed at a time
    let checkpointed = b * t * (layers * d * bytes + per_layer + outside);
    let logits = b * request.tokens as u64 * v * 3 * 4;
    let trainable = Trainable::new(&request.method, request.mem, config, 1.0)?.len() as u64;
    let optimizer = b * trainable * 4 * 4;
    let total = weights + activations + logits + optimizer;
    let total_checkpointed = weights + checkpointed + logits + optimizer;
    Ok(MemoryPlan {
        positions,
        weights_bytes: weights,
        activations_bytes: activations,
        activations_checkpointed_bytes: checkpointed,
        logits_bytes: logits,
        optimizer_bytes: optimizer,
        total_bytes: total,
        total_checkpointed_bytes: total_checkpointed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str) -> ModelConfig {
        let path = format!("{}/../data/configs/{name}.json", env!("CARGO_MANIFEST_DIR"));
        ModelConfig::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn request(tokens: usize, dtype: Precision) -> PlanRequest {
        PlanRequest { tokens, mem: 1, prefix: 1, batch: 1, dtype, method: Method::Memory }
    }

    /// The published parameter counts: Pythia-160M 162,322,944 (untied embed_in and embed_out);
    /// Llama-3.1-8B 8,030,261,248.
    #[test]
    fn parameter_counts_are_the_published_ones() {
        assert_eq!(config("pythia-160m").parameters(), 162_322_944);
        assert_eq!(config("llama-3.1-8b").parameters(), 8_030_261_248);
    }

    /// Pythia-160M, 80 tokens (its capacity in the paper), f32, by hand: sink + vector + 79 = 81
    /// positions; per layer and position 14·768 + 4·3072 + 2·12·81 = 24,984 values.
    #[test]
    fn pythia_160m_by_hand() {
        let p = plan(&config("pythia-160m"), &request(80, Precision::F32)).unwrap();
        assert_eq!(p.positions, 81);
        assert_eq!(p.weights_bytes, 162_322_944 * 4);
        assert_eq!(p.activations_bytes, 81 * (12 * 24_984 + 3 * 768) * 4);
        assert_eq!(p.activations_checkpointed_bytes, 81 * (12 * 768 * 4 + 24_984 * 4 + 3 * 768 * 4));
        assert_eq!(p.logits_bytes, 80 * 50_304 * 3 * 4);
        assert_eq!(p.optimizer_bytes, 768 * 16);
        assert_eq!(p.total_bytes, p.weights_bytes + p.activations_bytes + p.logits_bytes + p.optimizer_bytes);
    }

    /// Llama-3.1-8B, 1568 tokens (the paper's headline), bf16, by hand: 1569 positions; per layer
    /// and position 7·4096 + 4·14336 + 5·4096 + 3·1024 + 2·4096 (GQA) = 117,760 bf16 values, the two
    /// norms' f32 inputs 2·4096, the f32 scores and probabilities 2·32·1569 and the probabilities in
    /// bf16 32·1569: 117,760·2 + 8,192·4 + 100,416·4 + 50,208·2 = 770,368 bytes.
    #[test]
    fn llama_3_1_8b_by_hand() {
        let p = plan(&config("llama-3.1-8b"), &request(1568, Precision::Bf16)).unwrap();
        assert_eq!(p.positions, 1569);
        assert_eq!(p.weights_bytes, 8_030_261_248 * 2);
        assert_eq!(p.activations_bytes, 1569 * (32 * 770_368 + 3 * 4096 * 2));
        assert_eq!(p.activations_checkpointed_bytes, 1569 * (32 * 4096 * 2 + 770_368 + 3 * 4096 * 2));
        assert_eq!(p.logits_bytes, 1568 * 128_256 * 12);
        // about 16.1 GB of weights, 38.7 GB of activations or 1.7 GB checkpointed, 2.4 GB of logits
        assert!(p.total_bytes < 80_000_000_000 && p.total_checkpointed_bytes < 21_000_000_000, "{p:?}");
    }

    #[test]
    fn parameter_counts_of_the_paper_models_are_the_published_ones() {
        assert_eq!(config("pythia-410m").parameters(), 405_334_016);
        assert_eq!(config("pythia-1.4b").parameters(), 1_414_647_808);
        assert_eq!(config("llama-3.2-1b").parameters(), 1_235_814_400);
        assert_eq!(config("llama-3.2-3b").parameters(), 3_212_749_824);
    }

    /// The models of both anchors' tables that `data/configs/` gained: Pythia-2.8B and 6.9B
    /// (Biderman et al. 2023, Table 1: 2,775,208,960 and 6,857,302,016), SmolLM2-360M and 1.7B,
    /// Sheared-LLaMA-1.3B, Qwen3-8B (8.19 B; 6.95 B without the embeddings). Each number is also what
    /// transformers counts for the config (`sum(p.numel())` on a meta-device model, tied weights once).
    #[test]
    fn parameter_counts_of_both_tables_models() {
        assert_eq!(config("pythia-2.8b").parameters(), 2_775_208_960);
        assert_eq!(config("pythia-6.9b").parameters(), 6_857_302_016);
        assert_eq!(config("smollm2-360m").parameters(), 361_821_120);
        assert_eq!(config("smollm2-1.7b").parameters(), 1_711_376_384);
        assert_eq!(config("sheared-llama-1.3b").parameters(), 1_345_423_360);
        let qwen3 = config("qwen3-8b");
        assert_eq!(qwen3.family(), "qwen3");
        assert_eq!(qwen3.parameters(), 8_190_735_360);
        assert_eq!(qwen3.parameters() - 2 * 151_936 * 4096, 6_946_075_648);
    }

    /// Kuratov et al.'s four Mamba models: 129,135,360 / 371,516,416 / 793,204,224 / 1,372,178,432
    /// weights (transformers' `sum(p.numel())` on the configs, the tied head once: 130M, 370M, 790M,
    /// 1.4B as published).
    #[test]
    fn mamba_parameter_counts_are_the_published_ones() {
        for (name, n) in [("mamba-130m", 129_135_360), ("mamba-370m", 371_516_416), ("mamba-790m", 793_204_224), ("mamba-1.4b", 1_372_178_432)] {
            let c = config(name);
            assert_eq!((c.family(), c.parameters()), ("mamba", n), "{name}");
            assert_eq!(c.num_attention_heads(), 0, "{name} has no attention");
        }
    }

    /// Mamba-130M, 66 tokens (its token gain in Kuratov et al.), f32, by hand: sink + vector + 65 = 67
    /// positions; no attention scores; per layer and position (d 768, inner I 1536, state N 16, rank
    /// 48, kernel 4) 4·768 + 17·1536 + 48 + 2·16 + 10·1536·16·9/8 = 305,744 values, of which 276,480
    /// are the scan's `[inner, state]` tensors: a Mamba's activations are the scan's, 12 times a
    /// Pythia-160M layer's.
    #[test]
    fn mamba_130m_by_hand() {
        let p = plan(&config("mamba-130m"), &request(66, Precision::F32)).unwrap();
        assert_eq!(p.positions, 67);
        assert_eq!(p.weights_bytes, (129_135_360 + 50_280 * 768) * 4);
        assert_eq!(p.activations_bytes, 67 * (24 * 305_744 * 4 + 3 * 768 * 4));
        assert_eq!(p.activations_checkpointed_bytes, 67 * (24 * 768 * 4 + 305_744 * 4 + 3 * 768 * 4));
        let pythia_layer = 14 * 768 + 4 * 3072 + 2 * 12 * 81;
        assert_eq!(305_744 / pythia_layer, 12);
    }

    /// OLMo-1B-0724: 1,176,764,416 weights (tied head, LayerNorms without weights).
    #[test]
    fn olmo_1b_0724_parameter_count() {
        let c = config("olmo-1b-0724");
        assert_eq!(c.family(), "olmo");
        assert_eq!(c.parameters(), 1_176_764_416);
    }

    /// OPT-350M (post-LN, 512-wide word embeddings projected to 1024) and OPT-1.3B: 331,196,416 and
    /// 1,315,758,080 weights (Zhang et al. 2022, Table 1: 350M and 1.3B). OPT-350M's memory vectors
    /// are 512 wide.
    #[test]
    fn opt_parameter_counts_and_memory_width() {
        let c = config("opt-350m");
        assert_eq!(c.parameters(), 331_196_416);
        assert_eq!(c.hidden_size(), 512);
        assert_eq!(config("opt-1.3b").parameters(), 1_315_758_080);
        assert_eq!(config("opt-1.3b").hidden_size(), 2048);
    }

    /// Gemma-3-4B (the multimodal checkpoint's `gemma3` config): its language model, 3,880,263,168
    /// weights of which 3,209,010,688 outside the embedding (the Gemma 3 report's Table 1: 3,209 M
    /// non-embedding parameters).
    #[test]
    fn gemma_3_4b_language_model() {
        let c = config("gemma-3-4b");
        assert_eq!(c.family(), "gemma3_text");
        assert_eq!(c.parameters(), 3_880_263_168);
        assert_eq!(c.parameters() - 262_208 * 2560, 3_209_010_688);
    }

    /// Sheared-LLaMA is a plain Llama config; so is a Mistral-style one (grouped-query attention, a
    /// large RoPE base, `sliding_window: null`, explicit `head_dim`) written with `model_type: llama`.
    #[test]
    fn sheared_llama_and_mistral_style_configs_load_as_llama() {
        assert!(matches!(config("sheared-llama-1.3b"), ModelConfig::Llama(_)));
        let mistral_style = r#"{"model_type": "llama", "vocab_size": 32768, "hidden_size": 4096, "intermediate_size": 14336,
            "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
            "rope_theta": 1000000.0, "sliding_window": null, "max_position_embeddings": 32768, "rms_norm_eps": 1e-05}"#;
        let c = ModelConfig::from_json(mistral_style).unwrap();
        assert!(matches!(c, ModelConfig::Llama(_)), "{c:?}");
        c.validate().unwrap();
        // Mistral-7B-v0.3: 7,248,023,552 weights
        assert_eq!(c.parameters(), 7_248_023_552);
    }

    /// Qwen3-8B in bf16, 1568 tokens: its per-layer count has the query (32·128) and key/value
    /// (8·128) widths, GQA repetition and the q/k norms' outputs.
    #[test]
    fn qwen3_8b_plans() {
        let c = config("qwen3-8b");
        let (d, i, q, kv) = (4096u64, 12288u64, 4096u64, 1024u64);
        assert_eq!(c.activation_values_per_position(), 7 * d + 4 * i + 3 * q + 3 * kv + 2 * q + 2 * q + q + kv);
        let p = plan(&c, &request(1568, Precision::Bf16)).unwrap();
        assert_eq!(p.weights_bytes, 8_190_735_360 * 2);
        assert!(p.total_checkpointed_bytes < p.total_bytes);
    }

    #[test]
    fn bad_requests_are_errors() {
        assert!(plan(&config("pythia-160m"), &request(0, Precision::F32)).is_err());
        assert!("f8".parse::<Precision>().is_err());
    }
}
