//! The vectors' geometry ([`cram_core::geometry`]) against a hand computation on the host, on the
//! tiny Llama: the vectors' norms, the token embeddings' norm summary, and the nearest tokens by
//! cosine (ids and values); a token's own embedding is its own nearest token at cosine 1.

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
