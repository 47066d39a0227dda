//! The vectors' geometry ([`cram_core::geometry`]) against a hand computation on the host, on the
//! tiny Llama: the vectors' norms, the token embeddings' norm summary, and the nearest tokens by
//! cosine (ids and values); a token's own embedding is its own nearest token at cosine 1. And the
//! attention the text pays the vectors: every layer's probabilities equal transformers'
//! (`output_attentions`, eager) on four families, and the shares on the vectors are their hand
//! reduction.

use crate::common;

use burn::tensor::FloatDType;
use common::*;
use cram_core::geometry::vector_geometry;
use cram_core::readback::{floats, sync};
use rand::{Rng, SeedableRng};

#[test]
fn norms_and_nearest_tokens_equal_a_hand_computation() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let e = sync(floats(lm.model.embedding_matrix().clone().cast(FloatDType::F32))).unwrap();
    let (v, d) = (lm.config.vocab_size(), lm.config.hidden_size());
    assert_eq!(e.len(), v * d);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut vectors: Vec<f32> = (0..2 * d).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    // the second vector: token 7's own embedding, scaled
    for i in 0..d {
        vectors[d + i] = 3.0 * e[7 * d + i];
    }
    let g = vector_geometry(&lm.model, &vectors, 5).unwrap();

    let norm = |x: &[f32]| x.iter().map(|&a| (a as f64) * (a as f64)).sum::<f64>().sqrt();
    let mut token_norms: Vec<f64> = (0..v).map(|t| norm(&e[t * d..(t + 1) * d])).collect();
    for (j, vector) in vectors.chunks(d).enumerate() {
        assert!((g.norms[j] as f64 - norm(vector)).abs() < 1e-4 * norm(vector), "norm of vector {j}");
        let mut cos: Vec<(usize, f64)> = (0..v)
            .map(|t| {
                let dot: f64 = (0..d).map(|i| e[t * d + i] as f64 * vector[i] as f64).sum();
                (t, dot / (token_norms[t] * norm(vector)))
            })
            .collect();
        cos.sort_by(|a, b| b.1.total_cmp(&a.1));
        assert_eq!(g.nearest[j].len(), 5);
        for (n, (t, c)) in g.nearest[j].iter().zip(&cos) {
            assert_eq!(n.id as usize, *t, "vector {j}: {:?} against {:?}", g.nearest[j], &cos[..5]);
            assert!((n.cosine as f64 - c).abs() < 1e-4, "vector {j}: cosine {} against {c}", n.cosine);
        }
    }
    assert_eq!(g.nearest[1][0].id, 7);
    assert!((g.nearest[1][0].cosine - 1.0).abs() < 1e-4);
    token_norms.sort_by(f64::total_cmp);
    let s = g.embedding_norms;
    for (got, want) in [(s.min, token_norms[0]), (s.median, token_norms[v / 2]), (s.max, token_norms[v - 1])] {
        assert!((got as f64 - want).abs() < 1e-4 * want, "{got} against {want}");
    }
    let mean = token_norms.iter().sum::<f64>() / v as f64;
    assert!((s.mean as f64 - mean).abs() < 1e-4 * mean);
    // not whole vectors: one clear error
    assert!(vector_geometry(&lm.model, &vectors[..d + 1], 5).unwrap_err().to_string().contains("not whole vectors of width"));
}

/// Every attention layer's probabilities for the stored `inputs_embeds` equal transformers'
/// (`attentions.safetensors`: GQA, NeoX's partial rotary, OPT's query scaling, Gemma 3's window of 4).
#[test]
fn attention_probabilities_equal_transformers() {
    for case in ["llama_gqa_tied", "gpt_neox", "opt", "gemma3"] {
        let device = cpu();
        let model = load_network(case, None, &device);
        let r = reference(case);
        let e = &r["inputs_embeds"];
        let x = burn::tensor::Tensor::<3>::from_data(
            burn::tensor::TensorData::new(e.data.iter().map(|&v| v as f32).collect::<Vec<_>>(), [1, e.shape[1], e.shape[2]]),
            &device,
        );
        let ours: Vec<f32> = cram_core::geometry::attention_probabilities(&model, x).into_iter().flat_map(|p| sync(floats(p)).unwrap()).collect();
        let bytes = std::fs::read(fixture(case).join("attentions.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let theirs: Vec<f64> = st.tensor("attentions").unwrap().data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64).collect();
        let diff = max_abs_diff(&ours, &theirs);
        assert!(diff < 1e-5, "{case}: attention probabilities differ by {diff}");
    }
}

/// The shares of attention on the vectors: per layer and text token, the probabilities of the
/// position predicting it on the vector positions, summed, averaged over heads (by hand from
/// [`attention_probabilities`]); none for LoRA-only memory and for a Mamba.
#[test]
fn attention_to_vectors_is_the_hand_reduction() {
    use cram_core::memory::Memory;
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let d = lm.config.hidden_size();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let memory = Memory { prefix_ids: vec![0], k: 2, vectors: (0..2 * d).map(|_| rng.random_range(-1.0f32..1.0)).collect(), lora: None, one_pass: false };
    let ids = [11u32, 52, 7, 300, 9];
    let got = cram_core::geometry::attention_to_vectors(&lm, &memory, &ids).unwrap().expect("a Llama has attention");
    assert_eq!(got.layers.len(), lm.config.num_layers());
    let x = burn::tensor::Tensor::cat(vec![memory.input(&lm).unwrap(), cram_core::decode::embed_ids(&lm.model, &ids[..4])], 1);
    let probs = cram_core::geometry::attention_probabilities(&lm.model, x);
    let t = 1 + 2 + 4;
    for (layer, p) in probs.into_iter().enumerate() {
        let heads = p.dims()[1];
        let p = sync(floats(p)).unwrap();
        for (i, &share) in got.layers[layer].iter().enumerate() {
            // the position predicting token i: the last vector (2) for the first, then the tokens
            let row = 2 + i;
            let hand = (0..heads).map(|h| (1..3).map(|col| p[(h * t + row) * t + col] as f64).sum::<f64>()).sum::<f64>() / heads as f64;
            assert!((share as f64 - hand).abs() < 1e-6 && (0.0..=1.0 + 1e-6).contains(&(share as f64)), "layer {layer} token {i}: {share} vs {hand}");
        }
    }
    let lora_only = Memory { k: 0, vectors: vec![], ..memory.clone() };
    assert!(cram_core::geometry::attention_to_vectors(&lm, &lora_only, &ids).unwrap().is_none());
    let mamba = load("mamba", None);
    let m = Memory { vectors: vec![0.1; 2 * mamba.config.hidden_size()], ..memory };
    assert!(cram_core::geometry::attention_to_vectors(&mamba, &m, &ids).unwrap().is_none(), "a Mamba has no attention");
}
