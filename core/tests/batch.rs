//! Batched cramming: B texts in one forward/backward, each with its own vectors and optimiser, give
//! each text what cramming it alone gives (up to float rounding), including when slots are refilled.

use crate::common;

use common::*;
use cram_core::cramming::{Silent, TextJob, cram_texts};
use cram_core::methods::CramConfig;
use cram_core::optim::adamw::AdamWConfig;

#[test]
fn batched_and_unbatched_agree() {
    let lm = load("llama_gguf", None);
    let texts = ["Alice was beginning to get", "very tired of sitting by", "her sister on the bank, and of"];
    // Different lengths, so padding and masking are exercised too.
    let jobs: Vec<TextJob> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| TextJob { id: format!("t{i}"), ids: lm.tokenizer.encode(t).unwrap()[..4 + i].to_vec(), seed_index: None, start: None })
        .collect();
    let cfg = CramConfig { adamw: AdamWConfig { lr: 0.1, ..Default::default() }, max_steps: 400, patience: 400, seed: 7, ..Default::default() };
    let alone = cram_texts(&lm, &cfg, &jobs, 1, &mut Silent).unwrap();
    let batched = cram_texts(&lm, &cfg, &jobs, 2, &mut Silent).unwrap();
    assert_eq!(alone.len(), 3);
    for (a, b) in alone.iter().zip(&batched) {
        assert_eq!(a.text_id, b.text_id);
        assert_eq!(a.stop, b.stop, "{}", a.text_id);
        assert_eq!(a.metrics.steps, b.metrics.steps, "{}", a.text_id);
        assert_eq!(a.metrics.greedy_exact, b.metrics.greedy_exact);
        let diff = a.memory.vectors.iter().zip(&b.memory.vectors).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-3, "{}: vectors differ by {diff}", a.text_id);
        assert!((a.metrics.ce_without_mem_nats - b.metrics.ce_without_mem_nats).abs() < 1e-3);
    }
    assert!(alone.iter().any(|o| o.metrics.greedy_exact), "at least one text crams on the tiny model");
}
