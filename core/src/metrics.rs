//! The paper's measures (Kuratov et al. 2025, section 3): token gain, information gain, the
//! theoretical capacity of a vector and its utilisation. Cross-entropies are sums over the scored
//! tokens in nats; one result object carries the field names used everywhere results appear.

use serde::{Deserialize, Serialize};

/// Theoretical capacity of `mem` vectors of width `d` in 16-bit floats over a vocabulary of `vocab`:
/// `mem * d * 16 / log2(vocab)` tokens.
pub fn theoretical_capacity_tokens(d: usize, vocab: usize, mem: usize) -> f64 {
    mem as f64 * d as f64 * 16.0 / (vocab as f64).log2()
}

/// The result of cramming one text: the JSON of `cram compress --json` and of each `cram capacity` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CramMetrics {
    /// Tokens of the text.
    pub tokens: usize,
    /// Memory vectors.
    pub mem: usize,
    /// The method (`memory`).
    pub method: String,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Wall time of the optimisation.
    pub seconds: f64,
    /// Best teacher-forced accuracy over the scored tokens.
    pub teacher_forced_accuracy: f64,
    /// Whether greedy decoding from the vectors alone gives back every token (after the given t_1
    /// under the paper's protocol).
    pub greedy_exact: bool,
    /// Sum of the cross-entropy of the scored tokens without memory (nats).
    pub ce_without_mem_nats: f64,
    /// Lowest sum of the cross-entropy of the scored tokens with memory (nats).
    pub ce_with_mem_nats: f64,
    /// `(ce_without - ce_with)` in bits.
    pub information_gain_bits: f64,
    /// `(accuracy with memory - accuracy without) * scored tokens`.
    pub token_gain: f64,
    /// `mem * d * 16 / log2(V)`.
    pub theoretical_capacity_tokens: f64,
    /// `token_gain / theoretical_capacity_tokens`.
    pub capacity_utilization: f64,
    /// Values trained per text (vectors, dense layer, code and map, or adapters).
    #[serde(default)]
    pub trainable_parameters: usize,
    /// Progressive cramming: the longest prefix of the text that greedy decoding reproduces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon: Option<usize>,
    /// Encoders: the share of positions where greedy decoding from the vectors gives the text's
    /// token (nothing is optimised per text, so few texts come back whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greedy_accuracy: Option<f64>,
}

impl CramMetrics {
    /// Fills the derived fields from the measured ones.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tokens: usize,
        mem: usize,
        steps: usize,
        seconds: f64,
        scored: usize,
        right_with: usize,
        right_without: usize,
        greedy_exact: bool,
        ce_without: f64,
        ce_with: f64,
        d: usize,
        vocab: usize,
    ) -> Self {
        let capacity = theoretical_capacity_tokens(d, vocab, mem);
        let token_gain = right_with as f64 - right_without as f64;
        Self {
            tokens,
            mem,
            method: "memory".into(),
            steps,
            seconds,
            teacher_forced_accuracy: right_with as f64 / scored.max(1) as f64,
            greedy_exact,
            ce_without_mem_nats: ce_without,
            ce_with_mem_nats: ce_with,
            information_gain_bits: (ce_without - ce_with) * std::f64::consts::LOG2_E,
            token_gain,
            theoretical_capacity_tokens: capacity,
            capacity_utilization: token_gain / capacity,
            trainable_parameters: mem * d,
            horizon: None,
            greedy_accuracy: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_match_the_paper() {
        // Pythia-160M: d 768, V 50304 -> 787; Llama-3.1-8B: d 4096, V 128256 -> 3862; SmolLM2-135M: 591.
        assert_eq!(theoretical_capacity_tokens(768, 50304, 1).round(), 787.0);
        assert_eq!(theoretical_capacity_tokens(4096, 128256, 1).round(), 3862.0);
        assert_eq!(theoretical_capacity_tokens(576, 49152, 1).round(), 591.0);
    }
}
